package planner

import (
	"github.com/onnx-recompute/recompute/internal/testenv"
	"os"
	"path/filepath"
	"testing"
)

// corpusPath returns a file of /work/shared/corpus (../shared/corpus from
// the repository root), or skips the test.
func corpusPath(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "corpus", rel)
	if _, err := os.Stat(p); err != nil {
		testenv.Missing(t, "corpus file %s absent (%v); the shared corpus lives next to the repository", p, err)
	}
	return p
}

func loadCG(t testing.TB, rel string) *Graph {
	t.Helper()
	f, err := os.Open(corpusPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ParseCG(f)
	if err != nil {
		t.Fatalf("parse %s: %v", rel, err)
	}
	return g
}

// PAPER.md §9: running everything once and freeing after last use peaks at
// 2,664,607,780 bytes on cg_vgg19.txt; the published solver's best
// schedule peaks at 2,218,681,376 bytes.
func TestVGG19Reference(t *testing.T) {
	g := loadCG(t, "cg/cg_vgg19.txt")
	const noneRef, solverRef = 2664607780, 2218681376
	none, err := Make(g, Options{Strategy: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if d := none.PeakBytes - noneRef; d < -noneRef/1000 || d > noneRef/1000 {
		t.Errorf("none peak = %d, want %d ± 0.1%%", none.PeakBytes, int64(noneRef))
	}
	for _, strat := range []string{"approx", "exact"} {
		p, err := Make(g, Options{Strategy: strat, Objective: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s memory: peak %d (%.1f%% below none), overhead %g of %g, %d segments, %.3fs",
			strat, p.PeakBytes, 100*float64(none.PeakBytes-p.PeakBytes)/float64(none.PeakBytes), p.OverheadCost, p.ForwardCost, p.Segments, p.Seconds)
		if p.PeakBytes > solverRef {
			t.Errorf("%s memory objective peak = %d, want <= %d (published solver)", strat, p.PeakBytes, int64(solverRef))
		}
		// The emitted text replays the same.
		r, err := replayText(t, g, p.Schedule)
		if err != nil {
			t.Fatal(err)
		}
		if r.PeakBytes != p.PeakBytes {
			t.Errorf("re-read schedule peaks at %d, plan says %d", r.PeakBytes, p.PeakBytes)
		}
	}
}
