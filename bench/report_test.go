package bench

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// synthetic builds results shaped like a real run, for the writers alone.
func synthetic() *Results {
	none := int64(8 << 30)
	n := &Network{
		Name: "resnet50", Source: "built-in", Batch: 32, Size: 224, CostUnit: "FLOPs",
		Ops: 500, ForwardOps: 200, Values: 700, ForwardCost: 4e12,
		FloorBytes: 1 << 30, NonePeakBytes: none, Paper: paperFor("resnet50"),
		Rows: []Row{
			{Label: "none", Strategy: "none", PeakBytes: none},
			{Label: "chen", Strategy: "chen", PeakBytes: 4 << 30, Reduction: 50, Overhead: 33},
			{Label: "approx TC", Strategy: "approx", Objective: "time", BudgetBytes: none / 2, PeakBytes: 4 << 30, Reduction: 50, Overhead: 12},
			{Label: "approx MC", Strategy: "approx", Objective: "memory", PeakBytes: 3 << 30, Reduction: 62.5, Overhead: 40},
			{Label: "exact TC", Strategy: "exact", Objective: "time", Skipped: "n/a (123456 lower sets)"},
			{Label: "exact MC", Strategy: "exact", Objective: "memory", Skipped: "n/a (123456 lower sets)"},
		},
		Sweep: []Curve{
			{Label: "approx TC", Points: []Point{{BudgetFrac: 0.3, Infeasible: true}, {BudgetFrac: 0.5, PeakBytes: 4 << 30, Overhead: 12}, {BudgetFrac: 1, PeakBytes: none}}},
			{Label: "approx MC", Points: []Point{{BudgetFrac: 0.3, Infeasible: true}, {BudgetFrac: 0.5, PeakBytes: 3 << 30, Overhead: 40}, {BudgetFrac: 1, PeakBytes: 3 << 30, Overhead: 40}}},
		},
	}
	live := make([]int64, 3000)
	for i := range live {
		live[i] = int64(i%1500) << 22
	}
	n.Timeline = &Timeline{AfterLabel: "approx MC", NoneSteps: len(live), AfterSteps: len(live), None: Downsample(live, 500), After: Downsample(live, 500)}
	Judge(n)
	short := &Network{Name: "vgg19", Source: "built-in", Batch: 32, Size: 224, CostUnit: "FLOPs", FloorBytes: 6 << 30, NonePeakBytes: none, Paper: paperFor("vgg19"),
		Rows: []Row{{Label: "none", Strategy: "none", PeakBytes: none}, {Label: "approx MC", Strategy: "approx", Objective: "memory", PeakBytes: 7 << 30, Reduction: 12.5}}}
	Judge(short)
	broken := &Network{Name: "gpt2", Source: "built-in", Batch: 8, Seq: 1024, Err: "models: gpt2 not built"}
	Judge(broken)
	return &Results{
		Machine:  DetectMachine(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Config:   Config{Budgets: []float64{0.3, 0.5, 1}, TCBudget: 0.5, Strategies: []string{"none", "chen", "approx"}},
		Networks: []*Network{n, short, broken},
	}
}

func TestJudge(t *testing.T) {
	r := synthetic()
	tests := []struct {
		net  int
		want []string
	}{
		{0, []string{"yes", "approx MC"}},
		{1, []string{"no:", "largest single op", "−25.0%"}},
		{2, []string{"not benchmarked"}},
	}
	for _, tc := range tests {
		v := r.Networks[tc.net].Verdict
		for _, w := range tc.want {
			if !strings.Contains(v, w) {
				t.Errorf("%s verdict %q lacks %q", r.Networks[tc.net].Name, v, w)
			}
		}
	}
}

func TestMarkdownTables(t *testing.T) {
	r := synthetic()
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{"# Benchmark results", "2026-01-02T03:04:05Z", "CPUs", "Minimum memory, beside the paper", "−62%", "n/a (123456 lower sets)", "infeasible"} {
		if !strings.Contains(md, want) {
			t.Errorf("RESULTS.md lacks %q", want)
		}
	}
	tables := parseTables(t, md)
	if len(tables) < 4 {
		t.Fatalf("found %d tables, want at least 4", len(tables))
	}
}

// parseTables checks every Markdown table is well formed (a header, a
// separator, rows of the header's width) and returns them.
func parseTables(t *testing.T, md string) [][][]string {
	t.Helper()
	var tables [][][]string
	var cur [][]string
	flush := func() {
		if cur != nil {
			tables = append(tables, cur)
			cur = nil
		}
	}
	for i, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			flush()
			continue
		}
		cells := splitRow(line)
		if cur != nil && len(cells) != len(cur[0]) {
			t.Errorf("line %d: %d cells, header has %d: %s", i+1, len(cells), len(cur[0]), line)
		}
		if len(cur) == 1 && !strings.HasPrefix(cells[0], "---") {
			t.Errorf("line %d: no separator after the header", i+1)
		}
		cur = append(cur, cells)
	}
	flush()
	return tables
}

