package main

import (
	"context"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// The working-set metrics the side-by-side run compares with cAdvisor's, and the socket
// metric that shows the tree's sockets were seen.
const (
	containerWorkingSet = "container.memory.working_set"
	podWorkingSet       = "k8s.pod.memory.working_set"
	containerQueued     = "container.memory.sock_rcvq_sockets"
)

// point is one reading of a working set: the data point's time and value.
type point struct {
	at    time.Time
	value uint64
}

// otlpSink is an OTLP/gRPC metrics endpoint on loopback that the collector's otlp exporter
// sends to, as it sends to a backend when deployed. Each request becomes an export for
// measure, and the working sets it holds are kept per container ID and pod UID.
type otlpSink struct {
	pmetricotlp.UnimplementedGRPCServer
	srv     *grpc.Server
	addr    string
	exports chan<- export
	done    chan struct{}

	mu         sync.Mutex
	containers map[string][]point // by container.id
	pods       map[string][]point // by k8s.pod.uid
	queued     map[string]int64   // the last container.memory.sock_rcvq_sockets, by container.id
}

func startOTLPSink(exports chan<- export) (*otlpSink, error) {
	resetCompressions()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{
		srv: grpc.NewServer(grpc.MaxRecvMsgSize(64<<20), grpc.StatsHandler(payloadSizes{})), addr: l.Addr().String(), exports: exports, done: make(chan struct{}),
		containers: map[string][]point{}, pods: map[string][]point{}, queued: map[string]int64{},
	}
	pmetricotlp.RegisterGRPCServer(s.srv, s)
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *otlpSink) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	at := time.Now()
	md := req.Metrics()
	s.record(md)
	e := export{at: at, resources: md.ResourceMetrics().Len(), points: md.DataPointCount()}
	if sz, ok := ctx.Value(payloadKey{}).(*payloadSize); ok {
		e.wireBytes, e.protoBytes = sz.wire, sz.proto
	}
	select {
	case s.exports <- e:
	case <-s.done: // measured already: nobody reads
	}
	return pmetricotlp.NewExportResponse(), nil
}

// record keeps the working-set data points of md.
func (s *otlpSink) record(md pmetric.Metrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		id, isContainer := attrs.Get("container.id")
		uid, isPod := attrs.Get("k8s.pod.uid")
		var into map[string][]point
		var key, metric string
		switch {
		case isContainer:
			into, key, metric = s.containers, id.Str(), containerWorkingSet
		case isPod:
			into, key, metric = s.pods, uid.Str(), podWorkingSet
		default:
			continue
		}
		sms := rm.ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				if isContainer && m.Name() == containerQueued && m.Type() == pmetric.MetricTypeSum && m.Sum().DataPoints().Len() > 0 {
					s.queued[key] = m.Sum().DataPoints().At(0).IntValue()
				}
				if m.Name() != metric {
					continue
				}
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				default:
					continue
				}
				for d := range dps.Len() {
					dp := dps.At(d)
					v := dp.IntValue()
					if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
						v = int64(dp.DoubleValue())
					}
					into[key] = append(into[key], point{at: timeOf(dp.Timestamp()), value: uint64(v)})
				}
			}
		}
	}
}

func timeOf(ts pcommon.Timestamp) time.Time { return ts.AsTime() }

// queuedSockets tells how many containers reported sockets with unread data, and how many
// of them reported that many.
func (s *otlpSink) queuedSockets(want int64) (reported, withWant int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.queued {
		reported++
		if v == want {
			withWant++
		}
	}
	return reported, withWant
}

// series returns copies of the working sets received so far.
func (s *otlpSink) series() (containers, pods map[string][]point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := func(m map[string][]point) map[string][]point {
		out := make(map[string][]point, len(m))
		for k, v := range m {
			out[k] = append([]point(nil), v...)
		}
		return out
	}
	return cp(s.containers), cp(s.pods)
}

func (s *otlpSink) stop() {
	close(s.done)
	s.srv.Stop()
}

// payloadSizes is a gRPC stats handler that keeps, in each request's context, the size of
// its message on the wire and decompressed, for Export to report.
type payloadSizes struct{}

type payloadKey struct{}

type payloadSize struct{ wire, proto int }

func (payloadSizes) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, payloadKey{}, &payloadSize{})
}

func (payloadSizes) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InPayload); ok {
		if sz, ok := ctx.Value(payloadKey{}).(*payloadSize); ok {
			sz.wire, sz.proto = in.CompressedLength, in.Length
		}
	}
}

func (payloadSizes) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (payloadSizes) HandleConn(context.Context, stats.ConnStats) {}
