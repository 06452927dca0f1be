package autodiff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

func (b *builder) gemm(name, x, y string, ta, tb int64, alpha float64) string {
	attrs := []*onnxpb.AttributeProto{build.AttrInt("transA", ta), build.AttrInt("transB", tb)}
	if alpha != 1 {
		attrs = append(attrs, build.AttrFloat("alpha", float32(alpha)))
	}
	out := b.op("Gemm", name, []string{x, y}, attrs...)
	xd, yd := b.shapes[x].dims, b.shapes[y].dims
	m, k := xd[0], yd[1]
	if ta == 1 {
		m = xd[1]
	}
	if tb == 1 {
		k = yd[0]
	}
	b.setShape(out, b.elem(x), []int64{m, k})
	return out
}

// gradGemm: Y = alpha*A'B' + beta*C with A' = A or Aᵀ, B' = B or Bᵀ.
func gradGemm(b *builder, n *onnxpb.NodeProto, dy []string) error {
	a := attrsOf(n)
	ta, tb := a.int("transA", 0), a.int("transB", 0)
	alpha, beta := float64(a.float("alpha", 1)), float64(a.float("beta", 1))
	A, B, g := n.Input[0], n.Input[1], dy[0]
	for _, v := range []string{A, B, g} {
		if _, err := b.shape(v); err != nil {
			return err
		}
	}
	if b.needs[A] {
		if ta == 0 {
			b.addGrad(A, b.gemm("dA", g, B, 0, 1-tb, alpha))
		} else {
			b.addGrad(A, b.gemm("dA", B, g, tb, 1, alpha))
		}
	}
	if b.needs[B] {
		if tb == 0 {
			b.addGrad(B, b.gemm("dB", A, g, 1-ta, 0, alpha))
		} else {
			b.addGrad(B, b.gemm("dB", g, A, 1, ta, alpha))
		}
	}
	if C := input(n, 2); C != "" && b.needs[C] {
		return b.operand("dC", C, b.scale("beta_dy", g, beta))
	}
	return nil
}

func swapLast2(r int) []int64 {
	p := make([]int64, r)
	for i := range p {
		p[i] = int64(i)
	}
	p[r-1], p[r-2] = p[r-2], p[r-1]
	return p
}

func (b *builder) matmul(name, x, y string) string {
	out := b.op("MatMul", name, []string{x, y})
	xd, yd := b.shapes[x].dims, b.shapes[y].dims
	bx, by := xd[:len(xd)-2], yd[:len(yd)-2]
	dims := append(broadcastDims(bx, by), xd[len(xd)-2], yd[len(yd)-1])
	b.setShape(out, b.elem(x), dims)
	return out
}

// gradMatMul: dA = dY Bᵀ, dB = Aᵀ dY, summed over broadcast batch axes. A
// 2-D weight B with a batched A is handled as one Gemm over flattened rows.
// 1-D operands are promoted as numpy does ([K] → [1,K] or [K,1]) and their
// gradients reshaped back.
func gradMatMul(b *builder, n *onnxpb.NodeProto, dy []string) error {
	A, B, g := n.Input[0], n.Input[1], dy[0]
	ad, err := b.shape(A)
	if err != nil {
		return err
	}
	bd, err := b.shape(B)
	if err != nil {
		return err
	}
	yd, err := b.shape(g)
	if err != nil {
		return err
	}
	if len(ad) == 0 || len(bd) == 0 {
		return fmt.Errorf("MatMul with a scalar operand")
	}
	A2, B2, ad2, bd2, yd2 := A, B, ad, bd, yd
	if len(ad) == 1 {
		ad2 = []int64{1, ad[0]}
		A2 = b.reshape("A_row", A, ad2)
		yd2 = append(append(append([]int64{}, yd2[:len(yd2)-1]...), 1), yd2[len(yd2)-1])
	}
	if len(bd) == 1 {
		bd2 = []int64{bd[0], 1}
		B2 = b.reshape("B_col", B, bd2)
		yd2 = append(append([]int64{}, yd2...), 1)
	}
	g = b.reshape("dY_2d", g, yd2)
	if b.needs[A] {
		bt := b.transpose("Bt", B2, swapLast2(len(bd2)))
		full := b.matmul("dA_full", g, bt)
		b.addGrad(A, b.reshape("dA", b.unbroadcast("dA_2d", full, ad2), ad))
	}
	if b.needs[B] {
		if len(bd2) == 2 && len(ad2) > 2 {
			rows := numel(ad2[:len(ad2)-1])
			a2 := b.reshape("A_rows", A2, []int64{rows, ad2[len(ad2)-1]})
			g2 := b.reshape("dY_rows", g, []int64{rows, bd2[1]})
			b.addGrad(B, b.reshape("dB", b.gemm("dB_2d", a2, g2, 1, 0, 1), bd))
		} else {
			at := b.transpose("At", A2, swapLast2(len(ad2)))
			full := b.matmul("dB_full", at, g)
			b.addGrad(B, b.reshape("dB", b.unbroadcast("dB_2d", full, bd2), bd))
		}
	}
	return nil
}

