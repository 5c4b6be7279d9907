package nodemem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cgroupmem/cgroupmem/internal/psi"
)

// ReadMemoryPressure reads the node's memory pressure, <procRoot>/pressure/memory (kernel
// 4.20+ with CONFIG_PSI and without psi=0). found is false when the file does not exist or
// the kernel refuses it (EOPNOTSUPP when PSI is disabled at boot): no PSI on this node, not
// a node that never stalled.
func ReadMemoryPressure(procRoot string) (p psi.Pressure, found bool, err error) {
	path := filepath.Join(procRoot, "pressure", "memory")
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errNotSupported):
		return psi.Pressure{}, false, nil
	case err != nil:
		return psi.Pressure{}, false, fmt.Errorf("reading %s: %w", path, err)
	}
	p, err = psi.Parse(b)
	if err != nil {
		return psi.Pressure{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return p, true, nil
}
