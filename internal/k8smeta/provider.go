package k8smeta

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

const (
	// containerSettle is how long after a container ID is first seen a pod list must have been
	// requested before the ID, still missing from its pod's statuses, is taken for the sandbox:
	// the kubelet lists a new container only once it has updated the pod's status.
	containerSettle = 5 * time.Second
	// sightingTTL forgets missed lookups that stopped recurring (their cgroup is gone).
	sightingTTL = 15 * time.Minute
)

// Provider answers the receiver's lookups from an index of the kubelet's pod list, which a
// background loop refreshes. All methods are safe for concurrent use; lookups never block.
type Provider struct {
	enabled     bool
	nodeName    string // node_name or $K8S_NODE_NAME; may be empty
	filter      filter
	skipSandbox bool

	client *kubeletClient
	sched  schedule
	health health
	// containerSettle is containerSettle; tests shorten it.
	containerSettle time.Duration

	snap    atomic.Pointer[snapshot]
	seen    *sightings
	trigger chan struct{}
	// epoch and requested time the refresh requests monotonically: requested is the time since
	// epoch of the latest request, so that the loop can drop a request that a fetch started
	// after it already answers.
	epoch     time.Time
	requested atomic.Int64

	startOnce sync.Once
	stopOnce  sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

// NewProvider checks cfg and prepares the connection (reading the CA, client certificate or
// kubeconfig files). It makes no request; Start does. A disabled configuration gives a
// Provider whose lookups always miss and whose Include only applies sandbox_containers.
func NewProvider(cfg Config, logger *zap.Logger) (*Provider, error) {
	return newProvider(cfg, logger, osEnvironment())
}

func newProvider(cfg Config, logger *zap.Logger, env environment) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f, err := compileFilter(cfg.Filter)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		enabled:         cfg.Enabled,
		nodeName:        env.nodeName(cfg),
		filter:          f,
		skipSandbox:     cfg.SandboxContainers == SandboxSkip,
		sched:           schedule{interval: cfg.RefreshInterval, maxBackoff: cfg.MaxBackoff},
		health:          health{logger: logger},
		containerSettle: containerSettle,
		seen:            newSightings(sightingTTL),
		trigger:         make(chan struct{}, 1),
		epoch:           time.Now(),
		done:            make(chan struct{}),
	}
	if !cfg.Enabled {
		return p, nil
	}
	conn, err := newConnection(context.Background(), cfg, env)
	if err != nil {
		return nil, err
	}
	if !conn.verifiesTLS() {
		logger.Warn("TLS verification of the kubelet is off (tls.insecure_skip_verify, or insecure-skip-tls-verify in the kubeconfig): anyone who can answer on its address can feed pod names and read the bearer token",
			zap.String("url", conn.podsURL))
	}
	p.client = &kubeletClient{conn: conn, http: conn.httpClient(cfg.Timeout)}
	return p, nil
}

// Start launches the background loop, which fetches the pod list at once and then on demand.
// It returns at once; ctx is not kept.
func (p *Provider) Start(context.Context) error {
	if !p.enabled {
		return nil
	}
	p.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		p.cancel = cancel
		p.requestRefresh()
		go p.run(ctx)
	})
	return nil
}

// Shutdown stops the loop, cancelling a fetch in flight, and waits for it until ctx ends. It
// may be called more than once, and without Start.
func (p *Provider) Shutdown(ctx context.Context) error {
	var err error
	p.stopOnce.Do(func() {
		p.startOnce.Do(func() {}) // a later Start does nothing
		if p.cancel == nil {
			return
		}
		p.cancel()
		select {
		case <-p.done:
			p.client.http.CloseIdleConnections()
		case <-ctx.Done():
			err = ctx.Err()
		}
	})
	return err
}
