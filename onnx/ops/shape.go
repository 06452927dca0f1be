package ops

import (
	"fmt"
	"math"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Shape ops: they move or describe data without arithmetic (zero FLOPs) and
// fold when their input is a small constant, so PyTorch-exported shape
// arithmetic (Shape → Gather → Concat → Reshape) resolves.
//
// Shape, Size, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat,
// Split, Slice, Expand, Tile, Pad, ConstantOfShape, Constant, Range, Resize,
// Upsample, DepthToSpace, SpaceToDepth.

func init() {
	rules := []Rule{
		{Type: "Shape", Infer: inferShape},
		{Type: "Size", Infer: inferSize},
		{Type: "Reshape", Infer: inferReshape},
		{Type: "Flatten", Infer: inferFlatten},
		{Type: "Transpose", Infer: inferTranspose},
		{Type: "Squeeze", Infer: inferSqueeze},
		{Type: "Unsqueeze", Infer: inferUnsqueeze},
		{Type: "Concat", Infer: inferConcat},
		{Type: "Split", Infer: inferSplit},
		{Type: "Slice", Infer: inferSlice},
		{Type: "Expand", Infer: inferExpand},
		{Type: "Tile", Infer: inferTile},
		{Type: "Pad", Infer: inferPad},
		{Type: "ConstantOfShape", Infer: inferConstantOfShape},
		{Type: "Constant", Infer: inferConstant},
		{Type: "Range", Infer: inferRange},
		{Type: "Resize", Infer: inferResize, FLOPs: perOutput(4)},
		{Type: "Upsample", Infer: inferResize, FLOPs: perOutput(4)},
		{Type: "DepthToSpace", Infer: inferDepthToSpace},
		{Type: "SpaceToDepth", Infer: inferDepthToSpace},
	}
	for _, r := range rules {
		if r.FLOPs == nil {
			r.FLOPs = zeroFLOPs
		}
		r.Recompute = always
		register(r)
	}
}

// ints returns input i as an int64 slice if it is a known constant.
func (c *Ctx) ints(i int) ([]int64, bool) {
	if k := c.konst(i); k != nil {
		return k.IntSlice(), true
	}
	return nil, false
}

// axesOf returns the axes of Squeeze/Unsqueeze/Reduce*: the attribute in
// old opsets, input 1 in new ones. present=false means "none given";
// known=false means given but not a constant.
func (c *Ctx) axesOf(inputSince int64, idx int) (axes []int64, present, known bool) {
	if c.Opset < inputSince || attr(c.N, "axes") != nil {
		a, ok := attrInts(c.N, "axes")
		return a, ok, true
	}
	if !c.has(idx) {
		return nil, false, true
	}
	a, ok := c.ints(idx)
	return a, true, ok
}

func inferShape(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, Tensor{Elem: onnxpb.TensorProto_INT64, Dims: []int64{-1}, Rank: 1})
		return nil
	}
	start, end := attrInt(c.N, "start", 0), attrInt(c.N, "end", int64(x.Rank))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += int64(x.Rank)
		}
		return max(0, min(v, int64(x.Rank)))
	}
	start, end = clamp(start), clamp(end)
	dims := []int64{}
	if end > start {
		dims = x.Dims[start:end]
	}
	c.set(0, Tensor{Elem: onnxpb.TensorProto_INT64, Dims: []int64{int64(len(dims))}, Rank: 1})
	if (Tensor{Dims: dims, Rank: len(dims)}).Static() {
		c.setConst(0, newIntConst(onnxpb.TensorProto_INT64, []int64{int64(len(dims))}, append([]int64{}, dims...)))
	}
	return nil
}

func inferSize(c *Ctx) error {
	c.set(0, Tensor{Elem: onnxpb.TensorProto_INT64, Dims: []int64{}, Rank: 0})
	if n, ok := c.in(0).Elements(); ok {
		c.setConst(0, newIntConst(onnxpb.TensorProto_INT64, nil, []int64{n}))
	}
	return nil
}

