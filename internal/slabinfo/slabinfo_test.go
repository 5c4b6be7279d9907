package slabinfo

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const header = "slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"

func TestFind(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      Cache
		wantTable Table
		wantFound bool
		wantErr   string
	}{
		{name: "empty since 5.9", in: "", wantTable: Empty},
		{name: "blank", in: "\n", wantTable: Empty},
		{name: "dentry row", in: header + "inode_cache 1 1 600 13 2 : tunables 0 0 0 : slabdata 1 1 0\ndentry            235158 235158    192   21    1 : tunables    0    0    0 : slabdata  11198  11198      0\n",
			want: Cache{ActiveObjects: 235158, Objects: 235158, ObjectSize: 192}, wantTable: Filled, wantFound: true},
		{name: "no dentry row", in: header + "inode_cache 1 1 600 13 2 : tunables 0 0 0 : slabdata 1 1 0\n", wantTable: Filled},
		{name: "prefix is not the name", in: header + "dentry_cache 1 1 600 13 2\n", wantTable: Filled},
		{name: "header only", in: header, wantTable: Filled},
		{name: "unknown version", in: "slabinfo - version: 1.1\n", wantTable: Filled, wantErr: `unsupported version "1.1"`},
		{name: "row before header", in: "dentry 1 1 192\n", wantTable: Filled, wantErr: "before the version header"},
		{name: "short row", in: header + "dentry 1 1\n", wantTable: Filled, wantErr: "has 3 fields"},
		{name: "bad number", in: header + "dentry 1 x 192\n", wantTable: Filled, wantErr: `field 2 "x"`},
		{name: "no header", in: "# only a comment\n", wantTable: Filled, wantErr: "no version header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, table, found, err := Find([]byte(tt.in), "dentry")
			require.Equal(t, tt.wantTable, table)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrMalformed)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantFound, found)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFindRealProcSlabinfo(t *testing.T) {
	b, err := os.ReadFile("../../testdata/v1-hybrid-kernel-6.18/proc/slabinfo")
	require.NoError(t, err)
	c, table, found, err := Find(b, "dentry")
	require.NoError(t, err)
	require.Equal(t, Filled, table)
	require.True(t, found)
	require.Equal(t, Cache{ActiveObjects: 235158, Objects: 235158, ObjectSize: 192}, c)
	require.Equal(t, uint64(235158*192), c.ActiveBytes())
}

// FuzzFind checks Find on any text against a plain scan for the row (a found row is the
// first line named dentry, with its numbers), and that a row written into a table, among
// other rows, reads back with its numbers.
func FuzzFind(f *testing.F) {
	f.Add([]byte(header+"dentry 235158 235158 192 21 1 : tunables 0 0 0 : slabdata 11198 11198 0\n"), "inode_cache", uint64(235158), uint64(235158), uint64(192))
	f.Add([]byte(""), "x", uint64(0), uint64(0), uint64(0))
	f.Add([]byte("slabinfo - version: 2.1\ndentry 1 1\n"), "dentry_x", uint64(1), uint64(2), uint64(3))
	f.Fuzz(func(t *testing.T, b []byte, other string, active, objs, size uint64) {
		c, table, found, err := Find(b, "dentry")
		blank := len(bytes.TrimSpace(b)) == 0
		if blank != (table == Empty) {
			t.Fatalf("table %v for blank=%v", table, blank)
		}
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			require.False(t, found)
		}
		if found {
			if want, ok := firstRow(string(b), "dentry"); !ok || want != c {
				t.Fatalf("found %+v, the first dentry row reads %+v (%v)", c, want, ok)
			}
		}

		// Round trip: the row after a row of another cache, in a table with a header.
		other = strings.Join(strings.Fields(other), "_")
		if other == "" || other == "dentry" || strings.HasPrefix(other, "#") || strings.HasPrefix(other, "slabinfo") {
			other = "inode_cache"
		}
		table2 := fmt.Sprintf("%s%s 1 1 600 13 2 : tunables 0 0 0 : slabdata 1 1 0\ndentry %d %d %d 21 1 : tunables 0 0 0 : slabdata 1 1 0\n",
			header, other, active, objs, size)
		c, table, found, err = Find([]byte(table2), "dentry")
		require.NoError(t, err)
		require.Equal(t, Filled, table)
		require.True(t, found)
		require.Equal(t, Cache{ActiveObjects: active, Objects: objs, ObjectSize: size}, c)
	})
}

// firstRow reads the numbers of the first row named name, by splitting lines into fields.
func firstRow(s, name string) (Cache, bool) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || len(line) == 0 || line[0] == '#' || f[0] != name {
			continue
		}
		if len(f) < 4 {
			return Cache{}, false
		}
		var n [3]uint64
		for i := range n {
			v, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return Cache{}, false
			}
			n[i] = v
		}
		return Cache{ActiveObjects: n[0], Objects: n[1], ObjectSize: n[2]}, true
	}
	return Cache{}, false
}
