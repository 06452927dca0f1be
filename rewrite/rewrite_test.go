package rewrite

import (
	"bytes"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"github.com/onnx-recompute/recompute/ort/ortorder"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
	"google.golang.org/protobuf/proto"
)

const f32 = onnxpb.TensorProto_FLOAT

// chainModel is a tiny training graph in standard ops:
//
//	forward:  a = x*w; b = Relu(a); c = Tanh(b); loss = ReduceSum(c)
//	backward: t = c*c; u = 1-t; db = gc*u; s = Sign(b); da = db*s; dw = da*x
//
// Nodes 0..3 are forward, 4..9 backward. b is read by the backward node 7,
// c by node 4, so forgetting b after the forward and recomputing a, b before
// node 7 lowers the peak.
func chainModel(t testing.TB, extra ...string) *onnx.Model {
	t.Helper()
	const n = 1024
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	b := build.New("chain")
	b.Input("x", f32, []int64{n})
	b.Initializer(build.Float32s("w", []int64{n}, ones))
	b.Initializer(build.Float32s("gc", []int64{n}, ones))
	b.Initializer(build.Float32s("one", []int64{n}, ones))
	b.Node("Mul", "mul", []string{"x", "w"}, []string{"a"})
	b.Node("Relu", "relu", []string{"a"}, []string{"b"})
	b.Node("Tanh", "tanh", []string{"b"}, []string{"c"})
	b.Node("ReduceSum", "sum", []string{"c"}, []string{"loss"}, build.AttrInt("keepdims", 0))
	b.Node("Mul", "tanh_grad/sq", []string{"c", "c"}, []string{"t"})
	b.Node("Sub", "tanh_grad/sub", []string{"one", "t"}, []string{"u"})
	b.Node("Mul", "tanh_grad/mul", []string{"gc", "u"}, []string{"db"})
	b.Node("Sign", "relu_grad/sign", []string{"b"}, []string{"s"})
	b.Node("Mul", "relu_grad/mul", []string{"db", "s"}, []string{"da"})
	b.Node("Mul", "mul_grad", []string{"da", "x"}, []string{"dw"})
	b.Output("loss", f32, nil)
	b.Output("dw", f32, []int64{n})
	for _, v := range []string{"a", "b", "c"} {
		b.G.ValueInfo = append(b.G.ValueInfo, build.ValueInfo(v, f32, []int64{n}))
	}
	for _, name := range extra { // names that clash with what Apply would make
		b.G.ValueInfo = append(b.G.ValueInfo, build.ValueInfo(name, f32, []int64{n}))
	}
	mp := build.Model(b.G, 17)
	mp.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: proto.String("author"), Value: proto.String("test")}}
	return &onnx.Model{Proto: mp}
}

// graphOf builds the planner graph of m by hand: 4096 bytes per value, 8192
// for t and u, 4 for the loss; nodes from index firstBackward on are backward.
func graphOf(m *onnx.Model, firstBackward int, notRecomputable ...string) *planner.Graph {
	gp := m.Proto.Graph
	g := &planner.Graph{}
	idx := map[string]int{}
	val := func(name string) int {
		if i, ok := idx[name]; ok {
			return i
		}
		v := planner.Value{Name: name, Bytes: 4096}
		switch name {
		case "loss":
			v.Bytes = 4
		case "t", "u": // large temporaries make the peak sit in the backward pass
			v.Bytes = 8192
		}
		for _, in := range gp.Input {
			v.Resident = v.Resident || in.GetName() == name
		}
		for _, in := range gp.Initializer {
			v.Resident = v.Resident || in.GetName() == name
		}
		for _, o := range gp.Output {
			v.Output = v.Output || o.GetName() == name
		}
		idx[name] = len(g.Values)
		g.Values = append(g.Values, v)
		return idx[name]
	}
	for i, n := range gp.Node {
		op := planner.Op{Name: n.GetName(), Type: n.GetOpType(), Backward: i >= firstBackward, Cost: 1, Recomputable: true}
		for _, nr := range notRecomputable {
			if nr == n.GetName() {
				op.Recomputable = false
			}
		}
		for _, x := range n.Input {
			op.Inputs = append(op.Inputs, val(x))
		}
		for _, x := range n.Output {
			op.Outputs = append(op.Outputs, val(x))
		}
		if !op.Backward {
			g.ForwardCost += op.Cost
		}
		g.Ops = append(g.Ops, op)
	}
	return g
}

