package k8smeta

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"go.uber.org/zap"
)

type state int

const (
	stateUnknown state = iota
	stateOK
	stateFailing
)

// maxWarnedReasons bounds the distinct reasons of failure warned about in one failing spell;
// past it, a new reason is logged at debug level only.
const maxWarnedReasons = 4

// health logs the pod-list fetches once per change of state: the first success, each reason
// of failure the first time it appears in a failing spell (a fetch alternating between two
// persistent failures, e.g. a slow huge body now timing out, now past the size bound, warns
// once for each, not at every switch; at most maxWarnedReasons of them), and the recovery.
// Only the loop goroutine uses it.
type health struct {
	logger *zap.Logger
	state  state
	reason string
	warned map[string]bool // the reasons warned about since the last success
}

func (h *health) report(err error, pods int) {
	if err == nil {
		switch h.state {
		case stateFailing:
			h.logger.Info("Kubelet pod metadata recovered", zap.Int("pods", pods))
		case stateUnknown:
			h.logger.Info("Kubelet pod metadata available", zap.Int("pods", pods))
		}
		h.state, h.reason, h.warned = stateOK, "", nil
		return
	}
	reason := failureReason(err)
	if h.warned == nil {
		h.warned = make(map[string]bool)
	}
	switch {
	case h.warned[reason]:
		if reason != h.reason {
			h.logger.Debug("Kubelet pod metadata still unavailable", zap.String("reason", reason), zap.Error(err))
		}
	case len(h.warned) < maxWarnedReasons:
		h.warned[reason] = true
		h.logger.Warn("Kubelet pod metadata unavailable; metrics keep the attributes from cgroup paths, retrying with backoff",
			zap.String("reason", reason), zap.Error(err))
	default:
		h.logger.Debug("Kubelet pod metadata still unavailable", zap.String("reason", reason), zap.Error(err))
	}
	h.state, h.reason = stateFailing, reason
}

// failureReason classifies err coarsely, so that a retry failing the same way (with another
// port number or address in its text) is not logged again.
func failureReason(err error) string {
	var statusErr *statusError
	var certErr *tls.CertificateVerificationError
	var authorityErr x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var netErr net.Error
	var opErr *net.OpError
	var bodyErr *bodyReadError
	switch {
	case errors.As(err, &statusErr):
		return fmt.Sprintf("HTTP %d", statusErr.code)
	case errors.Is(err, ErrToken):
		return "token unreadable"
	case errors.Is(err, ErrPodListTooLarge):
		return "pod list too large"
	case errors.Is(err, ErrDecode):
		return "not a pod list"
	case errors.As(err, &certErr), errors.As(err, &authorityErr), errors.As(err, &hostnameErr):
		return "kubelet certificate not trusted"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &bodyErr):
		return "pod list cut short"
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return "TLS handshake refused"
	case errors.As(err, &opErr):
		return "unreachable"
	default:
		return err.Error()
	}
}
