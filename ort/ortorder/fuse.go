package ortorder

import (
	"strings"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// ONNX Runtime's graph transformers merge a producer with its reader when
// the value between them has no other reader and is not a graph output
// (optimizer_utils::CheckOutputEdges). A guard that reads such a value, as
// the trigger of a later node's guard or as the guarded input itself, adds
// a reader or puts a Reshape between the two, and ORT then leaves them
// unfused in the rewrite while it fuses them in the original: a fused
// kernel rounds differently, and the outputs differ in their last bits
// (GPT-2, docs/ORT.md). So guards never read a fusion value, and a value
// that lost readers to clones keeps one guard read (Options.Hold).

// fusable reports whether one of ORT's CPU graph transformers (at the basic
// or extended level) may merge p, the producer of a value, with c, a reader
// of that value. The table holds the fusions that change arithmetic or
// that were seen to differ between a graph and its rewrite; konst says which
// values are known at load time (the fusions that fold a scale or a bias
// need it constant).
func fusable(p, c *onnxpb.NodeProto, konst map[string]bool) bool {
	po, co := p.GetOpType(), c.GetOpType()
	matmul := func(op string) bool { return op == "MatMul" || op == "FusedMatMul" }
	switch {
	case po == "Transpose" && (matmul(co) || co == "Gemm" || co == "Transpose"): // MatmulTransposeFusion, GemmTransposeFusion, TransposeOptimizer (merges a pair)
		return true
	case (po == "Mul" || po == "Div") && matmul(co): // MatMulScaleFusion, input side
		return hasConstInput(p, konst)
	case matmul(po) && (co == "Mul" || co == "Div"): // MatMulScaleFusion, output side
		return hasConstInput(c, konst)
	case po == "MatMul" && co == "Add": // MatMulAddFusion (to Gemm)
		return true
	case po == "Gemm" && (co == "Sum" || co == "Add" || activation[co]): // GemmSumFusion, GemmActivationFusion
		return true
	case po == "Add" && (co == "LayerNormalization" || co == "SimplifiedLayerNormalization" || co == "SkipLayerNormalization" ||
		co == "Softmax" || co == "Gelu" || co == "FastGelu" || co == "Dropout"): // SkipLayerNorm, BiasSoftmax, BiasGelu, BiasDropout
		return true
	case (po == "Conv" || po == "FusedConv") && activation[co]: // ConvActivationFusion
		return true
	case po == "Conv" && co == "Add": // ConvAddActivationFusion (a Conv with bias), ConvAddFusion (a constant addend)
		return len(p.Input) >= 3 && p.Input[2] != "" || hasConstInput(c, konst)
	case po == "Conv" && (co == "Mul" || co == "BatchNormalization"): // ConvMulFusion, ConvBNFusion: constant weights and factors
		return len(p.Input) >= 2 && konst[p.Input[1]] && hasConstInput(c, konst)
	case po == "Div" && co == "Mul": // DivMulFusion: Mul(Div(1, x), y) -> Div(y, x)
		return len(p.Input) > 0 && konst[p.Input[0]]
	case po == "Relu" && co == "Clip", po == "Not" && co == "Where": // FuseReluClip, NotWhereFusion
		return true
	}
	return false
}

// activation ops ORT fuses into the Conv or Gemm before them.
var activation = map[string]bool{"Relu": true, "Sigmoid": true, "Tanh": true, "LeakyRelu": true,
	"Clip": true, "HardSigmoid": true}

func hasConstInput(n *onnxpb.NodeProto, konst map[string]bool) bool {
	for _, in := range n.GetInput() {
		if in != "" && konst[in] {
			return true
		}
	}
	return false
}

// fusionValues returns the values ORT may fuse away, each with its
// producer: every reader (guards aside) is fusable with the producer, and
// the value is not a graph output. A guard must not read one.
func fusionValues(g *onnxpb.GraphProto, konst map[string]bool) map[string]*onnxpb.NodeProto {
	producer := map[string]*onnxpb.NodeProto{}
	readers := map[string][]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		if strings.HasPrefix(n.GetName(), GuardPrefix) {
			continue
		}
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = n
			}
		}
		for _, in := range nodeInputs(n) {
			if in != "" {
				readers[in] = append(readers[in], n)
			}
		}
	}
	for _, o := range g.GetOutput() {
		delete(readers, o.GetName())
	}
	fv := map[string]*onnxpb.NodeProto{}
	for v, rs := range readers {
		p := producer[v]
		if p == nil || konst[v] {
			continue
		}
		all := true
		for _, c := range rs {
			if !fusable(p, c, konst) {
				all = false
				break
			}
		}
		if all {
			fv[v] = p
		}
	}
	return fv
}

// checksShapes reports whether n takes part in a fusion that ORT makes only
// when it knows the dims of its inputs: those whose producer is a MatMul,
// Gemm or Add (MatMulAddFusion, GemmSumFusion, SkipLayerNormFusion,
// BiasSoftmax, BiasGelu). Conv and activation fusions do not check them,
// and a full shape declared on a guarded value costs memory (ORT's memory
// pattern then plans it: GoogLeNet 112², batch 8, 130.6 → 195.3 MiB), so
// only these get one.
func checksShapes(n *onnxpb.NodeProto, fused map[string]*onnxpb.NodeProto) bool {
	checked := func(p *onnxpb.NodeProto) bool {
		switch p.GetOpType() {
		case "MatMul", "FusedMatMul", "Gemm", "Add":
			return true
		}
		return false
	}
	for _, v := range n.GetInput() {
		if p := fused[v]; p != nil && checked(p) {
			return true
		}
	}
	for _, v := range n.GetOutput() {
		if fused[v] != nil && checked(n) {
			return true
		}
	}
	return false
}

// rankNeeded returns a test of whether a node's outputs flow into a fusion
// that ORT makes only when it knows its operands' ranks or shapes: one whose
// producer is a MatMul, Gemm, Add, Mul or Div (MatMulScaleFusion checks that
// the scaled operand has a rank; MatMulAdd, GemmSum, SkipLayerNorm and the
// bias fusions check dims). Shape inference finds a value's rank from its
// producer's inputs, so every ancestor of such a fusion's operands counts.
//
// The test takes the node to guard and its guarded input.
func rankNeeded(g *onnxpb.GraphProto, fused map[string]*onnxpb.NodeProto) func(n *onnxpb.NodeProto, x string) bool {
	producer := map[string]*onnxpb.NodeProto{}
	readers := map[string][]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = n
			}
		}
		for _, in := range n.GetInput() {
			readers[in] = append(readers[in], n)
		}
	}
	need := map[string]bool{}
	var stack []string
	mark := func(n *onnxpb.NodeProto) {
		for _, in := range n.GetInput() {
			if in != "" && !need[in] {
				need[in] = true
				stack = append(stack, in)
			}
		}
	}
	for v, p := range fused {
		switch p.GetOpType() {
		case "MatMul", "FusedMatMul", "Gemm", "Add", "Mul", "Div":
			mark(p)
			for _, c := range readers[v] {
				mark(c)
			}
		}
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if p := producer[v]; p != nil {
			mark(p)
		}
	}
	return func(n *onnxpb.NodeProto, x string) bool {
		if need[x] {
			return true
		}
		for _, o := range n.GetOutput() {
			if need[o] {
				return true
			}
		}
		return false
	}
}
