package k8smeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Bounds of the kubelet's pod list, whose size tenants control (annotations, env, pending pods
// are listed too). The list is decoded as a stream, one item at a time into a kubeletPod of
// only the fields the index uses, so memory is bounded by the largest item, not the list.
const (
	// maxPodBytes bounds one item of the list: the API server stores no object over 1.5 MiB
	// (etcd's default request limit) and accepts no request over 3 MiB, so an item past it is
	// not a pod the API server knows.
	maxPodBytes = 4 << 20
	// maxListedPods bounds the items: a kubelet runs at most max-pods (110 by default, a few
	// hundred on large nodes).
	maxListedPods = 5000
	// maxPodListBytes bounds the whole answer; reading it is also bounded by timeout.
	maxPodListBytes = 512 << 20
	// maxListFieldBytes bounds a top-level field other than items (kind, apiVersion, metadata).
	maxListFieldBytes = 64 << 10
)

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
func (k *kubeletClient) pods(ctx context.Context) ([]kubeletPod, error) {
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
	return decodePodList(resp.Body)
}

// kubeletPod is the part of a v1.Pod the index uses; encoding/json skips every other field
// without keeping it.
type kubeletPod struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		UID       string `json:"uid"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		InitContainerStatuses      []containerStatus `json:"initContainerStatuses"`
		ContainerStatuses          []containerStatus `json:"containerStatuses"`
		EphemeralContainerStatuses []containerStatus `json:"ephemeralContainerStatuses"`
	} `json:"status"`
}

type containerStatus struct {
	Name        string `json:"name"`
	ContainerID string `json:"containerID"`
	LastState   struct {
		Terminated *struct {
			ContainerID string `json:"containerID"`
		} `json:"terminated"`
	} `json:"lastState"`
}

// decodePodList parses the kubelet's JSON, {"kind":"PodList","apiVersion":"v1","items":[...]},
// as a stream: the top-level object token by token, each item into a kubeletPod. No item may
// be longer than maxPodBytes, no other field longer than maxListFieldBytes, the list no longer
// than maxPodListBytes nor hold more than maxListedPods items; past a bound the decoding stops
// with ErrPodListTooLarge. The decoder's buffer grows by doubling to hold the largest item, so
// one fetch allocates about 4 × maxPodBytes at most besides the pods' names
// (TestHostilePodListBoundedMemory: 16 MiB for a list of one 100 MB pod, 5 MiB for 100 pods
// of 1 MB).
//
// A failure to read the body (the client's timeout hitting mid-body, the connection reset) is
// a fetch error, not ErrDecode: the bytes read so far may be a fine start of a pod list.
func decodePodList(r io.Reader) ([]kubeletPod, error) {
	w := &windowReader{r: &bodyReader{r: r}, limit: maxListFieldBytes}
	dec := json.NewDecoder(w)
	// within lets the decoder read at most n bytes past what it has consumed: the next value
	// must fit, whatever it buffered ahead of it.
	within := func(n int64, what string) {
		w.limit = min(dec.InputOffset()+n, maxPodListBytes)
		w.over = fmt.Errorf("%w: %s is longer than %d bytes (the whole list at most %d)", ErrPodListTooLarge, what, n, int64(maxPodListBytes))
	}
	decodeErr := func(err error) error {
		if errors.Is(err, ErrPodListTooLarge) {
			return err
		}
		if be := (*bodyReadError)(nil); errors.As(err, &be) {
			return fmt.Errorf("k8smeta: reading the kubelet's pod list after %d bytes: %w", dec.InputOffset(), be.err)
		}
		return fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, decodeErr(err)
	}
	var items []kubeletPod
	for dec.More() {
		within(maxListFieldBytes, "a field name")
		tok, err := dec.Token()
		if err != nil {
			return nil, decodeErr(err)
		}
		key, _ := tok.(string)
		// Field names match as encoding/json matches them, ignoring case.
		switch {
		case strings.EqualFold(key, "items"):
			if items, err = decodeItems(dec, within); err != nil {
				return nil, decodeErr(err)
			}
		case strings.EqualFold(key, "kind"):
			within(maxListFieldBytes, "kind")
			var kind string
			if err := dec.Decode(&kind); err != nil {
				return nil, decodeErr(err)
			}
			if kind != "" && kind != "PodList" {
				return nil, fmt.Errorf("%w: kind %q", ErrDecode, kind)
			}
		default:
			within(maxListFieldBytes, "field "+strconvQuote(key))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, decodeErr(err)
			}
		}
	}
	within(maxListFieldBytes, "the end")
	if err := expectDelim(dec, '}'); err != nil {
		return nil, decodeErr(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		return nil, decodeErr(errors.Join(fmt.Errorf("data after the list: %v", tok), err))
	}
	return items, nil
}

// decodeItems decodes the items array (or null), one item at a time.
func decodeItems(dec *json.Decoder, within func(int64, string)) ([]kubeletPod, error) {
	within(maxListFieldBytes, "items")
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("items is %v, not an array", tok)
	}
	var items []kubeletPod
	for dec.More() {
		if len(items) == maxListedPods {
			return nil, fmt.Errorf("%w: more than %d pods", ErrPodListTooLarge, maxListedPods)
		}
		within(maxPodBytes, fmt.Sprintf("pod %d of the list", len(items)))
		items = append(items, kubeletPod{})
		if err := dec.Decode(&items[len(items)-1]); err != nil {
			return nil, err
		}
	}
	within(maxListFieldBytes, "items")
	_, err = dec.Token() // ']': More said the array ends
	return items, err
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %v, got %v", want, tok)
	}
	return nil
}

// strconvQuote quotes a field name for an error, shortened.
func strconvQuote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// windowReader hands its reader's bytes on up to limit (an offset from the start), and over
// past it: the decoder reading it can never buffer more than the window allows.
type windowReader struct {
	r     io.Reader
	read  int64
	limit int64
	over  error
}

func (w *windowReader) Read(p []byte) (int, error) {
	if w.read >= w.limit {
		if w.over == nil {
			return 0, ErrPodListTooLarge
		}
		return 0, w.over
	}
	if rem := w.limit - w.read; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := w.r.Read(p)
	w.read += int64(n)
	return n, err
}

// bodyReader marks the errors of reading the response body (other than its end), so that
// decodePodList tells them from a body that is not a pod list.
type bodyReader struct{ r io.Reader }

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = &bodyReadError{err: err}
	}
	return n, err
}

// bodyReadError is a failure to read the response body.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }
