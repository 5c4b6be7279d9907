package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// churnSetup is what -churn-rate and its flags ask for.
type churnSetup struct {
	rate   float64       // containers created (and, life later, removed) per second
	life   time.Duration // how long each churned container lives
	steady time.Duration // how long the steady state is sampled before the churn
	d      time.Duration // how long the churn lasts
	sample time.Duration // how often the collector is sampled
	tol    float64       // allowed growth of the RSS over the steady state, as a fraction
	// sockets runs the receiver with its default metrics (socket receive queues on) and
	// gives the stable pods network namespaces and sockets (newTree).
	sockets bool
	// minRate is the least share of the rate the harness must reach for the run to count.
	minRate float64
}

// Sample is one look at the collector process.
type Sample struct {
	At        float64 `json:"at_seconds"` // since the collector started
	Phase     string  `json:"phase"`      // steady or churn
	RSSBytes  uint64  `json:"vmrss_bytes"`
	HeapBytes uint64  `json:"heap_alloc_bytes"` // otelcol_process_runtime_heap_alloc_bytes
	Threads   int     `json:"threads"`
	FDs       int     `json:"fds"`
	// Scrapes and Errors are counted since the previous sample: export bursts, and the
	// collector's warning and error log lines.
	Scrapes int `json:"scrapes"`
	Errors  int `json:"errors"`
	// Alive is how many churned containers existed; Churned, how many were made so far.
	Alive   int `json:"churn_alive"`
	Churned int `json:"churned"`
}

// ChurnReport is what a churn run measured and concluded.
type ChurnReport struct {
	Collector      string   `json:"collector"`
	Stable         int      `json:"stable_containers"`
	Rate           float64  `json:"churn_per_second"`
	Life           string   `json:"churn_life"`
	Duration       string   `json:"churn_duration"`
	Interval       string   `json:"interval"`
	Processors     []string `json:"processors"`
	Sockets        bool     `json:"sockets"`
	SteadyRSS      uint64   `json:"steady_vmrss_bytes"`
	ChurnRSS       uint64   `json:"churn_vmrss_bytes"` // the median of the last quarter
	MaxRSS         uint64   `json:"max_vmrss_bytes"`
	RSSGrowth      float64  `json:"rss_growth"` // ChurnRSS / SteadyRSS - 1
	Samples        []Sample `json:"samples"`
	Problems       []string `json:"problems,omitempty"` // the first few
	ProblemCount   int      `json:"problem_count"`
	Failures       []string `json:"failures,omitempty"`
	ChurnedTotal   int      `json:"churned_total"`
	ChurnMissed    int      `json:"churn_missed"` // creations the harness could not keep up with
	HarnessErrors  []string `json:"harness_errors,omitempty"`
	harnessErrorsN int
}

