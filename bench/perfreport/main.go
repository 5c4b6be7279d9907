// Command perfreport writes the performance section of README.md, between the markers
// <!-- perf:begin --> and <!-- perf:end -->, from one run of make bench: the go test -bench
// output of the receiver's live-cgroups benchmarks, benchstat's summary of it, and
// bench/collectorrss's JSON reports. The table, the verdicts on issue 7's targets, the
// machine's description and the method paragraph are all written here, never by hand.
//
//	perfreport -bench _build/bench.txt -benchstat _build/benchstat.txt \
//	  -collector _build/bench-collector.json -readme README.md -started 1764100000 \
//	  -ran 'go test ...' -ran 'benchstat ...'
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"strings"
	"time"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, "\n") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	benchPath := flag.String("bench", "_build/bench.txt", "go test -bench output")
	statPath := flag.String("benchstat", "_build/benchstat.txt", "benchstat output of the same runs")
	collectorPaths := flag.String("collector", "_build/bench-collector.json", "comma-separated bench/collectorrss reports, their runs in order; empty: none")
	readme := flag.String("readme", "README.md", "the README to rewrite")
	command := flag.String("command", "make bench", "the command a reader runs to regenerate the section")
	started := flag.Int64("started", 0, "Unix time the command started (for its duration); 0: unknown")
	var ran stringList
	flag.Var(&ran, "ran", "a command the run executed, in order (repeatable)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("perfreport: ")

	f, err := os.Open(*benchPath)
	if err != nil {
		log.Fatal(err)
	}
	bf, err := parseBench(f)
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	stat, err := os.ReadFile(*statPath)
	if err != nil {
		log.Fatal(err)
	}
	r := report{bench: bf, benchstat: string(stat), command: *command, ran: ran, date: time.Now(),
		machine: thisMachine(bf.cpu)}
	if *started > 0 {
		r.took = r.date.Sub(time.Unix(*started, 0))
	}
	for _, path := range strings.Split(*collectorPaths, ",") {
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			log.Fatal(err)
		}
		var cr collectorresult.Report
		if err := json.Unmarshal(b, &cr); err != nil {
			log.Fatalf("%s: %v", path, err)
		}
		r.collector.Runs = append(r.collector.Runs, cr.Runs...)
	}
	section, err := r.render()
	if err != nil {
		log.Fatal(err)
	}
	old, err := os.ReadFile(*readme)
	if err != nil {
		log.Fatal(err)
	}
	updated, err := splice(string(old), section)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*readme, []byte(updated), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("rewrote the performance section of %s", *readme)
}
