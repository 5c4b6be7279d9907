package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// benchFile is the text output of go test -bench: for each benchmark (named without its
// GOMAXPROCS suffix), one sample per run, each holding a value per unit.
type benchFile struct {
	cpu     string // the "cpu:" header line's value
	samples map[string][]map[string]float64
}

// procsSuffix is the -GOMAXPROCS suffix go test appends to benchmark names.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseBench reads go test -bench output. Result lines are
//
//	BenchmarkBarePreads/containers=100/live-cgroups-2   1593   768258 ns/op   7888 cpu-ns/container
//
// a name, an iteration count, then value and unit pairs. Other lines are skipped, except
// "cpu: <model>".
func parseBench(r io.Reader) (benchFile, error) {
	bf := benchFile{samples: map[string][]map[string]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "cpu: "); ok {
			bf.cpu = strings.TrimSpace(v)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
			continue // a "BenchmarkX ... --- FAIL" or log line, not a result
		}
		s := map[string]float64{}
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return bf, fmt.Errorf("benchmark line %q: value %q: %w", line, f[i], err)
			}
			s[f[i+1]] = v
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		bf.samples[name] = append(bf.samples[name], s)
	}
	return bf, sc.Err()
}

// stat is the median and range of one unit over a benchmark's runs.
type stat struct {
	median, min, max float64
	n                int
}

// stat summarises unit over the runs of the named benchmark; ok is false when it has none.
func (bf benchFile) stat(name, unit string) (stat, bool) {
	var vs []float64
	for _, s := range bf.samples[name] {
		if v, ok := s[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return stat{}, false
	}
	slices.Sort(vs)
	m := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return stat{median: m, min: vs[0], max: vs[len(vs)-1], n: len(vs)}, true
}

// liveSize matches the live benchmarks' names and captures the container count.
var liveSize = regexp.MustCompile(`/containers=(\d+)/live-cgroups(/|$)`)

// liveSizes are the container counts of the live-cgroups benchmarks, ascending.
func (bf benchFile) liveSizes() []int {
	var sizes []int
	for name := range bf.samples {
		if m := liveSize.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[1])
			if !slices.Contains(sizes, n) {
				sizes = append(sizes, n)
			}
		}
	}
	slices.Sort(sizes)
	return sizes
}
