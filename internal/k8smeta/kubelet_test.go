package k8smeta

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodePodList(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantPods int
		wantErr  string
	}{
		{name: "kubelet answer", in: `{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a","uid":"u"}}]}`, wantPods: 1},
		{name: "no kind", in: `{"items":[]}`, wantPods: 0},
		{name: "other kind", in: `{"kind":"Status","status":"Failure"}`, wantErr: `k8smeta: cannot decode the kubelet's pod list: kind "Status"`},
		{name: "truncated", in: `{"kind":"PodList","items":[{"metadata":`, wantErr: "k8smeta: cannot decode the kubelet's pod list: unexpected EOF"},
		{name: "html", in: `<html>`, wantErr: "k8smeta: cannot decode the kubelet's pod list: invalid character '<'"},
		{name: "items null", in: `{"kind":"PodList","items":null}`, wantPods: 0},
		{name: "kind after items", in: `{"items":[{"metadata":{"uid":"u"}}],"kind":"Status"}`, wantErr: `kind "Status"`},
		{name: "items not an array", in: `{"items":{"a":1}}`, wantErr: "items is {, not an array"},
		{name: "not an object", in: `[{"metadata":{}}]`, wantErr: "expected {, got ["},
		{name: "trailing field after items", in: `{"items":[{},{}],"metadata":{"resourceVersion":"7"}}`, wantPods: 2},
		{name: "field name too long", in: `{"` + strings.Repeat("k", maxListFieldBytes+1) + `":1}`, wantErr: "k8smeta: kubelet's pod list too large: a field name is longer than 65536 bytes"},
		{name: "metadata too long", in: `{"metadata":{"x":"` + strings.Repeat("k", maxListFieldBytes) + `"},"items":[]}`, wantErr: `field "metadata" is longer than 65536 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := decodePodList(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrPodListTooLarge) {
					require.ErrorIs(t, err, ErrDecode)
				}
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, list, tt.wantPods)
		})
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		code int
		want error
	}{
		{code: 401, want: ErrUnauthorized},
		{code: 403, want: ErrForbidden},
		{code: 500, want: ErrKubeletStatus},
	}
	for _, tt := range tests {
		t.Run(tt.want.Error(), func(t *testing.T) {
			err := &statusError{code: tt.code, body: "details"}
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), "details")
		})
	}
}

// FuzzDecodePodList checks the streaming decoder against encoding/json decoding the whole
// input at once: whatever it accepts is a JSON object whose items decode to the same pods, and
// it never panics.
func FuzzDecodePodList(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a","uid":"u"}}]}`,
		`{"items":[{"metadata":{"name":"a","namespace":"n","uid":"U"},"spec":{"nodeName":"x"},"status":{"containerStatuses":[{"name":"c","containerID":"containerd://ab","lastState":{"terminated":{"containerID":"containerd://cd"}}}]}}]}`,
		`{"items":null}`, `{"items":[],"items":[{}]}`, `{}`, `[]`, `{"kind":"Status"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := decodePodList(bytes.NewReader(in))
		if err != nil {
			return
		}
		var whole struct {
			Kind  string       `json:"kind"`
			Items []kubeletPod `json:"items"`
		}
		require.NoError(t, json.Unmarshal(in, &whole), "accepted what encoding/json rejects: %q", in)
		require.Contains(t, []string{"", "PodList"}, whole.Kind)
		if len(whole.Items) == 0 {
			require.Empty(t, got)
			return
		}
		require.Equal(t, whole.Items, got)
	})
}
