package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
)

// profileParts are the parts of the collector a CPU sample is charged to. A part that owns
// its callees (the optional socket and node-wide features) takes every sample with one of its
// frames anywhere in the stack, whatever it called (cgroup.procs reads, /proc walks, netlink);
// any other sample goes to the part of the innermost frame that belongs to one. Frames of
// the Go runtime, the standard library and the kernel belong to none, so a system call or
// an allocation is charged to the code that made it; a sample with no such frame at all
// (the garbage collector's workers, the scheduler, idle timers) is the runtime's own.
var profileParts = []profilePart{
	{name: "sockets: receive-queue attribution (cgroup.procs, fd walk, sock_diag)", owns: true, match: func(sym string) bool {
		return hasPrefix(sym, cgroupmem+"internal/sockets", "github.com/mdlayher/") || receiverSymbol(sym, "ocket", "Rcvq", "rcvq")
	}},
	{name: "node-wide metrics: /proc/vmstat aside, dentries and slabinfo", owns: true, match: func(sym string) bool {
		return hasPrefix(sym, cgroupmem+"internal/nodemem", cgroupmem+"internal/slabinfo", cgroupmem+"internal/dentrybpf") ||
			receiverSymbol(sym, "scrapeNode", "entry", "Dentr", "dentr")
	}},
	{name: "OTLP export: protobuf encoding, compression, gRPC", match: func(sym string) bool {
		return hasPrefix(sym, "google.golang.org/grpc", "google.golang.org/protobuf", "golang.org/x/net/http2", "compress/",
			"github.com/golang/snappy", "github.com/klauspost/compress",
			"go.opentelemetry.io/collector/exporter", "go.opentelemetry.io/collector/config/configgrpc",
			"go.opentelemetry.io/collector/config/configcompression") ||
			(hasPrefix(sym, "go.opentelemetry.io/collector/pdata") &&
				(strings.Contains(sym, "MarshalProto") || strings.Contains(sym, "SizeProto") || strings.Contains(sym, "otelgrpc")))
	}},
	{name: "cgroup files: discovery, reads and parsing", match: func(sym string) bool {
		return hasPrefix(sym, cgroupmem+"internal/")
	}},
	{name: "receiver: scrape loop and metric building", match: func(sym string) bool {
		return hasPrefix(sym, cgroupmem+"receiver/")
	}},
	{name: "memdivergence processor", match: func(sym string) bool {
		return hasPrefix(sym, cgroupmem+"processor/")
	}},
	{name: "pdata (pmetric, pcommon), allocations included", match: func(sym string) bool {
		return hasPrefix(sym, "go.opentelemetry.io/collector/pdata")
	}},
	{name: "batch and memory_limiter processors", match: func(sym string) bool {
		return hasPrefix(sym, "go.opentelemetry.io/collector/processor/batchprocessor",
			"go.opentelemetry.io/collector/processor/memorylimiter", "go.opentelemetry.io/collector/internal/memorylimiter")
	}},
	{name: "collector framework, self-telemetry and logging", match: func(sym string) bool {
		return hasPrefix(sym, "go.opentelemetry.io/", "go.uber.org/", "github.com/prometheus/")
	}},
}

// profilePart is a part of a program that CPU samples are charged to.
type profilePart struct {
	name  string
	owns  bool // takes every sample with one of its frames anywhere in the stack
	match func(sym string) bool
}

// runtimePart is where samples with no frame of any part go.
const runtimePart = "Go runtime alone: garbage collector, scheduler, timers"

// cadvisorParts split the cAdvisor peer's samples: its per-container housekeeping (the
// stats it exists for) and its discovery (the raw watcher's inotify events, containers
// created and destroyed, the minute's global housekeeping), each owning what it calls. On a
// shared machine the watcher also handles every other user's cgroups coming and going in
// the hierarchy it watches, which a node's own churn would replace.
var cadvisorParts = []profilePart{
	{name: "cAdvisor's housekeeping: reading and caching each container's stats", owns: true, match: func(sym string) bool {
		return hasPrefix(sym, cadvisorLib+"manager.(*containerData).housekeeping", cadvisorLib+"manager.(*containerData).updateStats",
			cadvisorLib+"manager.(*containerData).updateSpec", cadvisorLib+"manager.(*containerData).nextHousekeepingInterval")
	}},
	{name: "cAdvisor's discovery: inotify events, containers created and destroyed, global housekeeping", owns: true, match: func(sym string) bool {
		return hasPrefix(sym, cadvisorLib+"container/raw.(*rawContainerWatcher)", cadvisorLib+"container/common.(*InotifyWatcher)",
			cadvisorLib+"manager.(*manager).watchForNewContainers", cadvisorLib+"manager.(*manager).createContainer",
			cadvisorLib+"manager.(*manager).destroyContainer", cadvisorLib+"manager.(*manager).detectSubcontainers",
			cadvisorLib+"manager.(*manager).getContainersDiff", cadvisorLib+"manager.(*manager).globalHousekeeping",
			"k8s.io/utils/inotify")
	}},
	{name: "cAdvisor, other", match: func(sym string) bool { return hasPrefix(sym, "github.com/google/cadvisor/") }},
}

