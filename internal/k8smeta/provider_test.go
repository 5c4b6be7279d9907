package k8smeta

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const (
	msgUnavailable = "Kubelet pod metadata unavailable"
	msgAvailable   = "Kubelet pod metadata available"
	msgRecovered   = "Kubelet pod metadata recovered"
)

func countLogs(logs *observer.ObservedLogs, msg string) int {
	return logs.FilterMessageSnippet(msg).Len()
}

func TestProviderNamesAppear(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}, [2]string{"envoy", cidB}))
	p, logs := startProvider(t, fastConfig(k.url()), testEnv(k.serviceAccountDir(testToken)))

	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)

	tests := []struct {
		name        string
		podUID      string
		containerID string
		want        ContainerInfo
	}{
		{name: "bare ID", podUID: uidA, containerID: cidA, want: ContainerInfo{Name: "cart"}},
		{name: "second container", podUID: uidA, containerID: cidB, want: ContainerInfo{Name: "envoy"}},
		{name: "systemd UID", podUID: strings.ReplaceAll(uidA, "-", "_"), containerID: cidA, want: ContainerInfo{Name: "cart"}},
		{name: "runtime scheme", podUID: uidA, containerID: "containerd://" + cidB, want: ContainerInfo{Name: "envoy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, ok := p.Pod(tt.podUID)
			require.True(t, ok)
			assert.Equal(t, PodInfo{Name: "cart-7d9f", Namespace: "shop", UID: uidA}, pod)
			got, ok := p.Container(tt.podUID, tt.containerID)
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, testNode, p.NodeName(), "node name from the pods' spec.nodeName when none is configured")

	// The pause container is missing from the statuses: once a list fetched after it was first
	// seen still lacks it, it is the sandbox.
	require.Eventually(t, func() bool { c, ok := p.Container(uidA, sandboxID); return ok && c.Sandbox }, waitFor, tick)
	c, _ := p.Container(uidA, sandboxID)
	assert.Equal(t, ContainerInfo{Name: SandboxContainerName, Sandbox: true}, c)
	assert.Equal(t, 1, countLogs(logs, msgAvailable))
	assert.Zero(t, countLogs(logs, msgUnavailable))
}

func TestProviderWrongToken(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	saDir := k.serviceAccountDir("stale-token")
	p, logs := startProvider(t, fastConfig(k.url()), testEnv(saDir))

	require.Eventually(t, func() bool { return k.requests.Load() >= 4 }, waitFor, tick, "retries with backoff")
	assertLookupsMiss(t, p)
	unavailable := logs.FilterMessageSnippet(msgUnavailable).All()
	require.Len(t, unavailable, 1, "reported once, not once per retry")
	assert.Equal(t, "HTTP 401", unavailable[0].ContextMap()["reason"])

	// A rotated token file is read again at the next retry.
	writeFile(t, saDir, "token", []byte(testToken))
	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)
	assert.Equal(t, 1, countLogs(logs, msgRecovered))
	assert.Equal(t, 1, countLogs(logs, msgUnavailable))
}

func TestProviderKubeletDown(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	k.stop()
	p, logs := startProvider(t, fastConfig(k.url()), testEnv(k.serviceAccountDir(testToken)))

	require.Eventually(t, func() bool { return countLogs(logs, msgUnavailable) == 1 }, waitFor, tick)
	time.Sleep(200 * time.Millisecond) // several retries at 20-80ms
	assertLookupsMiss(t, p)
	unavailable := logs.FilterMessageSnippet(msgUnavailable).All()
	require.Len(t, unavailable, 1, "reported once, not once per retry")
	assert.Equal(t, "unreachable", unavailable[0].ContextMap()["reason"])

	k.start(k.addr)
	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)
	assert.Equal(t, 1, countLogs(logs, msgRecovered))
}

func TestProviderKeepsNamesWhileKubeletDown(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	p, logs := startProvider(t, fastConfig(k.url()), testEnv(k.serviceAccountDir(testToken)))
	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)

	k.stop()
	p.Pod(uidB) // an unknown pod asks for a refresh, which fails
	require.Eventually(t, func() bool { return countLogs(logs, msgUnavailable) == 1 }, waitFor, tick)
	c, ok := p.Container(uidA, cidA)
	require.True(t, ok, "the last pod list stays in use")
	assert.Equal(t, "cart", c.Name)
}

