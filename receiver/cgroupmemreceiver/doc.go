//go:generate go tool -modfile=../../tools/go.mod mdatagen metadata.yaml

// Package cgroupmemreceiver reads container memory cgroups and emits the breakdown that
// explains a container's working set.
//
// The files read in the order a scrape runs:
//
//   - factory.go: NewFactory and the default Config (config.go: the keys and Validate).
//   - receiver.go: the scrape loop, on the schedule and settings of scraperhelper's
//     controller (initial_delay, collection_interval, timeout).
//   - scraper.go: cgroupScraper, start and shutdown, and scrapeInBatches, which walks the
//     discovered pods and containers, reads each cgroup (internal/cgroupfs) and records it.
//   - record.go, pressure.go, sockets.go, dentry.go, node.go: the metrics of one reading;
//     oom.go: OOM kills that outlive a container's cgroup (the /dev/kmsg watcher, v1 pods);
//     resource.go: the resource attributes.
//   - oom.go: OOM kills that outlive a container's cgroup (a v1 pod's count from its
//     containers', and the opt-in /dev/kmsg watcher of internal/oomwatch).
//
// # Why the receiver runs its own loop
//
// The collector's scraper API (scraper.NewMetrics with scraperhelper's controller) hands a
// scrape down the pipeline as one pmetric.Metrics. A node's scrape is large: at 1,000
// containers it is 1,500 resources, and the whole of it, with what the memdivergence processor
// adds, is live at once. The loop in receiver.go calls the next consumer every batchResources
// (100) resources instead, a pod with its containers, so that one batch is live at a time and
// the batch processor regroups them. BenchmarkHeldPdata measures the heap in use at the
// consumer after memdivergence, on the v1 fixture copied to 1,000 containers with the
// container and pod metrics at their defaults: 7.6 MiB with the scrape handed on whole,
// 0.52 MiB in batches of 100 (go test -bench BenchmarkHeldPdata: 2 runs of 5 scrapes each, which
// agreed within 0.01 MiB). The Go heap goal doubles what is live, and the DaemonSet's target is 60 MiB
// of RSS for the whole collector: when batching came in, the collector's peak RSS at 1,000
// containers as deployed fell from 61.1 to 51.3 MiB (bench/collectorrss). The loop keeps the
// controller's config keys, so moving back to scraperhelper is a change to receiver.go
// alone, should the controller ever stream a scrape in parts.
package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"
