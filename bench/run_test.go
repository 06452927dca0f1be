package bench

import (
	"bytes"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// corpusCG returns the paper's VGG-19 cg graph from the shared corpus, or
// skips the test.
func corpusCG(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", "cg", "cg_vgg19.txt")
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(t, "corpus cg file absent (%v); it lives in ../shared/corpus beside the repository", err)
	}
	return path
}

// TestRunSmall runs the whole pipeline at a small size: one tiny built-in
// network and the paper's cg graph, three budgets, then writes and rereads
// every output.
func TestRunSmall(t *testing.T) {
	cg := corpusCG(t)
	var progress bytes.Buffer
	res, err := Run(Options{
		Models: []string{"vgg19"}, Batch: 1, Size: 32,
		CGFiles:    []string{cg},
		Budgets:    []float64{0.5, 0.8, 1},
		Strategies: []string{"none", "chen", "approx"},
		Progress:   &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Networks) != 2 {
		t.Fatalf("%d networks, want 2", len(res.Networks))
	}
	for _, n := range res.Networks {
		if n.Err != "" {
			t.Fatalf("%s: %s", n.Name, n.Err)
		}
		if n.NonePeakBytes <= 0 || n.FloorBytes <= 0 || n.FloorBytes > n.NonePeakBytes {
			t.Errorf("%s: none peak %d, floor %d", n.Name, n.NonePeakBytes, n.FloorBytes)
		}
		labels := map[string]bool{}
		for _, r := range n.Rows {
			labels[r.Label] = true
			if r.OK() && (r.PeakBytes <= 0 || r.PeakBytes > n.NonePeakBytes) {
				t.Errorf("%s %s: peak %d outside (0, none %d]", n.Name, r.Label, r.PeakBytes, n.NonePeakBytes)
			}
		}
		for _, want := range []string{"none", "chen", "approx TC", "approx MC"} {
			if !labels[want] {
				t.Errorf("%s: no %q row", n.Name, want)
			}
		}
		if len(n.Sweep) != 1 || len(n.Sweep[0].Points) != 3 {
			t.Errorf("%s: sweep %+v, want 1 curve (approx TC) of 3 budgets", n.Name, n.Sweep)
		} else if last := n.Sweep[0].Points[2]; last.PeakBytes != n.NonePeakBytes || last.Overhead != 0 {
			t.Errorf("%s: budget 100%% gives %+v, want the none point", n.Name, last)
		}
		if n.Timeline == nil || len(n.Timeline.None) == 0 || len(n.Timeline.After) == 0 {
			t.Errorf("%s: no timeline", n.Name)
		}
		if best, ok := n.MinMemory(); !ok || n.PeakAt == nil || n.PeakAt.Bytes != best.PeakBytes ||
			n.PeakAt.ActivationBytes+n.PeakAt.GradientBytes+n.PeakAt.WorkspaceBytes != n.PeakAt.Bytes {
			t.Errorf("%s: peak breakdown %+v does not match the minimum-memory plan %+v", n.Name, n.PeakAt, best)
		}
		if !strings.Contains(progress.String(), "bench: "+n.Name+":") {
			t.Errorf("no progress line for %s", n.Name)
		}
	}
	// PAPER.md §9: the normal schedule of cg_vgg19 peaks at 2,664,607,780 bytes.
	if got := res.Networks[1].NonePeakBytes; got != 2664607780 {
		t.Errorf("cg_vgg19 none peak = %d, want 2664607780 (PAPER.md §9)", got)
	}

	dir := t.TempDir()
	if err := Write(dir, res); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if tables := parseTables(t, string(md)); len(tables) < 6 {
		t.Errorf("RESULTS.md has %d tables, want at least 6", len(tables))
	}
	f, err := os.Open(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Networks) != 2 || back.Networks[1].NonePeakBytes != res.Networks[1].NonePeakBytes {
		t.Errorf("results.json does not match the run")
	}
	for _, n := range res.Networks {
		name := filepath.Join(dir, n.Name+".png")
		data, err := os.ReadFile(name)
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := os.Stat(strings.TrimSuffix(name, ".png") + ".svg"); err != nil {
			t.Error(err)
		}
		if !strings.Contains(string(md), "]("+n.Name+".png)") {
			t.Errorf("RESULTS.md does not show %s.png", n.Name)
		}
	}
}

func TestRunBadStrategy(t *testing.T) {
	if _, err := Run(Options{Models: []string{}, Strategies: []string{"magic"}}); err == nil {
		t.Error("unknown strategy accepted")
	}
}
