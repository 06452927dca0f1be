package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/planner"
)

func runConvert(args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("convert", "DIR -o OUTDIR [--shard K/N] [flags]\n       recompute convert --merge-reports REPORT... [--report FILE]\n\nRewrites every .onnx file under DIR (recursively) into the same place under OUTDIR.\nWith --shard, N runs (on N machines) share the files; --merge-reports joins their\n--report files into the summary one run would print.", stderr)
	outDir := fset.StringP("output", "o", "", "write rewritten models under `OUTDIR` (required)")
	var o recompute.ConvertOptions
	fset.IntVarP(&o.Jobs, "jobs", "j", min(runtime.NumCPU(), 4), "convert `N` files at once")
	reportPath := fset.String("report", "", "also write the results as JSON to `FILE`")
	fset.BoolVar(&o.Resume, "resume", false, "skip a file whose output is up to date: written by this tool from the same input bytes with the same planning flags (recorded in the output's metadata_props)")
	fset.StringVar(&o.Shard, "shard", "", "convert only shard `K/N` of the files, K from 0 to N-1 (Kubernetes' JOB_COMPLETION_INDEX): a file's shard is a hash of its path under DIR, so N runs with K = 0…N-1 convert every file exactly once")
	merge := fset.Bool("merge-reports", false, "merge the --report files given as arguments (the shards of one batch) into one summary table, and with --report into one file")
	f := addRewriteFlags(fset)
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if *merge {
		if fset.NArg() == 0 {
			return usagef("--merge-reports: name the report files to merge")
		}
		results, err := recompute.MergeReports(fset.Args())
		if err != nil {
			return err
		}
		return convertFinish(results, *reportPath, stdout)
	}
	if fset.NArg() != 1 {
		return usagef("want one DIR argument, got %d; see 'recompute convert --help'", fset.NArg())
	}
	if *outDir == "" {
		return usagef("-o OUTDIR is required")
	}
	dir := fset.Arg(0)
	o.RewriteOptions = *f.options()
	b := &convertBatch{}
	var prog *convertProgress
	o.Listed = func(files []string, all, stale int) {
		if o.Shard != "" {
			fmt.Fprintf(stdout, "shard %s: %d of the %d files under %s\n", o.Shard, len(files), all, dir)
		}
		if stale > 0 {
			fmt.Fprintf(stdout, "removed %d temporary file(s) of an earlier run that was killed\n", stale)
		}
		b.files, b.results, b.started = files, make(recompute.ConvertReport, len(files)), make([]bool, len(files))
		prog = newConvertProgress(stdout, len(files))
	}
	o.Started = func(i int) { b.start(i); prog.start(b.files[i]) }
	o.Done = func(i int, r *recompute.RewriteResult) { b.finish(i, r); prog.done(r) }
	// On SIGINT or SIGTERM: no save renames into place any more (see
	// signal.go), so the files marked finished here are all there is.
	defer onInterrupt(func() {
		if prog == nil {
			return
		}
		prog.finish()
		results := b.snapshot()
		results.WriteText(stdout)
		if *reportPath != "" {
			if err := results.Write(*reportPath, onnx.WriteFileAfterStop); err != nil {
				fmt.Fprintf(stdout, "report: %v\n", err)
			}
		}
	})()
	results, err := recompute.Convert(dir, *outDir, o)
	if err != nil {
		return err
	}
	prog.finish()
	return convertFinish(results, *reportPath, stdout)
}

// convertFinish ends a batch, or a merge of its shards' reports: the
// summary table, the report if asked for, and an error naming how many
// files failed (exit status 1).
func convertFinish(results recompute.ConvertReport, reportPath string, stdout io.Writer) error {
	results.WriteText(stdout)
	if reportPath != "" {
		if err := results.Write(reportPath, onnx.WriteFileAtomic); err != nil {
			return err
		}
	}
	return results.Err()
}

// convertBatch is the state of a batch that a signal may interrupt.
type convertBatch struct {
	mu      sync.Mutex
	files   []string
	results recompute.ConvertReport
	started []bool
}

func (b *convertBatch) start(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.started[i] = true
}

func (b *convertBatch) finish(i int, r *recompute.RewriteResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results[i] = r
}

// snapshot is every file's result so far: finished, "interrupted" (started,
// not finished) or "not started".
func (b *convertBatch) snapshot() recompute.ConvertReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(recompute.ConvertReport, len(b.files))
	for i, r := range b.results {
		switch {
		case r != nil:
			out[i] = r
		case b.started[i]:
			out[i] = &recompute.RewriteResult{File: b.files[i], Status: "interrupted"}
		default:
			out[i] = &recompute.RewriteResult{File: b.files[i], Status: "not started"}
		}
	}
	return out
}

// convertProgress shows a progress bar on a terminal and one line per file
// otherwise.
type convertProgress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	total    int
	finished int
	failed   int
	current  string
}

func newConvertProgress(w io.Writer, total int) *convertProgress {
	return &convertProgress{w: w, total: total, tty: isTerminal(w)}
}

func (p *convertProgress) start(rel string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current = rel
	p.draw()
}

func (p *convertProgress) done(r *recompute.RewriteResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	if r.Status != "ok" {
		p.failed++
	}
	if p.tty {
		if r.Status != "ok" { // keep failures visible above the bar
			fmt.Fprintf(p.w, "\r\033[K%s: %s\n", r.File, r.Error)
		}
		p.draw()
		return
	}
	if r.Skipped != "" {
		fmt.Fprintf(p.w, "[%d/%d] skipped %s (%s)\n", p.finished, p.total, r.File, r.Skipped)
	} else if r.Status == "ok" {
		b, a := r.ReductionBase, r.ReductionAfter
		if b == 0 {
			b, a = r.BeforePeakBytes, r.PeakBytes
		}
		fmt.Fprintf(p.w, "[%d/%d] ok      %s  peak %s -> %s (%s), %.2f s\n", p.finished, p.total, r.File,
			planner.HumanBytes(b), planner.HumanBytes(a), fmt.Sprintf("%+.1f%%", -100*r.Reduction), r.Seconds)
	} else {
		fmt.Fprintf(p.w, "[%d/%d] FAILED  %s: %s\n", p.finished, p.total, r.File, r.Error)
	}
}

func (p *convertProgress) draw() {
	if !p.tty {
		return
	}
	const width = 30
	filled := width * p.finished / p.total
	name := p.current
	if len(name) > 40 {
		name = "…" + name[len(name)-39:]
	}
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d  %d failed  %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		p.finished, p.total, p.failed, name)
}

func (p *convertProgress) finish() {
	if p.tty {
		p.current = ""
		p.draw()
		fmt.Fprintln(p.w)
	}
}
