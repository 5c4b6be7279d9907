package nodemem

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cgroupmem/cgroupmem/internal/slabinfo"
)

// ReadDentrySlab reads the dentry row of <procRoot>/slabinfo (root only) and returns the
// cache's row. found is false when the table has no dentry row.
func ReadDentrySlab(procRoot string) (c slabinfo.Cache, found bool, err error) {
	p := filepath.Join(procRoot, "slabinfo")
	b, err := os.ReadFile(p)
	if err != nil {
		return slabinfo.Cache{}, false, fmt.Errorf("reading %s: %w", p, err)
	}
	c, _, found, err = slabinfo.Find(b, "dentry")
	if err != nil {
		return slabinfo.Cache{}, false, fmt.Errorf("%s: %w", p, err)
	}
	return c, found, nil
}