func TestProviderPodAddedLater(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	cfg := fastConfig("")
	cfg.RefreshInterval = 400 * time.Millisecond
	cfg.MaxBackoff = time.Second
	cfg.Endpoint = k.url()
	p, _ := startProvider(t, cfg, testEnv(k.serviceAccountDir(testToken)))
	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)

	k.setPods(testPod("shop", "checkout-5c2b", uidB, [2]string{"checkout", cidB}))
	added := time.Now()
	require.Eventually(t, func() bool { _, ok := p.Pod(uidB); return ok }, waitFor, tick)
	assert.Less(t, time.Since(added), cfg.RefreshInterval+400*time.Millisecond, "picked up within the refresh interval")
	c, ok := p.Container(uidB, cidB)
	require.True(t, ok)
	assert.Equal(t, "checkout", c.Name)

	_, ok = p.Pod(uidA)
	assert.False(t, ok, "a pod the kubelet no longer lists is dropped")
}

func TestProviderRefreshRateLimited(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	cfg := fastConfig(k.url())
	cfg.RefreshInterval = 100 * time.Millisecond
	cfg.MaxBackoff = time.Second
	p, _ := startProvider(t, cfg, testEnv(k.serviceAccountDir(testToken)))
	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)

	start, before := time.Now(), k.requests.Load()
	for i := 0; time.Since(start) < 500*time.Millisecond; i++ {
		p.Pod(uidB)                                      // never listed: asks once, then settles
		p.Container(uidA, fmt.Sprintf("unlisted-%d", i)) // new IDs keep asking
		time.Sleep(time.Millisecond)
	}
	got := k.requests.Load() - before
	assert.LessOrEqual(t, got, int64(500/100+1), "at most one fetch per refresh_interval")
	assert.GreaterOrEqual(t, got, int64(2))
}

func TestProviderGonePodStopsAsking(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	p, _ := startProvider(t, fastConfig(k.url()), testEnv(k.serviceAccountDir(testToken)))
	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)

	p.Pod(uidB) // a cgroup outliving its pod: first miss asks for a refresh
	require.Eventually(t, func() bool {
		p.seen.mu.Lock()
		defer p.seen.mu.Unlock()
		sg, ok := p.seen.seen[sightingKey{podUID: uidB}]
		return ok && p.snap.Load().fetchedAt.After(sg.first)
	}, waitFor, tick)
	settled := k.requests.Load()
	for range 20 {
		p.Pod(uidB)
		time.Sleep(5 * time.Millisecond)
	}
	assert.Equal(t, settled, k.requests.Load(), "a UID missing from a fresh list asks no more")
}

func TestLookupsDoNotWaitForTheKubelet(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	k.block = make(chan struct{})
	defer close(k.block)
	p, _ := startProvider(t, fastConfig(k.url()), testEnv(k.serviceAccountDir(testToken)))
	require.Eventually(t, func() bool { return k.requests.Load() == 1 }, waitFor, tick, "a fetch is in flight")

	done := make(chan struct{})
	go func() {
		defer close(done)
		assertLookupsMiss(t, p)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("lookups waited for the kubelet")
	}
}

func TestShutdownCancelsAFetchInFlight(t *testing.T) {
	k := newFakeKubelet(t)
	k.block = make(chan struct{})
	defer close(k.block)
	core, _ := observer.New(zap.InfoLevel)
	p, err := newProvider(fastConfig(k.url()), zap.New(core), testEnv(k.serviceAccountDir(testToken)))
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context()))
	require.Eventually(t, func() bool { return k.requests.Load() == 1 }, waitFor, tick)

	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	require.NoError(t, p.Shutdown(ctx))
	require.NoError(t, p.Shutdown(ctx), "idempotent")
}