// reshaped returns constant k with new dims (nil if k is nil).
func reshaped(k *Const, dims []int64) *Const {
	if k == nil {
		return nil
	}
	r := *k
	r.Dims = append([]int64{}, dims...)
	return &r
}

func inferReshape(c *Ctx) error {
	x := c.in(0)
	shape, ok := c.ints(1)
	if c.Opset < 5 {
		shape, ok = attrInts(c.N, "shape")
	}
	if !ok {
		if st := c.in(1); st.Rank == 1 && st.Dims[0] >= 0 {
			c.set(0, ofRank(x.Elem, int(st.Dims[0])))
		} else {
			c.set(0, Tensor{Elem: x.Elem, Rank: -1})
		}
		return nil
	}
	allowZero := attrInt(c.N, "allowzero", 0) != 0
	dims := make([]int64, len(shape))
	infer := -1
	known := int64(1)
	for i, s := range shape {
		switch {
		case s == 0 && !allowZero:
			dims[i] = -1
			if x.Rank > i {
				dims[i] = x.Dims[i]
			} else if x.Rank >= 0 {
				return fmt.Errorf("Reshape copies dim %d of a rank-%d input", i, x.Rank)
			}
		case s == -1:
			if infer >= 0 {
				return fmt.Errorf("Reshape shape %v has two -1", shape)
			}
			infer = i
			dims[i] = -1
			continue
		case s < -1:
			return fmt.Errorf("Reshape shape %v has a negative dim", shape)
		default:
			dims[i] = s
		}
		if dims[i] >= 0 && known >= 0 {
			known *= dims[i]
		} else {
			known = -1
		}
	}
	if infer >= 0 {
		if n, ok := x.Elements(); ok && known > 0 {
			if n%known != 0 {
				return fmt.Errorf("Reshape of %d elements to %v", n, shape)
			}
			dims[infer] = n / known
		} else if ok && known == 0 && n == 0 {
			dims[infer] = 0
		}
	}
	c.set(0, Tensor{Elem: x.Elem, Dims: dims, Rank: len(dims)})
	if t := (Tensor{Dims: dims, Rank: len(dims)}); t.Static() {
		c.setConst(0, reshaped(c.konst(0), dims))
	}
	return nil
}

func inferFlatten(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, ofRank(x.Elem, 2))
		return nil
	}
	axis := attrInt(c.N, "axis", 1)
	if axis < 0 {
		axis += int64(x.Rank)
	}
	if axis < 0 || axis > int64(x.Rank) {
		return fmt.Errorf("Flatten axis %d out of range for rank %d", axis, x.Rank)
	}
	p := func(d []int64) int64 {
		n := int64(1)
		for _, v := range d {
			if v < 0 {
				return -1
			}
			n *= v
		}
		return n
	}
	dims := []int64{p(x.Dims[:axis]), p(x.Dims[axis:])}
	c.set(0, Tensor{Elem: x.Elem, Dims: dims, Rank: 2})
	if dims[0] >= 0 && dims[1] >= 0 {
		c.setConst(0, reshaped(c.konst(0), dims))
	}
	return nil
}

func inferTranspose(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, x)
		return nil
	}
	perm, ok := attrInts(c.N, "perm")
	if !ok {
		perm = make([]int64, x.Rank)
		for i := range perm {
			perm[i] = int64(x.Rank - 1 - i)
		}
	}
	if len(perm) != x.Rank {
		return fmt.Errorf("Transpose perm %v for rank %d", perm, x.Rank)
	}
	out := ofRank(x.Elem, x.Rank)
	for i, p := range perm {
		a, err := normAxis(p, x.Rank)
		if err != nil {
			return err
		}
		out.Dims[i] = x.Dims[a]
	}
	c.set(0, out)
	if k := c.konst(0); k != nil && x.Rank <= 1 {
		c.setConst(0, k)
	}
	return nil
}

