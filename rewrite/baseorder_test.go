package rewrite

import (
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
)

// twoBranchModel is a training graph whose file order is worse than ONNX
// Runtime's:
//
//	forward:  p = Exp(x); q = Exp(x); ps = ReduceSum(p); qs = ReduceSum(q); loss = ps+qs
//	backward: d = x*loss
//
// In file order p and q (4 KiB each) are live together; ORT walks back from
// the loss, highest-index producer first, and runs q, qs, p, ps: one at a time.
func twoBranchModel(t testing.TB) *onnx.Model {
	t.Helper()
	const n = 1024
	b := build.New("twobranch")
	b.Input("x", f32, []int64{n})
	b.Node("Exp", "exp_p", []string{"x"}, []string{"p"})
	b.Node("Exp", "exp_q", []string{"x"}, []string{"q"})
	b.Node("ReduceSum", "sum_p", []string{"p"}, []string{"ps"}, build.AttrInt("keepdims", 0))
	b.Node("ReduceSum", "sum_q", []string{"q"}, []string{"qs"}, build.AttrInt("keepdims", 0))
	b.Node("Add", "loss", []string{"ps", "qs"}, []string{"loss"})
	b.Node("Mul", "grad", []string{"x", "loss"}, []string{"d"})
	b.Output("loss", f32, nil)
	b.Output("d", f32, []int64{n})
	return &onnx.Model{Proto: build.Model(b.G, 17)}
}

