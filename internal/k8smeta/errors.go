package k8smeta

import "errors"

var (
	// ErrInvalidConfig marks a k8s_metadata configuration that cannot work.
	ErrInvalidConfig = errors.New("k8smeta: invalid configuration")
	// ErrNodeNameUnknown means the endpoint or the kubeConfig proxy path needs the node name and
	// neither node_name nor K8S_NODE_NAME gives it.
	ErrNodeNameUnknown = errors.New("k8smeta: node name unknown: set node_name or K8S_NODE_NAME")
	// ErrKubeconfig marks a kubeconfig file that cannot be used.
	ErrKubeconfig = errors.New("k8smeta: unusable kubeconfig")
	// ErrUnauthorized means the kubelet rejected the credentials (HTTP 401).
	ErrUnauthorized = errors.New("k8smeta: kubelet rejected the credentials")
	// ErrForbidden means the kubelet authorised the identity but denied the request (HTTP 403),
	// typically a missing nodes/proxy permission.
	ErrForbidden = errors.New("k8smeta: kubelet denied access to /pods")
	// ErrKubeletStatus marks any other non-200 answer of the kubelet.
	ErrKubeletStatus = errors.New("k8smeta: unexpected kubelet status")
	// ErrDecode means the kubelet's answer is not a pod list.
	ErrDecode = errors.New("k8smeta: cannot decode the kubelet's pod list")
	// ErrPodListTooLarge means the kubelet's pod list, or one of its pods, is past the bounds
	// of decoding it; the previous index is kept.
	ErrPodListTooLarge = errors.New("k8smeta: kubelet's pod list too large")
	// ErrToken means the bearer token could not be read.
	ErrToken = errors.New("k8smeta: cannot read the bearer token")
	// ErrRedirect means the kubelet (or the API server) answered with a redirect, which is not
	// followed: Go's client would send the Authorization header on to the new location.
	ErrRedirect = errors.New("k8smeta: redirect refused")
	// ErrTokenOverHTTP means a bearer token would have been sent over plain http.
	ErrTokenOverHTTP = errors.New("k8smeta: refusing to send a bearer token over http")
	// ErrTLS means the TLS settings (CA, client certificate) could not be loaded.
	ErrTLS = errors.New("k8smeta: cannot load TLS settings")
)
