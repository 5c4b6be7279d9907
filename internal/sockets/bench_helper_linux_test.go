//go:build linux

package sockets

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// fiftyHelper holds 50 sockets, as a busy container might: a TCP listener, 12 connections
// (both ends) with 100 unread bytes on the accepted end, 24 UDP receivers with 4 unread
// datagrams each and the UDP sender. With LO_UP=1 it first sets loopback up (a new network
// namespace starts with it down).
func fiftyHelper() (string, error) {
	if os.Getenv("LO_UP") == "1" {
		if err := loopbackUp(); err != nil {
			return "", err
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	held = append(held, ln)
	for range 12 {
		cli, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return "", err
		}
		acc, err := ln.Accept()
		if err != nil {
			return "", err
		}
		held = append(held, cli, acc)
		if _, err := cli.Write(make([]byte, 100)); err != nil {
			return "", err
		}
	}
	tx, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	held = append(held, tx)
	for range 24 {
		rx, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		held = append(held, rx)
		for range 4 {
			if _, err := tx.WriteTo([]byte("yyyyyyyyyy"), rx.LocalAddr()); err != nil {
				return "", err
			}
		}
	}
	return fmt.Sprintf("sockets=%d", len(held)), nil
}

// loopbackUp sets IFF_UP on lo.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}
