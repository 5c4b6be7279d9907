package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestSinkTakesAndNamesEachCompression sends the sink a request compressed as the otlp
// exporter may send it, and checks that the sink read it whole and names what it came with.
func TestSinkTakesAndNamesEachCompression(t *testing.T) {
	for _, tt := range []struct{ compressor, want string }{
		{"", "none"},
		{"gzip", "gzip"},
		{"zstd", "zstd"},
		{"snappy", "snappy"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			exports := make(chan export, 1)
			sink, err := startOTLPSink(exports)
			require.NoError(t, err)
			defer sink.stop()

			conn, err := grpc.NewClient(sink.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			require.NoError(t, err)
			defer conn.Close()
			var opts []grpc.CallOption
			if tt.compressor != "" {
				opts = append(opts, grpc.UseCompressor(tt.compressor))
			}
			md := pmetric.NewMetrics()
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("container.id", "c1")
			m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName(containerWorkingSet)
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetIntValue(4096)
			dp.SetTimestamp(1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md), opts...)
			require.NoError(t, err)

			got := <-exports
			require.Equal(t, 1, got.points)
			protoSize := (&pmetric.ProtoMarshaler{}).MetricsSize(md)
			require.Equal(t, protoSize, got.protoBytes, "the request's protobuf encoding")
			if tt.compressor == "" {
				require.Equal(t, protoSize, got.wireBytes, "uncompressed, as encoded")
			} else {
				require.Positive(t, got.wireBytes)
				require.NotEqual(t, protoSize, got.wireBytes, "compressed")
			}
			containers, _ := sink.series()
			require.Len(t, containers["c1"], 1)
			require.Equal(t, uint64(4096), containers["c1"][0].value)
			require.Equal(t, tt.want, compressionsSeen())
		})
	}
}