func inferSqueeze(c *Ctx) error {
	x := c.in(0)
	axes, present, known := c.axesOf(13, 1)
	if x.Rank < 0 || !known {
		c.set(0, Tensor{Elem: x.Elem, Rank: -1})
		return nil
	}
	drop := make([]bool, x.Rank)
	if !present || len(axes) == 0 {
		for i, d := range x.Dims {
			if d < 0 {
				c.set(0, Tensor{Elem: x.Elem, Rank: -1})
				return nil
			}
			drop[i] = d == 1
		}
	}
	for _, a := range axes {
		i, err := normAxis(a, x.Rank)
		if err != nil {
			return err
		}
		if d := x.Dims[i]; d >= 0 && d != 1 {
			return fmt.Errorf("Squeeze axis %d has size %d", a, d)
		}
		drop[i] = true
	}
	dims := []int64{}
	for i, d := range x.Dims {
		if !drop[i] {
			dims = append(dims, d)
		}
	}
	c.set(0, Tensor{Elem: x.Elem, Dims: dims, Rank: len(dims)})
	c.setConst(0, reshaped(c.konst(0), dims))
	return nil
}

func inferUnsqueeze(c *Ctx) error {
	x := c.in(0)
	axes, _, known := c.axesOf(13, 1)
	if x.Rank < 0 || !known {
		if known && x.Rank >= 0 {
			c.set(0, ofRank(x.Elem, x.Rank+len(axes)))
		} else {
			c.set(0, Tensor{Elem: x.Elem, Rank: -1})
		}
		return nil
	}
	r := x.Rank + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		i, err := normAxis(a, r)
		if err != nil {
			return err
		}
		if ins[i] {
			return fmt.Errorf("Unsqueeze axis %d repeated", a)
		}
		ins[i] = true
	}
	dims := make([]int64, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			dims = append(dims, 1)
		} else {
			dims = append(dims, x.Dims[j])
			j++
		}
	}
	c.set(0, Tensor{Elem: x.Elem, Dims: dims, Rank: r})
	c.setConst(0, reshaped(c.konst(0), dims))
	return nil
}

func inferConcat(c *Ctx) error {
	if len(c.In) == 0 {
		return fmt.Errorf("Concat without inputs")
	}
	var out Tensor
	out.Rank = -1
	for _, t := range c.In {
		if out.Elem == 0 {
			out.Elem = t.Elem
		}
		if t.Rank >= 0 {
			out.Rank = t.Rank
		}
	}
	if out.Rank < 0 {
		c.set(0, out)
		return nil
	}
	axis, err := normAxis(attrInt(c.N, "axis", 0), out.Rank)
	if err != nil {
		return err
	}
	out = ofRank(out.Elem, out.Rank)
	out.Dims[axis] = 0
	for _, t := range c.In {
		if t.Rank < 0 {
			out.Dims[axis] = -1
			continue
		}
		if t.Rank != out.Rank {
			return fmt.Errorf("Concat of rank %d and %d", t.Rank, out.Rank)
		}
		for i, d := range t.Dims {
			if i == axis {
				if d < 0 || out.Dims[axis] < 0 {
					out.Dims[axis] = -1
				} else {
					out.Dims[axis] += d
				}
			} else if out.Dims[i] < 0 {
				out.Dims[i] = d
			}
		}
	}
	c.set(0, out)
	// Fold 1-D constants (shape vectors), the common case.
	if out.Rank == 1 && out.Static() {
		var ints []int64
		var floats []float64
		for i := range c.In {
			k := c.konst(i)
			if k == nil {
				return nil
			}
			if k.IsFloat() {
				floats = append(floats, k.FloatSlice()...)
			} else {
				ints = append(ints, k.Ints...)
			}
		}
		if isFloatElem(out.Elem) {
			if ints != nil {
				return nil
			}
			c.setConst(0, newConst(out.Elem, out.Dims, floats))
		} else if floats == nil {
			c.setConst(0, newIntConst(out.Elem, out.Dims, ints))
		}
	}
	return nil
}

