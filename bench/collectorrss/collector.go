package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
)

// collector is a running collector whose log is parsed for the debug exporter's exports.
type collector struct {
	cmd     *exec.Cmd
	exports chan export
	tail    *lineTail
	done    chan struct{}
	dir     string
	// metricsPort serves the collector's self-telemetry (Prometheus) on 127.0.0.1.
	metricsPort int
}

// export is one "Metrics" log line of the debug exporter.
type export struct {
	at                time.Time
	resources, points int
	// wireBytes and protoBytes are the request's message as it came over gRPC (compressed,
	// when it was) and its protobuf encoding; 0 from the debug exporter.
	wireBytes, protoBytes int
	problem               string // a warning or error instead of an export
	closed                bool
}

// setup is how the collector is run.
type setup struct {
	bin, configMap  string
	without         []string // processors left out of the deployed pipelines
	interval        time.Duration
	warmup, scrapes int
	// cadvisor is bench/cadvisorpeer's binary: when set, each run measures cAdvisor beside
	// the collector on the same tree, the collector exporting OTLP to the harness with the
	// receiver's default metrics (see changes).
	cadvisor string
	// profile, when set, is where perf record writes its samples of the collector over the
	// window, at profileHz; the collector should then keep its symbols.
	profile   string
	profileHz int
	// peerProfile, when set, is where perf record writes its samples of the cAdvisor peer
	// over the window, at 199 Hz.
	peerProfile string
	// deployedReceiver keeps the deployed receiver config in a side-by-side run instead of
	// the receiver's defaults.
	deployedReceiver bool
}

// startCollector runs the collector with the deploy config made for root (see
// deployConfig), and returns the metrics pipeline's processors. Exports are read from the
// debug exporter's log lines, or, with ch.otlpEndpoint, sent to exports by the harness's
// OTLP endpoint.
func startCollector(su setup, root string, ch changes, exports chan export) (c *collector, processors []string, err error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	b, processors, err := deployConfig(su.configMap, root, su.interval, port, su.without, ch)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "cgroupmem-bench-collector-")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		return nil, nil, err
	}
	if exports == nil {
		exports = make(chan export, 1024)
	}
	c = &collector{exports: exports, tail: &lineTail{max: 40}, done: make(chan struct{}), dir: dir, metricsPort: port}
	c.cmd = exec.Command(su.bin, "--config="+cfg)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.cmd.Stdout = io.Discard
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s: %w", su.bin, err)
	}
	go c.readLog(stderr)
	return c, processors, nil
}

// readLog turns the collector's JSON log lines into exports and problems.
func (c *collector) readLog(r io.Reader) {
	defer close(c.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		c.tail.add(line)
		if e, ok := parseLogLine(line, time.Now()); ok {
			c.exports <- e
		}
	}
	c.exports <- export{closed: true}
}

// parseLogLine reads the debug exporter's export lines and warning or error lines.
func parseLogLine(line string, at time.Time) (export, bool) {
	var l struct {
		Level     string `json:"level"`
		Msg       string `json:"msg"`
		Resources *int   `json:"resource metrics"`
		Points    *int   `json:"data points"`
		Error     string `json:"error"`
	}
	if json.Unmarshal([]byte(line), &l) != nil {
		return export{}, false
	}
	switch {
	case l.Msg == "Metrics" && l.Resources != nil && l.Points != nil:
		return export{at: at, resources: *l.Resources, points: *l.Points}, true
	case l.Level == "warn" || l.Level == "error":
		p := l.Level + ": " + l.Msg
		if l.Error != "" {
			p += ": " + l.Error
		}
		return export{at: at, problem: p}, true
	}
	return export{}, false
}