func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimSuffix(line, "|"), "|")
	var cells []string
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) && line[i+1] == '|' {
			b.WriteByte('|')
			i++
			continue
		}
		if line[i] == '|' {
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
			continue
		}
		b.WriteByte(line[i])
	}
	return append(cells, strings.TrimSpace(b.String()))
}

func TestJSONRoundTrip(t *testing.T) {
	r := synthetic()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Networks) != 3 || back.Networks[0].NonePeakBytes != r.Networks[0].NonePeakBytes || len(back.Networks[0].Sweep) != 2 {
		t.Errorf("round trip lost data: %+v", back.Networks[0])
	}
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	r := synthetic()
	names, err := WritePlots(dir, r.Networks[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 {
		t.Fatalf("wrote %v, want 2 files", names)
	}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(name) {
		case ".png":
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 800 {
				t.Errorf("%s: %v too small to read", name, b)
			}
		case ".svg":
			if !bytes.Contains(data, []byte("<svg")) || !bytes.Contains(data, []byte("GiB")) {
				t.Errorf("%s: not an SVG with a GiB axis", name)
			}
		}
	}
	// No timeline: only the trade-off panel.
	names, err = WritePlots(dir, r.Networks[1])
	if err != nil || len(names) != 2 {
		t.Errorf("WritePlots without timeline = %v, %v", names, err)
	}
}

func TestDownsampleKeepsPeak(t *testing.T) {
	tests := []struct {
		n, max int
	}{{10, 100}, {1000, 100}, {12345, 64}, {7, 4}}
	for _, tc := range tests {
		live := make([]int64, tc.n)
		for i := range live {
			live[i] = int64((i * 7919) % 1009)
		}
		live[tc.n/3] = 5000
		got := Downsample(live, tc.max)
		if len(got) > tc.max+2 {
			t.Errorf("n=%d max=%d: %d levels", tc.n, tc.max, len(got))
		}
		var peak int64
		last := -1
		for _, l := range got {
			peak = max(peak, l.Bytes)
			if l.Step <= last {
				t.Errorf("n=%d: steps not increasing at %d", tc.n, l.Step)
			}
			last = l.Step
		}
		if peak != 5000 {
			t.Errorf("n=%d max=%d: peak %d, want 5000", tc.n, tc.max, peak)
		}
	}
}

func TestSpread(t *testing.T) {
	idx := []int{0, 1, 2, 3, 4, 5, 6}
	tests := []struct {
		k    int
		want []int
	}{
		{10, idx}, {7, idx}, {0, nil}, {1, []int{3}}, {2, []int{0, 6}}, {3, []int{0, 3, 6}}, {4, []int{0, 2, 4, 6}},
	}
	for _, tc := range tests {
		got := spread(idx, tc.k)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("spread(%d) = %v, want %v", tc.k, got, tc.want)
		}
	}
}

// TestMeasuredTable checks the ONNX Runtime rows: one per session, with the
// session named, and the fusion sentence only for a network whose outputs
// differ with optimisations on and are identical without them.
func TestMeasuredTable(t *testing.T) {
	row := func(net, session string, identical bool) Measured {
		return Measured{Network: net, Sizes: "batch 1", Plan: "approx MC, file order", Session: session,
			SimOrigBytes: 200 << 20, SimNewBytes: 100 << 20, PeakOrigBytes: 300 << 20, PeakNewBytes: 180 << 20,
			SecondsOrig: 1, SecondsNew: 1.2, PredictedTimeRatio: 1.1, OutputsIdentical: identical}
	}
	for _, c := range []struct {
		name   string
		rows   []Measured
		fusion string // the networks the fusion sentence names; "" for none
	}{
		{"identical", []Measured{row("resnet50", "defaults", true), row("resnet50", "controlled", true)}, ""},
		{"fusion", []Measured{row("gpt2", "defaults", false), row("gpt2", "controlled", true), row("unet", "defaults", true)}, "gpt2"},
		{"both differ", []Measured{row("gpt2", "defaults", false), row("gpt2", "controlled", false)}, ""},
		{"no controlled row", []Measured{row("gpt2", "defaults", false)}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			writeMeasured(&b, &Results{Measured: c.rows, MeasureNote: "note"})
			out := b.String()
			if !strings.Contains(out, "| network | sizes | plan | session |") {
				t.Errorf("no session column:\n%s", out)
			}
			for _, m := range c.rows {
				if !strings.Contains(out, "| "+m.Network+" | batch 1 | approx MC, file order | "+m.Session+" | 200.0 MiB | 100.0 MiB | 300.0 MiB | 180.0 MiB | 0.500 / 0.600 |") {
					t.Errorf("no row for %s %s:\n%s", m.Network, m.Session, out)
				}
			}
			got := ""
			if i := strings.Index(out, "Outputs of "); i >= 0 {
				got = strings.Fields(out[i+len("Outputs of "):])[0]
			}
			if got != c.fusion {
				t.Errorf("fusion sentence names %q, want %q:\n%s", got, c.fusion, out)
			}
		})
	}
}
