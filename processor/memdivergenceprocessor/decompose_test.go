package memdivergenceprocessor

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// in builds readings from the inputs given; the others are missing.
func in(vals map[input]int64) *readings {
	var r readings
	for k, v := range vals {
		r[k] = reading{v: v, ok: true}
	}
	return &r
}

// parts builds a breakdown from the causes given; the others are 0.
func parts(vals map[cause]int64) breakdown {
	var b breakdown
	for c, v := range vals {
		b[c] = v
	}
	return b
}

func TestDecompose(t *testing.T) {
	tests := []struct {
		name    string
		in      *readings
		charged bool
		want    breakdown
	}{
		{
			// Workload container of testdata/v2-kernel-6.18: memory.current 204660736,
			// inactive_file 831488, anon 77873152, file 101834752, active_file 101003264,
			// kernel 23142400, slab 22917624, sock 1716224. No dentry accountant.
			name: "v2 fixture workload: page cache, slab, socket",
			in: in(map[input]int64{
				inWorkingSet: 203829248, inRSS: 77873152, inUsage: 204660736,
				inCache: 101834752, inActiveFile: 101003264, inInactiveFile: 831488,
				inKmem: 23142400, inSlab: 22917624, inSock: 1716224, inSockRcvq: 1664000,
			}),
			charged: true,
			want: parts(map[cause]int64{
				causePageCache: 101003264, causeOtherSlab: 22917624, causeOtherKernel: 224776,
				causeSocket: 1716224, causeUnexplained: 94208,
			}),
		},
		{
			// Workload container of testdata/v1-hybrid-kernel-6.18: usage_in_bytes 202100736,
			// total_inactive_file 1462272, total_rss 76804096, total_cache 102137856,
			// kmem 23040000, kmem.tcp 0. Kernel 6.18 has no per-cgroup slabinfo, so the
			// dentries of the workload's temp files sit in other_kernel; socket buffers are
			// outside usage on v1.
			name: "v1 fixture workload: page cache and kmem, sockets outside usage",
			in: in(map[input]int64{
				inWorkingSet: 200638464, inRSS: 76804096, inUsage: 202100736,
				inCache: 102137856, inActiveFile: 100675584, inInactiveFile: 1462272,
				inKmem: 23040000, inSock: 0, inSockRcvq: 1664000,
			}),
			want: parts(map[cause]int64{
				causePageCache: 100675584, causeOtherKernel: 23040000, causeUnexplained: 118784,
			}),
		},
		{
			// Incident 1 (v1, kernel 3.10): kmem 1.55 GB, of which 7,900,536 dentries x 192 B.
			name: "v1 with slabinfo dentries: dentry taken out of kmem, no slab split",
			in: in(map[input]int64{
				inWorkingSet: 1840000000, inRSS: 250000000, inUsage: 1850000000,
				inCache: 50000000, inActiveFile: 40000000, inInactiveFile: 10000000,
				inKmem: 1550000000, inDentrySlab: 1516902912,
			}),
			want: parts(map[cause]int64{
				causePageCache: 40000000, causeDentrySlab: 1516902912, causeOtherKernel: 33097088,
			}),
		},
		{
			name: "v2 with dentry accountant: kmem holds slab holds dentry",
			in: in(map[input]int64{
				inWorkingSet: 2000, inRSS: 500, inCache: 300, inInactiveFile: 100,
				inKmem: 1100, inSlab: 1000, inDentrySlab: 800, inSock: 50,
			}),
			charged: true,
			want: parts(map[cause]int64{
				causePageCache: 200, causeDentrySlab: 800, causeOtherSlab: 200,
				causeOtherKernel: 100, causeSocket: 50, causeUnexplained: 150,
			}),
		},
		{
			name: "dentry count above slab: other_slab floored, kmem less the larger",
			in: in(map[input]int64{
				inWorkingSet: 2000, inRSS: 500, inKmem: 1000, inSlab: 600, inDentrySlab: 700,
			}),
			charged: true,
			want: parts(map[cause]int64{
				causeDentrySlab: 700, causeOtherKernel: 300, causeUnexplained: 500,
			}),
		},
		{
			name: "causes larger than the divergence are clamped in order",
			in: in(map[input]int64{
				inWorkingSet: 600, inRSS: 500, inActiveFile: 80, inKmem: 50, inSlab: 10,
			}),
			charged: true,
			want:    parts(map[cause]int64{causePageCache: 80, causeOtherSlab: 10, causeOtherKernel: 10}),
		},
		{
			name: "working set below rss: every cause 0",
			in: in(map[input]int64{
				inWorkingSet: 400, inRSS: 500, inActiveFile: 80, inKmem: 50,
			}),
			want: breakdown{},
		},
		{
			name: "kubeletstats shape: working set, rss and usage only",
			in:   in(map[input]int64{inWorkingSet: 900, inRSS: 300, inUsage: 1000}),
			want: parts(map[cause]int64{causeUnexplained: 600}),
		},
		{
			// k8s.pod.memory.* has no active_file or inactive_file: inactive_file is
			// usage - working_set. Pod of the v1 fixture workload.
			name: "pod shape: inactive file derived from usage minus working set",
			in: in(map[input]int64{
				inWorkingSet: 201420800, inRSS: 76918784, inUsage: 202883072,
				inCache: 102137856, inKmem: 23130112,
			}),
			want: parts(map[cause]int64{
				causePageCache: 100675584, causeOtherKernel: 23130112, causeUnexplained: 696320,
			}),
		},
		{
			name: "active_file alone when cache is missing",
			in:   in(map[input]int64{inWorkingSet: 900, inRSS: 300, inActiveFile: 250}),
			want: parts(map[cause]int64{causePageCache: 250, causeUnexplained: 350}),
		},
		{
			name: "v2 without sock: receive queues, capped by room left in usage",
			in: in(map[input]int64{
				inWorkingSet: 1900, inRSS: 500, inUsage: 2000, inCache: 400, inInactiveFile: 100,
				inKmem: 900, inSlab: 800, inSockRcvq: 1000,
			}),
			charged: true,
			want: parts(map[cause]int64{
				causePageCache: 300, causeOtherSlab: 800, causeOtherKernel: 100,
				causeSocket: 200,
			}),
		},
		{
			name: "sock not charged (v1): socket stays 0 even with queues",
			in: in(map[input]int64{
				inWorkingSet: 1000, inRSS: 500, inSock: 300, inSockRcvq: 400,
			}),
			want: parts(map[cause]int64{causeUnexplained: 500}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decompose(tt.in, tt.charged)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decompose() mismatch (-want +got):\n%s", diff)
			}
			ws, _ := tt.in.get(inWorkingSet)
			rss, _ := tt.in.get(inRSS)
			if total := got.total(); total != max(ws-rss, 0) {
				t.Errorf("parts add up to %d, want max(working_set - rss, 0) = %d", total, max(ws-rss, 0))
			}
			for c, v := range got {
				if v < 0 {
					t.Errorf("%s is negative: %d", cause(c), v)
				}
			}
		})
	}
}