// realGraph builds the planner graph of m the way the CLI does.
func realGraph(t testing.TB, m *onnx.Model) (*ops.Result, *ops.Split, *planner.Graph) {
	t.Helper()
	r, err := ops.Infer(m, ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ops.SplitTraining(m, nil, "loss")
	if err != nil {
		t.Fatal(err)
	}
	g, err := planner.FromModel(m, r, s, "flops")
	if err != nil {
		t.Fatal(err)
	}
	return r, s, g
}

func nonePlanPeak(t testing.TB, g *planner.Graph) int64 {
	t.Helper()
	p, err := planner.Make(g, planner.Options{Strategy: "none", Objective: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	return p.PeakBytes
}

func TestChooseBaseOrder(t *testing.T) {
	tests := []struct {
		name     string
		model    func(testing.TB) *onnx.Model
		mode     string
		ortLower bool   // the test graph's ORT order must peak strictly lower
		want     string // BaseFile, BaseORT, or "" for the lower of the two
	}{
		{"two branches, best", twoBranchModel, BaseBest, true, BaseORT},
		{"two branches, default is best", twoBranchModel, "", true, BaseORT},
		{"two branches, file", twoBranchModel, BaseFile, true, BaseFile},
		{"two branches, ort", twoBranchModel, BaseORT, true, BaseORT},
		{"chain, best", func(t testing.TB) *onnx.Model { return chainModel(t) }, BaseBest, false, ""},
		{"chain, ort", func(t testing.TB) *onnx.Model { return chainModel(t) }, BaseORT, false, BaseORT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.model(t)
			nodesBefore := slices.Clone(m.Proto.Graph.Node)
			r, s, g := realGraph(t, m)
			pm, c, err := ChooseBaseOrder(m, g, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Proto.Graph.Node, nodesBefore) {
				t.Fatal("the input model's node list changed")
			}
			filePeak := nonePlanPeak(t, g)
			if c.FilePeakBytes != filePeak {
				t.Errorf("file-order baseline %d, planner none peak on the file order %d", c.FilePeakBytes, filePeak)
			}
			if tc.ortLower && c.ORTPeakBytes >= c.FilePeakBytes {
				t.Fatalf("test graph: ORT order peak %d not below file order %d", c.ORTPeakBytes, c.FilePeakBytes)
			}
			want := tc.want
			if want == "" {
				want = BaseFile
				if c.ORTPeakBytes < c.FilePeakBytes {
					want = BaseORT
				}
			}
			if c.Used != want {
				t.Fatalf("used %q, want %q (file %d, ort %d)", c.Used, want, c.FilePeakBytes, c.ORTPeakBytes)
			}
			if c.Perm == nil {
				if pm != m {
					t.Fatal("no permutation, but a different model returned")
				}
				return
			}
			if pm == m || pm.Proto.Graph == m.Proto.Graph {
				t.Fatal("permuted model shares the input's GraphProto")
			}
			for i, init := range m.Proto.Graph.Initializer {
				if pm.Proto.Graph.Initializer[i] != init {
					t.Fatalf("initializer %d was copied", i)
				}
			}
			for k, i := range c.Perm {
				if pm.Proto.Graph.Node[k] != m.Proto.Graph.Node[i] {
					t.Fatalf("node %d is not the input's node %d", k, i)
				}
			}
			// The planner graph of the permuted model plans "none" at the
			// chosen baseline.
			ps := *s
			ps.Forward = make([]bool, len(c.Perm))
			for k, i := range c.Perm {
				ps.Forward[k] = s.Forward[i]
			}
			pg, err := planner.FromModel(pm, r, &ps, "flops")
			if err != nil {
				t.Fatal(err)
			}
			if got := nonePlanPeak(t, pg); got != c.BaselineBytes() || got != c.ORTPeakBytes {
				t.Errorf("none peak on the permuted graph %d, want the ORT baseline %d", got, c.ORTPeakBytes)
			}
			// Apply reports the "before" numbers of the graph as written.
			p, err := planner.Make(pg, planner.Options{Strategy: "none", Objective: "memory"})
			if err != nil {
				t.Fatal(err)
			}
			_, rep, err := Apply(pm, pg, p, Options{BaseOrder: c.Perm, ORTGuard: true})
			if err != nil {
				t.Fatal(err)
			}
			p0, err := planner.Make(g, planner.Options{Strategy: "none", Objective: "memory"})
			if err != nil {
				t.Fatal(err)
			}
			_, rep0, err := Apply(m, g, p0, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.BeforePeakBytes != rep0.BeforePeakBytes || rep.BeforeORTPeakBytes != rep0.BeforeORTPeakBytes {
				t.Errorf("before (file, ort) = (%d, %d) on the permuted input, (%d, %d) on the input as written",
					rep.BeforePeakBytes, rep.BeforeORTPeakBytes, rep0.BeforePeakBytes, rep0.BeforeORTPeakBytes)
			}
			if rep.ORTPeakBytes > c.ORTPeakBytes {
				t.Errorf("rewritten none plan peaks at %d in ORT's order, above the ORT baseline %d", rep.ORTPeakBytes, c.ORTPeakBytes)
			}
			// For ORT (ORTGuard), a none plan on ORT's base order lowers
			// nothing ORT would run: the graph is written as read, with no
			// guards. For a generic runtime (the file order is what runs)
			// it is written in ORT's order, at the ORT baseline.
			if tc.ortLower && (!rep.Unchanged || rep.Guards != 0 || rep.PeakBytes != rep.BeforePeakBytes) {
				t.Errorf("ORT target: unchanged %v, %d guards, file-order peak %d (input %d): want the input as written", rep.Unchanged, rep.Guards, rep.PeakBytes, rep.BeforePeakBytes)
			}
			_, repg, err := Apply(pm, pg, p, Options{BaseOrder: c.Perm})
			if err != nil {
				t.Fatal(err)
			}
			if tc.ortLower && (repg.Unchanged || repg.PeakBytes != c.ORTPeakBytes) {
				t.Errorf("generic target: rewritten none plan peaks at %d in file order (unchanged %v), want the ORT baseline %d", repg.PeakBytes, repg.Unchanged, c.ORTPeakBytes)
			}
		})
	}
}

func TestChooseBaseOrderErrors(t *testing.T) {
	m := twoBranchModel(t)
	_, _, g := realGraph(t, m)
	if _, _, err := ChooseBaseOrder(m, g, "fastest"); err == nil {
		t.Error("unknown mode accepted")
	}
	if _, _, err := ChooseBaseOrder(nil, g, BaseBest); err == nil {
		t.Error("nil model accepted")
	}
	short := *g
	short.Ops = short.Ops[:2]
	if _, _, err := ChooseBaseOrder(m, &short, BaseBest); err == nil {
		t.Error("planner graph of another model accepted")
	}
	if _, _, err := unpermute(m.Proto.Graph, []int{0, 0, 1, 2, 3, 4}); err == nil {
		t.Error("non-permutation accepted by unpermute")
	}
}
