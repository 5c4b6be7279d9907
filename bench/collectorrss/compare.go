package main

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// workingSetCheck is what comparing cAdvisor's working sets with ours found.
type workingSetCheck struct {
	containers, pods int // cgroups compared
	equal            int // cAdvisor samples equal to ours
	moved            int // cAdvisor samples between two readings of ours that differ: not compared
}

// compareWorkingSets checks every working set cAdvisor read of the containers and pods under
// prefix against ours. A sample of cAdvisor's taken between two of our readings that agree
// must equal them; one taken between two readings that differ (the cgroup's memory moved in
// between) or outside our readings is not compared. Every container and pod of the tree must
// have at least one sample compared, and no compared sample may differ.
func compareWorkingSets(d peerDump, prefix string, containers, pods map[string][]point) (workingSetCheck, error) {
	var c workingSetCheck
	var mismatches, missing []string
	for _, cg := range d.Cgroups {
		kind, key, ok := treeCgroup(prefix, cg.Name)
		if !ok {
			continue
		}
		ours := containers[key]
		if kind == "pod" {
			ours = pods[key]
		}
		if len(ours) == 0 {
			missing = append(missing, fmt.Sprintf("%s %s: no working set of ours", kind, key))
			continue
		}
		sort.Slice(ours, func(i, j int) bool { return ours[i].at.Before(ours[j].at) })
		compared := 0
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
				continue
			}
			mismatches = append(mismatches, fmt.Sprintf("%s %s at %s: cAdvisor %d (usage %d), ours %d (at %s and %s); cAdvisor's samples around it: %s",
				kind, key, s.Time.Format("15:04:05.000"), s.WorkingSet, s.Usage, before.value,
				before.at.Format("15:04:05.000"), after.at.Format("15:04:05.000"), around(cg.Samples, si)))
		}
		if compared == 0 {
			missing = append(missing, fmt.Sprintf("%s %s: none of cAdvisor's %d samples fell between two equal readings of ours", kind, key, len(cg.Samples)))
			continue
		}
		if kind == "pod" {
			c.pods++
		} else {
			c.containers++
		}
	}
	var problems []string
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
	for _, j := range []int{i - 1, i + 1} {
		if j < 0 || j >= len(samples) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d (usage %d) at %s", samples[j].WorkingSet, samples[j].Usage, samples[j].Time.Format("15:04:05.000")))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
