package k8smeta

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func size(n int) func(int) int { return func(int) int { return n } }

// hostileList writes a pod list of pods items, pod i with an annotation of annotationBytes(i)
// bytes (a tenant's pod spec), from one preallocated chunk: the server costs the test's
// memory measurement almost nothing.
func hostileList(pods int, annotationBytes func(i int) int) func(w io.Writer) {
	chunk := []byte(strings.Repeat("x", 64<<10))
	return func(w io.Writer) {
		_, _ = io.WriteString(w, `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[`)
		for i := range pods {
			if i > 0 {
				_, _ = io.WriteString(w, ",")
			}
			_, _ = fmt.Fprintf(w, `{"metadata":{"name":"hog-%d","namespace":"tenant","uid":"00000000-0000-4000-8000-%012d","annotations":{"a":"`, i, i)
			for left := annotationBytes(i); left > 0; left -= len(chunk) {
				if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
					return // the client gave up
				}
			}
			_, _ = fmt.Fprintf(w, `"}},"spec":{"nodeName":"%s","containers":[{"name":"app"}]},"status":{"containerStatuses":[{"name":"app","containerID":"containerd://%064x"}]}}`, testNode, i)
		}
		_, _ = io.WriteString(w, `]}`)
	}
}

// TestHostilePodListBoundedMemory serves pod lists of 100 MB from the fake kubelet, over TLS,
// and measures the bytes the fetch allocates (runtime.MemStats.TotalAlloc, the whole process:
// the fake kubelet's side included). Decoding keeps one item at a time, so a list of many
// large pods costs about its largest pod, and one pod past maxPodBytes, or more than
// maxListedPods pods, fails with ErrPodListTooLarge having read little of it. The decoder
// this replaced allocated 197 MiB for a 62 MiB list.
func TestHostilePodListBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("serves 100 MB lists")
	}
	if raceEnabled {
		t.Skip("measures allocations: the race detector's own would count, and it reads 100 MB in over 30 s")
	}
	const allocBound = 24 << 20
	tests := []struct {
		name            string
		pods            int
		annotationBytes func(i int) int
		wantPods        int
		wantErr         string
	}{
		{name: "100 pods of 1 MB", pods: 100, annotationBytes: size(1 << 20), wantPods: 100},
		{name: "one pod of 100 MB", pods: 1, annotationBytes: size(100 << 20), wantErr: "pod 0 of the list is longer than 4194304 bytes"},
		{name: "40 pods of 2 MB then one of 60 MB", pods: 41, annotationBytes: func(i int) int {
			if i == 40 {
				return 60 << 20
			}
			return 2 << 20
		}, wantErr: "pod 40 of the list is longer than 4194304 bytes"},
		{name: "more pods than a kubelet runs", pods: 100000, annotationBytes: size(1000), wantErr: "more than 5000 pods"},
	}
	k := newFakeKubelet(t)
	cfg := fastConfig(k.url())
	cfg.Timeout = time.Minute // 100 MB on a loaded machine
	p, err := newProvider(cfg, zap.NewNop(), testEnv(k.serviceAccountDir(testToken)))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k.setBody(hostileList(tt.pods, tt.annotationBytes))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			list, err := p.client.pods(t.Context())
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %.1f MiB", float64(allocated)/(1<<20))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrPodListTooLarge)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, "pod list too large", failureReason(err))
			} else {
				require.NoError(t, err)
				require.Len(t, list, tt.wantPods)
				assert.Equal(t, "hog-99", list[99].Metadata.Name)
				assert.Equal(t, fmt.Sprintf("%064x", 99), normalizeContainerID(list[99].Status.ContainerStatuses[0].ContainerID))
			}
			assert.Less(t, allocated, uint64(allocBound), "bytes allocated by one fetch")
		})
	}
}

// TestPodListTooLargeKeepsIndex checks what happens past the bound: the fetch fails with a
// clear reason, logged once, and the pods of the last good list keep their names.
func TestPodListTooLargeKeepsIndex(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	p, logs := startProvider(t, fastConfig(k.url()), testEnv(k.serviceAccountDir(testToken)))
	require.Eventually(t, func() bool { _, ok := p.Pod(uidA); return ok }, waitFor, tick)

	k.setBody(hostileList(1, size(maxPodBytes+1)))
	before := k.requests.Load()
	p.Pod(uidB) // an unknown pod asks for a refresh
	require.Eventually(t, func() bool { return k.requests.Load() >= before+3 }, waitFor, tick, "retried with backoff")
	unavailable := logs.FilterMessageSnippet(msgUnavailable).All()
	require.Len(t, unavailable, 1, "once, not per retry")
	assert.Equal(t, "pod list too large", unavailable[0].ContextMap()["reason"])
	assert.Contains(t, unavailable[0].ContextMap()["error"], "pod 0 of the list is longer than 4194304 bytes")
	pod, ok := p.Pod(uidA)
	require.True(t, ok, "the last good index is kept")
	assert.Equal(t, "cart-7d9f", pod.Name)
	c, ok := p.Container(uidA, cidA)
	require.True(t, ok)
	assert.Equal(t, "cart", c.Name)
}