// gradEinsum: for operand i with subscripts s_i, dX_i = Einsum(dY, the other
// operands; "out,s_j,…->s_i"): the sum over every index the forward summed,
// of dY times the other factors. Indices of s_i that appear nowhere else
// (summed over x_i alone) get dY broadcast along them (Unsqueeze, Expand).
// Ellipses and an index repeated within s_i (a diagonal) are not supported.
func gradEinsum(b *builder, n *onnxpb.NodeProto, dy []string) error {
	eq := strings.ReplaceAll(attrsOf(n).str("equation", ""), " ", "")
	if strings.Contains(eq, ".") {
		return fmt.Errorf("Einsum %q: ellipsis is not supported", eq)
	}
	lhs, out, explicit := strings.Cut(eq, "->")
	ins := strings.Split(lhs, ",")
	if len(ins) != len(n.Input) {
		return fmt.Errorf("Einsum %q: %d operands, %d inputs", eq, len(ins), len(n.Input))
	}
	if !explicit {
		// Implicit output: the indices that appear once, in alphabetical order.
		count := map[rune]int{}
		for _, r := range lhs {
			if r != ',' {
				count[r]++
			}
		}
		var once []rune
		for r, c := range count {
			if c == 1 {
				once = append(once, r)
			}
		}
		slices.Sort(once)
		out = string(once)
	}
	for i, x := range n.Input {
		if !b.needs[x] {
			continue
		}
		xd, err := b.shape(x)
		if err != nil {
			return err
		}
		s := ins[i]
		if len(s) != len(xd) {
			return fmt.Errorf("Einsum %q: operand %d has rank %d", eq, i, len(xd))
		}
		elsewhere := out
		operands := []string{dy[0]}
		terms := []string{out}
		for j, t := range ins {
			if j != i {
				elsewhere += t
				operands = append(operands, n.Input[j])
				terms = append(terms, t)
			}
		}
		var kept []rune                // indices of s_i the gradient einsum can produce
		var keptDims []int64           // their sizes
		kd := append([]int64{}, xd...) // xd with 1 at the indices summed over x_i alone
		for p, r := range s {
			if strings.Count(s, string(r)) > 1 {
				return fmt.Errorf("Einsum %q: index %c repeated in operand %d (a diagonal) is not supported", eq, r, i)
			}
			if strings.ContainsRune(elsewhere, r) {
				kept, keptDims = append(kept, r), append(keptDims, xd[p])
			} else {
				kd[p] = 1
			}
		}
		g := b.op("Einsum", "dX", operands, build.AttrString("equation", strings.Join(terms, ",")+"->"+string(kept)))
		b.setShape(g, b.elem(x), keptDims)
		if len(kept) < len(s) {
			g = b.expandTo("dX_expanded", g, kd, xd)
		}
		b.addGrad(x, g)
	}
	return nil
}
