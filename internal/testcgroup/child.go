package testcgroup

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// The environment of a child started by Start.
const (
	envCgroup   = "CGROUPMEM_TESTCGROUP_CGROUP"   // the cgroup to join
	envUnified  = "CGROUPMEM_TESTCGROUP_UNIFIED"  // its unified twin to join too, on a hybrid host
	envWorkload = "CGROUPMEM_TESTCGROUP_WORKLOAD" // a JSON Workload to run
	envExec     = "CGROUPMEM_TESTCGROUP_EXEC"     // a JSON execSpec to exec
)

// Status lines a child writes on fd 3.
const (
	statusJoined = "joined"
	statusReady  = "ready"
	statusError  = "error: "
)

// execSpec is the command a child execs once it is in its cgroup.
type execSpec struct {
	Path string
	Args []string
}

// init turns the test binary into a child when Start re-executed it: it never returns then.
func init() {
	if dir, ok := os.LookupEnv(envCgroup); ok {
		os.Exit(runChild(dir))
	}
}

// runChild joins the cgroup, then execs the command or runs the workload, reports ready and
// holds what the workload allocated until stdin is closed.
func runChild(dir string) int {
	status := os.NewFile(3, "testcgroup-status")
	fail := func(err error) int {
		fmt.Fprintf(status, "%s%v\n", statusError, err)
		return 2
	}
	procs := filepath.Join(dir, "cgroup.procs")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return fail(fmt.Errorf("joining the cgroup: %w", err))
	}
	if u, ok := os.LookupEnv(envUnified); ok {
		if err := os.WriteFile(filepath.Join(u, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return fail(fmt.Errorf("joining the unified cgroup: %w", err))
		}
	}
	fmt.Fprintln(status, statusJoined)
	if spec, ok := os.LookupEnv(envExec); ok {
		return fail(execInCgroup(spec))
	}
	var w Workload
	if err := json.Unmarshal([]byte(os.Getenv(envWorkload)), &w); err != nil {
		return fail(fmt.Errorf("decoding the workload: %w", err))
	}
	held, err := w.run()
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(status, statusReady)
	status.Close()
	_, _ = io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(held)
	return 0
}

// execInCgroup replaces the child with the command; it returns only on failure.
func execInCgroup(spec string) error {
	var s execSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return fmt.Errorf("decoding the command: %w", err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CGROUPMEM_TESTCGROUP_") {
			env = append(env, kv)
		}
	}
	syscall.CloseOnExec(3) // EOF on the status pipe once the exec succeeded
	if err := syscall.Exec(s.Path, s.Args, env); err != nil {
		return fmt.Errorf("exec %s: %w", s.Path, err)
	}
	return nil
}
