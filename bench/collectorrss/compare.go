package main

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
)

// workingSetCheck is what comparing cAdvisor's working sets with ours found.
type workingSetCheck struct {
	containers, pods int // cgroups compared
	equal            int // cAdvisor samples equal to ours
	moved            int // cAdvisor samples between two readings of ours that differ: not compared
	transient        int // differing samples with a neighbour of cAdvisor's own that agrees (see transientSplit)
	unsettled        int // cgroups whose memory moved between every two readings of ours around cAdvisor's samples: none compared
}

// compareWorkingSets checks every working set cAdvisor read of the containers and pods under
// prefix against ours. A sample of cAdvisor's taken between two of our readings that agree
// must equal them; one taken between two readings that differ (the cgroup's memory moved in
// between) or outside our readings is not compared. Every container and pod of the tree must
// have at least one sample equal to ours, except one whose memory moved around every sample
// (up to collectorresult.MaxUnsettledShare of them, counted apart); no compared sample may
// differ, except a transient one (transientSplit), up to collectorresult.MaxTransientShare
// of the samples compared.
func compareWorkingSets(d peerDump, prefix string, containers, pods map[string][]point) (workingSetCheck, error) {
	var c workingSetCheck
	var mismatches, missing, transient, unsettled []string
	cgroups := 0 // of the tree
	total := 0   // samples compared
	for _, cg := range d.Cgroups {
		kind, key, ok := treeCgroup(prefix, cg.Name)
		if !ok {
			continue
		}
		cgroups++
		ours := containers[key]
		if kind == "pod" {
			ours = pods[key]
		}
		if len(ours) == 0 {
			missing = append(missing, fmt.Sprintf("%s %s: no working set of ours", kind, key))
			continue
		}
		sort.Slice(ours, func(i, j int) bool { return ours[i].at.Before(ours[j].at) })
		compared, equal := 0, 0
		for si, s := range cg.Samples {
			i := sort.Search(len(ours), func(i int) bool { return ours[i].at.After(s.Time) })
			if i == 0 || i == len(ours) {
				continue // before our first reading or after our last
			}
			before, after := ours[i-1], ours[i]
			if before.value != after.value {
				c.moved++
				continue
			}
			compared++
			if s.WorkingSet == before.value {
				c.equal++
				equal++
				continue
			}
			if transientSplit(cg.Samples, si, before.value) {
				transient = append(transient, fmt.Sprintf("%s %s at %s: cAdvisor %d (usage %d), ours %d; cAdvisor's samples around it: %s",
					kind, key, s.Time.Format("15:04:05.000"), s.WorkingSet, s.Usage, before.value, around(cg.Samples, si)))
				continue
			}
			mismatches = append(mismatches, fmt.Sprintf("%s %s at %s: cAdvisor %d (usage %d), ours %d (at %s and %s); cAdvisor's samples around it: %s",
				kind, key, s.Time.Format("15:04:05.000"), s.WorkingSet, s.Usage, before.value,
				before.at.Format("15:04:05.000"), after.at.Format("15:04:05.000"), around(cg.Samples, si)))
		}
		if compared == 0 {
			unsettled = append(unsettled, fmt.Sprintf("%s %s: none of cAdvisor's %d samples fell between two equal readings of ours", kind, key, len(cg.Samples)))
			continue
		}
		if equal == 0 {
			missing = append(missing, fmt.Sprintf("%s %s: none of cAdvisor's %d samples equals ours", kind, key, len(cg.Samples)))
			continue
		}
		total += compared
		if kind == "pod" {
			c.pods++
		} else {
			c.containers++
		}
	}
	c.transient, c.unsettled = len(transient), len(unsettled)
	var problems []string
	if float64(c.transient) > collectorresult.MaxTransientShare*float64(total) {
		problems = append(problems, fmt.Sprintf("%d of %d samples compared differ from ours for an instant (more than %.0f %%): %s",
			c.transient, total, 100*collectorresult.MaxTransientShare, firstFew(transient)))
	}
	if c.unsettled > max(1, int(collectorresult.MaxUnsettledShare*float64(cgroups))) {
		problems = append(problems, fmt.Sprintf("%d of %d cgroups not compared, their memory moving around every sample (more than %.0f %%): %s",
			c.unsettled, cgroups, 100*collectorresult.MaxUnsettledShare, firstFew(unsettled)))
	}
	if len(mismatches) > 0 {
		problems = append(problems, fmt.Sprintf("%d working sets differ from cAdvisor's: %s", len(mismatches), firstFew(mismatches)))
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d cgroups not compared: %s", len(missing), firstFew(missing)))
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("working sets: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// treeCgroup tells the containers and pods of the bench tree apart by their cAdvisor names:
// <prefix>/<qos>/pod<uid> is a pod, <prefix>/<qos>/pod<uid>/<id> a container.
func treeCgroup(prefix, name string) (kind, key string, ok bool) {
	rel, ok := strings.CutPrefix(name, strings.TrimSuffix(prefix, "/")+"/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rel, "/")
	switch {
	case len(parts) == 2 && strings.HasPrefix(parts[1], "pod"):
		return "pod", strings.TrimPrefix(parts[1], "pod"), true
	case len(parts) == 3 && strings.HasPrefix(parts[1], "pod"):
		return "container", path.Base(name), true
	}
	return "", "", false
}

// transientSplit tells whether the i-th sample, which differs from ours (value), differs only
// for an instant: a neighbouring sample of cAdvisor's own, of the same usage, equals ours.
// The usage stayed, so the working sets parted on inactive_file alone, which moves without
// any charge: a page cached or faulted in sits in a CPU's LRU batch, on neither list, until
// the batch drains onto the inactive list, and an access then moves it to the active one.
// Our two readings can both fall outside that moment (the page on neither list, then on the
// active one: the same working set) while cAdvisor's falls inside it, one page lower. A
// difference of our own (another formula, another file) would stay, and cAdvisor would not
// read our value beside it.
func transientSplit(samples []peerSample, i int, value uint64) bool {
	for _, n := range neighbours(samples, i) {
		if n.Usage == samples[i].Usage && n.WorkingSet == value {
			return true
		}
	}
	return false
}

// neighbours are the samples just before and after the i-th, those there are.
func neighbours(samples []peerSample, i int) []peerSample {
	var out []peerSample
	if i > 0 {
		out = append(out, samples[i-1])
	}
	if i+1 < len(samples) {
		out = append(out, samples[i+1])
	}
	return out
}

func firstFew(s []string) string {
	if len(s) > 5 {
		return strings.Join(s[:5], "; ") + fmt.Sprintf("; and %d more", len(s)-5)
	}
	return strings.Join(s, "; ")
}

// around describes the samples next to the i-th, so that a difference shows whether the
// cgroup's memory moved for a moment or cAdvisor's reading stayed apart from ours.
func around(samples []peerSample, i int) string {
	var parts []string
	for _, n := range neighbours(samples, i) {
		parts = append(parts, fmt.Sprintf("%d (usage %d) at %s", n.WorkingSet, n.Usage, n.Time.Format("15:04:05.000")))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
