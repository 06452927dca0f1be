package autodiff

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Shape ops: their gradients move dY back into the input's layout.

// gradReshapeLike (Reshape, Flatten, Squeeze, Unsqueeze): dX = Reshape(dY).
func gradReshapeLike(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	dims, err := b.shape(x)
	if err != nil {
		return err
	}
	b.addGrad(x, b.reshape("dX", dy[0], dims))
	return nil
}

// gradTranspose: dX = Transpose(dY, inverse perm).
func gradTranspose(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	dims, err := b.shape(x)
	if err != nil {
		return err
	}
	perm := attrsOf(n).ints("perm")
	if perm == nil {
		for i := len(dims) - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	inv := make([]int64, len(perm))
	for i, p := range perm {
		inv[p] = int64(i)
	}
	b.addGrad(x, b.transpose("dX", dy[0], inv))
	return nil
}

// gradConcat: the input gradients are a Split of dY.
func gradConcat(b *builder, n *onnxpb.NodeProto, dy []string) error {
	out, err := b.shape(n.Output[0])
	if err != nil {
		return err
	}
	axis := normAxis(attrsOf(n).int("axis", 0), len(out))
	var sizes []int64
	for _, in := range n.Input {
		d, err := b.shape(in)
		if err != nil {
			return err
		}
		sizes = append(sizes, d[axis])
	}
	parts := b.emit("Split", "split", []string{dy[0], b.constI64(sizes...)}, len(sizes), build.AttrInt("axis", axis))
	for i, in := range n.Input {
		d := append([]int64{}, out...)
		d[axis] = sizes[i]
		b.setShape(parts[i], b.elem(dy[0]), d)
		b.addGrad(in, parts[i])
	}
	return nil
}

// gradSplit: dX = Concat of the output gradients (zeros where none).
func gradSplit(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	axis := normAxis(attrsOf(n).int("axis", 0), len(xd))
	var parts []string
	for i, o := range n.Output {
		if dy[i] != "" {
			parts = append(parts, dy[i])
			continue
		}
		d, err := b.shape(o)
		if err != nil {
			return err
		}
		parts = append(parts, b.zeros(d, b.elem(x)))
	}
	g := b.op("Concat", "dX", parts, build.AttrInt("axis", axis))
	b.setShape(g, b.elem(x), xd)
	b.addGrad(x, g)
	return nil
}

// gradSlice: dX = Pad(dY) with zeros (unit steps).
func gradSlice(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	starts, ok1 := b.constInts(input(n, 1))
	ends, ok2 := b.constInts(input(n, 2))
	if !ok1 || !ok2 {
		return fmt.Errorf("starts/ends are not constants")
	}
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if a := input(n, 3); a != "" {
		if axes, ok1 = b.constInts(a); !ok1 {
			return fmt.Errorf("axes are not constants")
		}
	}
	r := len(xd)
	if s := input(n, 4); s != "" {
		steps, ok := b.constInts(s)
		if !ok || len(steps) != len(starts) {
			return fmt.Errorf("steps are not constants")
		}
		for _, st := range steps {
			if st != 1 {
				return b.gradStridedSlice(n, dy[0], xd, starts, ends, axes, steps)
			}
		}
	}
	pads := make([]int64, 2*r)
	for i, a := range axes {
		a = normAxis(a, r)
		dim := xd[a]
		st, en := starts[i], ends[i]
		if st < 0 {
			st += dim
		}
		if en < 0 {
			en += dim
		}
		st = max(0, min(st, dim))
		en = max(st, min(en, dim))
		pads[a] = st
		pads[int(a)+r] = dim - en
	}
	g := b.op("Pad", "dX", []string{dy[0], b.constI64(pads...)})
	b.setShape(g, b.elem(x), xd)
	b.addGrad(x, g)
	return nil
}

// gradExpand: dX = dY summed over the expanded axes.
func gradExpand(b *builder, n *onnxpb.NodeProto, dy []string) error {
	return b.operand("dX", n.Input[0], dy[0])
}

// gradPad (constant mode): dX = Slice(dY) back to the input's window.
func gradPad(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	pads, ok := b.constInts(input(n, 1))
	if !ok || len(pads) != 2*len(xd) {
		return fmt.Errorf("pads are not constants for every axis")
	}
	if a := input(n, 3); a != "" {
		return fmt.Errorf("Pad with axes is not supported")
	}
	r := len(xd)
	switch mode := attrsOf(n).str("mode", "constant"); mode {
	case "constant":
	case "reflect", "edge":
		return b.gradPadIndexed(x, dy[0], xd, pads, mode)
	default:
		return fmt.Errorf("Pad mode %q is not supported", mode)
	}
	starts, ends, axes := make([]int64, r), make([]int64, r), make([]int64, r)
	for i := 0; i < r; i++ {
		if pads[i] < 0 || pads[i+r] < 0 {
			return fmt.Errorf("negative pads are not supported")
		}
		starts[i], ends[i], axes[i] = pads[i], pads[i]+xd[i], int64(i)
	}
	g := b.op("Slice", "dX", []string{dy[0], b.constI64(starts...), b.constI64(ends...), b.constI64(axes...)})
	b.setShape(g, b.elem(x), xd)
	b.addGrad(x, g)
	return nil
}

// gradStridedSlice (any step): each sliced axis maps dY back through a
// constant 0/1 selection matrix S [out, in] (S[o, start+o·step] = 1).
func (b *builder) gradStridedSlice(n *onnxpb.NodeProto, g string, xd, starts, ends, axes, steps []int64) error {
	x := n.Input[0]
	yd, err := b.shape(g)
	if err != nil {
		return err
	}
	r := len(xd)
	for i, a := range axes {
		a = normAxis(a, r)
		dim, out, st, step := xd[a], yd[a], starts[i], steps[i]
		if step == 0 {
			return fmt.Errorf("Slice step 0")
		}
		// ONNX clamping of start (ends only bound the count, known as out).
		if st < 0 {
			st += dim
		}
		if step > 0 {
			st = max(0, min(st, dim))
		} else {
			st = max(-1, min(st, dim-1))
		}
		if step == 1 && out == dim {
			continue
		}
		m := make([]float64, out*dim)
		for o := int64(0); o < out; o++ {
			k := st + o*step
			if k < 0 || k >= dim {
				return fmt.Errorf("slice index %d out of range on axis %d", k, a)
			}
			m[o*dim+k] = 1
		}
		g = b.axisMatMul(g, int(a), b.constTensor(fmt.Sprintf("select_axis%d", a), b.elem(x), []int64{out, dim}, m))
	}
	b.addGrad(x, g)
	return nil
}

// gradTile: dY viewed as [r0, d0, r1, d1, …] summed over the repeat axes.
func gradTile(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	reps, ok := b.constInts(input(n, 1))
	if !ok || len(reps) != len(xd) {
		return fmt.Errorf("repeats are not constants")
	}
	var view, axes []int64
	for i, d := range xd {
		view = append(view, reps[i], d)
		axes = append(axes, int64(2*i))
	}
	v := b.reshape("dY_tiles", dy[0], view)
	b.addGrad(x, b.reshape("dX", b.reduceSum("dX_sum", v, axes, false), xd))
	return nil
}

// gradPadIndexed (reflect, edge): along each axis Y[o] = X[src(o)], so dY
// goes back through the constant 0/1 matrix S [out, in], S[o, src(o)] = 1.
func (b *builder) gradPadIndexed(x, g string, xd, pads []int64, mode string) error {
	r := len(xd)
	for a := 0; a < r; a++ {
		pb, pe, dim := pads[a], pads[a+r], xd[a]
		if pb < 0 || pe < 0 {
			return fmt.Errorf("negative pads are not supported")
		}
		if pb == 0 && pe == 0 {
			continue
		}
		out := dim + pb + pe
		m := make([]float64, out*dim)
		for o := int64(0); o < out; o++ {
			k := o - pb
			switch mode {
			case "edge":
				k = max(0, min(k, dim-1))
			case "reflect":
				if dim == 1 {
					k = 0
				}
				for dim > 1 && (k < 0 || k >= dim) {
					if k < 0 {
						k = -k
					}
					if k >= dim {
						k = 2*(dim-1) - k
					}
				}
			}
			m[o*dim+k] += 1
		}
		g = b.axisMatMul(g, a, b.constTensor(fmt.Sprintf("pad_axis%d", a), b.elem(x), []int64{out, dim}, m))
	}
	b.addGrad(x, g)
	return nil
}

// gradCumSum: dX = CumSum(dY) in the opposite direction (same exclusive).
func gradCumSum(b *builder, n *onnxpb.NodeProto, dy []string) error {
	a := attrsOf(n)
	g := b.op("CumSum", "dX", []string{dy[0], n.Input[1]}, build.AttrInt("exclusive", a.int("exclusive", 0)), build.AttrInt("reverse", 1-a.int("reverse", 0)))
	b.shapes[g] = b.shapes[dy[0]]
	b.addGrad(n.Input[0], g)
	return nil
}

// gradTrilu: dX = Trilu(dY) with the same k and upper.
func gradTrilu(b *builder, n *onnxpb.NodeProto, dy []string) error {
	in := []string{dy[0]}
	if k := input(n, 1); k != "" {
		in = append(in, k)
	}
	g := b.op("Trilu", "dX", in, build.AttrInt("upper", attrsOf(n).int("upper", 1)))
	b.shapes[g] = b.shapes[dy[0]]
	b.addGrad(n.Input[0], g)
	return nil
}

// gradDepthToSpace and gradSpaceToDepth undo the rearrangement on dY: the
// forward op is Reshape → Transpose → Reshape; the gradient reshapes dY to
// the transposed 6-D layout, applies the inverse permutation and reshapes
// to X's shape (ONNX's definitions of DCR, CRD and SpaceToDepth).
func gradDepthToSpace(b *builder, n *onnxpb.NodeProto, dy []string) error {
	return b.gradSpaceDepth(n, dy[0], true)
}

func gradSpaceToDepth(b *builder, n *onnxpb.NodeProto, dy []string) error {
	return b.gradSpaceDepth(n, dy[0], false)
}

func (b *builder) gradSpaceDepth(n *onnxpb.NodeProto, dy string, toSpace bool) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	if len(xd) != 4 {
		return fmt.Errorf("%s on rank %d (want 4)", n.GetOpType(), len(xd))
	}
	a := attrsOf(n)
	k := a.int("blocksize", 0)
	if k <= 0 {
		return fmt.Errorf("%s blocksize %d", n.GetOpType(), k)
	}
	N, C, H, W := xd[0], xd[1], xd[2], xd[3]
	var mid []int64  // dY as the forward transpose's output
	var perm []int64 // inverse of the forward permutation
	mode := a.str("mode", "DCR")
	switch {
	case toSpace && mode == "DCR":
		// [N, k, k, C/k², H, W] → perm [0,3,4,1,5,2] → [N, C/k², H, k, W, k]
		mid, perm = []int64{N, C / (k * k), H, k, W, k}, []int64{0, 3, 5, 1, 2, 4}
	case toSpace && mode == "CRD":
		// [N, C/k², k, k, H, W] → perm [0,1,4,2,5,3] → [N, C/k², H, k, W, k]
		mid, perm = []int64{N, C / (k * k), H, k, W, k}, []int64{0, 1, 3, 5, 2, 4}
	case toSpace:
		return fmt.Errorf("DepthToSpace mode %q", mode)
	default:
		// [N, C, H/k, k, W/k, k] → perm [0,3,5,1,2,4] → [N, k, k, C, H/k, W/k]
		mid, perm = []int64{N, k, k, C, H / k, W / k}, []int64{0, 3, 4, 1, 5, 2}
	}
	t := b.transpose("dY_T", b.reshape("dY_6d", dy, mid), perm)
	b.addGrad(x, b.reshape("dX", t, xd))
	return nil
}
