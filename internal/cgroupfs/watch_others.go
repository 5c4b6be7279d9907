//go:build !linux

package cgroupfs

import "errors"

type dirWatch struct{}

func newDirWatch() (*dirWatch, error)      { return nil, errors.New("inotify is Linux only") }
func (w *dirWatch) add(string) error       { return nil }
func (w *dirWatch) changed() (bool, error) { return true, nil }
func (w *dirWatch) close() error           { return nil }
