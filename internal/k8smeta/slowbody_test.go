package k8smeta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// slowList writes a pod list of 64 KiB pods, one every 20 ms, until the client goes away:
// a huge body that the client's timeout cuts mid-way.
func slowList(w io.Writer) {
	chunk := strings.Repeat("x", 64<<10)
	_, _ = io.WriteString(w, `{"kind":"PodList","apiVersion":"v1","items":[`)
	for i := range 10000 {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, err := fmt.Fprintf(w, `{"metadata":{"name":"slow-%d","namespace":"tenant","annotations":{"a":"%s"}}}`, i, chunk)
		if err != nil {
			return // the client gave up
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSlowHugeBodyIsATimeout: the client's timeout hitting while a large pod list is being
// read is a timeout (errors.Is context.DeadlineExceeded, a net.Error whose Timeout is true),
// not "not a pod list"; and a kubelet alternating between that and a list past the size bound
// warns once for each reason, not at every switch.
func TestSlowHugeBodyIsATimeout(t *testing.T) {
	k := newFakeKubelet(t)
	var n atomic.Int64
	// Past the bound after 64 KiB (a field name longer than maxListFieldBytes): quick to
	// send even on a loaded machine, so that it is not cut by the timeout too.
	tooLarge := func(w io.Writer) {
		_, _ = io.WriteString(w, `{"kind":"PodList","`+strings.Repeat("x", maxListFieldBytes+1)+`":1}`)
	}
	k.setBody(func(w io.Writer) {
		if n.Add(1)%2 == 1 {
			slowList(w)
		} else {
			tooLarge(w)
		}
	})
	cfg := fastConfig(k.url())
	cfg.Timeout = time.Second
	core, logs := observer.New(zap.InfoLevel)
	p, err := newProvider(cfg, zap.New(core), testEnv(k.serviceAccountDir(testToken)))
	require.NoError(t, err)

	// One fetch, straight from the client: a slow body (n is 0, the first answer is slow).
	_, err = p.client.pods(context.Background())
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrDecode, "a timeout mid-body is no decoding error: %v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var netErr net.Error
	require.True(t, errors.As(err, &netErr) && netErr.Timeout(), "a net timeout: %v", err)
	assert.Equal(t, "timeout", failureReason(err))
	// The next one is past the size bound.
	_, err = p.client.pods(context.Background())
	assert.ErrorIs(t, err, ErrPodListTooLarge)

	p.containerSettle = 0
	require.NoError(t, p.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	before := k.requests.Load()
	require.Eventually(t, func() bool { return k.requests.Load() >= before+6 }, 30*time.Second, 10*time.Millisecond,
		"retried: both reasons several times over")
	var reasons []string
	for _, e := range logs.FilterMessageSnippet(msgUnavailable).All() {
		require.Equal(t, zapcore.WarnLevel, e.Level)
		reasons = append(reasons, e.ContextMap()["reason"].(string))
		assert.NotContains(t, e.ContextMap()["error"], "cannot decode")
	}
	assert.ElementsMatch(t, []string{"timeout", "pod list too large"}, reasons, "once for each reason, not at every switch")
}
