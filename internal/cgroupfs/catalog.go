package cgroupfs

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Catalog keeps the discovered tree, and a kept-open handle per cgroup, between scrapes. It
// re-walks the hierarchy only when needed: when a watched directory saw an entry created or
// removed, when a cgroup vanished during a read, and every rewalkEvery as a safety net. Where
// inotify is not available it re-walks on every Refresh.
type Catalog struct {
	hier        Hierarchy
	files       *Files
	rewalkEvery time.Duration

	watch    *dirWatch
	watchErr error
	tree     Tree
	handles  map[string]*Cgroup
	lastWalk time.Time
	dirty    bool
	walks    int
}

// NewCatalog returns a catalog of the hierarchy whose handles keep files open within files.
func NewCatalog(h Hierarchy, files *Files, rewalkEvery time.Duration) *Catalog {
	return &Catalog{hier: h, files: files, rewalkEvery: rewalkEvery, handles: map[string]*Cgroup{}, dirty: true}
}

// Refresh returns the current tree, walking the hierarchy again when something changed.
func (c *Catalog) Refresh(now time.Time) (Tree, error) {
	if !c.needWalk(now) {
		return c.tree, nil
	}
	w := newWalker(c.hier.Dir)
	var errs []error
	if watch, err := newDirWatch(); err == nil {
		w.watch = watch
	} else {
		w.watchErr = err
	}
	w.walk(c.hier.Dir, "/", 0)
	if len(w.unlisted) > 0 {
		// A directory that could not be listed (out of descriptors, a permission) says
		// nothing of what is under it: what the last walk found there is kept, and the next
		// Refresh walks again rather than trusting the watch to report a change.
		w.tree = keepUnlisted(w.tree, c.tree, w.unlisted)
	}
	c.tree, c.lastWalk, c.dirty = w.tree, now, len(w.unlisted) > 0
	c.walks++
	c.syncHandles()
	_ = c.watch.close()
	c.watch = w.watch
	if w.watchErr != nil {
		_ = c.watch.close()
		c.watch = nil
		if c.watchErr == nil {
			errs = append(errs, fmt.Errorf("watching the cgroup tree for changes failed, discovery walks it on every scrape: %w", w.watchErr))
		}
	}
	c.watchErr = w.watchErr
	return c.tree, errors.Join(append(w.errs, errs...)...)
}

// keepUnlisted adds to tree what old had under the directories in unlisted: pods and
// standalone containers under them, and the containers of a pod whose own directory could not
// be listed.
func keepUnlisted(tree, old Tree, unlisted []string) Tree {
	within := func(p string) bool {
		for _, dir := range unlisted {
			if dir == "/" || p == dir || strings.HasPrefix(p, dir+"/") {
				return true
			}
		}
		return false
	}
	pods := make(map[string]int, len(tree.Pods))
	for i, p := range tree.Pods {
		pods[p.Path] = i
	}
	for _, p := range old.Pods {
		i, found := pods[p.Path]
		switch {
		case !found && within(p.Path):
			tree.Pods = append(tree.Pods, p)
		case found && len(tree.Pods[i].Containers) == 0 && slices.Contains(unlisted, p.Path):
			tree.Pods[i].Containers = p.Containers
		}
	}
	standalone := make(map[string]struct{}, len(tree.Standalone))
	for _, ct := range tree.Standalone {
		standalone[ct.Path] = struct{}{}
	}
	for _, ct := range old.Standalone {
		if _, found := standalone[ct.Path]; !found && within(ct.Path) {
			tree.Standalone = append(tree.Standalone, ct)
		}
	}
	return tree
}

func (c *Catalog) needWalk(now time.Time) bool {
	if c.dirty || c.watch == nil || now.Sub(c.lastWalk) >= c.rewalkEvery {
		return true
	}
	changed, err := c.watch.changed()
	return changed || err != nil
}

// syncHandles closes the handles of cgroups that are gone and opens none: handles are made
// on first use by Handle. The others are told of the walk.
func (c *Catalog) syncHandles() {
	seen := make(map[string]struct{}, len(c.handles))
	for _, p := range c.tree.Pods {
		seen[p.Path] = struct{}{}
		seen[path.Dir(p.Path)] = struct{}{} // its QoS class cgroup, whose memory.pressure gates the pod's
		for _, ct := range p.Containers {
			seen[ct.Path] = struct{}{}
		}
	}
	for _, ct := range c.tree.Standalone {
		seen[ct.Path] = struct{}{}
	}
	for rel, h := range c.handles {
		if _, ok := seen[rel]; !ok {
			h.Close()
			delete(c.handles, rel)
			continue
		}
		h.rediscovered()
	}
}

// Handle returns the kept-open handle of the cgroup at rel (a path of the tree).
func (c *Catalog) Handle(rel string) *Cgroup {
	h, ok := c.handles[rel]
	if !ok {
		h = c.files.Cgroup(filepath.Join(c.hier.Dir, rel))
		if c.hier.Unified != "" {
			h.Unified = filepath.Join(c.hier.Unified, rel)
		}
		c.handles[rel] = h
	}
	return h
}

// Forget drops the handle of a cgroup that vanished, and has the next Refresh walk again.
func (c *Catalog) Forget(rel string) {
	if h, ok := c.handles[rel]; ok {
		h.Close()
		delete(c.handles, rel)
	}
	c.dirty = true
}

// Walks is how many times the catalog walked the hierarchy.
func (c *Catalog) Walks() int { return c.walks }

// Watching reports whether changes are detected by a watch rather than by walking each time.
func (c *Catalog) Watching() bool { return c.watch != nil }

// Close closes every handle and the watch.
func (c *Catalog) Close() error {
	for rel, h := range c.handles {
		h.Close()
		delete(c.handles, rel)
	}
	err := c.watch.close()
	c.watch = nil
	return err
}
