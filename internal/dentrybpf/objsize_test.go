package dentrybpf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const slabinfoTable = `slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
inode_cache        12345  12400    616   26    4 : tunables    0    0    0 : slabdata    477    477      0
dentry             41559  41559    192   21    1 : tunables    0    0    0 : slabdata   1979   1979      0
`

func TestParseSlabinfoObjSize(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    uint64
		wantErr error
	}{
		{name: "dentry row", input: slabinfoTable, want: 192},
		{name: "no dentry row", input: "slabinfo - version: 2.1\nfoo 1 1 64 1 1\n", wantErr: errNoCache},
		{name: "short row", input: "slabinfo - version: 2.1\ndentry 1 2\n", wantErr: errMalformed},
		{name: "bad objsize", input: "slabinfo - version: 2.1\ndentry 1 2 x 4 5\n", wantErr: errMalformed},
		{name: "zero objsize", input: "slabinfo - version: 2.1\ndentry 1 2 0 4 5\n", wantErr: errMalformed},
		{name: "no version header", input: "dentry 1 2 192 4 5\n", wantErr: errMalformed},
		{name: "prefix is not the cache", input: "slabinfo - version: 2.1\ndentry_cache 1 2 256 4 5\n", wantErr: errNoCache},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSlabinfoObjSize([]byte(tt.input), "dentry")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseSlabSize(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    uint64
		wantErr error
	}{
		{name: "value", input: "192\n", want: 192},
		{name: "empty", input: "", wantErr: errMalformed},
		{name: "garbage", input: "big\n", wantErr: errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSlabSize(strings.NewReader(tt.input))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestReadObjectSize(t *testing.T) {
	write := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("sysfs first", func(t *testing.T) {
		root := t.TempDir()
		write(t, filepath.Join(root, "sys/kernel/slab/dentry/slab_size"), "208\n")
		write(t, filepath.Join(root, "proc/slabinfo"), slabinfoTable)
		got, err := readObjectSize(filepath.Join(root, "sys"), filepath.Join(root, "proc"))
		if err != nil || got.bytes != 208 {
			t.Fatalf("got %+v, %v; want 208 from sysfs", got, err)
		}
	})
	t.Run("slabinfo fallback", func(t *testing.T) {
		root := t.TempDir()
		write(t, filepath.Join(root, "proc/slabinfo"), slabinfoTable)
		got, err := readObjectSize(filepath.Join(root, "sys"), filepath.Join(root, "proc"))
		if err != nil || got.bytes != 192 {
			t.Fatalf("got %+v, %v; want 192 from slabinfo", got, err)
		}
	})
	t.Run("default", func(t *testing.T) {
		root := t.TempDir()
		got, err := readObjectSize(filepath.Join(root, "sys"), filepath.Join(root, "proc"))
		if err == nil || got.bytes != DefaultObjectSize || got.source != "default" {
			t.Fatalf("got %+v, %v; want the default and an error", got, err)
		}
	})
}

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	if got.MaxTrackedObjects != DefaultMaxTrackedObjects || got.MaxCgroups != DefaultMaxCgroups {
		t.Errorf("defaults: %+v", got)
	}
	got = Config{MaxTrackedObjects: 10, MaxCgroups: 3}.withDefaults()
	if got.MaxTrackedObjects != 10 || got.MaxCgroups != 3 {
		t.Errorf("explicit values overridden: %+v", got)
	}
}
