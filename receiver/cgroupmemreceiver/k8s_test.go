package cgroupmemreceiver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cgroupmem/cgroupmem/internal/k8smeta"
)

const (
	fixtureWorkload = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	fixturePause    = "bbbbbbbb22222222222222222222222222222222222222222222222222222222"
	fixtureIdle     = "cccccccc33333333333333333333333333333333333333333333333333333333"
)

// fakeKubelet serves /pods over TLS for the fixture's two pods, as a kubelet lists them.
func fakeKubelet(t *testing.T) *httptest.Server {
	t.Helper()
	pod := func(uid, ns, name string, containers map[string]string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Namespace: ns, Name: name}}
		for cname, id := range containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses,
				corev1.ContainerStatus{Name: cname, ContainerID: "containerd://" + id})
		}
		return p
	}
	list := corev1.PodList{Items: []corev1.Pod{
		pod("3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa", "shop", "php-fpm-7d9c", map[string]string{"php": fixtureWorkload}),
		pod("8b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", "kube-system", "idle-0", map[string]string{"idle": fixtureIdle}),
	}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pods" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(list)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func k8sConfig(t *testing.T, endpoint string) *Config {
	cfg := fixtureConfig(fixtureRoot("v2-kernel-6.18"))
	cfg.K8sMetadata.Enabled = true
	cfg.K8sMetadata.Endpoint = endpoint
	cfg.K8sMetadata.AuthType = k8smeta.AuthNone
	cfg.K8sMetadata.TLS.InsecureSkipVerify = true
	cfg.K8sMetadata.NodeName = "node-a"
	cfg.K8sMetadata.RefreshInterval = 10 * time.Millisecond
	require.NoError(t, cfg.K8sMetadata.Validate())
	return cfg
}

func TestScrapeNamesContainersFromKubelet(t *testing.T) {
	srv := fakeKubelet(t)
	s := startScraper(t, k8sConfig(t, srv.URL))

	eventually(t, func() (bool, error) {
		md, err := s.scrape(context.Background())
		return resourceAttr(md, fixtureWorkload, "k8s.container.name") == "php", err
	}, 10*time.Second, 20*time.Millisecond, "the first scrape asks for a refresh; a later one has names")

	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	require.Equal(t, "php-fpm-7d9c", resourceAttr(md, fixtureWorkload, "k8s.pod.name"))
	require.Equal(t, "shop", resourceAttr(md, fixtureWorkload, "k8s.namespace.name"))
	require.Equal(t, "node-a", resourceAttr(md, fixtureWorkload, "k8s.node.name"))
	require.Equal(t, "idle", resourceAttr(md, fixtureIdle, "k8s.container.name"))
	require.Equal(t, "kube-system", resourceAttr(md, fixtureIdle, "k8s.namespace.name"))
}

func TestScrapeFiltersByNamespace(t *testing.T) {
	srv := fakeKubelet(t)
	cfg := k8sConfig(t, srv.URL)
	cfg.K8sMetadata.Filter.Exclude.Namespaces = []string{"^kube-system$"}
	require.NoError(t, cfg.K8sMetadata.Validate())
	s := startScraper(t, cfg)

	eventually(t, func() (bool, error) {
		md, err := s.scrape(context.Background())
		return resourceAttr(md, fixtureWorkload, "k8s.container.name") == "php" &&
			len(containerValues(md, fixtureIdle)) == 0, err
	}, 10*time.Second, 20*time.Millisecond, "kube-system's container is dropped once its names are known")

	// Nor are its processes looked at for sockets.
	tree, err := s.catalog.Refresh(time.Now())
	require.NoError(t, err)
	var errs scrapererror.ScrapeErrors
	groups := s.socketGroups(tree, &errs)
	require.NoError(t, errs.Combine())
	var kept []string
	for path := range groups {
		kept = append(kept, path)
	}
	require.Len(t, kept, 2, "the workload and the sandbox of the shop pod: %v", kept)
	for _, path := range kept {
		require.NotContains(t, path, fixtureIdle)
	}
}

func TestScrapeKeepsFlowingWhenKubeletIsDown(t *testing.T) {
	srv := fakeKubelet(t)
	srv.Close()
	s := startScraper(t, k8sConfig(t, srv.URL))
	for i := 0; i < 3; i++ {
		md, err := s.scrape(context.Background())
		require.NoError(t, err, "metadata problems never fail a scrape")
		require.Equal(t, int64(204660736), containerValues(md, fixtureWorkload)["container.memory.usage"])
		require.Equal(t, "3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa", resourceAttr(md, fixtureWorkload, "k8s.pod.uid"))
		require.Empty(t, resourceAttr(md, fixtureWorkload, "k8s.pod.name"))
	}
}