// runChurn runs the collector on stable containers, samples its steady state, then creates
// and removes containers at cs.rate for cs.d while sampling, and judges the samples.
func runChurn(ctx context.Context, su setup, cs churnSetup, stable int) (rep ChurnReport, err error) {
	t, err := newTree(stable, false, cs.sockets)
	if err != nil {
		return rep, err
	}
	defer func() { err = errors.Join(err, t.remove()) }()
	// With sockets, every metric the receiver enables by default: socket receive queues
	// and the slab dentry metrics included.
	c, processors, err := startCollector(su, t.root, changes{receiverDefaults: cs.sockets}, nil)
	if err != nil {
		return rep, err
	}
	defer func() { err = errors.Join(err, c.stop()) }()
	rep = ChurnReport{Collector: su.bin, Stable: stable, Rate: cs.rate, Life: cs.life.String(), Duration: cs.d.String(),
		Interval: su.interval.String(), Processors: processors, Sockets: cs.sockets}
	started := time.Now()
	pid := c.cmd.Process.Pid

	// Count scrapes and problems from the log all along: the log must be drained anyway.
	var mu sync.Mutex
	scrapes, problems := 0, 0
	exited := make(chan struct{})
	go func() {
		var last time.Time
		for e := range c.exports {
			mu.Lock()
			switch {
			case e.closed:
				mu.Unlock()
				close(exited)
				return
			case e.problem != "":
				problems++
				rep.ProblemCount++
				if len(rep.Problems) < 20 {
					rep.Problems = append(rep.Problems, e.problem)
				}
			case last.IsZero() || e.at.Sub(last) > su.interval/2:
				scrapes++
			}
			if e.problem == "" {
				last = e.at
			}
			mu.Unlock()
		}
	}()
	// Warm up.
	deadline := time.Now().Add(time.Duration(su.warmup)*su.interval + 60*time.Second)
	for {
		mu.Lock()
		n := scrapes
		mu.Unlock()
		if n >= su.warmup {
			break
		}
		select {
		case <-exited:
			return rep, fmt.Errorf("the collector exited: %v; its last lines:\n%s", c.wait(), c.tail)
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("fewer than %d scrapes in %s; the collector's last lines:\n%s", su.warmup, time.Since(started), c.tail)
		}
	}
	mu.Lock()
	scrapes, problems = 0, 0
	mu.Unlock()

	ch := newChurner(t)
	defer func() { err = errors.Join(err, ch.stop()) }()
	take := func(phase string) error {
		s, err := sampleProcess(pid, c.metricsPort)
		if err != nil {
			return err
		}
		s.At, s.Phase = time.Since(started).Seconds(), phase
		mu.Lock()
		s.Scrapes, s.Errors = scrapes, problems
		scrapes, problems = 0, 0
		mu.Unlock()
		s.Alive, s.Churned = ch.counts()
		rep.Samples = append(rep.Samples, s)
		log.Printf("%6.0fs %-6s rss %6.1f MiB heap %6.1f MiB threads %3d fds %5d scrapes %3d errors %3d alive %4d churned %6d",
			s.At, phase, mib(s.RSSBytes), mib(s.HeapBytes), s.Threads, s.FDs, s.Scrapes, s.Errors, s.Alive, s.Churned)
		return nil
	}
	phase := func(name string, d time.Duration) error {
		end := time.Now().Add(d)
		tick := time.NewTicker(cs.sample)
		defer tick.Stop()
		for time.Now().Before(end) {
			select {
			case <-exited:
				return fmt.Errorf("the collector exited: %v; its last lines:\n%s", c.wait(), c.tail)
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
				if err := take(name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := phase("steady", cs.steady); err != nil {
		return rep, err
	}
	ch.start(cs.rate, cs.life)
	if err := phase("churn", cs.d); err != nil {
		return rep, err
	}
	rep.ChurnedTotal, rep.ChurnMissed = ch.made, ch.missed
	rep.HarnessErrors, rep.harnessErrorsN = ch.errs, len(ch.errs)
	judge(&rep, cs.tol, cs.minRate)
	return rep, nil
}

// judge sets the summary figures and the failures: the RSS of the churn's last quarter above
// the steady state by more than tol, or any of RSS, heap, threads, fds and errors per scrape
// still growing between the churn's second and last quarters (by more than 10 % and more
// than a small absolute slack, so that noise does not fail a run).
func judge(rep *ChurnReport, tol, minRate float64) {
	var steady, churn []Sample
	for _, s := range rep.Samples {
		if s.Phase == "steady" {
			steady = append(steady, s)
		} else {
			churn = append(churn, s)
		}
		rep.MaxRSS = max(rep.MaxRSS, s.RSSBytes)
	}
	if len(steady) == 0 || len(churn) < 4 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("too few samples: %d steady, %d churn", len(steady), len(churn)))
		return
	}
	rep.SteadyRSS = median(steady, func(s Sample) float64 { return float64(s.RSSBytes) }).u()
	q := len(churn) / 4
	second, last := churn[q:2*q], churn[len(churn)-q:]
	rep.ChurnRSS = median(last, func(s Sample) float64 { return float64(s.RSSBytes) }).u()
	rep.RSSGrowth = float64(rep.ChurnRSS)/float64(rep.SteadyRSS) - 1
	if rep.RSSGrowth > tol {
		rep.Failures = append(rep.Failures, fmt.Sprintf("RSS %.1f MiB in the churn's last quarter, %.0f %% over the steady %.1f MiB (allowed %.0f %%)",
			mib(rep.ChurnRSS), 100*rep.RSSGrowth, mib(rep.SteadyRSS), 100*tol))
	}
	for _, g := range []struct {
		name  string
		v     func(Sample) float64
		slack float64
	}{
		{"RSS (MiB)", func(s Sample) float64 { return mib(s.RSSBytes) }, 4},
		{"heap (MiB)", func(s Sample) float64 { return mib(s.HeapBytes) }, 4},
		{"threads", func(s Sample) float64 { return float64(s.Threads) }, 4},
		{"errors per scrape", func(s Sample) float64 { return float64(s.Errors) / float64(max(s.Scrapes, 1)) }, 1},
	} {
		a, b := median(second, g.v), median(last, g.v)
		if float64(b) > 1.1*float64(a) && float64(b)-float64(a) > g.slack {
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s still growing: median %.1f in the churn's second quarter, %.1f in its last", g.name, float64(a), float64(b)))
		}
	}
	// The churned containers alive at a sample hold files of their own (kept open between
	// scrapes), so the fds move with them: their trend is taken beside the live containers,
	// fds = a + b·alive + c·t, and fails when c over the churn adds more than 64.
	if c, ok := trendBeside(churn, func(s Sample) float64 { return float64(s.FDs) }); ok {
		span := churn[len(churn)-1].At - churn[0].At
		// The live count is the harness's at the sample, the collector's fds follow its last
		// scrape: the residuals are noisy, so the allowance grows with the churn. A leak of a
		// tenth of a descriptor per churned container fails.
		if allowed := 64 + 0.1*float64(rep.ChurnedTotal); c*span > allowed {
			rep.Failures = append(rep.Failures, fmt.Sprintf("fds still growing: %.2f a second beside the live churned containers, %.0f over the churn (allowed %.0f)", c, c*span, allowed))
		}
	}
	if made := float64(rep.ChurnedTotal); made < minRate*(made+float64(rep.ChurnMissed)) {
		rep.Failures = append(rep.Failures, fmt.Sprintf("the harness made %d containers and fell behind by %d: less than %.0f %% of the rate", rep.ChurnedTotal, rep.ChurnMissed, 100*minRate))
	}
}

// trendBeside fits v = a + b·alive + c·t by least squares over the samples and returns c,
// the growth per second that the live churned containers do not explain.
func trendBeside(ss []Sample, v func(Sample) float64) (float64, bool) {
	var m [3][4]float64 // normal equations, augmented
	for _, s := range ss {
		x := [3]float64{1, float64(s.Alive), s.At}
		y := v(s)
		for i := range 3 {
			for j := range 3 {
				m[i][j] += x[i] * x[j]
			}
			m[i][3] += x[i] * y
		}
	}
	for col := range 3 { // Gauss-Jordan with partial pivoting
		p := col
		for r := col + 1; r < 3; r++ {
			if abs(m[r][col]) > abs(m[p][col]) {
				p = r
			}
		}
		if abs(m[p][col]) < 1e-9 {
			return 0, false
		}
		m[col], m[p] = m[p], m[col]
		for r := range 3 {
			if r != col {
				f := m[r][col] / m[col][col]
				for k := col; k < 4; k++ {
					m[r][k] -= f * m[col][k]
				}
			}
		}
	}
	return m[2][3] / m[2][2], true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

type medianValue float64

func (m medianValue) u() uint64 { return uint64(m) }

func median(ss []Sample, v func(Sample) float64) medianValue {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = v(s)
	}
	slices.Sort(xs)
	return medianValue(xs[len(xs)/2])
}

// sampleProcess reads the collector's RSS and threads (/proc/<pid>/status), its open fds
// (/proc/<pid>/fd) and its Go heap from its self-telemetry.
func sampleProcess(pid, metricsPort int) (Sample, error) {
	var s Sample
	st, err := readStatus(pid)
	if err != nil {
		return s, err
	}
	s.RSSBytes = st.rss
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			s.Threads, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.FDs = len(fds)
	s.HeapBytes, _ = heapAlloc(metricsPort) // absent until the first telemetry export
	return s, nil
}

// heapAlloc reads otelcol_process_runtime_heap_alloc_bytes from the Prometheus endpoint.
func heapAlloc(port int) (uint64, error) {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "otelcol_process_runtime_heap_alloc_bytes") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, err
		}
		return uint64(v), nil
	}
	return 0, fmt.Errorf("no otelcol_process_runtime_heap_alloc_bytes")
}

