// Package e2e runs the project's collector against a real container and real backends: it
// ships over OTLP/gRPC to a stock collector build (e2e/backend-builder.yaml: the otlp
// receiver, the file exporter, the prometheusremotewrite exporter) that forwards into a real
// Prometheus (Debian's, with its remote-write receiver on), and checks what a user queries
// there, dashboards and alert rules included. `make e2e` builds both collectors and runs it;
// without them (CGROUPMEM_E2E_COLLECTOR, CGROUPMEM_E2E_BACKEND) it skips.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/internal/testruntime"
)

const mib = 1 << 20

// The real container's workload: 2,000 files created (dentries), a file read back (active
// page cache), then /dev/shm grown
// 1 MiB every half second up to 48 MiB under a 128 MiB limit (a working set growing toward
// its limit, and above its RSS). The OOM container retries, every 3 s after a 6 s pause, a
// subshell that buffers 64 MiB under a 24 MiB limit: the subshell makes itself (and so its
// head and tr) the OOM killer's first choice, so the kernel kills it and the container's
// shell lives on to retry. Were the shell killed, the kills could all fall before the
// collector's first scrape, which the processor takes as its baseline.
var (
	growing = []string{"sh", "-c", "mkdir /tmp/d; for i in $(seq 1 2000); do touch /tmp/d/f$i; done; " +
		"head -c 8388608 /dev/urandom > /tmp/file; cat /tmp/file > /dev/null; cat /tmp/file > /dev/null; " +
		"anon=$(head -c 8388608 /dev/zero | tr '\\0' a); " +
		"for i in $(seq 1 96); do dd if=/dev/zero of=/dev/shm/s$i bs=524288 count=1 2>/dev/null; sleep 0.5; done; " +
		"while true; do sleep 3600; done"}
	oom = []string{"sh", "-c", "sleep 6; while true; do (echo 1000 > /proc/self/oom_score_adj; x=$(head -c 67108864 /dev/zero | tr '\\0' a)); sleep 3; done"}
)

