package autodiff

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// gradMaxPool reruns MaxPool on X for its Indices output (flat indices into
// X, padding not counted — ONNX MaxPool-8+), then puts dY at those indices.
// It reads X, not Y; the int64 indices exist only inside the backward.
//
// When the windows cannot overlap (every stride at least its kernel, no
// dilation) each input element is the maximum of at most one window, the
// indices are distinct, and MaxUnpool(dY, indices, shape of X) is the
// gradient: one tensor the size of X. Otherwise windows can share their
// maximum and the gradients must add up: ScatterElements(reduction=add) of
// dY into zeros, which holds two tensors the size of X at once. MaxUnpool
// is used for float32 only, the one type ONNX Runtime's CPU kernel takes.
func gradMaxPool(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	yd, err := b.shape(dy[0])
	if err != nil {
		return err
	}
	if attrsOf(n).int("storage_order", 0) != 0 {
		return fmt.Errorf("MaxPool with storage_order=1 is not supported")
	}
	var keep []*onnxpb.AttributeProto
	for _, a := range n.Attribute {
		keep = append(keep, a)
	}
	outs := b.emit("MaxPool", "rerun", []string{x}, 2, keep...)
	b.setShape(outs[0], b.elem(x), yd)
	b.setShape(outs[1], onnxpb.TensorProto_INT64, yd)
	if unpoolable(n, xd, yd, b.elem(x)) {
		a := attrsOf(n)
		attrs := []*onnxpb.AttributeProto{build.AttrInts("kernel_shape", a.ints("kernel_shape")...)}
		if s := a.ints("strides"); s != nil {
			attrs = append(attrs, build.AttrInts("strides", s...))
		}
		dx := b.op("MaxUnpool", "unpool", []string{dy[0], outs[1], b.constI64(xd...)}, attrs...)
		b.setShape(dx, b.elem(x), xd)
		b.addGrad(x, dx)
		return nil
	}
	idx, upd := b.flatPooled(outs[1], dy[0])
	z := b.zeros([]int64{numel(xd)}, b.elem(x))
	b.addGrad(x, b.reshape("dX", b.scatterAdd("scatter", z, idx, upd), xd))
	return nil
}

// flatPooled flattens MaxPool's flat indices idx and the pooled gradient
// dy for scatterAdd.
func (b *builder) flatPooled(idx, dy string) (string, string) {
	n := []int64{numel(b.shapes[dy].dims)}
	return b.reshape("indices_flat", idx, n), b.reshape("dY_flat", dy, n)
}

// scatterAdd adds upd into data (flat: one axis of the pooled input's
// size) at the flat indices idx: ScatterElements(reduction=add), axis 0.
func (b *builder) scatterAdd(name, data, idx, upd string) string {
	s := b.op("ScatterElements", name, []string{data, idx, upd}, build.AttrInt("axis", 0), build.AttrString("reduction", "add"))
	b.setShape(s, b.elem(data), b.shapes[data].dims)
	return s
}

// accumulateUnpool accumulates the gradient contributions cs of v when
// one of them is a MaxUnpool this package emitted and nothing else reads:
// instead of MaxUnpool (a tensor the size of v) and a Sum of it with the
// others (a second and a third), the others are summed and the pooled
// gradient is added into them by ScatterElements(reduction=add) — two
// tensors the size of v at once, not three. The indices are distinct
// (MaxUnpool's precondition), so every element receives at most one
// update. It returns the accumulated gradient, or "" if cs has no such
// MaxUnpool (or only it).
func (b *builder) accumulateUnpool(v string, cs []string) string {
	at := -1
	for i, c := range cs {
		if n := b.mine[c]; n != nil && n.GetOpType() == "MaxUnpool" && b.refs[c] == 0 && b.contribCount(c) == 1 {
			at = i
			break
		}
	}
	if at < 0 || len(cs) < 2 {
		return ""
	}
	un := b.mine[cs[at]]
	for i, n := range b.g.Node {
		if n == un {
			b.g.Node = append(b.g.Node[:i], b.g.Node[i+1:]...)
			break
		}
	}
	for _, in := range un.Input {
		b.refs[in]--
	}
	delete(b.mine, cs[at])
	dy, idx := un.Input[0], un.Input[1]
	rest := append(append([]string{}, cs[:at]...), cs[at+1:]...)
	saved := b.cur
	b.cur = "accumulate/" + v
	defer func() { b.cur = saved }()
	acc := rest[0]
	if len(rest) > 1 {
		acc = b.op("Sum", "sum", rest)
		b.setShape(acc, b.elem(v), b.shapes[v].dims)
	}
	xd := b.shapes[v].dims
	flat := b.reshape("flat", acc, []int64{numel(xd)})
	fi, fd := b.flatPooled(idx, dy)
	s := b.scatterAdd("scatter_add", flat, fi, fd)
	return b.accumulated(v, "Reshape", []string{s, b.constI64(xd...)})
}

