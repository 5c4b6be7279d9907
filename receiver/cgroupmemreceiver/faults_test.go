package cgroupmemreceiver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// TestFaultKubelet: a kubelet that is down, slower than k8s_metadata.timeout, answering
// garbage or a 10 MB body costs the containers their names, nothing else: every scrape
// succeeds with every container's memory metrics as without k8s_metadata, and the provider
// says so once, however many scrapes and retries run meanwhile.
func TestFaultKubelet(t *testing.T) {
	clean, err := scrapeOnce(t, fixtureConfig(fixtureRoot("v2-kernel-6.18")))
	require.NoError(t, err)
	ids := []string{fixtureWorkload, fixtureIdle}
	for _, id := range ids {
		require.NotEmpty(t, containerValues(clean, id))
	}
	serve := func(t *testing.T, h http.HandlerFunc) string {
		srv := httptest.NewTLSServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		timeout time.Duration // k8s_metadata.timeout, the default when 0
	}{
		{name: "down", url: func(t *testing.T) string {
			srv := httptest.NewTLSServer(http.NotFoundHandler())
			srv.Close()
			return srv.URL
		}},
		{name: "slower than the timeout", timeout: 200 * time.Millisecond, url: func(t *testing.T) string {
			stop := make(chan struct{})
			t.Cleanup(func() { close(stop) })
			return serve(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-stop:
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			})
		}},
		{name: "garbage", url: func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("\x00{not json at all")) })
		}},
		// With the default timeout: under a short one on a loaded machine the body's read
		// times out now and then, which k8smeta reports as "not a pod list", a reason of
		// its own, and so warns again each time the reason flips.
		{name: "10 MB body", url: func(t *testing.T) string {
			body := `{"kind":"PodList","items":[{"metadata":{"name":"` + strings.Repeat("x", 10<<20) + `"}}]}`
			return serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := k8sConfig(t, tt.url(t))
			if tt.timeout > 0 {
				cfg.K8sMetadata.Timeout = tt.timeout
			}
			s, logs := startScraperLogging(t, cfg, zapcore.InfoLevel)

			deadline := time.Now().Add(1500 * time.Millisecond)
			scrapes := 0
			for time.Now().Before(deadline) || scrapes < 3 {
				md, err := s.scrape(context.Background())
				require.NoError(t, err, "the kubelet's trouble is no scrape error")
				for _, id := range ids {
					require.Equal(t, containerValues(clean, id), containerValues(md, id), "container %s", id)
					require.Empty(t, resourceAttr(md, id, "k8s.container.name"))
				}
				scrapes++
				time.Sleep(50 * time.Millisecond)
			}
			require.Eventually(t, func() bool { return logs.FilterMessageSnippet("Kubelet pod metadata unavailable").Len() > 0 },
				5*time.Second, 20*time.Millisecond, "the kubelet's trouble is said")
			require.Equal(t, 1, logs.FilterMessageSnippet("Kubelet pod metadata unavailable").Len(), "once, not per scrape or retry: %v", logs.All())
		})
	}
}
