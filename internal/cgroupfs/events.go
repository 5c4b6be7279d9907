package cgroupfs

import (
	"fmt"
)

// Events are the counters of a v2 memory.events (each absent when the kernel does not print
// it); on v1 only Max is known, from memory.failcnt. They are hierarchical: a cgroup's
// memory.events counts the events of its descendants too, removed ones included.
//
//	low 0            times usage fell under memory.low pressure (reclaimed despite protection)
//	high 0           times usage went over memory.high and was throttled
//	max 0            times usage hit memory.max and reclaim ran
//	oom 0            times the cgroup went OOM at memory.max
//	oom_kill 0       processes killed by the OOM killer
//	oom_group_kill 0 times the whole group was killed (memory.oom.group, 5.19+)
type Events struct {
	Low, High, Max, OOM, OOMKill, OOMGroupKill Value
}

// parseEvents parses memory.events. Keys are matched by name (unknown ones are skipped);
// a key given twice is malformed.
func parseEvents(b []byte) (Events, error) {
	var e Events
	var dup []byte
	err := parseKV(b, func(k []byte, v uint64) {
		var dst *Value
		switch string(k) {
		case "low":
			dst = &e.Low
		case "high":
			dst = &e.High
		case "max":
			dst = &e.Max
		case "oom":
			dst = &e.OOM
		case "oom_kill":
			dst = &e.OOMKill
		case "oom_group_kill":
			dst = &e.OOMGroupKill
		default:
			return
		}
		if dst.OK && dup == nil {
			dup = append([]byte(nil), k...)
		}
		*dst = some(v)
	})
	if err != nil {
		return Events{}, err
	}
	if dup != nil {
		return Events{}, fmt.Errorf("%w: key %q given twice", ErrMalformed, dup)
	}
	return e, nil
}

// OOMControl is what a v1 memory.oom_control says.
//
//	oom_kill_disable 0   1: the OOM killer is off for this cgroup (tasks wait instead)
//	under_oom 0          1: the cgroup is out of memory right now
//	oom_kill 0           processes of this cgroup killed by the OOM killer (4.13+)
type OOMControl struct {
	KillDisable, UnderOOM, OOMKill Value
}

// parseOOMControl parses memory.oom_control. oom_kill_disable and under_oom are flags: any
// value but 0 or 1 is malformed, as is a key given twice.
func parseOOMControl(b []byte) (OOMControl, error) {
	var o OOMControl
	var bad error
	err := parseKV(b, func(k []byte, v uint64) {
		var dst *Value
		flag := true
		switch string(k) {
		case "oom_kill_disable":
			dst = &o.KillDisable
		case "under_oom":
			dst = &o.UnderOOM
		case "oom_kill":
			dst, flag = &o.OOMKill, false
		default:
			return
		}
		switch {
		case bad != nil:
		case dst.OK:
			bad = fmt.Errorf("%w: key %q given twice", ErrMalformed, k)
		case flag && v > 1:
			bad = fmt.Errorf("%w: %s %d: want 0 or 1", ErrMalformed, k, v)
		}
		*dst = some(v)
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return OOMControl{}, err
	}
	return o, nil
}