const cadvisorLib = "github.com/google/cadvisor/lib/"

const cgroupmem = "github.com/cgroupmem/cgroupmem/"

// receiverSymbol: sym is in the receiver's own package (its socket and dentry code lives
// beside the scrape loop) and its name holds one of words.
func receiverSymbol(sym string, words ...string) bool {
	name, ok := strings.CutPrefix(sym, cgroupmem+"receiver/cgroupmemreceiver.")
	if !ok {
		return false
	}
	for _, w := range words {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func hasPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// partOf returns the index in parts of the part a symbol belongs to, or -1 for the runtime,
// the standard library, the kernel and unknown frames.
func partOf(parts []profilePart, sym string) int {
	for i, p := range parts {
		if p.match(sym) {
			return i
		}
	}
	return -1
}

// chargeTo is the part a stack's sample goes to, given the parts of its frames, innermost
// first (-1 for none).
func chargeTo(parts []profilePart, frames []int) string {
	for _, f := range frames {
		if f >= 0 && parts[f].owns {
			return parts[f].name
		}
	}
	for _, f := range frames {
		if f >= 0 {
			return parts[f].name
		}
	}
	return runtimePart
}

// parsePerfScript reads perf script's default output of a perf record -g: samples separated
// by blank lines, each a header line then one line per frame, innermost first,
//
//	otelcol-cgroupm 1234 [000] 10.5:   10101010 cpu-clock:ppp:
//		  4a1b2c runtime.mallocgc+0x12 (/tmp/otelcol)
//		  4a0000 github.com/x/y.(*T).F+0x20 (/tmp/otelcol)
//
// and counts the samples of each of parts.
func parsePerfScript(r io.Reader, parts []profilePart) (collectorresult.Profile, error) {
	counts := map[string]int{}
	total := 0
	var frames []int
	inSample := false
	flush := func() {
		if !inSample {
			return
		}
		counts[chargeTo(parts, frames)]++
		total++
		frames, inSample = frames[:0], false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] != ' ' && line[0] != '\t':
			flush()
			inSample = true
		case inSample:
			frames = append(frames, partOf(parts, frameSymbol(line)))
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return collectorresult.Profile{}, err
	}
	if total == 0 {
		return collectorresult.Profile{}, errors.New("perf script: no samples")
	}
	p := collectorresult.Profile{Samples: total}
	for name, n := range counts {
		p.Parts = append(p.Parts, collectorresult.ProfilePart{Name: name, Samples: n, Share: float64(n) / float64(total)})
	}
	sort.Slice(p.Parts, func(i, j int) bool {
		if p.Parts[i].Samples != p.Parts[j].Samples {
			return p.Parts[i].Samples > p.Parts[j].Samples
		}
		return p.Parts[i].Name < p.Parts[j].Name
	})
	return p, nil
}

// frameSymbol is the symbol of a frame line "<address> <symbol>+<offset> (<dso>)", without
// its offset. Go symbols of generic instances may hold spaces, so the symbol is what lies
// between the address and the last " (".
func frameSymbol(line string) string {
	line = strings.TrimSpace(line)
	_, rest, ok := strings.Cut(line, " ")
	if !ok {
		return ""
	}
	if i := strings.LastIndex(rest, " ("); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "+0x"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// profiler is a perf record attached to a process over the window.
type profiler struct {
	cmd   *exec.Cmd
	data  string
	parts []profilePart
}

// startProfiler samples pid's stacks at hz until stop, to be charged to parts.
func startProfiler(pid int, data string, hz int, parts []profilePart) (*profiler, error) {
	cmd := exec.Command("perf", "record", "-q", "-F", fmt.Sprint(hz), "-g", "-p", fmt.Sprint(pid), "-o", data)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record: %w", err)
	}
	return &profiler{cmd: cmd, data: data, parts: parts}, nil
}

// stop ends perf record and returns the profile by part.
func (p *profiler) stop() (collectorresult.Profile, error) {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		return collectorresult.Profile{}, errors.New("perf record did not stop")
	}
	script := exec.Command("perf", "script", "-i", p.data)
	out, err := script.StdoutPipe()
	if err != nil {
		return collectorresult.Profile{}, err
	}
	script.Stderr = io.Discard
	if err := script.Start(); err != nil {
		return collectorresult.Profile{}, fmt.Errorf("perf script: %w", err)
	}
	prof, perr := parsePerfScript(out, p.parts)
	return prof, errors.Join(perr, script.Wait())
}