func TestProviderLifecycleWithoutStart(t *testing.T) {
	tests := []struct {
		name    string
		enabled bool
	}{
		{name: "enabled", enabled: true},
		{name: "disabled", enabled: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fastConfig("https://127.0.0.1:1")
			cfg.Enabled = tt.enabled
			cfg.AuthType = AuthNone
			p, err := newProvider(cfg, zap.NewNop(), testEnv(""))
			require.NoError(t, err)
			require.NoError(t, p.Shutdown(t.Context()))
			require.NoError(t, p.Start(t.Context()), "Start after Shutdown does nothing")
			require.NoError(t, p.Shutdown(t.Context()))
		})
	}
}

func TestDisabledProvider(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.SandboxContainers = SandboxSkip
	env := testEnv("/nonexistent")
	env.getenv = func(k string) string { return map[string]string{nodeNameEnv: "node-b"}[k] }
	p, err := newProvider(cfg, zap.NewNop(), env)
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context()))
	assertLookupsMiss(t, p)
	assert.Equal(t, "node-b", p.NodeName())
	assert.True(t, p.Include("", "", ""))
	assert.False(t, p.Include("", "", SandboxContainerName))
	require.NoError(t, p.Shutdown(t.Context()))
}

func assertLookupsMiss(t *testing.T, p *Provider) {
	t.Helper()
	for range 100 {
		_, ok := p.Pod(uidA)
		assert.False(t, ok)
		_, ok = p.Container(uidA, cidA)
		assert.False(t, ok)
	}
}

// TestProviderOneSandboxPerPod runs a pod whose kubelet statuses lack two of its container
// IDs: the pause container's and one of a container still in its postStart hook. Only one is
// named the sandbox; the other stays unnamed (not dropped by sandbox_containers: skip), keeps
// the provider refreshing, and is named as soon as the kubelet lists it.
func TestProviderOneSandboxPerPod(t *testing.T) {
	const slowID = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	cfg := fastConfig(k.url())
	cfg.SandboxContainers = SandboxSkip
	p, _ := startProvider(t, cfg, testEnv(k.serviceAccountDir(testToken)))
	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)

	require.Eventually(t, func() bool {
		c, _ := p.Container(uidA, sandboxID)
		p.Container(uidA, slowID)
		return c.Sandbox
	}, waitFor, tick)
	for range 20 {
		c, ok := p.Container(uidA, slowID)
		require.False(t, ok, "a second unlisted ID is not a second sandbox")
		require.False(t, c.Sandbox)
		require.True(t, p.Include("shop", "cart-7d9f", c.Name), "not dropped as a sandbox")
		c, _ = p.Container(uidA, sandboxID)
		require.True(t, c.Sandbox)
		time.Sleep(5 * time.Millisecond)
	}
	before := k.requests.Load()
	require.Eventually(t, func() bool { p.Container(uidA, slowID); return k.requests.Load() > before+1 },
		waitFor, tick, "an unknown ID keeps the provider refreshing")

	slow := testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}, [2]string{"warmup", slowID})
	k.setPods(slow)
	require.Eventually(t, func() bool { c, _ := p.Container(uidA, slowID); return c.Name == "warmup" }, waitFor, tick)
	c, _ := p.Container(uidA, sandboxID)
	assert.True(t, c.Sandbox, "the pause container is still the sandbox")
}

// TestProviderForgetsWhileKubeletDown checks that missed lookups expire while no pod list
// arrives: pod churn with the kubelet down does not grow the provider's memory.
func TestProviderForgetsWhileKubeletDown(t *testing.T) {
	k := newFakeKubelet(t)
	k.stop()
	p, _ := startProvider(t, fastConfig(k.url()), testEnv(k.serviceAccountDir(testToken)))
	p.seen.mu.Lock()
	p.seen.ttl = 50 * time.Millisecond
	p.seen.mu.Unlock()
	size := func() int {
		p.seen.mu.Lock()
		defer p.seen.mu.Unlock()
		return len(p.seen.seen)
	}
	for i := range 500 {
		p.Pod(fmt.Sprintf("churned-%d", i))
		p.Container(fmt.Sprintf("churned-%d", i), cidA)
	}
	require.Equal(t, 500, size())
	time.Sleep(100 * time.Millisecond)
	p.Pod(uidB)
	assert.Equal(t, 1, size())
}