func inferSplit(c *Ctx) error {
	x := c.in(0)
	nout := len(c.Out)
	if x.Rank < 0 {
		for i := range c.Out {
			c.set(i, Tensor{Elem: x.Elem, Rank: -1})
		}
		return nil
	}
	axis, err := normAxis(attrInt(c.N, "axis", 0), x.Rank)
	if err != nil {
		return err
	}
	var split []int64
	ok := false
	if c.Opset < 13 {
		split, ok = attrInts(c.N, "split")
	} else if c.has(1) {
		split, ok = c.ints(1)
		if !ok {
			for i := range c.Out {
				c.set(i, ofRank(x.Elem, x.Rank))
			}
			return nil
		}
	}
	d := x.Dims[axis]
	if !ok {
		split = make([]int64, nout)
		for i := range split {
			split[i] = -1
		}
		if d >= 0 && nout > 0 {
			if attr(c.N, "num_outputs") != nil {
				chunk := ceilDiv(d, int64(nout))
				for i := range split {
					split[i] = min(chunk, max(0, d-chunk*int64(i)))
				}
			} else {
				if d%int64(nout) != 0 {
					return fmt.Errorf("Split of %d into %d equal parts", d, nout)
				}
				for i := range split {
					split[i] = d / int64(nout)
				}
			}
		}
	}
	if len(split) != nout {
		return fmt.Errorf("Split has %d sizes for %d outputs", len(split), nout)
	}
	k := c.konst(0)
	off := int64(0)
	for i := range c.Out {
		t := shaped(x.Elem, x.Dims)
		t.Dims[axis] = split[i]
		c.set(i, t)
		if k != nil && x.Rank == 1 && split[i] >= 0 && off >= 0 {
			if k.IsFloat() {
				c.setConst(i, newConst(k.Elem, t.Dims, k.Floats[off:off+split[i]]))
			} else {
				c.setConst(i, newIntConst(k.Elem, t.Dims, append([]int64{}, k.Ints[off:off+split[i]]...)))
			}
		}
		if split[i] < 0 {
			off = -1
		} else if off >= 0 {
			off += split[i]
		}
	}
	return nil
}

// sliceRange normalizes a slice of a dim of length d; it returns the first
// index, the step and the count.
func sliceRange(d, start, end, step int64) (first, count int64) {
	if step > 0 {
		if start < 0 {
			start += d
		}
		if end < 0 {
			end += d
		}
		start = max(0, min(start, d))
		end = max(0, min(end, d))
		if end <= start {
			return start, 0
		}
		return start, (end - start + step - 1) / step
	}
	if start < 0 {
		start += d
	}
	if end < 0 && end > math.MinInt64+d {
		end += d
	}
	start = max(0, min(start, d-1))
	end = max(-1, min(end, d-1))
	if start <= end {
		return start, 0
	}
	return start, (start - end + (-step) - 1) / (-step)
}

