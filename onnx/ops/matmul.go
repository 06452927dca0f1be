package ops

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Matrix products: Gemm, MatMul (numpy semantics), MatMulInteger, Einsum,
// and ORT's FusedMatMul. FLOPs are 2 per multiply-add.

func init() {
	register(
		Rule{Type: "Gemm", Infer: inferGemm, FLOPs: gemmFLOPs, Recompute: always},
		Rule{Type: "MatMul", Infer: inferMatMul, FLOPs: matmulFLOPs, Recompute: always},
		Rule{Type: "MatMulInteger", Infer: inferMatMul, FLOPs: matmulFLOPs, Recompute: always},
		Rule{Domain: "com.microsoft", Type: "FusedMatMul", Infer: inferMatMul, FLOPs: matmulFLOPs, Recompute: always},
		Rule{Type: "Einsum", Infer: inferEinsum, FLOPs: einsumFLOPs, Recompute: always},
	)
}

func gemmDims(c *Ctx) (m, k, n int64, err error) {
	a, b := c.in(0), c.in(1)
	m, k, n = -1, -1, -1
	if a.Rank >= 0 && a.Rank != 2 || b.Rank >= 0 && b.Rank != 2 {
		return m, k, n, fmt.Errorf("Gemm needs rank-2 A and B, got %v and %v", a, b)
	}
	if a.Rank == 2 {
		m, k = a.Dims[0], a.Dims[1]
		if attrInt(c.N, "transA", 0) != 0 {
			m, k = k, m
		}
	}
	if b.Rank == 2 {
		kb, nb := b.Dims[0], b.Dims[1]
		if attrInt(c.N, "transB", 0) != 0 {
			kb, nb = nb, kb
		}
		n = nb
		if k < 0 {
			k = kb
		}
	}
	return m, k, n, nil
}

func inferGemm(c *Ctx) error {
	m, _, n, err := gemmDims(c)
	if err != nil {
		return err
	}
	elem := c.in(0).Elem
	if elem == 0 {
		elem = c.in(1).Elem
	}
	c.set(0, Tensor{Elem: elem, Dims: []int64{m, n}, Rank: 2})
	return nil
}

func gemmFLOPs(n *onnxpb.NodeProto, in, out []Tensor) float64 {
	if len(in) < 2 || len(out) == 0 {
		return 0
	}
	a := in[0]
	if a.Rank != 2 || !a.Static() {
		return 0
	}
	return 2 * elems(out[0]) * float64(a.Dims[1-int(min(1, attrInt(n, "transA", 0)))])
}

// matmulShape applies numpy matmul broadcasting. It returns the output type
// and the contracted length K (-1 if unknown).
func matmulShape(a, b Tensor, transA, transB bool) (Tensor, int64, error) {
	if a.Rank < 0 || b.Rank < 0 {
		return unknownTensor, -1, nil
	}
	if a.Rank == 0 || b.Rank == 0 {
		return Tensor{}, -1, fmt.Errorf("MatMul of a scalar")
	}
	ad, bd := append([]int64{}, a.Dims...), append([]int64{}, b.Dims...)
	if transA && len(ad) >= 2 {
		ad[len(ad)-1], ad[len(ad)-2] = ad[len(ad)-2], ad[len(ad)-1]
	}
	if transB && len(bd) >= 2 {
		bd[len(bd)-1], bd[len(bd)-2] = bd[len(bd)-2], bd[len(bd)-1]
	}
	vecA, vecB := len(ad) == 1, len(bd) == 1
	if vecA {
		ad = []int64{1, ad[0]}
	}
	if vecB {
		bd = []int64{bd[0], 1}
	}
	k := ad[len(ad)-1]
	if kb := bd[len(bd)-2]; k >= 0 && kb >= 0 && k != kb {
		return Tensor{}, -1, fmt.Errorf("MatMul inner dims differ: %v x %v", a.Dims, b.Dims)
	} else if k < 0 {
		k = kb
	}
	batch, err := broadcast(Tensor{Dims: ad[:len(ad)-2], Rank: len(ad) - 2}, Tensor{Dims: bd[:len(bd)-2], Rank: len(bd) - 2})
	if err != nil {
		return Tensor{}, -1, err
	}
	dims := batch.Dims
	if !vecA {
		dims = append(dims, ad[len(ad)-2])
	}
	if !vecB {
		dims = append(dims, bd[len(bd)-1])
	}
	return Tensor{Dims: dims, Rank: len(dims)}, k, nil
}

func inferMatMul(c *Ctx) error {
	fused := c.N.GetOpType() == "FusedMatMul"
	t, _, err := matmulShape(c.in(0), c.in(1), fused && attrInt(c.N, "transA", 0) != 0, fused && attrInt(c.N, "transB", 0) != 0)
	if err != nil {
		return err
	}
	t.Elem = c.in(0).Elem
	if c.N.GetOpType() == "MatMulInteger" {
		t.Elem = onnxpb.TensorProto_INT32
	}
	c.set(0, t)
	return nil
}

func matmulFLOPs(n *onnxpb.NodeProto, in, out []Tensor) float64 {
	if len(in) < 2 || len(out) == 0 {
		return 0
	}
	fused := n.GetOpType() == "FusedMatMul"
	_, k, err := matmulShape(in[0], in[1], fused && attrInt(n, "transA", 0) != 0, fused && attrInt(n, "transB", 0) != 0)
	if err != nil || k < 0 {
		return 0
	}
	return 2 * elems(out[0]) * float64(k)
}

// einsum is a parsed Einsum equation with the sizes of its letters and of
// the dims "..." stands for (broadcast over the inputs).
type einsum struct {
	ins      []string
	out      string // "..." kept; implicit outputs are made explicit
	size     map[rune]int64
	ellipsis Tensor // dims covered by "..." (Rank 0 if none)
}

// parseEinsum parses an equation like "bij,bjk->bik" or "...ij,...jk" and
// matches it with the inputs' shapes.
func parseEinsum(eq string, in []Tensor) (*einsum, error) {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	e := &einsum{ins: strings.Split(lhs, ","), size: map[rune]int64{}, ellipsis: Tensor{Dims: []int64{}, Rank: 0}}
	if len(e.ins) > len(in) {
		return nil, fmt.Errorf("Einsum: %d terms, %d inputs", len(e.ins), len(in))
	}
	count := map[rune]int{}
	for i, term := range e.ins {
		t := in[i]
		letters := strings.Replace(term, "...", "", 1)
		if strings.Contains(letters, ".") {
			return nil, fmt.Errorf("Einsum term %q: bad ellipsis", term)
		}
		nl := len([]rune(letters))
		hasEll := strings.Contains(term, "...")
		if t.Rank >= 0 && (t.Rank < nl || !hasEll && t.Rank != nl) {
			return nil, fmt.Errorf("Einsum term %q does not match rank %d", term, t.Rank)
		}
		if hasEll {
			if t.Rank < 0 {
				return nil, fmt.Errorf("Einsum with ellipsis on an input of unknown rank")
			}
			pre := len([]rune(term[:strings.Index(term, "...")]))
			ell := Tensor{Dims: t.Dims[pre : pre+t.Rank-nl], Rank: t.Rank - nl}
			b, err := broadcast(e.ellipsis, ell)
			if err != nil {
				return nil, err
			}
			e.ellipsis = b
		}
		j := 0
		for k, r := range []rune(term) {
			if r == '.' {
				if k == 0 || []rune(term)[k-1] != '.' {
					j += max(0, t.Rank-nl) // skip the ellipsis dims
				}
				continue
			}
			count[r]++
			if _, ok := e.size[r]; !ok {
				e.size[r] = -1
			}
			if t.Rank >= 0 {
				if d := t.Dims[j]; d > 1 || (d >= 0 && e.size[r] < 0) {
					e.size[r] = d
				}
			}
			j++
		}
	}
	if explicit {
		e.out = rhs
		return e, nil
	}
	var letters []string
	for r, k := range count {
		if k == 1 {
			letters = append(letters, string(r))
		}
	}
	sort.Strings(letters)
	e.out = strings.Join(letters, "")
	if strings.Contains(lhs, "...") {
		e.out = "..." + e.out
	}
	return e, nil
}

func inferEinsum(c *Ctx) error {
	e, err := parseEinsum(attrString(c.N, "equation", ""), c.In)
	if err != nil {
		return err
	}
	dims := []int64{}
	for _, r := range strings.Replace(e.out, "...", ".", 1) {
		if r == '.' {
			dims = append(dims, e.ellipsis.Dims...)
			continue
		}
		d, ok := e.size[r]
		if !ok {
			return fmt.Errorf("Einsum output letter %q not in inputs", r)
		}
		dims = append(dims, d)
	}
	c.set(0, Tensor{Elem: c.in(0).Elem, Dims: dims, Rank: len(dims)})
	return nil
}

// einsumFLOPs: 2 * the product of every letter's size and the ellipsis dims.
func einsumFLOPs(n *onnxpb.NodeProto, in, _ []Tensor) float64 {
	e, err := parseEinsum(attrString(n, "equation", ""), in)
	if err != nil {
		return 0
	}
	f := 2 * prod(e.ellipsis.Dims)
	for _, d := range e.size {
		if d < 0 {
			return 0
		}
		f *= float64(d)
	}
	return f
}
