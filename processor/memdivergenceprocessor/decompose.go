package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

// decompose splits divergence = max(working_set − rss, 0) into causes. Each cause takes at
// most what is left after the causes before it, so the parts never exceed the divergence and
// add up to it exactly; unexplained takes the rest and is never negative. Overlaps are
// removed by subtraction, never counted twice: kmem ⊇ slab ⊇ dentry slab, so
// dentry_slab = dentry, other_slab = slab − dentry, other_kernel = kmem − max(slab, dentry).
// socketCharged says whether socket buffers are part of the cgroup's usage (cgroup v2) and
// so of its working set; on cgroup v1 they are not, and the socket cause is 0.
// README.md gives the arithmetic for v1 and v2.
func decompose(r *readings, socketCharged bool) breakdown {
	var b breakdown
	ws, _ := r.get(inWorkingSet)
	rss, _ := r.get(inRSS)
	left := max(ws-rss, 0)
	take := func(c cause, want int64) {
		v := min(max(want, 0), left)
		b[c] = v
		left -= v
	}
	take(causePageCache, pageCacheBytes(r))
	dentry, _ := r.get(inDentrySlab)
	take(causeDentrySlab, dentry)
	if slab, ok := r.get(inSlab); ok {
		take(causeOtherSlab, slab-dentry)
	}
	if kmem, ok := r.get(inKmem); ok {
		slab, _ := r.get(inSlab)
		take(causeOtherKernel, kmem-max(slab, dentry))
	}
	if socketCharged {
		take(causeSocket, socketBytes(r))
	}
	b[causeUnexplained] = left
	return b
}

// pageCacheBytes is the page cache kept in the working set: cache − inactive_file, which is
// active_file plus shmem/tmpfs and unevictable file pages (all in cache, none in rss, none
// subtracted from the working set). Without an inactive_file input it is derived from
// usage − working_set, which is how the working set was made. Without cache, active_file.
func pageCacheBytes(r *readings) int64 {
	if cache, ok := r.get(inCache); ok {
		if inactive, ok := inactiveFileBytes(r); ok {
			return cache - inactive
		}
	}
	active, _ := r.get(inActiveFile)
	return active
}

func inactiveFileBytes(r *readings) (int64, bool) {
	if v, ok := r.get(inInactiveFile); ok {
		return v, true
	}
	usage, okUsage := r.get(inUsage)
	ws, _ := r.get(inWorkingSet)
	if !okUsage || ws <= 0 {
		return 0, false // a working set floored at 0 hides how much was subtracted
	}
	return usage - ws, true
}

// socketBytes is the socket buffer memory in the cgroup's usage: sock when reported (it
// already holds the receive queues), else the receive queues' truesize. It is capped by the
// part of usage that rss, cache and kmem leave over, when all four are known, because that
// is the only room sock has in usage.
func socketBytes(r *readings) int64 {
	v, ok := r.get(inSock)
	if !ok {
		v, _ = r.get(inSockRcvq)
	}
	usage, ok1 := r.get(inUsage)
	rss, ok2 := r.get(inRSS)
	cache, ok3 := r.get(inCache)
	kmem, ok4 := r.get(inKmem)
	if ok1 && ok2 && ok3 && ok4 {
		v = min(v, usage-rss-cache-kmem)
	}
	return v
}
