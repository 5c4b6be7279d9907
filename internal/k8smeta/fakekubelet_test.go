package k8smeta

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	testToken = "kubelet-test-token"
	testNode  = "node-a"
)

// fakeKubelet serves /pods over real TLS, with a certificate of its own CA, to clients that
// present the bearer token (or a client certificate of that CA).
type fakeKubelet struct {
	t        *testing.T
	ca       testCA
	addr     string
	requests atomic.Int64
	// block, when not nil, holds every request until it is closed.
	block chan struct{}

	mu   sync.Mutex
	srv  *httptest.Server
	pods []corev1.Pod
	// body, when not nil, writes the answer to an authorised request instead of pods.
	body func(w io.Writer)
}

func newFakeKubelet(t *testing.T, pods ...corev1.Pod) *fakeKubelet {
	t.Helper()
	k := &fakeKubelet{t: t, ca: newTestCA(t), pods: pods}
	k.start("127.0.0.1:0")
	t.Cleanup(k.stop)
	return k
}

// start serves on addr; after stop, start(k.addr) brings the kubelet back at the same URL.
func (k *fakeKubelet) start(addr string) {
	l, err := net.Listen("tcp", addr)
	require.NoError(k.t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	require.NoError(k.t, srv.Listener.Close())
	srv.Listener = l
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	srv.TLS = k.ca.serverTLS(k.t)
	pool := x509.NewCertPool()
	pool.AddCert(k.ca.cert)
	srv.TLS.ClientCAs = pool
	srv.TLS.ClientAuth = tls.VerifyClientCertIfGiven
	srv.StartTLS()
	k.mu.Lock()
	k.srv, k.addr = srv, l.Addr().String()
	k.mu.Unlock()
}

func (k *fakeKubelet) stop() {
	k.mu.Lock()
	srv := k.srv
	k.mu.Unlock()
	srv.Close()
}

func (k *fakeKubelet) url() string { return "https://" + k.addr }

func (k *fakeKubelet) setPods(pods ...corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pods = pods
}

func (k *fakeKubelet) setBody(body func(w io.Writer)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.body = body
}

func (k *fakeKubelet) serve(w http.ResponseWriter, r *http.Request) {
	k.requests.Add(1)
	if k.block != nil {
		<-k.block
	}
	if r.URL.Path != "/pods" && r.URL.Path != "/api/v1/nodes/"+testNode+"/proxy/pods" {
		http.NotFound(w, r)
		return
	}
	hasCert := r.TLS != nil && len(r.TLS.VerifiedChains) > 0
	if r.Header.Get("Authorization") != "Bearer "+testToken && !hasCert {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	k.mu.Lock()
	if body := k.body; body != nil {
		k.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		body(w)
		return
	}
	list := corev1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		Items:    append([]corev1.Pod(nil), k.pods...),
	}
	k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list) // fails only when the client went away
}

// serviceAccountDir writes the service-account files a pod would have: the kubelet's CA and token.
func (k *fakeKubelet) serviceAccountDir(token string) string {
	dir := k.t.TempDir()
	writeFile(k.t, dir, "ca.crt", k.ca.pem)
	writeFile(k.t, dir, "token", []byte(token+"\n"))
	return dir
}

// testPod builds a pod with one container per name/ID pair, as the kubelet lists it.
func testPod(namespace, name, uid string, containers ...[2]string) corev1.Pod {
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, UID: types.UID(uid)},
		Spec:       corev1.PodSpec{NodeName: testNode},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c[0], Image: "registry.example/" + c[0]})
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:        c[0],
			ContainerID: "containerd://" + c[1],
			Ready:       true,
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		})
	}
	return pod
}

// testEnv is an environment with the given service-account directory and no variables.
func testEnv(saDir string) environment {
	return environment{
		getenv:            func(string) string { return "" },
		homeDir:           func() (string, error) { return "/nonexistent", nil },
		serviceAccountDir: saDir,
	}
}

// fastConfig is an enabled configuration with intervals short enough for tests.
func fastConfig(endpoint string) Config {
	cfg := NewDefaultConfig()
	cfg.Enabled = true
	cfg.Endpoint = endpoint
	cfg.RefreshInterval = 20 * time.Millisecond
	cfg.MaxBackoff = 80 * time.Millisecond
	cfg.Timeout = 10 * time.Second
	return cfg
}

// startProvider starts a provider that logs to the returned observer and stops at cleanup.
func startProvider(t *testing.T, cfg Config, env environment) (*Provider, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	p, err := newProvider(cfg, zap.New(core), env)
	require.NoError(t, err)
	p.containerSettle = 0
	require.NoError(t, p.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p, logs
}

const (
	uidA = "0f0e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
	uidB = "7d3c0e4a-9b8f-4c2d-a1e0-5f6b7c8d9e0f"
	cidA = "4c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3"
	cidB = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
	// sandboxID is a container of pod A that the kubelet does not list: its pause container.
	sandboxID = "e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170aaaa"
)

const (
	waitFor = 5 * time.Second
	tick    = 5 * time.Millisecond
)
