package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
	var results []rewriteResult
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
}

func TestConvertListSkipsOutDir(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.onnx", "sub/b.ONNX", "out/c.onnx", "notes.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	files, err := convertList(dir, filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(files, ","); got != "a.onnx,sub/b.ONNX" {
		t.Errorf("files %s", got)
	}
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