// churner creates a pod of one container, with a sleeping process, rate times a second in
// the tree's burstable QoS class, and removes each life later. Pods are made by one goroutine
// (the tree is not safe for concurrent use) and removed by four.
type churner struct {
	t      *tree
	stopCh chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	alive  map[string]string // pod cgroup → its container's
	made   int
	missed int
	errs   []string
}

func newChurner(t *tree) *churner {
	return &churner{t: t, stopCh: make(chan struct{}), alive: map[string]string{}}
}

func (c *churner) counts() (alive, made int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.alive), c.made
}

func (c *churner) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 20 {
		c.errs = append(c.errs, err.Error())
	}
}

func (c *churner) start(rate float64, life time.Duration) {
	removals := make(chan string, 1<<16)
	for range 4 {
		c.wg.Go(func() {
			for pod := range removals {
				c.removePod(pod)
			}
		})
	}
	c.wg.Go(func() {
		defer close(removals)
		every := time.Duration(float64(time.Second) / rate)
		next := time.Now()
		type due struct {
			pod string
			at  time.Time
		}
		var pending []due
		for {
			now := time.Now()
			for len(pending) > 0 && !pending[0].at.After(now) {
				removals <- pending[0].pod
				pending = pending[1:]
			}
			if behind := now.Sub(next); behind > time.Second {
				skipped := int(behind / every)
				c.mu.Lock()
				c.missed += skipped
				c.mu.Unlock()
				next = next.Add(time.Duration(skipped) * every)
			}
			if !next.After(now) {
				if pod, err := c.makePod(); err != nil {
					c.fail(err)
				} else {
					pending = append(pending, due{pod, now.Add(life)})
				}
				next = next.Add(every)
				continue
			}
			select {
			case <-c.stopCh:
				for _, d := range pending {
					removals <- d.pod
				}
				return
			case <-time.After(min(next.Sub(now), 10*time.Millisecond)):
			}
		}
	})
}

