//go:build !linux

package nodemem

import "errors"

var errNotSupported = errors.New("no PSI outside Linux")
