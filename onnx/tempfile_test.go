package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/onnx-recompute/recompute/internal/testenv"
)

func TestTempPID(t *testing.T) {
	for _, tc := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{".m.onnx.recompute-tmp-123-456789", 123, true},
		{".a.recompute-tmp-b.onnx.recompute-tmp-77-1", 77, true},
		{"m.onnx.recompute-tmp-123-456789", 0, false}, // not hidden: not ours
		{".m.onnx.tmp123", 0, false},
		{".m.onnx.recompute-tmp--1", 0, false},
		{".m.onnx.recompute-tmp-x-1", 0, false},
		{".m.onnx.recompute-tmp-0-1", 0, false},
	} {
		pid, ok := tempPID(tc.name)
		if pid != tc.pid || ok != tc.ok {
			t.Errorf("tempPID(%q) = %d, %v; want %d, %v", tc.name, pid, ok, tc.pid, tc.ok)
		}
	}
}

// A temporary file whose process is gone is removed; this process's and
// other files stay.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	dead := deadPID(t)
	stale := ".m.onnx" + tempMarker + strconv.Itoa(dead) + "-1"
	mine := ".n.onnx" + tempMarker + strconv.Itoa(os.Getpid()) + "-2"
	for _, n := range []string{stale, mine, "m.onnx", ".other.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStaleTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || filepath.Base(removed[0]) != stale {
		t.Errorf("removed %v, want only %s", removed, stale)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 3 {
		t.Errorf("%d files left, want 3", len(left))
	}
}

// deadPID is the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		testenv.Missing(t, "no /bin/true to get an unused PID: %v", err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

// StopSaves removes the temporary files of saves in flight; a save that
// reaches its rename afterwards fails with ErrStopped and leaves nothing,
// and so does a save that starts later. Finished files stay.
func TestStopSaves(t *testing.T) {
	defer func() { inflight.Lock(); inflight.stopped = false; inflight.Unlock() }()
	dir := t.TempDir()
	done := filepath.Join(dir, "done.bin")
	if err := WriteFileAtomic(done, []byte("finished")); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "inflight.bin")
	var removed []string
	err := writeAtomic(target, func(f *os.File) error {
		if _, err := f.WriteString("partial"); err != nil {
			return err
		}
		removed = StopSaves() // the signal arrives during the write
		return nil
	})
	if !errors.Is(err, ErrStopped) {
		t.Errorf("save in flight: %v, want ErrStopped", err)
	}
	if len(removed) != 1 {
		t.Errorf("StopSaves removed %v, want the one temporary file", removed)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "later.bin"), nil); !errors.Is(err, ErrStopped) {
		t.Errorf("save after StopSaves: %v, want ErrStopped", err)
	}
	// The process's last words (a batch's report) still get written.
	if err := WriteFileAfterStop(filepath.Join(dir, "report.json"), []byte("{}")); err != nil {
		t.Errorf("WriteFileAfterStop: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || entries[0].Name() != "done.bin" || entries[1].Name() != "report.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want done.bin and report.json", names)
	}
}
