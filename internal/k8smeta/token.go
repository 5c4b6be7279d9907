package k8smeta

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

var errEmptyToken = errors.New("empty token")

// tokenSource gives the bearer token of a request: a fixed string, or a file read at every
// request so that rotated service-account tokens are picked up. Zero means no token.
type tokenSource struct {
	static string
	file   string
}

func (t tokenSource) bearer() (string, error) {
	if t.file == "" {
		return t.static, nil
	}
	b, err := os.ReadFile(t.file)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrToken, err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("%w: %q: %w", ErrToken, t.file, errEmptyToken)
	}
	return token, nil
}
