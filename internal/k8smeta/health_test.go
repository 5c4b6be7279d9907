package k8smeta

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestFailureReason(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "401", err: &statusError{code: 401, body: "Unauthorized"}, want: "HTTP 401"},
		{name: "403", err: &statusError{code: 403, body: "Forbidden (user=x, verb=get, resource=nodes, subresource=proxy)"}, want: "HTTP 403"},
		{name: "token", err: fmt.Errorf("%w: %w", ErrToken, os.ErrNotExist), want: "token unreadable"},
		{name: "decode", err: fmt.Errorf("%w: %w", ErrDecode, errors.New("unexpected EOF")), want: "not a pod list"},
		{name: "unknown authority", err: fmt.Errorf("Get: %w", x509.UnknownAuthorityError{}), want: "kubelet certificate not trusted"},
		{name: "connection refused", err: fmt.Errorf("Get: %w", refused), want: "unreachable"},
		{name: "timeout", err: fmt.Errorf("Get: %w", context.DeadlineExceeded), want: "timeout"},
		{name: "body cut short", err: fmt.Errorf("reading after 10 bytes: %w", &bodyReadError{err: io.ErrUnexpectedEOF}), want: "pod list cut short"},
		{name: "other", err: errors.New("boom"), want: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, failureReason(tt.err))
		})
	}
}

func TestHealthLogsOncePerChange(t *testing.T) {
	unauthorized := &statusError{code: 401}
	forbidden := &statusError{code: 403}
	timeout := fmt.Errorf("Get: %w", context.DeadlineExceeded)
	tooLarge := fmt.Errorf("%w: pod 0 of the list is longer than 4194304 bytes", ErrPodListTooLarge)
	type line struct {
		level  zapcore.Level
		msg    string
		reason string
	}
	unavailable := func(reason string) line { return line{zapcore.WarnLevel, msgUnavailable, reason} }
	tests := []struct {
		name    string
		fetches []error
		want    []line
	}{
		{name: "first success", fetches: []error{nil, nil, nil},
			want: []line{{zapcore.InfoLevel, msgAvailable, ""}}},
		{name: "failing the same way", fetches: []error{unauthorized, unauthorized, unauthorized},
			want: []line{unavailable("HTTP 401")}},
		{name: "new reason", fetches: []error{unauthorized, forbidden, forbidden},
			want: []line{unavailable("HTTP 401"), unavailable("HTTP 403")}},
		{name: "alternating between persistent failures", fetches: []error{timeout, tooLarge, timeout, tooLarge, timeout, tooLarge},
			want: []line{unavailable("timeout"), unavailable("pod list too large")}},
		{name: "at most maxWarnedReasons per failing spell", fetches: []error{
			errors.New("a"), errors.New("b"), errors.New("c"), errors.New("d"), errors.New("e"), errors.New("f")},
			want: []line{unavailable("a"), unavailable("b"), unavailable("c"), unavailable("d")}},
		{name: "fail, recover, fail", fetches: []error{nil, unauthorized, unauthorized, nil, nil, unauthorized},
			want: []line{{zapcore.InfoLevel, msgAvailable, ""}, unavailable("HTTP 401"),
				{zapcore.InfoLevel, msgRecovered, ""}, unavailable("HTTP 401")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			h := health{logger: zap.New(core)}
			for _, err := range tt.fetches {
				h.report(err, 3)
			}
			var got []line
			for _, e := range logs.All() {
				reason, _ := e.ContextMap()["reason"].(string)
				msg := e.Message
				for _, m := range []string{msgUnavailable, msgAvailable, msgRecovered} {
					if strings.HasPrefix(msg, m) {
						msg = m
					}
				}
				got = append(got, line{e.Level, msg, reason})
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
