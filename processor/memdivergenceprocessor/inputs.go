package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

// input is one value the analysis reads from a resource.
type input int

const (
	inWorkingSet input = iota
	inRSS
	inUsage
	inLimit
	inCache
	inActiveFile
	inInactiveFile
	inKmem
	inSlab
	inDentrySlab
	inSock
	inSockRcvq
	numInputs
)

// reading is one input of one resource. A missing input is not a zero: ok is false.
type reading struct {
	v  int64
	ok bool
}

// readings holds every input of one resource at one level.
type readings [numInputs]reading

func (r *readings) get(in input) (int64, bool) { return r[in].v, r[in].ok }

// has reports whether the resource carries the input.
func (r *readings) has(in input) bool { return r[in].ok }

// sumsPoints reports whether an input's data points are parts that add up (slab's
// reclaimable and unreclaimable) rather than views of one quantity from different sources
// (dentry slab from slabinfo or eBPF, receive queues from sock_diag or /proc): the largest
// view is taken for those, so no source is counted twice.
func sumsPoints(in input) bool { return in == inSlab }

// namedInput ties a configured metric name to its input and its config key.
type namedInput struct {
	key  string
	name string
	in   input
}

// fields lists a level's configured names, in input order.
func (n InputNames) fields() []namedInput {
	return []namedInput{
		{"working_set", n.WorkingSet, inWorkingSet},
		{"rss", n.RSS, inRSS},
		{"usage", n.Usage, inUsage},
		{"limit", n.Limit, inLimit},
		{"cache", n.Cache, inCache},
		{"active_file", n.ActiveFile, inActiveFile},
		{"inactive_file", n.InactiveFile, inInactiveFile},
		{"kmem", n.Kmem, inKmem},
		{"slab", n.Slab, inSlab},
		{"dentry_slab", n.DentrySlab, inDentrySlab},
		{"sock", n.Sock, inSock},
		{"sock_rcvq", n.SockRcvq, inSockRcvq},
	}
}

// unlimitedBytes and above is no limit: producers that report "unlimited" as a number write
// a huge one (cgroup v1 reads 9223372036854771712).
const unlimitedBytes = int64(1) << 60

// limit returns the memory limit, and false when none is known.
func (r *readings) limit() (int64, bool) {
	v, ok := r.get(inLimit)
	return v, ok && v > 0 && v < unlimitedBytes
}
