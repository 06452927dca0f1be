package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/planner"
)

func runConvert(args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("convert", "DIR -o OUTDIR [--shard K/N] [flags]\n       recompute convert --merge-reports REPORT... [--report FILE]\n\nRewrites every .onnx file under DIR (recursively) into the same place under OUTDIR.\nWith --shard, N runs (on N machines) share the files; --merge-reports joins their\n--report files into the summary one run would print.", stderr)
	outDir := fset.StringP("output", "o", "", "write rewritten models under `OUTDIR` (required)")
	jobs := fset.IntP("jobs", "j", min(runtime.NumCPU(), 4), "convert `N` files at once")
	reportPath := fset.String("report", "", "also write the results as JSON to `FILE`")
	resume := fset.Bool("resume", false, "skip a file whose output is up to date: written by this tool from the same input bytes with the same planning flags (recorded in the output's metadata_props)")
	shardFlag := fset.String("shard", "", "convert only shard `K/N` of the files, K from 0 to N-1 (Kubernetes' JOB_COMPLETION_INDEX): a file's shard is a hash of its path under DIR, so N runs with K = 0…N-1 convert every file exactly once")
	merge := fset.Bool("merge-reports", false, "merge the --report files given as arguments (the shards of one batch) into one summary table, and with --report into one file")
	f := addRewriteFlags(fset)
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if *merge {
		if fset.NArg() == 0 {
			return usagef("--merge-reports: name the report files to merge")
		}
		return convertMerge(fset.Args(), *reportPath, stdout)
	}
	shard, err := parseShard(*shardFlag)
	if err != nil {
		return usagef("--shard: %v", err)
	}
	if fset.NArg() != 1 {
		return usagef("want one DIR argument, got %d; see 'recompute convert --help'", fset.NArg())
	}
	if *outDir == "" {
		return usagef("-o OUTDIR is required")
	}
	if *jobs < 1 {
		return usagef("-j must be at least 1")
	}
	if _, _, err := f.planOptions(); err != nil {
		return err
	}
	dir := fset.Arg(0)
	files, err := convertList(dir, *outDir)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no .onnx files under %s", dir)
	}
	if shard.n > 0 {
		all := len(files)
		files = shard.pick(files)
		fmt.Fprintf(stdout, "shard %d/%d: %d of the %d files under %s\n", shard.k, shard.n, len(files), all, dir)
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}

	stale := convertRemoveStale(*outDir)
	if stale > 0 {
		fmt.Fprintf(stdout, "removed %d temporary file(s) of an earlier run that was killed\n", stale)
	}

	b := &convertBatch{files: files, results: make([]*rewriteResult, len(files)), started: make([]bool, len(files))}
	prog := newConvertProgress(stdout, len(files))
	// On SIGINT or SIGTERM: no save renames into place any more (see
	// signal.go), so the files marked finished here are all there is.
	defer onInterrupt(func() {
		prog.finish()
		results := b.snapshot()
		writeConvertTable(stdout, results)
		if *reportPath != "" {
			if err := writeConvertReport(*reportPath, results, onnx.WriteFileAfterStop); err != nil {
				fmt.Fprintf(stdout, "report: %v\n", err)
			}
		}
	})()
	var wg sync.WaitGroup
	next := make(chan int)
	for range *jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b.start(i)
				prog.start(files[i])
				var r *rewriteResult
				if *resume {
					r = convertUpToDate(dir, files[i], *outDir, f)
				}
				if r == nil {
					r = convertOne(dir, files[i], *outDir, f)
				}
				b.finish(i, r)
				prog.done(r)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	prog.finish()
	return convertFinish(b.results, *reportPath, stdout)
}

// convertFinish ends a batch, or a merge of its shards' reports: the
// summary table, the report if asked for, and an error naming how many
// files failed (exit status 1).
func convertFinish(results []*rewriteResult, reportPath string, stdout io.Writer) error {
	writeConvertTable(stdout, results)
	if reportPath != "" {
		if err := writeConvertReport(reportPath, results, onnx.WriteFileAtomic); err != nil {
			return err
		}
	}
	failed := 0
	for _, r := range results {
		if r.Status != "ok" {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(results))
	}
	return nil
}

// convertShard is --shard K/N (n = 0: every file).
type convertShard struct{ k, n int }

func parseShard(s string) (convertShard, error) {
	if s == "" {
		return convertShard{}, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return convertShard{}, fmt.Errorf("%q: want K/N with N at least 1 and K from 0 to N-1, e.g. 0/4", s)
	}
	return convertShard{k, n}, nil
}

// pick returns the files of this shard: those whose path (with forward
// slashes, so that every platform agrees) hashes to k modulo n. The hash
// depends on the path alone, so a file stays in its shard when others are
// added or removed.
func (sh convertShard) pick(files []string) []string {
	var out []string
	for _, f := range files {
		h := fnv.New32a()
		h.Write([]byte(filepath.ToSlash(f)))
		if int(h.Sum32()%uint32(sh.n)) == sh.k {
			out = append(out, f)
		}
	}
	return out
}

