package ort

import (
	"errors"
	"fmt"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

func TestMain(m *testing.M) {
	ServeChild() // Measure re-executes the test binary as its child.
	os.Exit(m.Run())
}

// needLib initialises ONNX Runtime or skips the test.
func needLib(t testing.TB) string {
	t.Helper()
	p, err := LibraryPath("")
	if err != nil {
		if errors.Is(err, ErrNoLibrary) {
			testenv.Missing(t, "%s", ErrNoLibrary.Error())
		}
		testenv.Missing(t, "%s", err.Error())
	}
	if err := Init(p); err != nil {
		t.Fatalf("Init(%s): %v", p, err)
	}
	return p
}

// save writes a graph as an opset-17 model into the test's temp dir.
func save(t testing.TB, b *build.Graph, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".onnx")
	if err := (&onnx.Model{Proto: build.Model(b.G, 17)}).Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// seededInputs loads the model at path and makes its random inputs (seed 1).
func seededInputs(t testing.TB, path string) []Tensor {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := RandomInputs(m, InputOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

const (
	f32 = onnxpb.TensorProto_FLOAT
	i64 = onnxpb.TensorProto_INT64
)

// Chain variants of DESIGN.md's "Measured" experiment: a = Relu(x) is read by
// the first op of an 8-op chain and by the final Add.
type chainVariant int

const (
	chainPlain       chainVariant = iota // no recomputation
	chainCloneLate                       // clone written right before the Add (schedule order)
	chainCloneEarly                      // clone written right after a
	chainGuarded                         // clone written early, input routed through the ordering guard
	chainGuardedLate                     // guard, clone written right before the Add
	chainDataGuarded                     // data guard (survives constant folding), clone written early
)

func (v chainVariant) String() string {
	return [...]string{"plain", "clone-late", "clone-early", "guarded-early", "guarded-late", "dataguard-early"}[v]
}

// chainModel builds the experiment graph with rows×cols float inputs and
// chain op op (e.g. "Sin"). final "add": s = Add(c8, a'), y = ReduceSum(s)
// (DESIGN.md's graph); final "dot": y = ReduceSum(Einsum("ij,ij->i", c8, a')),
// a consumer of both that writes little, so the saving shows.
// Node order in the file follows the variant; the guard variants make the
// clone wait for the value written just before the clone's consumer.
func chainModel(t testing.TB, v chainVariant, rows, cols int64, op, final string) string {
	b := build.New("chain_" + v.String())
	b.Input("x", f32, []int64{rows, cols})
	b.Output("y", f32, []int64{}) // a scalar: exercises Prepare's reshape
	addIn := "a"
	if v != chainPlain {
		addIn = "a_rc0"
	}
	// before is the value the clone's consumer waits for; the guard uses it.
	before := "c8"
	clone := func(guarded bool) {
		in := "x"
		if guarded {
			if v == chainDataGuarded {
				in = dataGuard(b, "x", before, "a_rc0")
			} else {
				in = guard(b, "x", before, "a_rc0")
			}
		}
		b.Node("Relu", "fwd_relu_rc0", []string{in}, []string{"a_rc0"})
	}
	b.Node("Relu", "fwd_relu", []string{"x"}, []string{"a"})
	if v == chainCloneEarly {
		clone(false)
	}
	var guardNodes []*onnxpb.NodeProto
	if v == chainGuarded || v == chainDataGuarded {
		// Written early, but it reads before's shape, so it can only run late.
		n0 := len(b.G.Node)
		clone(true)
		guardNodes = append(guardNodes, b.G.Node[n0:]...)
		b.G.Node = b.G.Node[:n0]
	}
	prev := "a"
	for i := 1; i <= 8; i++ {
		cur := fmt.Sprintf("c%d", i)
		b.Node(op, fmt.Sprintf("chain%d", i), []string{prev}, []string{cur})
		prev = cur
	}
	switch v {
	case chainCloneLate:
		clone(false)
	case chainGuardedLate:
		clone(true)
	case chainGuarded, chainDataGuarded:
		// Topological order requires the guard after before's producer; the
		// clone itself is placed first among them, as early as the file allows.
		b.G.Node = append(b.G.Node, guardNodes...)
	}
	if final == "dot" {
		b.Node("Einsum", "bwd_dot", []string{"c8", addIn}, []string{"d"}, build.AttrString("equation", "ij,ij->i"))
		b.Node("ReduceSum", "bwd_sum", []string{"d"}, []string{"y"}, build.AttrInt("keepdims", 0))
	} else {
		// s is not a graph output, so ORT could put it in c8's buffer if Add
		// ran in place (it does not in ORT 1.30).
		b.Node("Add", "bwd_add", []string{"c8", addIn}, []string{"s"})
		b.Node("ReduceSum", "bwd_sum", []string{"s"}, []string{"y"}, build.AttrInt("keepdims", 0))
	}
	return save(t, b, "chain_"+v.String()+"_"+final)
}

// guard returns a value equal to x that cannot be computed before after:
// Reshape(x, Concat(Shape(x), Slice(Shape(after), [0], [0]))).
func guard(b *build.Graph, x, after, tag string) string {
	p := "guard_" + tag
	b.Initializer(build.Int64s(p+"_zero", []int64{1}, []int64{0}))
	b.Node("Shape", p+"_shape_x", []string{x}, []string{p + "_sx"})
	b.Node("Shape", p+"_shape_g", []string{after}, []string{p + "_sg"})
	b.Node("Slice", p+"_slice", []string{p + "_sg", p + "_zero", p + "_zero"}, []string{p + "_empty"})
	b.Node("Concat", p+"_concat", []string{p + "_sx", p + "_empty"}, []string{p + "_shape"}, build.AttrInt("axis", 0))
	b.Node("Reshape", p+"_reshape", []string{x, p + "_shape"}, []string{p + "_x"})
	return p + "_x"
}

// dataGuard is guard with the empty shape taken from after's data instead of
// its shape, so constant folding cannot remove it:
// Reshape(x, Concat(Shape(x), Cast(Slice(Reshape(after, [-1]), [0], [0]), int64))).
func dataGuard(b *build.Graph, x, after, tag string) string {
	p := "dguard_" + tag
	b.Initializer(build.Int64s(p+"_zero", []int64{1}, []int64{0}))
	b.Initializer(build.Int64s(p+"_flat", []int64{1}, []int64{-1}))
	b.Node("Shape", p+"_shape_x", []string{x}, []string{p + "_sx"})
	b.Node("Reshape", p+"_flatten", []string{after, p + "_flat"}, []string{p + "_gf"})
	b.Node("Slice", p+"_slice", []string{p + "_gf", p + "_zero", p + "_zero"}, []string{p + "_e"})
	b.Node("Cast", p+"_cast", []string{p + "_e"}, []string{p + "_empty"}, build.AttrInt("to", int64(i64)))
	b.Node("Concat", p+"_concat", []string{p + "_sx", p + "_empty"}, []string{p + "_shape"}, build.AttrInt("axis", 0))
	b.Node("Reshape", p+"_reshape", []string{x, p + "_shape"}, []string{p + "_x"})
	return p + "_x"
}
