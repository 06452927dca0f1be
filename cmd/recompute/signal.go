package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/ort"
)

// Signals. SIGINT (Ctrl-C) and SIGTERM (a job scheduler) stop every
// command cleanly: the temporary files of saves in flight are removed and
// no later save renames a file into place (onnx.StopSaves), so a final
// name holds either a finished model or nothing; ONNX Runtime's measuring
// child processes are killed and their scratch files removed (ort.Stop);
// the commands' interrupt hooks run (convert prints what it finished and
// writes its report, verify removes its scratch directory); the exit
// status is 128 + the signal's
// number (130, 143). A second signal exits at once, still removing the
// temporary files.

var interruptHooks = struct {
	sync.Mutex
	next  int
	hooks map[int]func()
}{hooks: map[int]func(){}}

// onInterrupt registers f to run when a signal stops the process, before
// it exits; hooks run one at a time, newest first. The returned function
// unregisters f.
func onInterrupt(f func()) (unregister func()) {
	interruptHooks.Lock()
	defer interruptHooks.Unlock()
	id := interruptHooks.next
	interruptHooks.next++
	interruptHooks.hooks[id] = f
	return func() {
		interruptHooks.Lock()
		defer interruptHooks.Unlock()
		delete(interruptHooks.hooks, id)
	}
}

// handleSignals stops the process cleanly on SIGINT or SIGTERM, as
// described above, calling exit with the status.
func handleSignals(stderr io.Writer, exit func(int)) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		code := 128 + int(sig.(syscall.Signal))
		go func() {
			<-ch
			onnx.StopSaves()
			ort.Stop()
			fmt.Fprintf(stderr, "recompute: second signal: exiting at once\n")
			exit(code)
		}()
		removed := onnx.StopSaves()
		ort.Stop() // ONNX Runtime's measuring children and their scratch files
		for _, h := range pendingHooks() {
			h()
		}
		fmt.Fprintf(stderr, "recompute: stopped by %s", signalName(sig))
		if len(removed) > 0 {
			fmt.Fprintf(stderr, "; removed %d unfinished output file(s)", len(removed))
		}
		fmt.Fprintln(stderr, "; finished outputs are complete")
		exit(code)
	}()
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// pendingHooks are the registered interrupt hooks, newest first.
func pendingHooks() []func() {
	interruptHooks.Lock()
	defer interruptHooks.Unlock()
	ids := slices.Sorted(maps.Keys(interruptHooks.hooks))
	slices.Reverse(ids)
	hooks := make([]func(), len(ids))
	for i, id := range ids {
		hooks[i] = interruptHooks.hooks[id]
	}
	return hooks
}
