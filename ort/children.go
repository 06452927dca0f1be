package ort

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// Measurements run in child processes (this package's, and the training
// runtime's Node.js runners in package trainort) and write scratch files.
// A process stopped by a signal exits without running its defers, so the
// command layer calls Stop from its signal handler: the children are
// killed (a runner in a process group of its own would otherwise run on
// as an orphan) and the scratch files removed.

var children = struct {
	sync.Mutex
	procs map[*exec.Cmd]bool
	paths map[string]bool
}{procs: map[*exec.Cmd]bool{}, paths: map[string]bool{}}

// RunChild runs cmd (Start then Wait) so that Stop can kill it.
func RunChild(cmd *exec.Cmd) error {
	children.Lock()
	err := cmd.Start()
	if err == nil {
		children.procs[cmd] = true
	}
	children.Unlock()
	if err != nil {
		return err
	}
	err = cmd.Wait()
	children.Lock()
	delete(children.procs, cmd)
	children.Unlock()
	return err
}

// TrackScratch registers a scratch file or directory for Stop to remove;
// the returned function unregisters it (call it after removing it).
func TrackScratch(path string) (untrack func()) {
	children.Lock()
	children.paths[path] = true
	children.Unlock()
	return func() {
		children.Lock()
		delete(children.paths, path)
		children.Unlock()
	}
}

// Stop kills every running child (its process group, if it has one of its
// own) and removes every registered scratch path. For a signal handler.
func Stop() {
	children.Lock()
	defer children.Unlock()
	for cmd := range children.procs {
		if p := cmd.Process; p != nil {
			if a := cmd.SysProcAttr; a != nil && a.Setpgid {
				syscall.Kill(-p.Pid, syscall.SIGKILL)
			}
			p.Kill()
		}
	}
	for path := range children.paths {
		os.RemoveAll(path)
	}
}