func inferSlice(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, x)
		return nil
	}
	var starts, ends, axes, steps []int64
	var okS, okE, okA, okT bool
	if c.Opset < 10 {
		starts, okS = attrInts(c.N, "starts")
		ends, okE = attrInts(c.N, "ends")
		axes, okA = attrInts(c.N, "axes")
		okT = true
		if !okA {
			okA = true
			axes = nil
		}
	} else {
		starts, okS = c.ints(1)
		ends, okE = c.ints(2)
		okA, okT = true, true
		if c.has(3) {
			axes, okA = c.ints(3)
		}
		if c.has(4) {
			steps, okT = c.ints(4)
		}
	}
	out := shaped(x.Elem, x.Dims)
	if !okA {
		c.set(0, ofRank(x.Elem, x.Rank))
		return nil
	}
	if axes == nil {
		n := len(starts)
		if !okS {
			n = len(ends)
		}
		if !okS && !okE {
			c.set(0, ofRank(x.Elem, x.Rank))
			return nil
		}
		axes = make([]int64, n)
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	if !okS || !okE || !okT {
		for _, a := range axes {
			i, err := normAxis(a, x.Rank)
			if err != nil {
				return err
			}
			out.Dims[i] = -1
		}
		c.set(0, out)
		return nil
	}
	if len(starts) != len(axes) || len(ends) != len(axes) || (steps != nil && len(steps) != len(axes)) {
		return fmt.Errorf("Slice starts/ends/axes/steps lengths differ")
	}
	firsts := make([]int64, x.Rank)
	stepOf := ones(x.Rank)
	for j, a := range axes {
		i, err := normAxis(a, x.Rank)
		if err != nil {
			return err
		}
		step := int64(1)
		if steps != nil {
			step = steps[j]
		}
		if step == 0 {
			return fmt.Errorf("Slice step 0")
		}
		stepOf[i] = step
		if d := x.Dims[i]; d >= 0 {
			firsts[i], out.Dims[i] = sliceRange(d, starts[j], ends[j], step)
		} else {
			out.Dims[i] = -1
		}
	}
	c.set(0, out)
	if k := c.konst(0); k != nil && x.Rank == 1 && out.Static() {
		v := make([]float64, out.Dims[0])
		iv := make([]int64, out.Dims[0])
		for j := range v {
			src := firsts[0] + int64(j)*stepOf[0]
			if k.IsFloat() {
				v[j] = k.Floats[src]
			} else {
				iv[j] = k.Ints[src]
			}
		}
		if k.IsFloat() {
			c.setConst(0, newConst(k.Elem, out.Dims, v))
		} else {
			c.setConst(0, newIntConst(k.Elem, out.Dims, iv))
		}
	}
	return nil
}

func inferExpand(c *Ctx) error {
	x := c.in(0)
	shape, ok := c.ints(1)
	if !ok {
		if st := c.in(1); st.Rank == 1 && st.Dims[0] >= 0 && x.Rank >= 0 {
			c.set(0, ofRank(x.Elem, max(x.Rank, int(st.Dims[0]))))
		} else {
			c.set(0, Tensor{Elem: x.Elem, Rank: -1})
		}
		return nil
	}
	t, err := broadcast(x, Tensor{Dims: shape, Rank: len(shape)})
	if err != nil {
		return err
	}
	t.Elem = x.Elem
	c.set(0, t)
	if k := c.konst(0); k != nil && t.Static() {
		if n, ok := t.Elements(); ok && n <= maxConstElems {
			idx := broadcastIndex(t.Dims, k.Dims)
			if k.IsFloat() {
				v := make([]float64, n)
				for i := range v {
					v[i] = k.Floats[idx[i]]
				}
				c.setConst(0, newConst(k.Elem, t.Dims, v))
			} else {
				v := make([]int64, n)
				for i := range v {
					v[i] = k.Ints[idx[i]]
				}
				c.setConst(0, newIntConst(k.Elem, t.Dims, v))
			}
		}
	}
	return nil
}

func inferTile(c *Ctx) error {
	x := c.in(0)
	rep, ok := c.ints(1)
	if x.Rank < 0 {
		c.set(0, x)
		return nil
	}
	out := shaped(x.Elem, x.Dims)
	if !ok {
		c.set(0, ofRank(x.Elem, x.Rank))
		return nil
	}
	if len(rep) != x.Rank {
		return fmt.Errorf("Tile repeats %v for rank %d", rep, x.Rank)
	}
	for i, r := range rep {
		if out.Dims[i] >= 0 {
			out.Dims[i] *= r
		}
	}
	c.set(0, out)
	return nil
}