// TestPageCacheBytes checks the page cache estimate on its own: in decompose, a working set
// of 0 leaves no divergence to split, so the page cache it would take cannot show there.
func TestPageCacheBytes(t *testing.T) {
	tests := []struct {
		name string
		in   *readings
		want int64
	}{
		{
			name: "cache minus inactive_file",
			in:   in(map[input]int64{inWorkingSet: 900, inUsage: 1000, inCache: 400, inInactiveFile: 100, inActiveFile: 250}),
			want: 300,
		},
		{
			name: "inactive_file derived from usage minus working set",
			in:   in(map[input]int64{inWorkingSet: 900, inUsage: 1000, inCache: 400, inActiveFile: 250}),
			want: 300,
		},
		{
			// usage − working_set would say 500 of inactive file, more than the cache: the
			// floor hid how much was subtracted.
			name: "working set floored at 0 gives no inactive_file: active_file instead",
			in:   in(map[input]int64{inWorkingSet: 0, inUsage: 500, inCache: 400, inActiveFile: 70}),
			want: 70,
		},
		{
			name: "no cache: active_file",
			in:   in(map[input]int64{inWorkingSet: 900, inUsage: 1000, inActiveFile: 250}),
			want: 250,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pageCacheBytes(tt.in); got != tt.want {
				t.Errorf("pageCacheBytes() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSocketCharged(t *testing.T) {
	withSlab := in(map[input]int64{inSlab: 1})
	withoutSlab := in(map[input]int64{inKmem: 1})
	tests := []struct {
		name    string
		version string
		in      *readings
		want    bool
	}{
		{"auto, slab reported: v2", cgroupVersionAuto, withSlab, true},
		{"auto, no slab: v1", cgroupVersionAuto, withoutSlab, false},
		{"v1 forced", cgroupVersionV1, withSlab, false},
		{"v2 forced", cgroupVersionV2, withoutSlab, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := socketCharged(tt.version, tt.in); got != tt.want {
				t.Errorf("socketCharged(%q) = %v, want %v", tt.version, got, tt.want)
			}
		})
	}
}
