package recompute

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

// ConvertReport is the outcome of a batch: one result per file, in the
// order of the files' paths. Its JSON form is what --report writes.
type ConvertReport []*RewriteResult

// Failed counts the files that did not convert.
func (results ConvertReport) Failed() int {
	failed := 0
	for _, r := range results {
		if r.Status != "ok" {
			failed++
		}
	}
	return failed
}

// Err is nil if every file converted, else an error that says how many failed.
func (results ConvertReport) Err() error {
	if n := results.Failed(); n > 0 {
		return fmt.Errorf("%d of %d files failed", n, len(results))
	}
	return nil
}

// ConvertOptions say how Convert rewrites each file (RewriteOptions; their
// Progress is not used) and runs the batch.
type ConvertOptions struct {
	RewriteOptions
	Jobs   int    // files converted at once (0: min(NumCPU, 4))
	Resume bool   // skip a file whose output records the same input bytes and Provenance
	Shard  string // K/N: convert only the files whose path hashes to K modulo N ("": all)

	// Listed, if set, is called once before any file converts, with the
	// files to convert (paths under dir, after Shard), how many there were
	// before sharding, and how many temporary files of killed runs were
	// removed under outDir.
	Listed func(files []string, all, staleTemps int)
	// Started and Done, if set, are called as the i-th listed file starts
	// and ends, from Jobs goroutines at once.
	Started func(i int)
	Done    func(i int, r *RewriteResult)
}

// Convert rewrites every .onnx file under dir (recursively) into the same
// place under outDir. A file that fails is recorded in the report, not
// fatal to the batch; the error is for a batch that could not start.
func Convert(dir, outDir string, o ConvertOptions) (ConvertReport, error) {
	shard, err := parseShard(o.Shard)
	if err != nil {
		return nil, optionErrorf("--shard: %v", err)
	}
	if o.Jobs == 0 {
		o.Jobs = min(runtime.NumCPU(), 4)
	}
	if o.Jobs < 1 {
		return nil, optionErrorf("-j must be at least 1")
	}
	f := &o.RewriteOptions
	if _, _, err := f.planOptions(); err != nil {
		return nil, err
	}
	files, err := convertList(dir, outDir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .onnx files under %s", dir)
	}
	all := len(files)
	if shard.n > 0 {
		files = shard.pick(files)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	stale := convertRemoveStale(outDir)
	if o.Listed != nil {
		o.Listed(files, all, stale)
	}
	results := make(ConvertReport, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range o.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if o.Started != nil {
					o.Started(i)
				}
				var r *RewriteResult
				if o.Resume {
					r = convertUpToDate(dir, files[i], outDir, f)
				}
				if r == nil {
					r = convertOne(dir, files[i], outDir, f)
				}
				results[i] = r
				if o.Done != nil {
					o.Done(i, r)
				}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	return results, nil
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

// MergeReports merges the --report files of a batch's shards into the
// report a single run would have written (results sorted by file). A file
// in two reports is an error.
func MergeReports(paths []string) (ConvertReport, error) {
	var all ConvertReport
	from := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var results []*RewriteResult
		if err := json.Unmarshal(data, &results); err != nil {
			return nil, fmt.Errorf("%s: not a convert report: %w", p, err)
		}
		for _, r := range results {
			if q, ok := from[r.File]; ok {
				return nil, fmt.Errorf("%s is in two reports (%s and %s): were the shards of different batches?", r.File, q, p)
			}
			from[r.File] = p
		}
		all = append(all, results...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].File < all[j].File })
	return all, nil
}

// Write writes the report as JSON (what --report writes) with write
// (onnx.WriteFileAtomic, say).
func (results ConvertReport) Write(path string, write func(string, []byte) error) error {
	data, err := json.MarshalIndent(results, "", "  ")
	if err == nil {
		err = write(path, append(data, '\n'))
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
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
func convertOne(dir, rel, outDir string, f *RewriteOptions) (res *RewriteResult) {
	start := time.Now()
	// Files convert concurrently; --cost ort keeps per-model state in the
	// planner flags, so each file gets its own copy.
	fc := *f
	fc.Progress = nil
	f = &fc
	in, out := filepath.Join(dir, rel), filepath.Join(outDir, rel)
	defer func() {
		res.File = rel
		res.Seconds = time.Since(start).Seconds()
	}()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return &RewriteResult{Status: "failed", Error: err.Error()}
	}
	r, err := rewriteFile(in, out, f)
	if err != nil {
		r.Status, r.Error = "failed", strings.Join(strings.Fields(err.Error()), " ")
	}
	return r
}

// writeConvertTable prints the Markdown summary of a batch.
// WriteText writes the report as the Markdown summary table `recompute
// convert` prints.
func (results ConvertReport) WriteText(w io.Writer) {
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