// sched turns "0 1 -a 2" into a schedule: numbers run ops, "-name" frees.
func sched(t testing.TB, g *planner.Graph, s string) planner.Schedule {
	t.Helper()
	var out planner.Schedule
	for _, f := range strings.Fields(s) {
		if name, ok := strings.CutPrefix(f, "-"); ok {
			found := false
			for i, v := range g.Values {
				if v.Name == name {
					out = append(out, planner.Step{Op: -1, Free: i})
					found = true
				}
			}
			if !found {
				t.Fatalf("no value %q", name)
			}
			continue
		}
		var op int
		for _, c := range f {
			op = op*10 + int(c-'0')
		}
		out = append(out, planner.Step{Op: op, Free: -1})
	}
	return out
}

// recomputeB is the chain's schedule that forgets a and b after the forward
// pass and recomputes them before Sign (node 7); frees are at last use.
const recomputeB = "0 1 -a 2 -b 3 4 -c 5 -t 6 -u 0 1 -a 7 -b 8 -db -s 9 -da"

func planFor(t testing.TB, g *planner.Graph, s string) *planner.Plan {
	t.Helper()
	sc := sched(t, g, s)
	r, err := planner.Replay(g, sc)
	if err != nil {
		t.Fatalf("replay hand-written schedule: %v", err)
	}
	return &planner.Plan{Strategy: "test", Objective: "memory", Schedule: sc, PeakBytes: r.PeakBytes, PredictedPeakBytes: r.PeakBytes}
}

func nodeOrder(gp *onnxpb.GraphProto) string {
	var s []string
	for _, n := range gp.Node {
		s = append(s, n.GetName()+"("+strings.Join(n.Input, ",")+")")
	}
	return strings.Join(s, " ")
}

func meta(m *onnx.Model) map[string]string {
	out := map[string]string{}
	for _, p := range m.Proto.MetadataProps {
		out[p.GetKey()] = p.GetValue()
	}
	return out
}