// unpoolable reports whether MaxPool node n (input dims xd, element type
// elem) has windows that never overlap, so that MaxUnpool inverts its
// indices: 1 to 3 spatial axes, every stride at least its kernel, no
// dilation, float32; and (ONNX Runtime's kernel requires it) the size
// MaxUnpool infers from the pooled dims yd, (yd-1)·stride + kernel, must
// not exceed X's: a ceil_mode pool whose last window hangs over X's edge
// (GoogLeNet's 2×2 pools on odd maps) is refused by ORT ("output_shape is
// smaller than minimum required").
func unpoolable(n *onnxpb.NodeProto, xd, yd []int64, elem onnxpb.TensorProto_DataType) bool {
	a := attrsOf(n)
	k, s := a.ints("kernel_shape"), a.ints("strides")
	r := len(xd) - 2
	if elem != onnxpb.TensorProto_FLOAT || r < 1 || r > 3 || len(k) != r || (s != nil && len(s) != r) {
		return false
	}
	for _, d := range a.ints("dilations") {
		if d != 1 {
			return false
		}
	}
	for i := range k {
		st := int64(1)
		if s != nil {
			st = s[i]
		}
		if st < k[i] || len(yd) != len(xd) || (yd[2+i]-1)*st+k[i] > xd[2+i] {
			return false
		}
	}
	return true
}

// gradAveragePool: dX = ConvTranspose(dY · 1/count, ones kernel, one group
// per channel), count being each window's divisor (count_include_pad and
// ceil_mode respected); the constant count map is separable per axis.
func gradAveragePool(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	yd, err := b.shape(dy[0])
	if err != nil {
		return err
	}
	g, err := geometry(n, xd[2:], nil)
	if err != nil {
		return err
	}
	for _, d := range g.d {
		if d != 1 {
			return fmt.Errorf("AveragePool with dilations is not supported")
		}
	}
	include := attrsOf(n).int("count_include_pad", 0) != 0
	r := len(g.k)
	elem := b.elem(x)
	// Per-axis reciprocal counts, multiplied into one [1,1,O...] map.
	inv := []float64{1}
	mapDims := []int64{1, 1}
	uniform := true
	for i := 0; i < r; i++ {
		H, O := xd[2+i], yd[2+i]
		var next []float64
		for _, v := range inv {
			for o := int64(0); o < O; o++ {
				start := o*g.s[i] - g.pb[i]
				end := start + g.k[i]
				var c int64
				if include {
					c = min(end, H+g.pe[i]) - start
				} else {
					c = min(end, H) - max(start, 0)
				}
				if c != g.k[i] {
					uniform = false
				}
				next = append(next, v/float64(max(c, 1)))
			}
		}
		inv = next
		mapDims = append(mapDims, O)
	}
	var scaled string
	if uniform {
		scaled = b.scale("dY_over_count", dy[0], 1/float64(numel(g.k)))
	} else {
		scaled = b.mul("dY_over_count", dy[0], b.constTensor("inv_count", elem, mapDims, inv))
	}
	C := xd[1]
	kern := make([]float64, C*numel(g.k))
	for i := range kern {
		kern[i] = 1
	}
	w := b.constTensor("ones_kernel", elem, concatInts([]int64{C, 1}, g.k), kern)
	g.group = C
	dx, err := b.transposeConv("dX", scaled, w, g, C, C, xd[2:])
	if err != nil {
		return err
	}
	b.addGrad(x, dx)
	return nil
}

// gradGlobalAveragePool: dX = Expand(dY / (H·W…)); reads no forward value.
func gradGlobalAveragePool(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	g := b.scale("dY_over_count", dy[0], 1/float64(numel(xd[2:])))
	out := b.op("Expand", "dX", []string{g, b.constI64(xd...)})
	b.setShape(out, b.elem(x), xd)
	b.addGrad(x, out)
	return nil
}

// gradGlobalMaxPool: dY goes to the elements equal to their channel's
// maximum (ties all get it, as for ReduceMax).
func gradGlobalMaxPool(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	b.addGrad(x, b.extremeGrad(x, n.Output[0], dy[0], append([]int64{xd[0], xd[1]}, ones(len(xd)-2)...), xd))
	return nil
}