func inferPad(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, x)
		return nil
	}
	var pads []int64
	ok := false
	if c.Opset < 11 {
		pads, ok = attrInts(c.N, "pads")
		if !ok {
			pads, ok = attrInts(c.N, "paddings")
		}
	} else {
		pads, ok = c.ints(1)
	}
	if !ok {
		c.set(0, ofRank(x.Elem, x.Rank))
		return nil
	}
	axes := make([]int64, x.Rank)
	for i := range axes {
		axes[i] = int64(i)
	}
	if c.Opset >= 18 && c.has(3) {
		a, ok := c.ints(3)
		if !ok {
			c.set(0, ofRank(x.Elem, x.Rank))
			return nil
		}
		axes = a
	}
	if len(pads) != 2*len(axes) {
		return fmt.Errorf("Pad has %d pads for %d axes", len(pads), len(axes))
	}
	out := shaped(x.Elem, x.Dims)
	for j, a := range axes {
		i, err := normAxis(a, x.Rank)
		if err != nil {
			return err
		}
		if out.Dims[i] >= 0 {
			out.Dims[i] += pads[j] + pads[j+len(axes)]
		}
	}
	c.set(0, out)
	return nil
}

func inferConstantOfShape(c *Ctx) error {
	elem := onnxpb.TensorProto_FLOAT
	var fill *Const
	if a := attr(c.N, "value"); a != nil && a.GetT() != nil {
		elem = onnxpb.TensorProto_DataType(a.GetT().GetDataType())
		fill = constFromProto(a.GetT())
	}
	shape, ok := c.ints(0)
	if !ok {
		if st := c.in(0); st.Rank == 1 && st.Dims[0] >= 0 {
			c.set(0, ofRank(elem, int(st.Dims[0])))
		} else {
			c.set(0, Tensor{Elem: elem, Rank: -1})
		}
		return nil
	}
	t := shaped(elem, shape)
	c.set(0, t)
	if n, ok := t.Elements(); ok && n <= maxConstElems {
		v := make([]float64, n)
		if fill != nil && fill.Len() > 0 {
			for i := range v {
				v[i] = fill.Float(0)
			}
		}
		c.setConst(0, newConst(elem, shape, v))
	}
	return nil
}

func inferConstant(c *Ctx) error {
	for _, a := range c.N.GetAttribute() {
		switch a.GetName() {
		case "value":
			t := a.GetT()
			c.set(0, shaped(onnxpb.TensorProto_DataType(t.GetDataType()), t.GetDims()))
			c.setConst(0, constFromProto(t))
		case "sparse_value":
			st := a.GetSparseTensor()
			c.set(0, shaped(onnxpb.TensorProto_DataType(st.GetValues().GetDataType()), st.GetDims()))
		case "value_int":
			c.setConst(0, newIntConst(onnxpb.TensorProto_INT64, nil, []int64{a.GetI()}))
		case "value_ints":
			c.setConst(0, newIntConst(onnxpb.TensorProto_INT64, []int64{int64(len(a.GetInts()))}, append([]int64{}, a.GetInts()...)))
		case "value_float":
			c.setConst(0, newConst(onnxpb.TensorProto_FLOAT, nil, []float64{float64(a.GetF())}))
		case "value_floats":
			v := make([]float64, len(a.GetFloats()))
			for i, f := range a.GetFloats() {
				v[i] = float64(f)
			}
			c.setConst(0, newConst(onnxpb.TensorProto_FLOAT, []int64{int64(len(v))}, v))
		case "value_string":
			c.set(0, Tensor{Elem: onnxpb.TensorProto_STRING, Dims: []int64{}, Rank: 0})
		case "value_strings":
			c.set(0, Tensor{Elem: onnxpb.TensorProto_STRING, Dims: []int64{int64(len(a.GetStrings()))}, Rank: 1})
		default:
			continue
		}
		return nil
	}
	return fmt.Errorf("Constant without a value attribute")
}

func inferRange(c *Ctx) error {
	elem := c.in(0).Elem
	c.set(0, Tensor{Elem: elem, Dims: []int64{-1}, Rank: 1})
	s, l, d := c.konst(0), c.konst(1), c.konst(2)
	if s == nil || l == nil || d == nil || s.Len() != 1 || l.Len() != 1 || d.Len() != 1 {
		return nil
	}
	start, limit, delta := s.Float(0), l.Float(0), d.Float(0)
	if delta == 0 {
		return fmt.Errorf("Range with delta 0")
	}
	nf := math.Max(math.Ceil((limit-start)/delta), 0)
	if math.IsNaN(nf) || nf > math.MaxInt32 {
		return fmt.Errorf("Range of %v elements", nf)
	}
	n := int64(nf)
	c.set(0, Tensor{Elem: elem, Dims: []int64{n}, Rank: 1})
	if n <= maxConstElems {
		v := make([]float64, n)
		for i := range v {
			v[i] = start + float64(i)*delta
		}
		c.setConst(0, newConst(elem, []int64{n}, v))
	}
	return nil
}

