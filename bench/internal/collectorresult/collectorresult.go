// Package collectorresult is the JSON file bench/collectorrss writes and bench/perfreport
// reads: what each run of the whole collector measured.
package collectorresult

// Report is the file collectorrss -out writes and perfreport -collector reads.
type Report struct {
	Collector string `json:"collector"`
	Runs      []Run  `json:"runs"`
}

// Run is what one collector run measured.
type Run struct {
	Containers int `json:"containers"`
	Pods       int `json:"pods"`
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
	// Problems are the collector's warning and error log messages.
	Problems []string `json:"problems,omitempty"`
}