func TestE2E(t *testing.T) {
	collector, backend := os.Getenv("CGROUPMEM_E2E_COLLECTOR"), os.Getenv("CGROUPMEM_E2E_BACKEND")
	if collector == "" || backend == "" {
		t.Skip("e2e: make e2e builds the collectors and sets CGROUPMEM_E2E_COLLECTOR and CGROUPMEM_E2E_BACKEND")
	}
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skipf("e2e: Prometheus is not installed (apt-get install prometheus; .ci/run does): %v", err)
	}
	start := time.Now()
	parent := testruntime.NewParent(t)
	img := testruntime.NewImage(t)
	ctrd := testruntime.StartContainerd(t)
	ref := ctrd.Import(t, img)
	uid := testruntime.NewPodUID()
	podRel := "/kubepods/burstable/pod" + uid
	id := ctrd.Run(t, ref, parent.Path(podRel), 128*mib, growing)
	oomID := ctrd.Run(t, ref, parent.Path(podRel), 24*mib, oom)
	dir := parent.Dir(podRel + "/" + id)

	kernel := sampleWorkingSet(t, dir)
	work := t.TempDir()
	promPort, otlpPort := freePort(t), freePort(t)
	prom := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	writeFile(t, filepath.Join(work, "prometheus.yml"), "global:\n  scrape_interval: 1m\n")
	startProcess(t, "prometheus", filepath.Join(work, "prometheus.log"), "prometheus",
		"--config.file="+filepath.Join(work, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(work, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort), "--web.enable-remote-write-receiver")
	waitHTTP(t, prom+"/-/ready")

	otlpFile := filepath.Join(work, "otlp.json")
	writeFile(t, filepath.Join(work, "backend.yaml"), fmt.Sprintf(backendConfig, otlpPort, otlpFile, prom))
	startProcess(t, "backend collector", filepath.Join(work, "backend.log"), backend, "--config="+filepath.Join(work, "backend.yaml"))
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", otlpPort))

	writeFile(t, filepath.Join(work, "collector.yaml"), fmt.Sprintf(collectorConfig, parent.Root(), otlpPort))
	startProcess(t, "collector", filepath.Join(work, "collector.log"), collector, "--config="+filepath.Join(work, "collector.yaml"))
	t.Logf("e2e: container %s (pod %s) and OOM container %s; set up in %v", id, uid, oomID, time.Since(start).Round(time.Millisecond))

	c := promClient{base: prom}
	sel := fmt.Sprintf(`{container_id=%q}`, id)

	t.Run("OTLP: the stock otlp receiver gets the names, units and resource attributes", func(t *testing.T) {
		var rm pmetric.ResourceMetrics
		require.Eventually(t, func() bool {
			var ok bool
			rm, ok = findResource(t, otlpFile, id)
			return ok && hasMetric(rm, "container.memory.divergence.usage")
		}, 60*time.Second, 500*time.Millisecond, "container %s with the processor's metrics in %s", id, otlpFile)
		attrs := rm.Resource().Attributes().AsRaw()
		require.Equal(t, id, attrs["container.id"])
		require.Equal(t, uid, attrs["k8s.pod.uid"])
		require.NotContains(t, attrs, "cgroup.path", "off by default")
		units := metricUnits(rm)
		for name, unit := range map[string]string{
			"container.memory.working_set": "By", "container.memory.rss": "By", "container.memory.limit": "By",
			"container.memory.oom_kills": "{kill}", "container.memory.divergence.usage": "By", "container.memory.divergence.flagged": "1",
		} {
			require.Contains(t, units, name)
			require.Equal(t, unit, units[name], "unit of %s", name)
		}
	})

	t.Run("Prometheus: the series a user queries", func(t *testing.T) {
		var series []promSeries
		require.Eventually(t, func() bool {
			series = c.query(t, "container_memory_working_set_bytes"+sel)
			return len(series) == 1
		}, 60*time.Second, time.Second, "container_memory_working_set_bytes%s in Prometheus", sel)
		labels := series[0].Metric
		require.Equal(t, uid, labels["k8s_pod_uid"])
		require.NotContains(t, labels, "cgroup_path", "off by default")
		limit := c.query(t, "container_memory_limit_bytes"+sel)
		require.Len(t, limit, 1)
		require.Equal(t, float64(128*mib), limit[0].value(t), "the limit ctr set, as memory.limit_in_bytes says")
		require.Equal(t, float64(128*mib), float64(readUint(t, filepath.Join(dir, "memory.limit_in_bytes"))))
		// The working set as Prometheus has it lies between the lowest and the highest
		// usage − total_inactive_file the kernel said within a second of the sample.
		require.Eventually(t, func() bool {
			ws := c.query(t, "container_memory_working_set_bytes"+sel)
			return len(ws) == 1 && ws[0].value(t) > 8*mib
		}, 60*time.Second, time.Second, "the working set passes 8 MiB")
		ws := c.query(t, "container_memory_working_set_bytes"+sel)[0].value(t)
		at := c.query(t, "timestamp(container_memory_working_set_bytes"+sel+")")[0].value(t)
		lo, hi, n := kernel.between(time.UnixMilli(int64(at*1000)), time.Second)
		require.Positive(t, n, "kernel readings around the sample at %v", at)
		require.True(t, lo <= ws && ws <= hi, "working set %v in Prometheus, the kernel said %v..%v (%d readings) around it", ws, lo, hi, n)
		for _, name := range []string{
			"container_memory_rss_bytes", "container_memory_usage_bytes", "container_memory_oom_kills_total",
			"container_memory_divergence_usage_bytes", "k8s_pod_memory_working_set_bytes",
		} {
			require.NotEmpty(t, c.query(t, name), "%s in Prometheus", name)
		}
		t.Logf("metric names in Prometheus: %s", strings.Join(c.names(t), " "))
	})

	t.Run("promtool accepts the alert rules", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skipf("promtool not installed: %v", err)
		}
		for _, f := range alertFiles(t) {
			groups := filepath.Join(work, filepath.Base(f)+".rules.yaml")
			writeRuleGroups(t, f, groups)
			out, err := exec.Command(promtool, "check", "rules", groups).CombinedOutput()
			require.NoError(t, err, "promtool check rules %s: %s", f, out)
		}
	})

	t.Run("every dashboard and alert query returns the real container's data", func(t *testing.T) {
		queries := dashboardAndAlertQueries(t)
		require.NotEmpty(t, queries)
		pending := map[string]query{}
		for _, q := range queries {
			pending[q.source] = q
		}
		// The ETA needs min_samples of a growing working set; the OOM alert a kill after the
		// first sample: wait for all, up to 2 minutes.
		deadline := time.Now().Add(2 * time.Minute)
		for len(pending) > 0 && time.Now().Before(deadline) {
			for key, q := range pending {
				if reason, skip := uncheckable[q.source]; skip {
					t.Logf("not checked: %s: %s", q.source, reason)
					delete(pending, key)
					continue
				}
				got := c.query(t, q.expr)
				if len(got) > 0 {
					for _, s := range got {
						if cid, ok := s.Metric["container_id"]; ok {
							require.Contains(t, []string{id, oomID}, cid, "%s: a container of this test", q.source)
						}
					}
					delete(pending, key)
				}
			}
			time.Sleep(2 * time.Second)
		}
		for _, q := range pending {
			t.Errorf("%s returned nothing for the real container: %s", q.source, q.expr)
		}
		for _, s := range c.query(t, "container_memory_oom_kills_total") {
			t.Logf("container_memory_oom_kills_total %v: %v", s.Metric["container_id"], s.Value)
		}
		t.Logf("OOM container's memory.oom_control: %q", readFile(t, filepath.Join(parent.Dir(podRel+"/"+oomID), "memory.oom_control")))
		t.Logf("%d dashboard and alert queries checked in Prometheus", len(queries))
	})
	t.Logf("e2e: %v in all", time.Since(start).Round(time.Millisecond))
}

// uncheckable names the queries that cannot return data for this test's container, and why.
var uncheckable = map[string]string{}

const backendConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
exporters:
  file:
    path: %s
  prometheusremotewrite:
    endpoint: %s/api/v1/write
    resource_to_telemetry_conversion:
      enabled: true
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [file, prometheusremotewrite]
`

const collectorConfig = `receivers:
  cgroupmem:
    collection_interval: 1s
    root_path: %s
    dentry_accounting:
      mode: ebpf
processors:
  memdivergence:
    thresholds:
      min_bytes: 8388608
    trend:
      sample_interval: 1s
      min_samples: 5
  batch:
    timeout: 1s
exporters:
  otlp:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [cgroupmem]
      processors: [memdivergence, batch]
      exporters: [otlp]
`

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// workingSetSamples are a cgroup's usage − total_inactive_file, read every 50 ms.
type workingSetSamples struct {
	mu sync.Mutex
	at []time.Time
	ws []float64
}

func sampleWorkingSet(t *testing.T, dir string) *workingSetSamples {
	s := &workingSetSamples{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			usage, err1 := os.ReadFile(filepath.Join(dir, "memory.usage_in_bytes"))
			stat, err2 := os.ReadFile(filepath.Join(dir, "memory.stat"))
			if err1 != nil || err2 != nil {
				continue
			}
			u, _ := strconv.ParseFloat(strings.TrimSpace(string(usage)), 64)
			inactive := 0.0
			for _, line := range strings.Split(string(stat), "\n") {
				if v, ok := strings.CutPrefix(line, "total_inactive_file "); ok {
					inactive, _ = strconv.ParseFloat(v, 64)
				}
			}
			s.mu.Lock()
			s.at, s.ws = append(s.at, time.Now()), append(s.ws, max(u-inactive, 0))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return s
}

// between returns the least and the most of the readings within d of at, and their count.
func (s *workingSetSamples) between(at time.Time, d time.Duration) (lo, hi float64, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ts := range s.at {
		if ts.Before(at.Add(-d)) || ts.After(at.Add(d)) {
			continue
		}
		if n == 0 || s.ws[i] < lo {
			lo = s.ws[i]
		}
		if n == 0 || s.ws[i] > hi {
			hi = s.ws[i]
		}
		n++
	}
	return lo, hi, n
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func readUint(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	require.NoError(t, err)
	return v
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess starts a process with its output in log, and stops it (SIGTERM, then SIGKILL
// after 10 s) when the test ends, logging the end of its log if the test failed.
func startProcess(t *testing.T, name, log string, args ...string) {
	t.Helper()
	f, err := os.Create(log)
	require.NoError(t, err)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start(), "starting %s", name)
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); f.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log)
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("%s log (end):\n%s", name, b)
		}
	})
	select {
	case <-done:
		b, _ := os.ReadFile(log)
		t.Fatalf("%s exited at start (%v): %s", name, waitErr, b)
	case <-time.After(200 * time.Millisecond):
	}
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "%s ready", u)
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, 30*time.Second, 100*time.Millisecond, "%s listening", addr)
}

// findResource reads the file exporter's output (one OTLP JSON object per line) and returns
// the latest resource of container id.
func findResource(t *testing.T, path, id string) (pmetric.ResourceMetrics, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return pmetric.ResourceMetrics{}, false
	}
	defer f.Close()
	var found pmetric.ResourceMetrics
	ok := false
	var u pmetric.JSONUnmarshaler
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		md, err := u.UnmarshalMetrics(sc.Bytes())
		if err != nil {
			continue // a line being written
		}
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			if v, has := rm.Resource().Attributes().Get("container.id"); has && v.Str() == id {
				found, ok = rm, true
			}
		}
	}
	return found, ok
}

func hasMetric(rm pmetric.ResourceMetrics, name string) bool {
	_, ok := metricUnits(rm)[name]
	return ok
}

func metricUnits(rm pmetric.ResourceMetrics) map[string]string {
	out := map[string]string{}
	for i := 0; i < rm.ScopeMetrics().Len(); i++ {
		ms := rm.ScopeMetrics().At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			out[ms.At(j).Name()] = ms.At(j).Unit()
		}
	}
	return out
}

var _ = pcommon.NewMap

type promClient struct{ base string }

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

func (s promSeries) value(t *testing.T) float64 {
	t.Helper()
	require.Len(t, s.Value, 2)
	v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	require.NoError(t, err)
	return v
}

// query runs an instant query; an error (a query Prometheus rejects) fails the test.
func (c promClient) query(t *testing.T, expr string) []promSeries {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	require.NoError(t, json.Unmarshal(buf.Bytes(), &body), "%s: %s", expr, buf.String())
	require.Equal(t, "success", body.Status, "query %s: %s", expr, body.Error)
	if body.Data.ResultType != "vector" {
		t.Fatalf("query %s: result type %s, want vector", expr, body.Data.ResultType)
	}
	var out []promSeries
	require.NoError(t, json.Unmarshal(body.Data.Result, &out))
	return out
}

// names lists the metric names Prometheus holds.
func (c promClient) names(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get(c.base + "/api/v1/label/__name__/values")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Data []string `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body.Data
}
