package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute"
)

// convert over the corpus with --grad, --batch 8 (binds the symbolic
// batches) and --allow-unknown-sizes (cct_eval's Reshape shapes are graph
// inputs, so its sizes cannot be inferred): a corrupt file is reported,
// every other model converts, the summary lists them all, exit status is 1.
func TestConvertCorpus(t *testing.T) {
	corpus := rwCorpus(t, "")
	if testing.Short() {
		t.Skip("converts the whole corpus")
	}
	src := t.TempDir()
	var want []string
	for _, sub := range []string{"train", "zoo"} {
		files, _ := filepath.Glob(filepath.Join(corpus, sub, "*.onnx"))
		if err := os.MkdirAll(filepath.Join(src, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			rel := filepath.Join(sub, filepath.Base(f))
			rwCopy(t, f, filepath.Join(src, rel))
			want = append(want, rel)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "corrupt.onnx"), []byte("this is not a protobuf \xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(src, "out") // inside DIR: must be skipped
	report := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := rwRun(t, "convert", src, "-o", out, "--grad", "-j", "2", "--report", report, "--batch", "8", "--allow-unknown-sizes")
	t.Log(stdout)
	if code != 1 || !strings.Contains(stderr, "1 of ") {
		t.Errorf("exit %d, stderr %q: want 1 and one failed file", code, stderr)
	}
	if !strings.Contains(stdout, "| file | nodes | peak before | peak after | reduction | overhead | seconds | status |") {
		t.Error("no summary table")
	}
	if !strings.Contains(stdout, "FAILED  corrupt.onnx") {
		t.Error("corrupt file not reported as failed")
	}
	for _, rel := range want {
		if _, err := os.Stat(filepath.Join(out, rel)); err != nil {
			t.Errorf("%s not converted: %v", rel, err)
		}
	}
	var results []recompute.RewriteResult
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != len(want)+1 {
		t.Errorf("report has %d results, want %d", len(results), len(want)+1)
	}
	for _, r := range results {
		if (r.Status == "ok") == (r.File == "corrupt.onnx") {
			t.Errorf("%s: status %s %s", r.File, r.Status, r.Error)
		}
		if r.Status == "ok" && r.PeakBytes > r.BeforePeakBytes {
			t.Errorf("%s: peak grew %d -> %d", r.File, r.BeforePeakBytes, r.PeakBytes)
		}
		// Only cct_eval has values of unknown size, and its report says so.
		unsized := slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "of unknown size count 0 bytes") })
		if unsized != (r.File == filepath.Join("train", "cct_eval_model.onnx")) {
			t.Errorf("%s: warnings %q", r.File, r.Warnings)
		}
	}

	// The same batch in three shards, into the same OUTDIR, as three
	// machines would run it: each file is converted by exactly one shard,
	// and the merged reports are the single run's report, timings aside.
	var shardReports []string
	seen := map[string]int{}
	for k := range 3 {
		rep := filepath.Join(t.TempDir(), fmt.Sprintf("shard%d.json", k))
		shardReports = append(shardReports, rep)
		_, stdout, _ := rwRun(t, "convert", src, "-o", out, "--grad", "-j", "2", "--report", rep, "--batch", "8", "--allow-unknown-sizes", "--shard", fmt.Sprintf("%d/3", k))
		if !strings.Contains(stdout, fmt.Sprintf("shard %d/3: ", k)) {
			t.Errorf("shard %d/3 does not say which files it took:\n%s", k, stdout)
		}
		for _, r := range convertReport(t, rep) {
			seen[r.File]++
		}
	}
	for _, r := range results {
		if seen[r.File] != 1 {
			t.Errorf("%s: converted by %d shards, want 1", r.File, seen[r.File])
		}
	}
	if len(seen) != len(results) {
		t.Errorf("the shards converted %d files, the single run %d", len(seen), len(results))
	}
	merged := filepath.Join(t.TempDir(), "merged.json")
	code, mergeOut, _ := rwRun(t, append([]string{"convert", "--merge-reports", "--report", merged}, shardReports...)...)
	if code != 1 || !strings.Contains(mergeOut, "| file | nodes |") {
		t.Errorf("merge: exit %d (want 1: corrupt.onnx failed), output:\n%s", code, mergeOut)
	}
	single, joined := convertReport(t, report), convertReport(t, merged)
	if !reflect.DeepEqual(single, joined) {
		a, _ := json.MarshalIndent(single, "", " ")
		b, _ := json.MarshalIndent(joined, "", " ")
		t.Errorf("merged shard reports differ from the single run's (timings aside):\nsingle %s\nmerged %s", a, b)
	}
	if code, _, stderr := rwRun(t, "convert", "--merge-reports", report, report); code != 1 || !strings.Contains(stderr, "in two reports") {
		t.Errorf("merging a report with itself: exit %d, %q; want a file in two reports", code, stderr)
	}
}

// convertReport reads a convert report with the run-dependent fields
// cleared: seconds, the output path and why a file was skipped (--resume).
func convertReport(t *testing.T, path string) []recompute.RewriteResult {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rs []recompute.RewriteResult
	if err := json.Unmarshal(data, &rs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for i := range rs {
		rs[i].Seconds, rs[i].Skipped, rs[i].Out = 0, "", ""
	}
	return rs
}

func TestConvertForwardOnlyWithoutGrad(t *testing.T) {
	corpus := rwCorpus(t, "train")
	src := t.TempDir()
	rwCopy(t, filepath.Join(corpus, "mlp_forward.onnx"), filepath.Join(src, "mlp_forward.onnx"))
	rwCopy(t, filepath.Join(corpus, "mlp_training_model.onnx"), filepath.Join(src, "mlp_training_model.onnx"))
	out := t.TempDir()
	code, stdout, _ := rwRun(t, "convert", src, "-o", out, "-j", "1", "--batch", "8")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stdout, "FAILED  mlp_forward.onnx") || !strings.Contains(stdout, "--grad") || !strings.Contains(stdout, "ok      mlp_training_model.onnx") {
		t.Errorf("output:\n%s", stdout)
	}
}
