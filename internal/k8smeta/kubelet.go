package k8smeta

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// maxPodListBytes bounds the kubelet's answer; a node at its 110-pod default lists a few MiB.
const maxPodListBytes = 64 << 20

// statusError is a non-200 answer of the kubelet, with the start of its body: the kubelet's
// 403 names the missing permission ("... verb=get, resource=nodes, subresource=proxy").
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.sentinel(), e.code, e.body)
}

func (e *statusError) Unwrap() error { return e.sentinel() }

func (e *statusError) sentinel() error {
	switch e.code {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return ErrRedirect
	default:
		return ErrKubeletStatus
	}
}

// kubeletClient fetches the pod list.
type kubeletClient struct {
	conn connection
	http *http.Client
}

// pods GETs the pod list: the kubelet's /pods, or its API-server proxy.
func (k *kubeletClient) pods(ctx context.Context) (*corev1.PodList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.conn.podsURL, nil)
	if err != nil {
		return nil, err
	}
	token, err := k.conn.token.bearer()
	if err != nil {
		return nil, err
	}
	if token != "" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("%w: %s", ErrTokenOverHTTP, req.URL.Redacted())
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // lets the connection be reused
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if loc := resp.Header.Get("Location"); loc != "" {
			body = []byte("to " + loc) // the redirect's target says more than its body
		}
		return nil, &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(body))}
	}
	return decodePodList(io.LimitReader(resp.Body, maxPodListBytes))
}

// decodePodList parses the kubelet's JSON: {"kind":"PodList","apiVersion":"v1","items":[...]}.
func decodePodList(r io.Reader) (*corev1.PodList, error) {
	var list corev1.PodList
	if err := json.NewDecoder(r).Decode(&list); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if list.Kind != "" && list.Kind != "PodList" {
		return nil, fmt.Errorf("%w: kind %q", ErrDecode, list.Kind)
	}
	return &list, nil
}
