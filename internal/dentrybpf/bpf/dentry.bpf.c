//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Live dentry accounting per memory cgroup.
//
// Every allocation from the kernel's "dentry" slab cache is charged to the
// memory cgroup of the allocating task (active_memcg override first, like
// the kernel's own current_obj_cgroup()), and remembered by object pointer so
// that the free - which usually runs in an RCU callback in some other task's
// context - decrements the cgroup that was charged.
//
// Hooks, one pair is loaded (see README.md):
// - fexit/__d_alloc + fentry/dentry_free: run only for dentries;
// - else BTF-typed raw tracepoints kmem_cache_alloc / kmem_cache_free
//   (Linux >= 6.1 passes the struct kmem_cache pointer), filtered in the
//   kernel to the dentry cache: the cache's name is compared once, then only
//   the cached pointer.

#include "dentry.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual BSD/GPL";

// Sizes are placeholders; the loader sets max_entries from Config.
//
// The live map is preallocated: measured on 6.18, an on-demand map
// (BPF_F_NO_PREALLOC) made each tracked dentry about 0.5 us dearer, and its
// refills allocate from slab inside these very tracepoints.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20);
	__type(key, u64);   // struct dentry *
	__type(value, u64); // memory cgroup id charged at allocation
} live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, u64);   // memory cgroup id
	__type(value, s64); // live dentries (may dip below 0 transiently)
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, u64);   // memory cgroup id
	__type(value, u64); // negative dentries found by the last iteration
} negatives SEC(".maps");

// Per memory cgroup, its dentry allocations that could not be tracked because
// a map was full: those cgroups' counts are lower bounds from then on. LRU, so
// that the cgroups of a flood keep their entries over long-gone ones.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, u64);   // memory cgroup id
	__type(value, u64); // allocations not tracked
} overflowed SEC(".maps");

// The dentry cache, learned from its name on the first dentry allocation.
u64 dentry_cache = 0;
// Allocations that could not be tracked because a map was full.
u64 overflows = 0;
// Frees the program did not see (the kernel skips a program that is already
// running on the CPU), found when the object was allocated again.
u64 stale = 0;

static __always_inline bool is_dentry_cache(const struct kmem_cache *s)
{
	u64 cached = dentry_cache;
	if (cached)
		return (u64)s == cached;

	// Until the first dentry allocation: compare the cache's name.
	char name[8] = {};
	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(s, name)) != 7)
		return false;
	if (name[0] != 'd' || name[1] != 'e' || name[2] != 'n' || name[3] != 't' ||
	    name[4] != 'r' || name[5] != 'y')
		return false;
	dentry_cache = (u64)s;
	return true;
}

// The memory cgroup the kernel charges a slab object to, as the cgroup id
// (kernfs node id = inode number of the cgroup directory, v1 and v2 alike).
// Direct BTF loads (the verifier turns them into fault-safe loads) are
// cheaper than bpf_probe_read_kernel calls on this hot path.
static __always_inline u64 charged_cgroup_id(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mem_cgroup *memcg = NULL;

	if (bpf_core_field_exists(task->active_memcg))
		memcg = task->active_memcg;
	if (memcg)
		return memcg->css.cgroup->kn->id;

	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	return task->cgroups->subsys[id]->cgroup->kn->id;
}

static __always_inline bool count_add(u64 cgid, s64 delta)
{
	s64 *v = bpf_map_lookup_elem(&counts, &cgid);
	if (!v && bpf_map_update_elem(&counts, &cgid, &delta, BPF_NOEXIST) == 0)
		return true;
	if (!v) // lost the race to another CPU's insert, or the map is full
		v = bpf_map_lookup_elem(&counts, &cgid);
	if (!v)
		return false;
	__sync_fetch_and_add(v, delta);
	return true;
}

// overflow records a dentry allocation of cgid that could not be tracked.
static __always_inline void overflow(u64 cgid)
{
	__sync_fetch_and_add(&overflows, 1);
	u64 *n = bpf_map_lookup_elem(&overflowed, &cgid);
	if (!n) {
		u64 one = 1;
		if (bpf_map_update_elem(&overflowed, &cgid, &one, BPF_NOEXIST) == 0)
			return;
		n = bpf_map_lookup_elem(&overflowed, &cgid); // another CPU inserted it
		if (!n)
			return;
	}
	__sync_fetch_and_add(n, 1);
}

// track_alloc charges a new dentry to the current task's memory cgroup.
static __always_inline void track_alloc(u64 key)
{
	u64 cgid = charged_cgroup_id();
	long err = bpf_map_update_elem(&live, &key, &cgid, BPF_NOEXIST);
	if (err == -EEXIST) {
		// The object was freed without us seeing it: release the old
		// charge, then take the new one.
		u64 *old = bpf_map_lookup_elem(&live, &key);
		if (old) {
			u64 prev = *old;
			*old = cgid;
			count_add(prev, -1);
			__sync_fetch_and_add(&stale, 1);
		}
	} else if (err) {
		overflow(cgid);
		return;
	}
	if (!count_add(cgid, 1)) {
		bpf_map_delete_elem(&live, &key);
		overflow(cgid);
	}
}

// track_free releases a dentry from the cgroup charged at its allocation,
// whatever context frees it.
static __always_inline void track_free(u64 key)
{
	u64 *cgid = bpf_map_lookup_elem(&live, &key);
	if (!cgid)
		return; // allocated before the accountant started, or not tracked
	u64 id = *cgid;
	if (bpf_map_delete_elem(&live, &key) != 0)
		return; // a concurrent free of the same pointer won
	count_add(id, -1);
}

// Preferred hooks: they run only for dentries. __d_alloc is the one place
// that allocates from the dentry cache; dentry_free hands every dentry to
// the cache (after an RCU grace period, which does not matter here: the
// object cannot be reused before).
SEC("fexit/__d_alloc")
int BPF_PROG(alloc_fexit, struct super_block *sb, const struct qstr *name, struct dentry *ret)
{
	if (ret)
		track_alloc((u64)ret);
	return 0;
}

SEC("fentry/dentry_free")
int BPF_PROG(free_fentry, struct dentry *dentry)
{
	track_free((u64)dentry);
	return 0;
}

// Fallback hooks, where fentry/fexit are refused: the slab tracepoints run
// for every cache, so the programs filter to the dentry cache first.
SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(alloc_tp, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	if (ptr && is_dentry_cache(s))
		track_alloc((u64)ptr);
	return 0;
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(free_tp, unsigned long call_site, const void *ptr, const struct kmem_cache *s)
{
	if (ptr && is_dentry_cache(s))
		track_free((u64)ptr);
	return 0;
}

// Walks the live map (run from user space on every snapshot) and counts, per
// cgroup, the tracked dentries that have no inode: negative dentries.
SEC("iter/bpf_map_elem")
int count_negative(struct bpf_iter__bpf_map_elem *ctx)
{
	u64 *key = ctx->key;
	u64 *val = ctx->value;
	if (!key || !val)
		return 0;

	struct dentry *d = (struct dentry *)*key;
	struct inode *inode = NULL;
	if (bpf_core_read(&inode, sizeof(inode), &d->d_inode) != 0 || inode)
		return 0;

	u64 cgid = *val;
	u64 *n = bpf_map_lookup_elem(&negatives, &cgid);
	if (n) {
		*n += 1; // iterators run on one CPU at a time
		return 0;
	}
	u64 one = 1;
	bpf_map_update_elem(&negatives, &cgid, &one, BPF_NOEXIST);
	return 0;
}
