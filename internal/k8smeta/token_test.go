package k8smeta

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenSource(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		source  tokenSource
		want    string
		wantErr bool
	}{
		{name: "none", source: tokenSource{}, want: ""},
		{name: "static", source: tokenSource{static: "abc"}, want: "abc"},
		{name: "file, newline trimmed", source: tokenSource{file: writeFile(t, dir, "token", []byte("abc\n"))}, want: "abc"},
		{name: "empty file", source: tokenSource{file: writeFile(t, dir, "empty", nil)}, wantErr: true},
		{name: "missing file", source: tokenSource{file: filepath.Join(dir, "missing")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.source.bearer()
			if tt.wantErr {
				require.ErrorIs(t, err, ErrToken)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
