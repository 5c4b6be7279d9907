//go:build linux && !noebpf

package dentrybpf

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// BenchmarkCreateUnlink measures the accountant's overhead on the workload
// of incident 1: create a uniquely named file, close it, unlink it. Each
// iteration allocates one dentry (left negative in the cache), plus the
// inode, file and filesystem objects whose allocations and frees the
// programs see and filter out. "off" and "on" alternate within one run;
// compare them with benchstat (see README.md).
func BenchmarkCreateUnlink(b *testing.B) {
	benchOffOn(b, func(b *testing.B, dir string) {
		name := make([]byte, 0, 64)
		for i := 0; b.Loop(); i++ {
			name = strconv.AppendInt(append(name[:0], dir+"/f"...), int64(i), 10)
			f, err := os.OpenFile(string(name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			if err := os.Remove(string(name)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNegativeLookup is the accountant's worst case: stat a missing,
// unique name. The syscall does little besides allocating a negative
// dentry, so the programs' cost per dentry dominates the difference.
func BenchmarkNegativeLookup(b *testing.B) {
	benchOffOn(b, func(b *testing.B, dir string) {
		name := make([]byte, 0, 64)
		for i := 0; b.Loop(); i++ {
			name = strconv.AppendInt(append(name[:0], dir+"/missing"...), int64(i), 10)
			if _, err := os.Lstat(string(name)); !os.IsNotExist(err) {
				b.Fatalf("lstat %s: %v", name, err)
			}
		}
	})
}

func benchOffOn(b *testing.B, loop func(b *testing.B, dir string)) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "on" {
				startAccountant(b, Config{})
			}
			// A fresh directory per run: its removal frees the run's
			// dentries, so every run starts from the same dcache size.
			dir, err := os.MkdirTemp(b.TempDir(), mode)
			if err != nil {
				b.Fatal(err)
			}
			before := testcgroup.CPUTime()
			loop(b, filepath.Clean(dir))
			// CPU time per op is steadier than wall time on a shared
			// host: other tenants' load adds waiting, not our CPU time.
			b.ReportMetric(float64(testcgroup.CPUTime()-before)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkSnapshot measures one Snapshot (counter read plus the
// negative-dentry iteration) with 100,000 tracked dentries: the cost the
// receiver pays per scrape grows with the number of tracked dentries.
func BenchmarkSnapshot(b *testing.B) {
	const dentries = 100_000
	a := startAccountant(b, Config{})
	dir := b.TempDir()
	for i := range dentries {
		if _, err := os.Lstat(dir + "/missing" + strconv.Itoa(i)); !os.IsNotExist(err) {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := a.Snapshot(); err != nil {
			b.Fatal(err)
		}
	}
}
