// Package collectorresult is the JSON file bench/collectorrss writes and bench/perfreport
// reads: what each run of the whole collector measured.
package collectorresult

// Bounds of the side-by-side run's working-set check, which collectorrss applies and
// perfreport states.
const (
	// MaxTransientShare bounds the samples of cAdvisor's apart from ours for an instant only
	// (Peer.SamplesTransient), as a share of the samples compared: on the order of one in
	// 10,000 is seen here; a fault of ours would be in most of them.
	MaxTransientShare = 0.01
	// MaxUnsettledShare bounds the cgroups left uncompared because their memory moved around
	// every one of cAdvisor's samples (Peer.CgroupsUnsettled): at least one of them, else
	// this share of the tree's cgroups.
	MaxUnsettledShare = 0.01
)

// Report is the file collectorrss -out writes and perfreport -collector reads.
type Report struct {
	Collector string `json:"collector"`
	Runs      []Run  `json:"runs"`
}

// Run is what one collector run measured.
type Run struct {
	// Collector is the binary run.
	Collector  string `json:"collector,omitempty"`
	Containers int    `json:"containers"`
	Pods       int    `json:"pods"`
	// Processors are those of the metrics pipeline; Without, the deployed ones left out.
	Processors []string `json:"processors"`
	Without    []string `json:"without,omitempty"`
	// Interval is the receiver's collection_interval.
	Interval string `json:"interval"`
	// Scrapes is how many scrapes the CPU window spans, after Warmup scrapes were left out.
	Scrapes       int     `json:"scrapes"`
	Warmup        int     `json:"warmup"`
	WindowSeconds float64 `json:"window_seconds"`
	// CPUSeconds is the collector's user and system time over the window (/proc/<pid>/stat).
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUPerScrapeMillis is CPUSeconds per scrape; CPUPerContainerMicros divides it by the
	// containers (0 when there are none).
	CPUPerScrapeMillis    float64 `json:"cpu_per_scrape_ms"`
	CPUPerContainerMicros float64 `json:"cpu_per_container_scrape_us"`
	CPUPercentOfOneCore   float64 `json:"cpu_percent_of_one_core"`
	// RSSBytes and HWMBytes are VmRSS and VmHWM at the end of the window.
	RSSBytes uint64 `json:"vmrss_bytes"`
	HWMBytes uint64 `json:"vmhwm_bytes"`
	// ResourcesPerScrape and DataPointsPerScrape are what the debug exporter counted, per
	// scrape of the window.
	ResourcesPerScrape  float64 `json:"resources_per_scrape"`
	DataPointsPerScrape float64 `json:"data_points_per_scrape"`
	// WireBytesPerScrape and ProtoBytesPerScrape are, with the otlp exporter, the bytes of
	// its gRPC messages per scrape as they came to the harness (compressed, when they were)
	// and their protobuf encoding.
	WireBytesPerScrape  float64 `json:"wire_bytes_per_scrape,omitempty"`
	ProtoBytesPerScrape float64 `json:"proto_bytes_per_scrape,omitempty"`
	// Problems are the collector's warning and error log messages.
	Problems []string `json:"problems,omitempty"`

	// ReceiverDefaults is true when the receiver ran with its own default metrics rather than
	// the deployed config's, and Exporter names how the collector exported: "debug" (basic
	// verbosity) or "otlp" (the deployed OTLP/gRPC exporter, to the harness on loopback).
	ReceiverDefaults bool   `json:"receiver_defaults,omitempty"`
	Exporter         string `json:"exporter,omitempty"`
	// Compression is what the harness's OTLP endpoint saw the "otlp" exporter's requests
	// compressed with ("gzip", "zstd", "none"; several joined with "+").
	Compression string `json:"compression,omitempty"`
	// CAdvisor is cAdvisor measured beside the collector, on the same tree over the same
	// window, when the run had it.
	CAdvisor *Peer `json:"cadvisor,omitempty"`
	// Profile is where the collector's CPU time went over the window, when it was profiled
	// (perf record of a build of the same collector with its symbols kept).
	Profile *Profile `json:"profile,omitempty"`
}

// Peer is what the cAdvisor peer (bench/cadvisorpeer) measured over a run's window.
type Peer struct {
	// Library is the module and version of cAdvisor's library; Housekeeping its settings.
	Library      string `json:"library"`
	Housekeeping string `json:"housekeeping"`
	// CPUSeconds is its user and system time over the collector's window.
	CPUSeconds float64 `json:"cpu_seconds"`
	// RSSBytes and HWMBytes are VmRSS and VmHWM at the window's end.
	RSSBytes uint64 `json:"vmrss_bytes"`
	HWMBytes uint64 `json:"vmhwm_bytes"`
	// HousekeepingsPerContainer is how many samples of each container it took in the
	// window, on average.
	HousekeepingsPerContainer float64 `json:"housekeepings_per_container"`
	// ContainersCompared and PodsCompared are the cgroups whose working sets were checked
	// against ours; SamplesEqual how many of its samples equalled ours, SamplesMoved how
	// many fell between two differing readings of ours and were not compared,
	// SamplesTransient how many differed for an instant only (cAdvisor's own sample beside
	// it, of the same usage, equals ours: the page cache's LRU split moved and came back). Any
	// other mismatch fails the run, so a report holds none.
	ContainersCompared int `json:"containers_compared"`
	PodsCompared       int `json:"pods_compared"`
	SamplesEqual       int `json:"samples_equal"`
	SamplesMoved       int `json:"samples_moved"`
	SamplesTransient   int `json:"samples_transient,omitempty"`
	// CgroupsUnsettled are the cgroups of the tree left uncompared because their memory
	// moved between every two readings of ours around cAdvisor's samples (MaxUnsettledShare
	// at most, else the run fails).
	CgroupsUnsettled int `json:"cgroups_unsettled,omitempty"`
	// Profile splits its CPU samples over the window between housekeeping and discovery,
	// when it was profiled.
	Profile *Profile `json:"profile,omitempty"`
}

// Profile is where a collector's CPU samples went over a window, by part of the collector
// (bench/collectorrss's profileParts), largest first.
type Profile struct {
	// Collector is the binary profiled: make build's, with its symbols kept.
	Collector string        `json:"collector,omitempty"`
	Samples   int           `json:"samples"`
	Parts     []ProfilePart `json:"parts"`
}

// ProfilePart is one part's samples and their share of all.
type ProfilePart struct {
	Name    string  `json:"name"`
	Samples int     `json:"samples"`
	Share   float64 `json:"share"`
}
