package main

import (
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registered before this package's init, which wraps it
)

// The harness's OTLP endpoint takes what an exporter may send it (gzip, the otlp exporter's
// default, zstd and snappy), and counts the requests that came compressed with each, so that a run
// reports the compression its collector used rather than what the config was thought to say.
var decompressed = struct {
	sync.Mutex
	by map[string]int
}{by: map[string]int{}}

func init() {
	encoding.RegisterCompressor(counting{encoding.GetCompressor("gzip")})
	encoding.RegisterCompressor(counting{zstdCodec{}})
	encoding.RegisterCompressor(counting{snappyCodec{}})
}

// counting is a gRPC compressor that counts the messages it decompresses.
type counting struct{ encoding.Compressor }

func (c counting) Decompress(r io.Reader) (io.Reader, error) {
	decompressed.Lock()
	decompressed.by[c.Name()]++
	decompressed.Unlock()
	return c.Compressor.Decompress(r)
}

// compressionsSeen names the encodings the endpoint decompressed, sorted and joined with
// "+"; "none" when no request came compressed.
func compressionsSeen() string {
	decompressed.Lock()
	defer decompressed.Unlock()
	var names []string
	for n, c := range decompressed.by {
		if c > 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, "+")
}

// resetCompressions forgets what earlier runs of the same harness sent.
func resetCompressions() {
	decompressed.Lock()
	clear(decompressed.by)
	decompressed.Unlock()
}

// zstdCodec decompresses with klauspost/compress's zstd, the library the collector's
// configgrpc compresses with.
type zstdCodec struct{}

func (zstdCodec) Name() string { return "zstd" }

func (zstdCodec) Compress(w io.Writer) (io.WriteCloser, error) {
	return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
}

func (zstdCodec) Decompress(r io.Reader) (io.Reader, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return decoderCloser{d}, nil
}

// decoderCloser frees the decoder's buffers once gRPC has read the message to its end.
type decoderCloser struct{ d *zstd.Decoder }

func (c decoderCloser) Read(p []byte) (int, error) {
	n, err := c.d.Read(p)
	if err != nil {
		c.d.Close()
	}
	return n, err
}

// snappyCodec decompresses snappy's framed stream with github.com/golang/snappy, the library
// and format the collector's configgrpc compresses with.
type snappyCodec struct{}

func (snappyCodec) Name() string { return "snappy" }

func (snappyCodec) Compress(w io.Writer) (io.WriteCloser, error) {
	return snappy.NewBufferedWriter(w), nil
}

func (snappyCodec) Decompress(r io.Reader) (io.Reader, error) { return snappy.NewReader(r), nil }
