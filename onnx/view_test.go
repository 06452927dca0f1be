package onnx

import (
	"reflect"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// graphOf builds a graph from lines "name: in1,in2 -> out1,out2"; inputs and
// inits name graph inputs and initializers, outputs the graph outputs.
func graphOf(inputs, inits, outputs string, nodes ...string) *onnxpb.GraphProto {
	g := &onnxpb.GraphProto{}
	for _, s := range fields(inputs) {
		g.Input = append(g.Input, &onnxpb.ValueInfoProto{Name: proto.String(s)})
	}
	for _, s := range fields(inits) {
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String(s)})
	}
	for _, s := range fields(outputs) {
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(s)})
	}
	for _, line := range nodes {
		name, rest, _ := strings.Cut(line, ":")
		ins, outs, _ := strings.Cut(rest, "->")
		g.Node = append(g.Node, &onnxpb.NodeProto{
			Name:   proto.String(strings.TrimSpace(name)),
			OpType: proto.String("Op"),
			Input:  splitKeepEmpty(ins),
			Output: splitKeepEmpty(outs),
		})
	}
	return g
}

func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// splitKeepEmpty splits on commas but keeps empty names (optional slots).
func splitKeepEmpty(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func TestNewView(t *testing.T) {
	tests := []struct {
		name    string
		g       *onnxpb.GraphProto
		order   []int
		wantErr string
	}{
		{name: "empty", g: graphOf("", "", ""), order: []int{}},
		{name: "chain in file order", g: graphOf("x", "w", "c",
			"A: x,w -> a", "B: a -> b", "C: b -> c"), order: []int{0, 1, 2}},
		{name: "reversed file order is sorted", g: graphOf("x", "", "c",
			"C: b -> c", "B: a -> b", "A: x -> a"), order: []int{2, 1, 0}},
		{name: "independent nodes keep file order", g: graphOf("x", "", "a,b,c",
			"C: x -> c", "A: x -> a", "B: x -> b"), order: []int{0, 1, 2}},
		{name: "stable: only the late producer moves", g: graphOf("x", "", "d",
			"A: x -> a", "D: a,c -> d", "B: x -> b", "C: b -> c"), order: []int{0, 2, 3, 1}},
		{name: "diamond", g: graphOf("x", "", "d",
			"A: x -> a", "B: a -> b", "C: a -> c", "D: b,c -> d"), order: []int{0, 1, 2, 3}},
		{name: "optional empty names", g: graphOf("x", "", "b",
			"A: x,, -> a,", "B: ,a -> b"), order: []int{0, 1}},
		{name: "output is an input", g: graphOf("x", "", "x"), order: []int{}},
		{name: "cycle", g: graphOf("x", "", "c",
			"A: x,c -> a", "B: a -> b", "C: b -> c"), wantErr: `cycle through node "A" (Op #0): node "A" (Op #0) -> node "B" (Op #1) -> node "C" (Op #2) -> node "A"`},
		{name: "cycle downstream of a good node", g: graphOf("x", "", "d",
			"P: x -> p", "D: c -> d", "B: p,c -> b", "C: b -> c"), wantErr: `cycle through node "C" (Op #3): node "C" (Op #3) -> node "B" (Op #2) -> node "C"`},
		{name: "self loop", g: graphOf("x", "", "a", "A: x,a -> a"), wantErr: "cycle through"},
		{name: "missing value", g: graphOf("x", "", "b", "A: x -> a", "B: a,ghost -> b"),
			wantErr: `value "ghost" read by node "B" (Op #1) has no producer`},
		{name: "missing graph output", g: graphOf("x", "", "nowhere", "A: x -> a"),
			wantErr: `graph output "nowhere" has no producer`},
		{name: "two writers", g: graphOf("x", "", "a", "A: x -> a", "B: x -> a"),
			wantErr: `value "a" is written by both node "A"`},
		{name: "writes an input", g: graphOf("x", "", "x", "A: x -> x"),
			wantErr: `writes "x", which is a graph input`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewView(tt.g)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v.Order, tt.order) {
				t.Errorf("order = %v, want %v", v.Order, tt.order)
			}
		})
	}
}

func TestViewIndexes(t *testing.T) {
	g := graphOf("x", "w", "b,c", "A: x,w,x -> a", "B: a,a,w -> b", "C: a -> c")
	v, err := NewView(g)
	if err != nil {
		t.Fatal(err)
	}
	wantCons := map[string][]int{"x": {0}, "w": {0, 1}, "a": {1, 2}}
	if !reflect.DeepEqual(v.Consumers, wantCons) {
		t.Errorf("consumers = %v, want %v", v.Consumers, wantCons)
	}
	wantProd := map[string]int{"a": 0, "b": 1, "c": 2}
	if !reflect.DeepEqual(v.Producer, wantProd) {
		t.Errorf("producer = %v, want %v", v.Producer, wantProd)
	}
	if !v.Inputs["x"] || !v.Inits["w"] || !v.Outputs["b"] || !v.Outputs["c"] || v.Outputs["a"] {
		t.Errorf("inputs/inits/outputs wrong: %v %v %v", v.Inputs, v.Inits, v.Outputs)
	}
}

// An If whose branch reads a value produced later in the file must be
// ordered after that producer, and outer-scope names are not "missing".
func TestViewSubgraphOuterRefs(t *testing.T) {
	body := graphOf("", "", "y", "Inner: late,k -> t", "Inner2: t,outer_of_outer -> y")
	body.Initializer = append(body.Initializer, &onnxpb.TensorProto{Name: proto.String("k")})
	g := graphOf("x,cond", "", "r", "IF: cond -> r", "L: x -> late")
	g.Node[0].Attribute = []*onnxpb.AttributeProto{
		{Name: proto.String("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: body},
		{Name: proto.String("else_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: graphOf("", "", "x")},
	}
	v, err := NewView(g)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 0}; !reflect.DeepEqual(v.Order, want) {
		t.Errorf("order = %v, want %v", v.Order, want)
	}
	if want := []int{0}; !reflect.DeepEqual(v.Consumers["late"], want) {
		t.Errorf("consumers of late = %v, want %v", v.Consumers["late"], want)
	}
	if got, want := OuterRefs(g.Node[0]), []string{"late", "outer_of_outer", "x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OuterRefs = %v, want %v", got, want)
	}
}

func TestConstantNodes(t *testing.T) {
	g := graphOf("x", "shape", "y",
		"K: -> k", // Constant (op type set below)
		"S: shape -> w", "T: w,k -> w2", "A: x,w2 -> y", "R: shape -> r")
	g.Node[0].OpType = proto.String("Constant")
	g.Node[4].OpType = proto.String("RandomNormalLike")
	v, err := NewView(g)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.ConstantNodes(), []bool{true, true, true, false, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("ConstantNodes = %v, want %v", got, want)
	}
}
