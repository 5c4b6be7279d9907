package nodemem

import "syscall"

// errNotSupported is what reading /proc/pressure/* gives when PSI was disabled at boot.
var errNotSupported error = syscall.EOPNOTSUPP