// inferResize handles Resize (opset 10: X, scales; 11+: X, roi, scales,
// sizes; 18+: axes attribute) and Upsample (scales attribute or input).
func inferResize(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, x)
		return nil
	}
	var scales []float64
	var sizes []int64
	switch {
	case c.N.GetOpType() == "Upsample" && c.Opset < 9:
		if a := attr(c.N, "scales"); a != nil {
			for _, f := range a.GetFloats() {
				scales = append(scales, float64(f))
			}
		}
	case c.N.GetOpType() == "Upsample" || c.Opset < 11:
		if k := c.konst(1); k != nil {
			scales = k.FloatSlice()
		}
	default:
		// Exporters pass an empty tensor for the unused one of scales/sizes.
		if c.has(3) && c.in(3).Rank == 1 && c.in(3).Dims[0] != 0 {
			sizes, _ = c.ints(3)
			if sizes == nil {
				c.set(0, ofRank(x.Elem, x.Rank))
				return nil
			}
		} else if k := c.konst(2); k != nil && k.Len() > 0 {
			scales = k.FloatSlice()
		}
	}
	axes := make([]int64, x.Rank)
	for i := range axes {
		axes[i] = int64(i)
	}
	if a, ok := attrInts(c.N, "axes"); ok {
		axes = a
	}
	out := shaped(x.Elem, x.Dims)
	switch {
	case sizes != nil:
		if len(sizes) != len(axes) {
			return fmt.Errorf("Resize sizes %v for %d axes", sizes, len(axes))
		}
		// keep_aspect_ratio_policy (opset 18) changes sizes; only "stretch" is exact.
		if p := attrString(c.N, "keep_aspect_ratio_policy", "stretch"); p != "stretch" {
			c.set(0, ofRank(x.Elem, x.Rank))
			return nil
		}
		for j, a := range axes {
			i, err := normAxis(a, x.Rank)
			if err != nil {
				return err
			}
			out.Dims[i] = sizes[j]
		}
	case scales != nil:
		if len(scales) != len(axes) {
			return fmt.Errorf("Resize scales %v for %d axes", scales, len(axes))
		}
		for j, a := range axes {
			i, err := normAxis(a, x.Rank)
			if err != nil {
				return err
			}
			if out.Dims[i] >= 0 {
				out.Dims[i] = int64(math.Floor(float64(out.Dims[i]) * scales[j]))
			}
		}
	default:
		out = ofRank(x.Elem, x.Rank)
	}
	c.set(0, out)
	return nil
}

func inferDepthToSpace(c *Ctx) error {
	x := c.in(0)
	if x.Rank != 4 {
		c.set(0, ofRank(x.Elem, x.Rank))
		return nil
	}
	b := attrInt(c.N, "blocksize", 1)
	out := shaped(x.Elem, x.Dims)
	mul := func(d, f int64) int64 {
		if d < 0 {
			return -1
		}
		return d * f
	}
	div := func(d, f int64) int64 {
		if d < 0 {
			return -1
		}
		return d / f
	}
	if c.N.GetOpType() == "DepthToSpace" {
		out.Dims[1], out.Dims[2], out.Dims[3] = div(x.Dims[1], b*b), mul(x.Dims[2], b), mul(x.Dims[3], b)
	} else {
		out.Dims[1], out.Dims[2], out.Dims[3] = mul(x.Dims[1], b*b), div(x.Dims[2], b), div(x.Dims[3], b)
	}
	c.set(0, out)
	return nil
}
