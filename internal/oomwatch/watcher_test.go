package oomwatch

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWatcherReadsKillsFromAStream(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "kmsg")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	// The writer first (O_RDWR does not wait for a reader): a FIFO without one reads EOF.
	out, err := os.OpenFile(fifo, os.O_RDWR, 0)
	require.NoError(t, err)
	defer out.Close()
	w, err := Open(fifo)
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Close()) }()

	fixture, err := os.ReadFile(filepath.Join("testdata", "kmsg-oom.txt"))
	require.NoError(t, err)
	second := Kill{Seq: 99, Constraint: "CONSTRAINT_MEMCG", OOMMemcg: "/p", TaskMemcg: "/p/c", Task: "x", PID: 1, UID: 2}
	rec := Format(second)
	_, err = out.Write(fixture)
	require.NoError(t, err)
	_, err = out.Write(rec[:20]) // a record split across writes
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond)
	_, err = out.Write(rec[20:])
	require.NoError(t, err)
	_, err = out.Write([]byte("6,100,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,pid=1,uid=0\n"))
	require.NoError(t, err)

	var kills []Kill
	var st Stats
	require.Eventually(t, func() bool {
		kills, st = w.Drain(kills)
		return len(kills) >= 2 && st.Malformed != nil
	}, 5*time.Second, 5*time.Millisecond)
	require.Len(t, kills, 2)
	require.Equal(t, uint64(3218), kills[0].Seq)
	require.Equal(t, "tail", kills[0].Task)
	require.Equal(t, second, kills[1])
	require.ErrorIs(t, st.Malformed, ErrMalformed)
	more, _ := w.Drain(nil)
	require.Empty(t, more, "drained")
}

func TestWatcherBoundsPending(t *testing.T) {
	w := &Watcher{}
	rec := Format(Kill{Constraint: "C", TaskMemcg: "/a", Task: "t"})
	for range MaxPending + 5 {
		w.record(rec[:len(rec)-1])
	}
	kills, st := w.Drain(nil)
	require.Len(t, kills, MaxPending)
	require.Equal(t, uint64(5), st.Dropped)
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "no-kmsg"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "no-kmsg")
}

// TestWatcherLiveKmsg opens the real /dev/kmsg where this process may: it starts at the end
// of the log, so a record written now is the next one it reads. Userspace records are not
// taken for the kernel's reports.
func TestWatcherLiveKmsg(t *testing.T) {
	w, err := Open("/dev/kmsg")
	if err != nil {
		t.Skipf("no /dev/kmsg to read here: %v", err)
	}
	defer func() { require.NoError(t, w.Close()) }()
	kw, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot write /dev/kmsg: %v", err)
	}
	defer kw.Close()
	// A forged report, written by userspace: its facility is LOG_USER, so it is ignored. A
	// record is read once the kernel finalized it, on its newline.
	_, st := w.Drain(nil)
	before := st.Records
	_, err = kw.Write([]byte("<6>oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/cgroupmem-oomwatch-test-forged,task_memcg=/cgroupmem-oomwatch-test-forged,task=cgroupmem-test,pid=1,uid=0\n"))
	require.NoError(t, err)
	var kills []Kill
	require.Eventually(t, func() bool {
		kills, st = w.Drain(kills)
		return st.Records > before
	}, 5*time.Second, 5*time.Millisecond, "the watcher reads the record written after it opened")
	for _, k := range kills {
		require.NotEqual(t, "/cgroupmem-oomwatch-test-forged", k.TaskMemcg, "a userspace record taken for the kernel's")
	}
	require.NoError(t, st.Err)
}
