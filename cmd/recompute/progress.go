package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows what a long command is doing, on a terminal only: one
// line, rewritten in place, with the current step and the seconds it has
// taken so far, refreshed while the step runs (a plan of a large graph
// says it is alive). Where the output is not a terminal (logs, pipes,
// tests) it writes nothing; RECOMPUTE_PROGRESS=1 forces it on, =0 off.
// Every command that can run longer than a few seconds uses this one
// component (plan, rewrite, verify, fit); convert draws its bar with the
// same test for a terminal. A nil *progress does nothing.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	label string
	start time.Time
	stop  chan struct{}
	done  chan struct{}
}

// newProgress returns the progress line for w, or nil if w is not a
// terminal.
func newProgress(w io.Writer) *progress {
	switch os.Getenv("RECOMPUTE_PROGRESS") {
	case "0":
		return nil
	case "1":
	default:
		if !isTerminal(w) {
			return nil
		}
	}
	return &progress{w: w}
}

// line is step for a library's progress callback: nil for no progress
// line, so that the library need not format what nobody shows.
func (p *progress) line() func(string) {
	if p == nil {
		return nil
	}
	return func(msg string) { p.step("%s", msg) }
}

// step shows a new step; the first call starts the refresh.
func (p *progress) step(format string, a ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.label, p.start = fmt.Sprintf(format, a...), time.Now()
	p.drawLocked()
	first := p.stop == nil
	if first {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
	}
	p.mu.Unlock()
	if first {
		go p.refresh()
	}
}

func (p *progress) refresh() {
	defer close(p.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.drawLocked()
			p.mu.Unlock()
		}
	}
}

func (p *progress) drawLocked() {
	fmt.Fprintf(p.w, "\r\033[K%s (%.1f s)", p.label, time.Since(p.start).Seconds())
}

// end clears the line; output that follows starts on a clean line.
func (p *progress) end() {
	if p == nil {
		return
	}
	p.mu.Lock()
	stop := p.stop
	p.stop = nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-p.done
	}
	fmt.Fprint(p.w, "\r\033[K")
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
