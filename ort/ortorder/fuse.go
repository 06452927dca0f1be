package ortorder

import (
	"slices"
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
func fusable(p, c *onnxpb.NodeProto, konst, scalar map[string]bool) bool {
	po, co := p.GetOpType(), c.GetOpType()
	matmul := func(op string) bool { return op == "MatMul" || op == "FusedMatMul" }
	switch {
	case po == "Transpose" && (matmul(co) || co == "Gemm" || co == "Transpose"): // MatmulTransposeFusion, GemmTransposeFusion, TransposeOptimizer (merges a pair)
		return true
	case (po == "Mul" || po == "Div") && matmul(co): // MatMulScaleFusion, input side: a scalar constant
		return hasConstInput(p, scalar)
	case matmul(po) && (co == "Mul" || co == "Div"): // MatMulScaleFusion, output side
		return hasConstInput(c, scalar)
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
	scalar := scalarConsts(g)
	fv := map[string]*onnxpb.NodeProto{}
	for v, rs := range readers {
		p := producer[v]
		if p == nil || konst[v] {
			continue
		}
		all := true
		for _, c := range rs {
			if !fusable(p, c, konst, scalar) {
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

// scaleOperands returns the operands MatMulScaleFusion needs the rank of:
// the non-constant input of each Mul or Div by a scalar that ORT may fold
// into the MatMuls reading it.
func scaleOperands(g *onnxpb.GraphProto, fused map[string]*onnxpb.NodeProto) map[string]bool {
	konst := ConstantValues(g)
	r := map[string]bool{}
	for _, p := range fused {
		if op := p.GetOpType(); op != "Mul" && op != "Div" {
			continue
		}
		for _, in := range p.GetInput() {
			if in != "" && !konst[in] {
				r[in] = true
			}
		}
	}
	return r
}

// scalarConsts returns the initializers and Constant outputs that hold one
// element: the scales MatMulScaleFusion folds (a weight vector, such as an
// RMSNorm's, is not one).
func scalarConsts(g *onnxpb.GraphProto) map[string]bool {
	one := func(t *onnxpb.TensorProto) bool {
		n := int64(1)
		for _, d := range t.GetDims() {
			n *= d
		}
		return n == 1
	}
	s := map[string]bool{}
	for _, t := range g.GetInitializer() {
		if one(t) {
			s[t.GetName()] = true
		}
	}
	for _, v := range g.GetInput() {
		delete(s, v.GetName())
	}
	for _, n := range g.GetNode() {
		if n.GetOpType() != "Constant" || len(n.GetOutput()) == 0 {
			continue
		}
		for _, a := range n.GetAttribute() {
			if a.GetName() == "value" && a.T != nil && one(a.T) || a.GetName() == "value_float" || a.GetName() == "value_int" {
				s[n.Output[0]] = true
			}
		}
	}
	return s
}

// exactFusion reports whether ORT's fusion of p into c leaves every output
// byte as it was: an activation applied inside the kernel, a Transpose
// merged into another or into a MatMul's operand (MatmulTransposeFusion:
// the same products summed in the same order; GPT-2 and the tiny llama give
// identical bytes with their attention Transposes fused in one graph and
// not in the other), a Clip absorbing a Relu, a Where swapping its branches.
func exactFusion(p, c *onnxpb.NodeProto) bool {
	po, co := p.GetOpType(), c.GetOpType()
	return activation[co] && (po == "Conv" || po == "FusedConv" || po == "Gemm") ||
		po == "Transpose" || po == "Relu" && co == "Clip" || po == "Not" && co == "Where"
}

// FusedInputs returns, for each node of g (by index) that ONNX Runtime may
// fuse with the producer of one of its inputs in a way that changes the
// arithmetic, the indexes of those producers. A recomputation clone of such
// a node must not read the original's value: with a second reader, ORT
// leaves the original pair unfused, and the original's outputs change in
// their last bits. The rewrite recomputes the producer with it instead.
func FusedInputs(g *onnxpb.GraphProto) map[int][]int {
	fused := fusionValues(g, ConstantValues(g))
	if len(fused) == 0 {
		return nil
	}
	index := make(map[*onnxpb.NodeProto]int, len(g.GetNode()))
	for i, n := range g.GetNode() {
		index[n] = i
	}
	r := map[int][]int{}
	for i, n := range g.GetNode() {
		if strings.HasPrefix(n.GetName(), GuardPrefix) {
			continue
		}
		for _, in := range n.GetInput() {
			p := fused[in]
			if p == nil || exactFusion(p, n) {
				continue
			}
			if pi := index[p]; !slices.Contains(r[i], pi) {
				r[i] = append(r[i], pi)
			}
		}
	}
	return r
}

// reshapedMatMuls returns the MatMuls ORT fuses with the Add reading their
// output (MatMulAddFusion). For inputs of rank above 2 the fusion reshapes
// them to 2-D around the Gemm, and ReshapeFusion then merges a guard's
// Reshape on such an input into that one: the guard's shape input is lost
// and ORT 1.30 fails to load the model (GetIndexFromName ... _new_reshape).
// So no guard sits on their inputs.
func reshapedMatMuls(g *onnxpb.GraphProto, fused map[string]*onnxpb.NodeProto) map[*onnxpb.NodeProto]bool {
	r := map[*onnxpb.NodeProto]bool{}
	for _, n := range g.GetNode() {
		if n.GetOpType() != "Add" {
			continue
		}
		for _, in := range n.GetInput() {
			if p := fused[in]; p != nil && p.GetOpType() == "MatMul" {
				r[p] = true
			}
		}
	}
	return r
}

// Unguarded returns the indexes of the nodes of g whose inputs Enforce
// never guards (reshapedMatMuls). A recomputation clone of one that reads
// only original values is a common subexpression of its original, which
// ORT's CSE would merge it back into, so the rewrite recomputes one of its
// inputs with it.
func Unguarded(g *onnxpb.GraphProto) map[int]bool {
	rm := reshapedMatMuls(g, fusionValues(g, ConstantValues(g)))
	if len(rm) == 0 {
		return nil
	}
	r := map[int]bool{}
	for i, n := range g.GetNode() {
		if rm[n] {
			r[i] = true
		}
	}
	return r
}