func TestApplyClonesAndRewires(t *testing.T) {
	m := chainModel(t)
	before, _ := m.Encode()
	g := graphOf(m, 4)
	p := planFor(t, g, recomputeB)
	out, rep, err := Apply(m, g, p, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	want := "mul(x,w) relu(a) tanh(b) sum(c) tanh_grad/sq(c,c) tanh_grad/sub(one,t) tanh_grad/mul(gc,u) " +
		"mul_rc1(x,w) relu_rc1(a_rc1) relu_grad/sign(b_rc1) relu_grad/mul(db,s) mul_grad(da,x)"
	if got := nodeOrder(out.Proto.Graph); got != want {
		t.Errorf("node order\n got %s\nwant %s", got, want)
	}
	if rep.Clones != 2 || rep.Rounds != 1 || rep.NewValues != 2 || rep.Guards != 0 || rep.Unscheduled != 0 {
		t.Errorf("report %+v", rep)
	}
	if rep.OverheadCost != 2 || rep.OverheadFrac() != 0.5 {
		t.Errorf("overhead %v (%v of forward)", rep.OverheadCost, rep.OverheadFrac())
	}
	// The simulated file order must agree with the planner's replay of the
	// schedule (frees at last use), and beat the original order.
	if rep.PeakBytes != p.PeakBytes {
		t.Errorf("simulated peak %d, plan replay %d", rep.PeakBytes, p.PeakBytes)
	}
	if rep.PeakBytes >= rep.BeforePeakBytes {
		t.Errorf("peak %d not below original %d", rep.PeakBytes, rep.BeforePeakBytes)
	}
	// Forward originals and untouched backward nodes are the input's objects.
	for i, j := range map[int]int{0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 9: 11} {
		if out.Proto.Graph.Node[j] != m.Proto.Graph.Node[i] {
			t.Errorf("node %d was copied, want the original object", i)
		}
	}
	if out.Proto.Graph.Initializer[0] != m.Proto.Graph.Initializer[0] {
		t.Error("initializer was copied")
	}
	vi := map[string]bool{}
	for _, v := range out.Proto.Graph.ValueInfo {
		vi[v.GetName()] = true
	}
	if !vi["a_rc1"] || !vi["b_rc1"] {
		t.Errorf("value_info of clones missing: %v", vi)
	}
	md := meta(out)
	if md["author"] != "test" || md["recompute.strategy"] != "test" || md["recompute.clones"] != "2" || md["recompute.version"] != "test" {
		t.Errorf("metadata %v", md)
	}
	if after, _ := m.Encode(); !bytes.Equal(before, after) {
		t.Error("Apply modified its input model")
	}
	checkWithONNX(t, m, out)
}

func TestApplyScheduleOrderWithoutRecompute(t *testing.T) {
	m := chainModel(t)
	g := graphOf(m, 4)
	p := planFor(t, g, "0 1 -a 2 3 4 -c 5 -t 6 -u 7 -b 8 -db -s 9 -da")
	out, rep, err := Apply(m, g, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range out.Proto.Graph.Node {
		if n != m.Proto.Graph.Node[i] {
			t.Fatalf("node %d differs from the input's", i)
		}
	}
	if rep.Clones != 0 || rep.Guards != 0 || rep.PeakBytes != rep.BeforePeakBytes {
		t.Errorf("report %+v", rep)
	}
	// Apart from metadata, the output encodes like the input.
	in, _ := m.Encode()
	cp := onnx.ShallowCopy(out.Proto)
	cp.MetadataProps = m.Proto.MetadataProps
	got, _ := proto.MarshalOptions{}.Marshal(cp)
	if !bytes.Equal(in, got) {
		t.Error("output differs from input beyond metadata_props")
	}
}

func TestApplyUniqueNames(t *testing.T) {
	m := chainModel(t, "a_rc1", "b_rc1", "b_rc1_2")
	g := graphOf(m, 4)
	out, _, err := Apply(m, g, planFor(t, g, recomputeB), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := nodeOrder(out.Proto.Graph)
	if !strings.Contains(got, "relu_rc1(a_rc1_2)") || !strings.Contains(got, "relu_grad/sign(b_rc1_3)") {
		t.Errorf("clashing names not avoided: %s", got)
	}
}

func TestApplyGuard(t *testing.T) {
	m := chainModel(t)
	g := graphOf(m, 4)
	p := planFor(t, g, recomputeB)
	out, rep, err := Apply(m, g, p, Options{ORTGuard: true})
	if err != nil {
		t.Fatal(err)
	}
	// Unguarded, ORT would run the clones right after the forward pass; the
	// guards make its predicted order the file order, at no simulated cost.
	if rep.Guards == 0 || rep.GuardNodes == 0 {
		t.Errorf("no guards: %+v", rep)
	}
	if rep.ORTPeakBytes != rep.PeakBytes || rep.PeakBytes != p.PeakBytes {
		t.Errorf("peaks: file %d, ORT order %d, plan %d", rep.PeakBytes, rep.ORTPeakBytes, p.PeakBytes)
	}
	_, unguarded, err := Apply(m, g, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if unguarded.ORTPeakBytes <= unguarded.PeakBytes {
		t.Errorf("unguarded: ORT order %d, file %d: want ORT worse", unguarded.ORTPeakBytes, unguarded.PeakBytes)
	}
	for _, n := range m.Proto.Graph.Node {
		if strings.Contains(strings.Join(n.Input, ","), "guard") {
			t.Fatalf("input model modified: %v", n)
		}
	}
	checkWithONNX(t, m, out)

	// Opset 9 has no Slice with inputs: no guards, still a valid result.
	m9 := chainModel(t)
	m9.Proto.OpsetImport[0].Version = proto.Int64(9)
	for _, n := range m9.Proto.Graph.Node {
		if n.GetOpType() == "ReduceSum" {
			n.Attribute = append(n.Attribute, build.AttrInts("axes", 0))
		}
	}
	out9, rep9, err := Apply(m9, g, p, Options{ORTGuard: true})
	if err != nil || rep9.Guards != 0 {
		t.Fatalf("opset 9: %v, %d guards", err, rep9.Guards)
	}
	checkWithONNX(t, m9, out9)
}

func TestApplyErrors(t *testing.T) {
	m := chainModel(t)
	for _, tc := range []struct {
		name, sched string
		g           *planner.Graph
		want        string
	}{
		{"not recomputable", recomputeB, graphOf(m, 4, "relu"), `recomputes node "relu" (Relu), which is not recomputable`},
		{"backward twice", "0 1 2 3 4 4 5 6 7 8 9", graphOf(m, 4), `runs backward node "tanh_grad/sq" a second time`},
		{"not sorted", "0 2 1 3 4 5 6 7 8 9", graphOf(m, 4), "not topologically sorted"},
		{"op out of range", "0 99", graphOf(m, 4), "out of range"},
		{"wrong graph", "0", graphOf(chainModel(t), 4), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &planner.Plan{Schedule: sched(t, tc.g, tc.sched)}
			g := tc.g
			if tc.want == "" {
				g = &planner.Graph{Ops: g.Ops[:3], Values: g.Values}
				tc.want = "planner graph has 3 ops but the model has 10 nodes"
			}
			_, _, err := Apply(m, g, p, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestApplySubgraphNeverCloned(t *testing.T) {
	m := chainModel(t)
	// Make Relu an If node in disguise: a node with a graph attribute.
	n := m.Proto.Graph.Node[1]
	n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: proto.String("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: &onnxpb.GraphProto{}})
	g := graphOf(m, 4)
	_, _, err := Apply(m, g, planFor(t, g, recomputeB), Options{})
	if err == nil || !strings.Contains(err.Error(), "subgraph") {
		t.Errorf("error %v, want a subgraph refusal", err)
	}
}

// checkWithONNX runs onnx.checker (full check with shape inference) through
// Debian's python3-onnx on the output, in every mode the input passes.
func checkWithONNX(t *testing.T, in, out *onnx.Model) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		testenv.Partial(t, "onnx.checker not run: /usr/bin/python3 (Debian python3-onnx) not installed")
		return
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "in.onnx"), filepath.Join(dir, "out.onnx")
	if err := in.Save(a); err != nil {
		t.Fatal(err)
	}
	if err := out.Save(b); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command("/usr/bin/python3", "testdata/check.py", a, b).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		t.Fatalf("input fails every onnx.checker mode (test model broken):\n%s", res)
	}
	if strings.Contains(string(res), "No module named 'onnx'") {
		testenv.Partial(t, "onnx.checker not run: python3-onnx not installed (apt-get install python3-onnx)")
		return
	}
	if err != nil {
		t.Fatalf("onnx.checker: %v\n%s", err, res)
	}
}

// Clones of values without value_info get one from the inferred types.
func TestApplyValueInfoFromInference(t *testing.T) {
	m := chainModel(t)
	m.Proto.Graph.ValueInfo = nil
	g := graphOf(m, 4)
	inf := &ops.Result{Values: map[string]ops.Tensor{
		"a": {Elem: f32, Dims: []int64{1024}, Rank: 1},
		"b": {Elem: f32, Dims: nil, Rank: -1},
	}}
	out, _, err := Apply(m, g, planFor(t, g, recomputeB), Options{Inferred: inf})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range out.Proto.Graph.ValueInfo {
		got[v.GetName()] = v.GetType().String()
	}
	if len(got) != 2 || !strings.Contains(got["a_rc1"], "dim_value:1024") || got["b_rc1"] == "" || strings.Contains(got["b_rc1"], "shape") {
		t.Errorf("value_info %v", got)
	}
	checkWithONNX(t, m, out)
}

// With the ordering guards, the data input's shape is hidden from ORT's
// planner unless asked not to; the model of ORT's buffer reuse then reuses
// nothing computed from it.
func TestApplyHideShapes(t *testing.T) {
	m := chainModel(t)
	g := graphOf(m, 4)
	p := planFor(t, g, recomputeB)
	for _, tc := range []struct {
		name   string
		opt    Options
		hidden int
	}{
		{"auto", Options{ORTGuard: true}, 1},
		{"on", Options{ORTGuard: true, HideShapes: HideOn}, 1},
		{"off", Options{ORTGuard: true, HideShapes: HideOff}, 0},
		{"generic target", Options{HideShapes: HideOn}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, rep, err := Apply(m, g, p, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if rep.HiddenInputs != tc.hidden {
				t.Fatalf("%d inputs hidden, want %d", rep.HiddenInputs, tc.hidden)
			}
			if meta(out)["recompute.ort_hidden_inputs"] != strconv.Itoa(tc.hidden) {
				t.Errorf("metadata %v", meta(out))
			}
			readers := 0
			for _, n := range out.Proto.Graph.Node {
				if slices.Contains(n.Input, "x") && !isGuard(n) {
					readers++
				}
			}
			if tc.hidden > 0 {
				if readers != 0 {
					t.Errorf("%d non-guard nodes still read x", readers)
				}
				if rep.ReusePeakBytes != rep.ORTPeakBytes {
					t.Errorf("modelled ORT peak %d, liveness in ORT's order %d: want equal (no reuse)", rep.ReusePeakBytes, rep.ORTPeakBytes)
				}
				// A clone's declared shape would let ORT size it again; the
				// source's value_info stays as it was.
				hidden, declared := ortorder.ShapeHidden(out.Proto.Graph), 0
				source := map[string]bool{}
				for _, vi := range m.Proto.Graph.ValueInfo {
					source[vi.GetName()] = vi.GetType().GetTensorType().GetShape() != nil
				}
				for _, vi := range out.Proto.Graph.ValueInfo {
					clone := strings.Contains(vi.GetName(), "_rc")
					switch shape := vi.GetType().GetTensorType().GetShape(); {
					case clone && hidden[vi.GetName()]:
						declared++
						if shape != nil {
							t.Errorf("value_info of hidden clone %s declares a shape", vi.GetName())
						}
					case source[vi.GetName()] && shape == nil:
						t.Errorf("value_info of source value %s lost its shape", vi.GetName())
					}
				}
				if declared == 0 {
					t.Errorf("no value_info of a hidden clone: nothing checked")
				}
			} else if readers == 0 {
				t.Errorf("nothing reads x")
			}
			if rep.PeakBytes != p.PeakBytes {
				t.Errorf("peak %d, plan %d", rep.PeakBytes, p.PeakBytes)
			}
			checkWithONNX(t, m, out)
		})
	}
}
