package gradcheck

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/ort"
)

func needORT(t testing.TB) {
	if _, err := ort.LibraryPath(""); err != nil {
		if errors.Is(err, ort.ErrNoLibrary) {
			t.Skipf("ONNX Runtime absent (%v): run scripts/fetch-ort.sh", err)
		}
		t.Fatal(err)
	}
}

func corpus(t testing.TB) []string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus %s absent: %v", dir, err)
	}
	zoo, _ := filepath.Glob(filepath.Join(dir, "zoo", "*.onnx"))
	fw, _ := filepath.Glob(filepath.Join(dir, "train", "*_forward.onnx"))
	return append(zoo, fw...)
}

func report(t *testing.T, r *Result) {
	t.Helper()
	for _, p := range r.Params {
		t.Logf("%-40s worst rel err %.2e (max |g| %.2e)", p.Name, p.WorstRelErr, p.MaxAbsGrad)
	}
	t.Logf("loss %.4g, %d/%d params, %d evals, %.1fs, worst %.2e (%s) %s", r.Loss, r.Checked, r.Total, r.Evals, r.Seconds, r.Worst, r.WorstParam, r.Note)
	if !r.OK() {
		t.Errorf("worst relative error %.3g (%s) above tolerance %g", r.Worst, r.WorstParam, r.Tolerance)
	}
}

func TestCorpus(t *testing.T) {
	needORT(t)
	for _, path := range corpus(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			tm, err := autodiff.Build(m, autodiff.Options{Batch: 1})
			if err != nil {
				t.Fatal(err)
			}
			r, err := Check(tm, Options{MaxParams: 12})
			if err != nil {
				t.Fatal(err)
			}
			report(t, r)
		})
	}
}
