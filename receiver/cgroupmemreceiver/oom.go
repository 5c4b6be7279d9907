package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/internal/oomwatch"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// KmsgOOMWatcherConfig turns on the /dev/kmsg OOM watcher (off by default): it counts an OOM
// kill on the container and pod the kernel's report names even when the runtime removed the
// container's cgroup before the next scrape could read its count.
type KmsgOOMWatcherConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Path is the kernel log device, in the collector's own filesystem (not under
	// root_path): the DaemonSet's all-features overlay mounts the host's /dev/kmsg there.
	Path string `mapstructure:"path"`
}

const defaultKmsgPath = "/dev/kmsg"

// Validate checks the path when the watcher is on.
func (c *KmsgOOMWatcherConfig) Validate() error {
	if c.Enabled && !filepath.IsAbs(c.Path) {
		return fmt.Errorf("kmsg_oom_watcher.path must be an absolute path, got %q", c.Path)
	}
	return nil
}

// goneGrace is how many scrapes a removed container's OOM kill count is kept after its cgroup
// was last seen, for reports the watcher reads late; it is then added to its pod's kills of
// removed containers for good.
const goneGrace = 3

// oomLedger keeps what is needed for OOM kills to outlive a container's cgroup:
//
//   - the count each container's cgroup said last (oom_kill of memory.oom_control or
//     memory.events), and how many kills the /dev/kmsg watcher saw for it since its first read;
//   - on cgroup v1, where the kernel counts a kill only in the victim's own memory cgroup, the
//     kills of each pod's removed containers, so that the pod's count includes them.
//
// A removed container's final count is its first count plus the larger of the kills its
// cgroup counted since and the kills the watcher saw since: both streams count the same kills,
// the cgroup's stops when it is removed, and the watcher's may lag a scrape or miss reports the
// kernel rate-limited. Kills the watcher reports after the last read of a cgroup that is gone
// are emitted once on the container's resource, as container.memory.oom_kills.
type oomLedger struct {
	v1      bool                     // pods need their containers' counts
	prefix  string                   // the hierarchy root's own cgroup path; "" at a mount's root
	watcher *oomwatch.Watcher        // nil when off or not readable
	logged  oomwatch.Stats           // what was logged of the watcher's troubles
	scrape  uint64                   //
	byPath  map[string]*oomContainer // by container cgroup path
	pods    map[string]*oomPod       // by pod cgroup path
	kills   []oomwatch.Kill          // drain buffer
}

type oomContainer struct {
	c       cgroupfs.Container
	names   containerNames
	podPath string
	live    bool   // found in the tree by this scrape
	read    bool   // first and last are known
	first   uint64 // the count at the first read after the watcher started
	last    uint64 // the count at the last read
	kmsg    uint64 // kills the watcher reported since the first read
	emitted uint64 // the final count last emitted for the gone container
	seen    uint64 // the scrape that last found the cgroup, or that the watcher named it first
}

// final is the best count of a container's kills.
func (e *oomContainer) final() uint64 {
	return e.first + max(e.last-e.first, e.kmsg)
}

type oomPod struct {
	members map[string]*oomContainer
	gone    uint64 // final counts of its containers removed for good
	seen    uint64
}

// startOOMLedger returns a ledger, or nil when nothing needs one: no watcher, and v2 or no
// pod OOM kill metric. The watcher failing to open is said once and leaves it off.
func (s *cgroupScraper) startOOMLedger() *oomLedger {
	v1 := !s.hier.Mode.V2() && s.cfg.Metrics.K8sPodMemoryOomKills.Enabled
	w := s.cfg.KmsgOOMWatcher
	if !v1 && !w.Enabled {
		return nil
	}
	l := &oomLedger{v1: v1, byPath: map[string]*oomContainer{}, pods: map[string]*oomPod{}}
	if w.Enabled {
		var err error
		if l.watcher, err = oomwatch.Open(w.Path); err != nil {
			s.logger.Warn("kmsg_oom_watcher: the kernel log cannot be read (it needs root or CAP_SYSLOG, and the host's /dev/kmsg mounted): OOM kills of containers whose cgroups are removed before the next scrape are not counted; the cgroups' own counters still are",
				zap.String("path", w.Path), zap.Error(err))
		}
		l.prefix = cgroupPathOf(s.hier.Dir)
	}
	return l
}

func (l *oomLedger) close() error {
	if l == nil || l.watcher == nil {
		return nil
	}
	return l.watcher.Close()
}

// cgroupPathOf is the cgroup path the kernel gives the cgroup directory dir: its path below
// the mount of its cgroup filesystem ("" when dir is that mount's root). The kernel's OOM
// report names cgroups from the hierarchy's real root, which a test's root_path (or a bind
// mount of a subtree) does not start at.
func cgroupPathOf(dir string) string {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return ""
	}
	var st syscall.Stat_t
	if syscall.Stat(real, &st) != nil {
		return ""
	}
	mount := real
	for mount != "/" && mount != "." {
		var pst syscall.Stat_t
		parent := filepath.Dir(mount)
		if syscall.Stat(parent, &pst) != nil || pst.Dev != st.Dev {
			break
		}
		mount = parent
	}
	rel, err := filepath.Rel(mount, real)
	if err != nil || rel == "." {
		return ""
	}
	return "/" + filepath.ToSlash(rel)
}

