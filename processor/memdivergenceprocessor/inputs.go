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
	inSockRcvqPayload
	inSlabUnreclaimable // the unreclaimable data point of the slab metric
	inStallSome         // memory PSI "some" stall time, µs (counter)
	inRefaultFile       // workingset refaults of file pages (counter)
	inRefaultAnon       // workingset refaults of anonymous pages (counter)
	inEventsHigh        // memory.events high (counter)
	inEventsMax         // memory.events max; v1 memory.failcnt (counter)
	inOOMKills          // OOM kills (counter)
	numInputs
)

// Attributes that select one data point of a metric that carries several, as the cgroupmem
// receiver names them.
const (
	attrPressureType = "pressure.type"
	attrEventType    = "container.memory.event.type"
	attrLRUType      = "container.memory.lru.type"
	attrSlabState    = "container.memory.slab.state"
)

// usPerSecond turns stall seconds into the microseconds kept as an integer reading.
const usPerSecond = 1e6

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

// binding feeds one input from a metric's data points: all of them, or only those whose
// attribute attr is value; each value is multiplied by scale (0 means 1) and rounded.
type binding struct {
	in    input
	attr  string
	value string
	scale float64
}

// namedInput ties a configured metric name to the inputs it feeds and its config key.
type namedInput struct {
	key   string
	name  string
	binds []binding
}

func one(in input) []binding { return []binding{{in: in}} }

// fields lists a level's configured names, in input order.
func (n InputNames) fields() []namedInput {
	return []namedInput{
		{"working_set", n.WorkingSet, one(inWorkingSet)},
		{"rss", n.RSS, one(inRSS)},
		{"usage", n.Usage, one(inUsage)},
		{"limit", n.Limit, one(inLimit)},
		{"cache", n.Cache, one(inCache)},
		{"active_file", n.ActiveFile, one(inActiveFile)},
		{"inactive_file", n.InactiveFile, one(inInactiveFile)},
		{"kmem", n.Kmem, one(inKmem)},
		{"slab", n.Slab, []binding{{in: inSlab}, {in: inSlabUnreclaimable, attr: attrSlabState, value: "unreclaimable"}}},
		{"dentry_slab", n.DentrySlab, one(inDentrySlab)},
		{"sock", n.Sock, one(inSock)},
		{"sock_rcvq", n.SockRcvq, one(inSockRcvq)},
		{"sock_rcvq_payload", n.SockRcvqPayload, one(inSockRcvqPayload)},
		{"pressure_stall_time", n.PressureStallTime, []binding{{in: inStallSome, attr: attrPressureType, value: "some", scale: usPerSecond}}},
		{"refaults", n.Refaults, []binding{
			{in: inRefaultFile, attr: attrLRUType, value: "file"},
			{in: inRefaultAnon, attr: attrLRUType, value: "anon"},
		}},
		{"events", n.Events, []binding{
			{in: inEventsHigh, attr: attrEventType, value: "high"},
			{in: inEventsMax, attr: attrEventType, value: "max"},
		}},
		{"oom_kills", n.OOMKills, one(inOOMKills)},
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
