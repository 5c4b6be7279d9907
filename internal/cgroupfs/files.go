package cgroupfs

// fileID names one cgroup file the memory reader knows. Each Cgroup handle keeps one slot per
// file, so a file is opened once and re-read in place on every scrape.
type fileID uint8

const (
	v1Stat fileID = iota
	v1Usage
	v1Limit
	v1Kmem
	v1TCPUsage
	v1TCPMaxUsage
	v1OOMControl
	v1Slabinfo
	v2Stat
	v2Current
	v2Max
	v2SwapCurrent
	v2Events
	v1Failcnt
	v1MaxUsage
	v1Pressure // memory.pressure in the unified (cgroup2) mount of a hybrid host
	v2Peak
	v2Pressure
	numFiles
)

var fileNames = [numFiles]string{
	v1Stat:        "memory.stat",
	v1Usage:       "memory.usage_in_bytes",
	v1Limit:       "memory.limit_in_bytes",
	v1Kmem:        "memory.kmem.usage_in_bytes",
	v1TCPUsage:    "memory.kmem.tcp.usage_in_bytes",
	v1TCPMaxUsage: "memory.kmem.tcp.max_usage_in_bytes",
	v1OOMControl:  "memory.oom_control",
	v1Slabinfo:    "memory.kmem.slabinfo",
	v2Stat:        "memory.stat",
	v2Current:     "memory.current",
	v2Max:         "memory.max",
	v2SwapCurrent: "memory.swap.current",
	v2Events:      "memory.events",
	v1Failcnt:     "memory.failcnt",
	v1MaxUsage:    "memory.max_usage_in_bytes",
	v1Pressure:    "memory.pressure",
	v2Peak:        "memory.peak",
	v2Pressure:    "memory.pressure",
}
