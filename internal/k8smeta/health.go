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

// health logs the pod-list fetches once per change of state: the first success, every new
// reason of failure, and the recovery. Only the loop goroutine uses it.
type health struct {
	logger *zap.Logger
	state  state
	reason string
}

func (h *health) report(err error, pods int) {
	if err == nil {
		switch h.state {
		case stateFailing:
			h.logger.Info("Kubelet pod metadata recovered", zap.Int("pods", pods))
		case stateUnknown:
			h.logger.Info("Kubelet pod metadata available", zap.Int("pods", pods))
		}
		h.state, h.reason = stateOK, ""
		return
	}
	reason := failureReason(err)
	if h.state != stateFailing || reason != h.reason {
		h.logger.Warn("Kubelet pod metadata unavailable; metrics keep the attributes from cgroup paths, retrying with backoff",
			zap.String("reason", reason), zap.Error(err))
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
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return "TLS handshake refused"
	case errors.As(err, &opErr):
		return "unreachable"
	default:
		return err.Error()
	}
}
