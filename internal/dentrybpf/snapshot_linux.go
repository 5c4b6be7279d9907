//go:build linux && !noebpf

package dentrybpf

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
)

// Snapshot returns the live dentries per memory cgroup id (the inode number
// of the cgroup directory, see CgroupID), and the allocations of each that
// could not be tracked (Counts.Overflows). Cgroups with neither are absent.
func (a *Accountant) Snapshot() (map[uint64]Counts, error) {
	if a == nil {
		return nil, ErrClosed
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, ErrClosed
	}

	out := make(map[uint64]Counts)
	var zeros []uint64
	var id uint64
	var n int64
	it := a.maps.Counts.Iterate()
	for it.Next(&id, &n) {
		switch {
		case n > 0:
			out[id] = Counts{Live: uint64(n)}
		case n == 0:
			zeros = append(zeros, id)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading dentry counts: %w", err)
	}
	if err := a.prune(zeros); err != nil {
		return nil, fmt.Errorf("pruning dentry counts: %w", err)
	}
	if a.negIter != nil {
		if err := a.countNegative(out); err != nil {
			return nil, fmt.Errorf("counting negative dentries: %w", err)
		}
	}
	var lost uint64
	ov := a.maps.Overflowed.Iterate()
	for ov.Next(&id, &lost) {
		c := out[id]
		c.Overflows = lost
		out[id] = c
	}
	if err := ov.Err(); err != nil {
		return nil, fmt.Errorf("reading dentry overflows: %w", err)
	}
	return out, nil
}

// prune frees the counters of cgroups that held no dentries at two
// snapshots in a row (removed containers, mostly), so that the bounded map
// keeps room for new ones.
func (a *Accountant) prune(zeros []uint64) error {
	seen := make(map[uint64]bool, len(zeros))
	for _, id := range zeros {
		seen[id] = true
		if !a.zeroSeen[id] {
			continue
		}
		if err := a.forget(id); err != nil {
			return err
		}
		delete(seen, id)
	}
	a.zeroSeen = seen
	return nil
}

// forget deletes a cgroup's counter atomically and puts back whatever the
// kernel side added since it was read as 0, merging with an entry the kernel
// may have created in the meantime.
func (a *Accountant) forget(id uint64) error {
	var v int64
	if err := a.maps.Counts.LookupAndDelete(&id, &v); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		return err
	}
	for range 100 {
		if v == 0 {
			return nil
		}
		err := a.maps.Counts.Update(&id, &v, ebpf.UpdateNoExist)
		if !errors.Is(err, ebpf.ErrKeyExist) {
			return err // nil: restored
		}
		var w int64
		if err := a.maps.Counts.LookupAndDelete(&id, &w); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
		v += w
	}
	return fmt.Errorf("restoring the dentry count of cgroup %d: the kernel keeps recreating it", id)
}

// countNegative runs the map iterator over the live dentries and adds, per
// cgroup, those without an inode.
func (a *Accountant) countNegative(out map[uint64]Counts) error {
	var keys []uint64
	var id, n uint64
	it := a.maps.Negatives.Iterate()
	for it.Next(&id, &n) {
		keys = append(keys, id)
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := a.maps.Negatives.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}

	rd, err := a.negIter.Open()
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, rd)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	it = a.maps.Negatives.Iterate()
	for it.Next(&id, &n) {
		if c, ok := out[id]; ok {
			c.Negative = min(n, c.Live)
			out[id] = c
		}
	}
	return it.Err()
}
