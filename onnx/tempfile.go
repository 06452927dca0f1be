package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Saves write a temporary file beside their target and rename it into place
// (writeAtomic). The temporary file's name is recognisable,
//
//	.NAME.recompute-tmp-PID-RANDOM
//
// so that one left by a process that was killed outright (kill -9) can be
// found and removed by a later run (RemoveStaleTemps), and every save in
// flight is registered, so that a signal handler can remove them all and
// stop the renames that have not happened yet (StopSaves).

// tempMarker sits between a temporary file's target name and the PID of
// the process writing it.
const tempMarker = ".recompute-tmp-"

// ErrStopped is the error of a save that StopSaves stopped.
var ErrStopped = errors.New("stopped: the process is exiting on a signal")

var inflight = struct {
	sync.Mutex
	files   map[string]bool
	stopped bool
}{files: map[string]bool{}}

// createTemp creates and registers the temporary file of a save of path.
func createTemp(path string, force bool) (*os.File, error) {
	inflight.Lock()
	defer inflight.Unlock()
	if inflight.stopped && !force {
		return nil, ErrStopped
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+tempMarker+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, err
	}
	inflight.files[f.Name()] = true
	return f, nil
}

// commitTemp makes tmp readable as a created file would be and renames it
// over path, unless StopSaves ran: then tmp is gone
// and the error is ErrStopped. Either way tmp is no longer registered.
func commitTemp(tmp, path string, force bool) error {
	inflight.Lock()
	defer inflight.Unlock()
	removed := !inflight.files[tmp]
	delete(inflight.files, tmp)
	if inflight.stopped && (!force || removed) {
		os.Remove(tmp)
		return ErrStopped
	}
	err := os.Chmod(tmp, 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// dropTemp removes tmp after a failed save.
func dropTemp(tmp string) {
	inflight.Lock()
	defer inflight.Unlock()
	delete(inflight.files, tmp)
	os.Remove(tmp)
}

// StopSaves removes the temporary file of every save in flight and makes
// every save that has not renamed its file into place yet, or starts
// later, fail with ErrStopped. A file already saved stays as it is. It is
// meant for a signal handler: after it returns, no save of this process
// changes a final name. It returns the files it removed.
func StopSaves() []string {
	inflight.Lock()
	defer inflight.Unlock()
	inflight.stopped = true
	var removed []string
	for f := range inflight.files {
		if err := os.Remove(f); err == nil || errors.Is(err, os.ErrNotExist) {
			removed = append(removed, f)
		}
		delete(inflight.files, f)
	}
	return removed
}

// RemoveStaleTemps removes, in dir, the temporary files of saves whose
// process no longer runs (killed before it could clean up). Temporary
// files of running processes, this one included, stay. It returns the
// files it removed.
func RemoveStaleTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		pid, ok := tempPID(e.Name())
		if !ok || e.IsDir() || processRuns(pid) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("remove stale temporary file: %w", err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// tempPID parses the PID out of a temporary file's name.
func tempPID(name string) (int, bool) {
	if !strings.HasPrefix(name, ".") {
		return 0, false
	}
	i := strings.LastIndex(name, tempMarker)
	if i < 0 {
		return 0, false
	}
	rest := name[i+len(tempMarker):]
	j := strings.IndexByte(rest, '-')
	if j <= 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(rest[:j])
	return pid, err == nil && pid > 0
}

// WriteFileAfterStop writes data to path atomically even after StopSaves:
// for the last words of a process stopped by a signal (a batch's report).
// Its temporary file is registered like any other, so a second StopSaves
// removes it.
func WriteFileAfterStop(path string, data []byte) error {
	return writeAtomicOpt(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	}, true)
}
