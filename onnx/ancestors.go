package onnx

import "github.com/onnx-recompute/recompute/onnx/onnxpb"

// Ancestors returns, in their order in nodes, the nodes that any of values
// depends on: their producers and, transitively, the producers of those
// nodes' inputs. Values that no node produces (inputs, initializers) end a
// path. Subgraph bodies are not looked into.
func Ancestors(nodes []*onnxpb.NodeProto, values ...string) []*onnxpb.NodeProto {
	prod := make(map[string]int, len(nodes))
	for i, n := range nodes {
		for _, o := range n.Output {
			prod[o] = i
		}
	}
	keep := make([]bool, len(nodes))
	stack := append([]string(nil), values...)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, ok := prod[v]
		if !ok || keep[i] {
			continue
		}
		keep[i] = true
		stack = append(stack, nodes[i].Input...)
	}
	out := []*onnxpb.NodeProto{}
	for i, n := range nodes {
		if keep[i] {
			out = append(out, n)
		}
	}
	return out
}
