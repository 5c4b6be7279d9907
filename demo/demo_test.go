// Package demo reproduces the incidents the project exists for (shared reference:
// incidents.md) live in real cgroups of this host, runs the collector (the binary make
// build writes) with the memdivergence processor over them, and prints per workload what
// it did beside what the product concluded. `make demo` runs it (root); without
// CGROUPMEM_DEMO_COLLECTOR it skips.
package demo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

const mib = 1 << 20

// incident is one workload and what the product should conclude of it.
type incident struct {
	name      string // what it stands for
	did       string // what the workload does
	work      *testcgroup.Workload
	command   func(dir string) *exec.Cmd // instead of work
	limit     uint64
	wantCause string
	wantETA   bool
	id, dir   string
}

// conclusion is the latest of what the collector said of one container.
type conclusion struct {
	flagged               bool
	cause, classification string
	eta                   float64 // seconds; 0: not emitted
	workingSet, rss       float64
	parts                 map[string]float64 // divergence by cause
	sockRcvq, sockPayload float64
	verdicts              []string
}

func TestDemo(t *testing.T) {
	collector := os.Getenv("CGROUPMEM_DEMO_COLLECTOR")
	if collector == "" {
		t.Skip("demo: make demo builds the collector and sets CGROUPMEM_DEMO_COLLECTOR")
	}
	tree := testcgroup.New(t)
	incidents := []*incident{
		{
			name: "1. temp-file churn (PHP-FPM spooling POST bodies)",
			did:  "created and deleted 60,000 uniquely named temp files",
			work: &testcgroup.Workload{TempFiles: 60000}, wantCause: "dentry_slab",
		},
		{
			name: "2+3. a file read back (image service)",
			did:  "wrote a 96 MiB file and read it back twice",
			work: &testcgroup.Workload{FileMiB: 96}, wantCause: "page_cache",
		},
		{
			name: "4. a log growing toward the limit (JVM service)",
			did:  "appends 1 MiB to its log, which two shippers read back, then sleeps 0.5 s; 512 MiB limit",
			command: func(dir string) *exec.Cmd {
				log := filepath.Join(dir, "service.log")
				return exec.Command("sh", "-c", "while true; do head -c 1048576 /dev/zero >> "+log+
					"; tail -c 1048576 "+log+" > /dev/null; tail -c 1048576 "+log+" > /dev/null; sleep 0.5; done")
			},
			limit: 512 * mib, wantCause: "page_cache", wantETA: true,
		},
		{
			name: "5. an unread socket of tiny datagrams (nginx worker)",
			did:  "sent 2,000 datagrams of 10 bytes to a UDP socket it never reads",
			work: &testcgroup.Workload{UnreadUDPDatagrams: 2000}, wantCause: "socket",
		},
	}
	for _, inc := range incidents {
		inc.id = testcgroup.NewContainerID()
		inc.dir = tree.AddContainer(testcgroup.QoSBurstable, testcgroup.NewPodUID(), inc.id)
		if inc.limit > 0 {
			tree.SetMemoryLimit(inc.dir, inc.limit)
		}
	}

	// The collector starts first: the eBPF dentry accountant counts dentries made after it.
	work := t.TempDir()
	cfg := filepath.Join(work, "collector.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(demoConfig, tree.Root())), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startCollector(t, collector, cfg)
	out.waitFor(t, "Everything is ready", 30*time.Second)

	start := time.Now()
	for _, inc := range incidents {
		if inc.work != nil {
			w := *inc.work
			w.Dir = t.TempDir()
			tree.Start(t, inc.dir, testcgroup.Command(t, w))
		} else {
			tree.Start(t, inc.dir, inc.command(t.TempDir()))
		}
	}
	fmt.Printf("demo: %d workloads started in %v; watching the collector's conclusions\n", len(incidents), time.Since(start).Round(time.Millisecond))

	// Wait until each workload has the conclusion it should, or 90 s.
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, inc := range incidents {
			c := out.conclusion(inc.id)
			if !c.flagged || c.cause != inc.wantCause || (inc.wantETA && c.eta == 0) {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(time.Second)
	}

	fmt.Println()
	for _, inc := range incidents {
		k := testcgroup.ReadKernel(t, inc.dir)
		c := out.conclusion(inc.id)
		fmt.Println(inc.name)
		fmt.Printf("   it did:       %s\n", inc.did)
		fmt.Printf("   kernel says:  usage %s, rss %s, active_file %s, inactive_file %s, kmem %s\n", mb(float64(k.Usage)),
			mb(float64(k.Stat["total_rss"])), mb(float64(k.Stat["total_active_file"])), mb(float64(k.Stat["total_inactive_file"])), mb(float64(k.Kmem)))
		fmt.Printf("   concluded:    %s\n", c.summary())
		for _, v := range c.verdicts {
			fmt.Printf("   verdict line: %s\n", verdictText(v))
		}
		fmt.Println()
	}
	for _, inc := range incidents {
		c := out.conclusion(inc.id)
		switch {
		case !c.flagged:
			t.Errorf("%s: not flagged (want cause %s)", inc.name, inc.wantCause)
		case c.cause != inc.wantCause:
			t.Errorf("%s: flagged with cause %s, want %s", inc.name, c.cause, inc.wantCause)
		case inc.wantETA && c.eta == 0:
			t.Errorf("%s: no ETA to the limit", inc.name)
		}
	}
}

// demoConfig scrapes every 2 s; the processor's thresholds are scaled down to the demo's
// sizes (tens of MiB instead of the defaults' 100 MiB and 16 MiB of socket queue), and its
// trend window samples every 2 s so the ETA comes within a minute.
const demoConfig = `receivers:
  cgroupmem:
    collection_interval: 2s
    root_path: %s
    dentry_accounting:
      mode: ebpf
processors:
  memdivergence:
    thresholds:
      min_bytes: 8388608
      sock_rcvq_bytes: 131072
    trend:
      sample_interval: 2s
      min_samples: 5
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    resource:
      service.instance.id: null
      service.name: null
      service.version: null
    logs:
      disable_caller: true
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [cgroupmem]
      processors: [memdivergence]
      exporters: [debug]
`

// verdictText is a verdict log line without its timestamp, level and fields.
func verdictText(line string) string {
	if _, rest, ok := strings.Cut(line, "\tinfo\t"); ok {
		line = rest
	}
	text, _, _ := strings.Cut(line, "\t{")
	return text
}

func mb(v float64) string { return fmt.Sprintf("%.1f MiB", v/mib) }

func (c conclusion) summary() string {
	if c.workingSet == 0 {
		return "(not seen yet)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "working set %s, rss %s; ", mb(c.workingSet), mb(c.rss))
	if c.flagged {
		fmt.Fprintf(&b, "FLAGGED: %s", c.cause)
	} else {
		fmt.Fprintf(&b, "not flagged (largest: %s)", c.cause)
	}
	if c.classification != "" {
		fmt.Fprintf(&b, ", %s", c.classification)
	}
	if v, ok := c.parts[c.cause]; ok && v > 0 {
		fmt.Fprintf(&b, " (%s of the divergence)", mb(v))
	}
	if c.cause == "socket" {
		fmt.Fprintf(&b, " (receive queues %s for %.0f bytes of payload)", mb(c.sockRcvq), c.sockPayload)
	}
	if c.eta > 0 {
		fmt.Fprintf(&b, "; reaches its limit in %s", (time.Duration(c.eta) * time.Second).Round(time.Second))
	}
	return b.String()
}

// collectorOutput parses the debug exporter's detailed output and the verdict log lines.
type collectorOutput struct {
	mu       sync.Mutex
	lines    []string               // the collector's log lines, not the metrics dump
	by       map[string]*conclusion // by container id
	verdicts map[string][]string    // verdict lines by the first 12 characters of the id
}

// isLogLine tells the collector's log lines (a timestamp, a level) from the debug exporter's
// multi-line dump.
func isLogLine(line string) bool {
	return strings.HasPrefix(line, "20") && (strings.Contains(line, "\tinfo\t") || strings.Contains(line, "\twarn\t") || strings.Contains(line, "\terror\t"))
}

func startCollector(t *testing.T, bin, cfg string) *collectorOutput {
	t.Helper()
	cmd := exec.Command(bin, "--config="+cfg)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the collector: %v", err)
	}
	o := &collectorOutput{by: map[string]*conclusion{}, verdicts: map[string][]string{}}
	parsed := make(chan struct{})
	go func() { defer close(parsed); o.parse(r) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		w.Close()
		<-parsed
		if t.Failed() {
			o.mu.Lock()
			n := len(o.lines)
			for _, l := range o.lines[max(n-40, 0):] {
				t.Log(l)
			}
			o.mu.Unlock()
		}
	})
	return o
}

var (
	reContainer = regexp.MustCompile(`-> container\.id: Str\(([0-9a-f]+)\)`)
	reName      = regexp.MustCompile(`-> Name: (\S+)`)
	reAttr      = regexp.MustCompile(`-> (memdivergence\.cause|memdivergence\.classification): Str\((\w+)\)`)
	reValue     = regexp.MustCompile(`^Value: (\S+)`)
	reVerdict   = regexp.MustCompile(`container ([0-9a-f]{12})\b.*working set`)
)

func (o *collectorOutput) parse(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var res, metric string
	attrs := map[string]string{}
	for sc.Scan() {
		line := sc.Text()
		o.mu.Lock()
		if isLogLine(line) && !strings.Contains(line, "ResourceMetrics #") {
			o.lines = append(o.lines, line)
		}
		switch {
		case strings.Contains(line, "ResourceMetrics #"):
			res, metric = "", ""
		case reContainer.MatchString(line):
			res = reContainer.FindStringSubmatch(line)[1]
		case reName.MatchString(line):
			metric = reName.FindStringSubmatch(line)[1]
		case strings.HasPrefix(line, "NumberDataPoints #"):
			attrs = map[string]string{}
		case reAttr.MatchString(line):
			m := reAttr.FindStringSubmatch(line)
			attrs[m[1]] = m[2]
		case reValue.MatchString(line) && res != "":
			v, err := strconv.ParseFloat(reValue.FindStringSubmatch(line)[1], 64)
			if err == nil {
				o.record(res, metric, attrs, v)
			}
		case isLogLine(line) && reVerdict.MatchString(line):
			prefix := reVerdict.FindStringSubmatch(line)[1]
			o.verdicts[prefix] = append(o.verdicts[prefix], line)
		}
		o.mu.Unlock()
	}
}

func (o *collectorOutput) record(id, metric string, attrs map[string]string, v float64) {
	c, ok := o.by[id]
	if !ok {
		c = &conclusion{parts: map[string]float64{}}
		o.by[id] = c
	}
	switch metric {
	case "container.memory.divergence.flagged":
		c.flagged, c.cause, c.classification = v == 1, attrs["memdivergence.cause"], attrs["memdivergence.classification"]
	case "container.memory.divergence.usage":
		c.parts[attrs["memdivergence.cause"]] = v
	case "container.memory.limit_eta":
		c.eta = v
	case "container.memory.working_set":
		c.workingSet = v
	case "container.memory.rss":
		c.rss = v
	case "container.memory.sock_rcvq":
		c.sockRcvq = v
	case "container.memory.sock_rcvq_payload":
		c.sockPayload = v
	}
}

func (o *collectorOutput) conclusion(id string) conclusion {
	o.mu.Lock()
	defer o.mu.Unlock()
	var cc conclusion
	if c, ok := o.by[id]; ok {
		cc = *c
	}
	cc.verdicts = append([]string(nil), o.verdicts[id[:12]]...)
	return cc
}

func (o *collectorOutput) waitFor(t *testing.T, text string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		o.mu.Lock()
		for _, l := range o.lines {
			if strings.Contains(l, text) {
				o.mu.Unlock()
				return
			}
		}
		o.mu.Unlock()
	}
	t.Fatalf("the collector did not log %q within %v", text, d)
}
