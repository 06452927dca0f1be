package onnx

import (
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

func TestAncestors(t *testing.T) {
	node := func(name string, in []string, out ...string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{Name: &name, Input: in, Output: out}
	}
	// x -> a -> b -> y ; x -> c (dead) ; a,d -> e, d from input w
	nodes := []*onnxpb.NodeProto{
		node("A", []string{"x"}, "a"),
		node("C", []string{"x"}, "c"),
		node("B", []string{"a"}, "b"),
		node("D", []string{"w"}, "d"),
		node("E", []string{"a", "d"}, "e"),
		node("Y", []string{"b"}, "y"),
	}
	for _, tc := range []struct {
		values []string
		want   []string
	}{
		{[]string{"y"}, []string{"A", "B", "Y"}},
		{[]string{"e"}, []string{"A", "D", "E"}},
		{[]string{"y", "e"}, []string{"A", "B", "D", "E", "Y"}},
		{[]string{"x"}, []string{}},
		{nil, []string{}},
	} {
		var got []string
		for _, n := range Ancestors(nodes, tc.values...) {
			got = append(got, n.GetName())
		}
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Ancestors(%v) = %v, want %v", tc.values, got, tc.want)
		}
	}
}