func (c *churner) makePod() (string, error) {
	dir, err := c.t.tc.MakeContainer(testcgroup.QoSBurstable, testcgroup.NewPodUID(), testcgroup.NewContainerID())
	if err != nil {
		return "", err
	}
	pod := filepath.Dir(dir)
	c.mu.Lock()
	c.alive[pod] = dir
	c.made++
	c.mu.Unlock()
	if err := c.t.tc.StartSleeper(dir); err != nil {
		return pod, err
	}
	return pod, nil
}

// removePod kills the pod's sleeper (RemoveCgroup does) and removes the container and the
// pod, as the kubelet does when a pod ends; the tree's Close would find them gone.
func (c *churner) removePod(pod string) {
	c.mu.Lock()
	dir := c.alive[pod]
	delete(c.alive, pod)
	c.mu.Unlock()
	for _, d := range []string{dir, pod} {
		if d == "" {
			continue
		}
		if err := testcgroup.RemoveCgroup(d); err != nil {
			c.fail(err)
		}
	}
}

// stop ends the churn and removes every churned pod still there.
func (c *churner) stop() error {
	select {
	case <-c.stopCh:
	default:
		close(c.stopCh)
	}
	c.wg.Wait()
	c.mu.Lock()
	left := make([]string, 0, len(c.alive))
	for pod := range c.alive {
		left = append(left, pod)
	}
	c.mu.Unlock()
	for _, pod := range left {
		c.removePod(pod)
	}
	return nil
}
