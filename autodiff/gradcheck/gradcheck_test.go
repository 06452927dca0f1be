package gradcheck

import (
	"errors"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"testing"

	"github.com/onnx-recompute/recompute/ort"
)

func needORT(t testing.TB) {
	if _, err := ort.LibraryPath(""); err != nil {
		if errors.Is(err, ort.ErrNoLibrary) {
			testenv.Missing(t, "ONNX Runtime absent (%v): run scripts/fetch-ort.sh", err)
		}
		t.Fatal(err)
	}
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

// The corpus and built-in networks are checked end to end by the grad
// command's tests (cmd/recompute/grad_test.go).