// begin starts a scrape: the kills the watcher read since the last one are counted on their
// containers, including containers never read or already gone.
func (l *oomLedger) begin(s *cgroupScraper) {
	if l == nil {
		return
	}
	l.scrape++
	if l.watcher == nil {
		return
	}
	var st oomwatch.Stats
	l.kills, st = l.watcher.Drain(l.kills[:0])
	l.logStats(s.logger, st)
	for i := range l.kills {
		rel, ok := l.relative(l.kills[i].TaskMemcg)
		if !ok {
			continue
		}
		c, podPath, ok := cgroupfs.ContainerAt(rel)
		if !ok {
			continue
		}
		e := l.byPath[c.Path]
		if e == nil {
			names := s.containerNames(c)
			if !names.included {
				continue
			}
			e = l.add(c, names, podPath)
		}
		e.kmsg++
	}
	clear(l.kills)
}

// relative turns a cgroup path of the kernel's into one relative to the hierarchy's dir.
func (l *oomLedger) relative(p string) (string, bool) {
	if l.prefix == "" {
		return p, true
	}
	rest, ok := strings.CutPrefix(p, l.prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	return rest, true
}

func (l *oomLedger) add(c cgroupfs.Container, names containerNames, podPath string) *oomContainer {
	e := &oomContainer{c: c, names: names, podPath: podPath, seen: l.scrape}
	l.byPath[c.Path] = e
	if podPath != "" {
		p := l.pods[podPath]
		if p == nil {
			p = &oomPod{members: map[string]*oomContainer{}}
			l.pods[podPath] = p
		}
		p.members[c.Path] = e
	}
	return e
}

// observe records a container found in the tree and, when known, the OOM kill count its
// cgroup gave.
func (l *oomLedger) observe(c *cgroupfs.Container, names containerNames, kills cgroupfs.Value) {
	if l == nil {
		return
	}
	e := l.byPath[c.Path]
	if e == nil {
		podPath := ""
		if c.PodUID != "" {
			podPath = path.Dir(c.Path)
		}
		e = l.add(*c, names, podPath)
	}
	e.seen, e.names, e.live = l.scrape, names, true
	if !kills.OK {
		return
	}
	if !e.read {
		// Reports the watcher saw before the first read are in this count already.
		e.read, e.first, e.kmsg = true, kills.V, 0
	}
	e.last = kills.V
}

// podKills is a v1 pod's OOM kill count: its own cgroup's (tasks placed in the pod cgroup
// itself) plus its containers', those removed included.
func (l *oomLedger) podKills(podPath string, own cgroupfs.Value) cgroupfs.Value {
	if l == nil || !l.v1 {
		return own
	}
	p := l.pods[podPath]
	if p == nil {
		return own
	}
	p.seen = l.scrape
	sum := own.V + p.gone
	for _, e := range p.members {
		if e.live {
			sum += e.last // a live container: its cgroup's count is the truth
		} else {
			sum += e.final()
		}
	}
	return cgroupfs.Value{V: sum, OK: true}
}

// end closes a scrape: containers not found in it are gone. A gone container whose final
// count exceeds what its cgroup last said (the watcher saw kills after the last read) gets
// that count emitted on its resource; after goneGrace scrapes it is added to its pod's kills
// of removed containers and forgotten.
func (l *oomLedger) end(s *cgroupScraper, now pcommon.Timestamp) {
	if l == nil {
		return
	}
	for p, e := range l.byPath {
		if e.live {
			e.live = false
			continue
		}
		if f := e.final(); f > e.last && f != e.emitted && s.cfg.Metrics.ContainerMemoryOomKills.Enabled {
			e.emitted = f
			s.mb.RecordContainerMemoryOomKillsDataPoint(now, int64(f))
			s.mb.EmitForResource(metadata.WithResource(s.containerResource(e.c, e.names)))
		}
		if l.scrape-e.seen < goneGrace {
			continue
		}
		if pod := l.pods[e.podPath]; pod != nil {
			pod.gone += e.final()
			delete(pod.members, p)
		}
		delete(l.byPath, p)
	}
	for p, pod := range l.pods {
		if pod.seen != l.scrape && len(pod.members) == 0 {
			delete(l.pods, p)
		}
	}
}

func (l *oomLedger) logStats(logger *zap.Logger, st oomwatch.Stats) {
	if st.Dropped > l.logged.Dropped || st.Lost > l.logged.Lost {
		logger.Warn("kmsg_oom_watcher: OOM kill reports were lost: the kernel overwrote unread records, or too many waited between scrapes; the cgroups' own counters still count those kills while the cgroups exist",
			zap.Uint64("overwritten", st.Lost), zap.Uint64("dropped", st.Dropped))
	}
	if st.Malformed != nil && l.logged.Malformed == nil {
		logger.Warn("kmsg_oom_watcher: an OOM kill report could not be parsed; such reports are not counted", zap.Error(st.Malformed))
	}
	if st.Err != nil && l.logged.Err == nil && !errors.Is(st.Err, syscall.EINTR) {
		logger.Warn("kmsg_oom_watcher: reading the kernel log stopped", zap.Error(st.Err))
	}
	l.logged = st
}