// measure waits for warmup scrapes, then takes CPU time at the start of the next scrape's
// exports and again scrapes later, and reads the memory figures at the end. A scrape is a
// burst of exports: the batch processor may split one scrape's metrics, never across a
// pause of half an interval.
//
// With a peer process (peerPID > 0), its CPU time is taken at the same instants and its
// memory figures at the same end, into r.CAdvisor; the window's ends are returned.
func (c *collector) measure(ctx context.Context, su setup, peerPID int) (r collectorresult.Run, w window, err error) {
	interval, warmup, scrapes := su.interval, su.warmup, su.scrapes
	r = collectorresult.Run{Interval: interval.String(), Scrapes: scrapes, Warmup: warmup}
	pid := c.cmd.Process.Pid
	var last time.Time
	var cpu0, peerCPU0 time.Duration
	var t0 time.Time
	var prof, peerProf *profiler
	bursts := 0
	for {
		var e export
		select {
		case <-ctx.Done():
			return r, w, fmt.Errorf("%w after %d scrapes; the collector's last lines:\n%s", ctx.Err(), bursts, c.tail)
		case <-time.After(10*interval + 30*time.Second):
			return r, w, fmt.Errorf("no export for %s; the collector's last lines:\n%s", 10*interval+30*time.Second, c.tail)
		case e = <-c.exports:
		}
		switch {
		case e.closed:
			return r, w, fmt.Errorf("the collector exited: %v; its last lines:\n%s", c.wait(), c.tail)
		case e.problem != "":
			r.Problems = append(r.Problems, e.problem)
			continue
		}
		if last.IsZero() || e.at.Sub(last) > interval/2 {
			bursts++
			switch bursts {
			case warmup + 1:
				var err error
				if cpu0, err = processCPU(pid); err != nil {
					return r, w, err
				}
				if peerPID > 0 {
					if peerCPU0, err = processCPU(peerPID); err != nil {
						return r, w, fmt.Errorf("cAdvisor peer: %w", err)
					}
				}
				t0 = e.at
				if su.profile != "" {
					if prof, err = startProfiler(pid, su.profile, su.profileHz, profileParts); err != nil {
						return r, w, err
					}
					defer func() {
						if prof != nil {
							_, _ = prof.stop()
						}
					}()
				}
				if su.peerProfile != "" && peerPID > 0 {
					if peerProf, err = startProfiler(peerPID, su.peerProfile, 199, cadvisorParts); err != nil {
						return r, w, err
					}
					defer func() {
						if peerProf != nil {
							_, _ = peerProf.stop()
						}
					}()
				}
			case warmup + 1 + scrapes:
				cpu1, err := processCPU(pid)
				if err != nil {
					return r, w, err
				}
				if peerPID > 0 {
					peerCPU1, err := processCPU(peerPID)
					if err != nil {
						return r, w, fmt.Errorf("cAdvisor peer: %w", err)
					}
					pst, err := readStatus(peerPID)
					if err != nil {
						return r, w, fmt.Errorf("cAdvisor peer: %w", err)
					}
					r.CAdvisor = &collectorresult.Peer{CPUSeconds: (peerCPU1 - peerCPU0).Seconds(), RSSBytes: pst.rss, HWMBytes: pst.hwm}
					if peerProf != nil {
						p, err := peerProf.stop()
						peerProf = nil
						if err != nil {
							return r, w, fmt.Errorf("cAdvisor peer: %w", err)
						}
						r.CAdvisor.Profile = &p
					}
				}
				st, err := readStatus(pid)
				if err != nil {
					return r, w, err
				}
				r.RSSBytes, r.HWMBytes = st.rss, st.hwm
				if prof != nil {
					p, err := prof.stop()
					prof = nil
					if err != nil {
						return r, w, err
					}
					p.Collector = su.bin
					r.Profile = &p
				}
				span := e.at.Sub(t0)
				if d := span - time.Duration(scrapes)*interval; d > interval/2 || d < -interval/2 {
					return r, w, fmt.Errorf("%d scrapes took %s at an interval of %s: a scrape was missed or its export not seen", scrapes, span, interval)
				}
				w = window{from: t0, to: e.at}
				r.WindowSeconds = span.Seconds()
				r.CPUSeconds = (cpu1 - cpu0).Seconds()
				r.CPUPerScrapeMillis = 1000 * r.CPUSeconds / float64(scrapes)
				r.CPUPercentOfOneCore = 100 * r.CPUSeconds / r.WindowSeconds
				r.ResourcesPerScrape /= float64(scrapes)
				r.DataPointsPerScrape /= float64(scrapes)
				r.WireBytesPerScrape /= float64(scrapes)
				r.ProtoBytesPerScrape /= float64(scrapes)
				return r, w, nil
			}
		}
		last = e.at
		if bursts > warmup {
			r.ResourcesPerScrape += float64(e.resources)
			r.DataPointsPerScrape += float64(e.points)
			r.WireBytesPerScrape += float64(e.wireBytes)
			r.ProtoBytesPerScrape += float64(e.protoBytes)
		}
	}
}

// window is when a measurement's window began and ended.
type window struct{ from, to time.Time }

// stop ends the collector: SIGTERM, then SIGKILL after 10 s.
func (c *collector) stop() error {
	defer os.RemoveAll(c.dir)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
	}
	go func() { // drain what readLog still sends
		for e := range c.exports {
			if e.closed {
				return
			}
		}
	}()
	err := c.wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
		return nil
	}
	return err
}

func (c *collector) wait() error {
	if c.cmd.ProcessState != nil {
		return nil
	}
	return c.cmd.Wait()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lineTail keeps the last lines of a log for error messages.
type lineTail struct {
	max   int
	mu    sync.Mutex
	lines []string
}

func (t *lineTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
