package k8smeta

import (
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := decodePodList(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrDecode)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, list.Items, tt.wantPods)
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
