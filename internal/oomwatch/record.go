// Package oomwatch reads the kernel's OOM kill reports from /dev/kmsg, so that a kill is
// counted on the container whose cgroup the report names even when the runtime removed that
// cgroup before anyone could read its counters (cadvisor#3015). kubelet's OOM watcher reads
// the same line.
package oomwatch // import "github.com/cgroupmem/cgroupmem/internal/oomwatch"

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ErrMalformed marks a kernel OOM report line that does not have the kernel's format.
var ErrMalformed = errors.New("oomwatch: malformed oom-kill record")

// Kill is one OOM kill as the kernel reports it (mm/oom_kill.c, dump_oom_victim, 4.19+):
//
//	6,2345,123456789,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/kubepods/pod<uid>,task_memcg=/kubepods/pod<uid>/<id>,task=tail,pid=4242,uid=0
type Kill struct {
	Seq        uint64 // the record's sequence number
	Constraint string // CONSTRAINT_MEMCG (a cgroup limit), CONSTRAINT_NONE (the node), ...
	OOMMemcg   string // the cgroup whose limit was hit; "" for a node-wide OOM
	TaskMemcg  string // the victim's memory cgroup, relative to the hierarchy's root
	Task       string // the victim's comm, as the kernel escaped it
	PID, UID   uint64
}

const killPrefix = "oom-kill:"

// ParseRecord parses one /dev/kmsg record ("prio,seq,usec,flags[,...];message", then any
// dictionary lines that start with a space). ok is false, with no error, for every record
// that is not a kernel OOM kill report, including lines userspace wrote to /dev/kmsg: the
// kernel gives those a facility other than 0, so they cannot pose as its reports. A record
// that is an OOM report but lacks a field is an error quoting the token at fault.
//
// The victim's comm is chosen by whoever runs in the container, so it may hold ",pid=" or
// ",task_memcg=": the numeric fields are taken from the end and the paths from the front,
// where the kernel (not the container) chose the text.
func ParseRecord(rec []byte) (k Kill, ok bool, err error) {
	if i := bytes.IndexByte(rec, '\n'); i >= 0 {
		rec = rec[:i]
	}
	header, msg, found := bytes.Cut(rec, []byte(";"))
	if !found {
		return Kill{}, false, nil
	}
	fields := bytes.Split(header, []byte(","))
	if len(fields) < 3 {
		return Kill{}, false, nil
	}
	prio, perr := strconv.ParseUint(string(fields[0]), 10, 32)
	if perr != nil || prio>>3 != 0 { // facility 0: the kernel
		return Kill{}, false, nil
	}
	rest, found := bytes.CutPrefix(msg, []byte(killPrefix))
	if !found {
		return Kill{}, false, nil
	}
	if k.Seq, err = strconv.ParseUint(string(fields[1]), 10, 64); err != nil {
		return Kill{}, true, fmt.Errorf("%w: sequence %q", ErrMalformed, fields[1])
	}
	if k.UID, rest, err = cutNumberFromEnd(rest, ",uid="); err != nil {
		return Kill{}, true, err
	}
	if k.PID, rest, err = cutNumberFromEnd(rest, ",pid="); err != nil {
		return Kill{}, true, err
	}
	constraint, rest, found := bytes.Cut(rest, []byte(","))
	c, ok2 := bytes.CutPrefix(constraint, []byte("constraint="))
	if !found || !ok2 || len(c) == 0 {
		return Kill{}, true, fmt.Errorf("%w: token %q: want constraint=", ErrMalformed, constraint)
	}
	k.Constraint = string(c)
	i := bytes.Index(rest, []byte(",task_memcg="))
	if i < 0 {
		return Kill{}, true, fmt.Errorf("%w: no task_memcg= in %q", ErrMalformed, rest)
	}
	before, after := rest[:i], rest[i+len(",task_memcg="):]
	if o := bytes.LastIndex(before, []byte(",oom_memcg=")); o >= 0 {
		k.OOMMemcg = string(before[o+len(",oom_memcg="):])
	}
	memcg, task, found := bytes.Cut(after, []byte(",task="))
	if !found {
		return Kill{}, true, fmt.Errorf("%w: no task= after task_memcg in %q", ErrMalformed, after)
	}
	if len(memcg) == 0 || memcg[0] != '/' {
		return Kill{}, true, fmt.Errorf("%w: token %q: want task_memcg=/<path>", ErrMalformed, "task_memcg="+string(memcg))
	}
	k.TaskMemcg, k.Task = string(memcg), string(task)
	return k, true, nil
}

// cutNumberFromEnd takes ",key=<digits>" off the end of b.
func cutNumberFromEnd(b []byte, key string) (uint64, []byte, error) {
	i := bytes.LastIndex(b, []byte(key))
	if i < 0 {
		return 0, nil, fmt.Errorf("%w: no %s in %q", ErrMalformed, key[1:], b)
	}
	tok := b[i+len(key):]
	v, err := strconv.ParseUint(string(tok), 10, 64)
	if err != nil || len(tok) == 0 || tok[0] == '+' {
		return 0, nil, fmt.Errorf("%w: token %q: want %sdigits", ErrMalformed, b[i+1:], key[1:])
	}
	return v, b[:i], nil
}

// Format prints k as the kernel prints its report, as a /dev/kmsg record of priority 6.
func Format(k Kill) []byte {
	out := fmt.Appendf(nil, "6,%d,0,-;%sconstraint=%s,nodemask=(null),cpuset=/,mems_allowed=0", k.Seq, killPrefix, k.Constraint)
	if k.OOMMemcg != "" {
		out = fmt.Appendf(out, ",oom_memcg=%s", k.OOMMemcg)
	}
	return fmt.Appendf(out, ",task_memcg=%s,task=%s,pid=%d,uid=%d\n", k.TaskMemcg, k.Task, k.PID, k.UID)
}