// convertMerge merges the reports of a batch's shards: one summary table,
// and with reportPath one report, as a single run would have written them
// (results sorted by file). A file in two reports is an error; a failed
// file makes the exit status 1, as in a batch.
func convertMerge(paths []string, reportPath string, stdout io.Writer) error {
	var all []*rewriteResult
	from := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var results []*rewriteResult
		if err := json.Unmarshal(data, &results); err != nil {
			return fmt.Errorf("%s: not a convert report: %w", p, err)
		}
		for _, r := range results {
			if q, ok := from[r.File]; ok {
				return fmt.Errorf("%s is in two reports (%s and %s): were the shards of different batches?", r.File, q, p)
			}
			from[r.File] = p
		}
		all = append(all, results...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].File < all[j].File })
	return convertFinish(all, reportPath, stdout)
}

// writeConvertReport writes a batch's results as JSON with write.
func writeConvertReport(path string, results []*rewriteResult, write func(string, []byte) error) error {
	data, err := json.MarshalIndent(results, "", "  ")
	if err == nil {
		err = write(path, append(data, '\n'))
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// convertBatch is the state of a batch that a signal may interrupt.
type convertBatch struct {
	mu      sync.Mutex
	files   []string
	results []*rewriteResult
	started []bool
}

func (b *convertBatch) start(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.started[i] = true
}

func (b *convertBatch) finish(i int, r *rewriteResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results[i] = r
}

// snapshot is every file's result so far: finished, "interrupted" (started,
// not finished) or "not started".
func (b *convertBatch) snapshot() []*rewriteResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*rewriteResult, len(b.files))
	for i, r := range b.results {
		switch {
		case r != nil:
			out[i] = r
		case b.started[i]:
			out[i] = &rewriteResult{File: b.files[i], Status: "interrupted"}
		default:
			out[i] = &rewriteResult{File: b.files[i], Status: "not started"}
		}
	}
	return out
}

// convertRemoveStale removes the temporary files that killed runs left
// under outDir and returns how many there were.
func convertRemoveStale(outDir string) int {
	n := 0
	filepath.WalkDir(outDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			removed, _ := onnx.RemoveStaleTemps(path)
			n += len(removed)
		}
		return nil
	})
	return n
}

// convertList lists the .onnx files under dir (relative, sorted), leaving out
// outDir if it lies inside dir.
func convertList(dir, outDir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	outAbs, _ := filepath.Abs(outDir)
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if abs, _ := filepath.Abs(path); abs == outAbs && path != dir {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.EqualFold(filepath.Ext(path), ".onnx") && d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(files)
	return files, nil
}

// convertOne rewrites dir/rel into outDir/rel; failures are recorded, never
// fatal to the batch.
func convertOne(dir, rel, outDir string, f *rewriteFlags) (res *rewriteResult) {
	start := time.Now()
	// Files convert concurrently; --cost ort keeps per-model state in the
	// planner flags, so each file gets its own copy.
	fc, pf := *f, *f.pf
	fc.pf = &pf
	f = &fc
	in, out := filepath.Join(dir, rel), filepath.Join(outDir, rel)
	defer func() {
		res.File = rel
		res.Seconds = time.Since(start).Seconds()
	}()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return &rewriteResult{Status: "failed", Error: err.Error()}
	}
	r, err := rewriteFile(in, out, f)
	if err != nil {
		r.Status, r.Error = "failed", oneLine(err)
	}
	return r
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

func (p *convertProgress) done(r *rewriteResult) {
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
			planner.HumanBytes(b), planner.HumanBytes(a), rwFmtChange(r.Reduction), r.Seconds)
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

// writeConvertTable prints the Markdown summary of a batch.
func writeConvertTable(w io.Writer, results []*rewriteResult) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| file | nodes | peak before | peak after | reduction | overhead | seconds | status |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	ok, skipped, stopped := 0, 0, 0
	for _, r := range results {
		switch r.Status {
		case "ok":
		case "interrupted", "not started":
			stopped++
			fmt.Fprintf(w, "| %s | | | | | | | %s |\n", r.File, r.Status)
			continue
		default:
			fmt.Fprintf(w, "| %s | | | | | | %.2f | failed: %s |\n", r.File, r.Seconds, strings.ReplaceAll(r.Error, "|", "\\|"))
			continue
		}
		ok++
		status := "ok"
		if r.Skipped != "" {
			skipped++
			status = "skipped (" + r.Skipped + ")"
		}
		b, a := r.ReductionBase, r.ReductionAfter
		if b == 0 {
			b, a = r.BeforePeakBytes, r.PeakBytes
		}
		fmt.Fprintf(w, "| %s | %d → %d | %s | %s | %s | +%.1f%% | %.2f | %s |\n", r.File, r.NodesBefore, r.Nodes,
			planner.HumanBytes(b), planner.HumanBytes(a), rwFmtChange(r.Reduction), 100*r.Overhead, r.Seconds, status)
	}
	fmt.Fprintf(w, "\n%d of %d converted; peaks are simulated transient bytes (activations and gradients): before, the lower of the file order's and ONNX Runtime's order's; after, in the order the plan was made for.\n", ok, len(results))
	if skipped > 0 {
		fmt.Fprintf(w, "%d of them up to date from an earlier run (--resume), not converted again.\n", skipped)
	}
	if stopped > 0 {
		fmt.Fprintf(w, "Stopped by a signal: %d file(s) interrupted or not started; run again with --resume to convert only those.\n", stopped)
	}
}
