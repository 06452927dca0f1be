package autodiff

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"google.golang.org/protobuf/proto"
)

// convGeom is the resolved geometry of a Conv/ConvTranspose/pool node: per
// spatial axis kernel, stride, dilation and explicit begin/end pads.
type convGeom struct {
	k, s, d, pb, pe []int64
	group           int64
}

func ones(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// geometry resolves attributes of n; in is the spatial input shape (for
// auto_pad), kernel the kernel's spatial shape.
func geometry(n *onnxpb.NodeProto, in, kernel []int64) (convGeom, error) {
	a := attrsOf(n)
	r := len(in)
	g := convGeom{k: kernel, s: a.ints("strides"), d: a.ints("dilations"), group: a.int("group", 1)}
	if g.k == nil {
		g.k = a.ints("kernel_shape")
	}
	if len(g.k) != r {
		return g, fmt.Errorf("kernel rank %d != spatial rank %d", len(g.k), r)
	}
	if g.s == nil {
		g.s = ones(r)
	}
	if g.d == nil {
		g.d = ones(r)
	}
	pads := a.ints("pads")
	g.pb, g.pe = make([]int64, r), make([]int64, r)
	switch ap := a.str("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		if pads != nil {
			if len(pads) != 2*r {
				return g, fmt.Errorf("pads %v: want %d values", pads, 2*r)
			}
			copy(g.pb, pads[:r])
			copy(g.pe, pads[r:])
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		if n.GetOpType() == "ConvTranspose" {
			return g, fmt.Errorf("ConvTranspose with auto_pad %s is not supported", ap)
		}
		for i := range in {
			out := (in[i] + g.s[i] - 1) / g.s[i]
			total := max(0, (out-1)*g.s[i]+(g.k[i]-1)*g.d[i]+1-in[i])
			if ap == "SAME_UPPER" {
				g.pb[i], g.pe[i] = total/2, total-total/2
			} else {
				g.pb[i], g.pe[i] = total-total/2, total/2
			}
		}
	default:
		return g, fmt.Errorf("auto_pad %q", ap)
	}
	return g, nil
}

func concatInts(a, c []int64) []int64 { return append(append([]int64{}, a...), c...) }

// transposeConvAttrs are the attributes of the ConvTranspose that maps a
// tensor of dims xd, the output of a convolution of geometry g, back to the
// spatial size want: the convolution's pads, with output_padding (or a
// larger end pad) making up what the strides dropped.
func transposeConvAttrs(xd []int64, g convGeom, group int64, want []int64) ([]*onnxpb.AttributeProto, error) {
	r := len(want)
	op := make([]int64, r)
	pe := append([]int64{}, g.pe...)
	for i := 0; i < r; i++ {
		o := xd[2+i]
		full := g.s[i]*(o-1) + (g.k[i]-1)*g.d[i] + 1 - g.pb[i]
		got := full - pe[i]
		switch {
		case got < want[i]:
			op[i] = want[i] - got
		case got > want[i]:
			pe[i] += got - want[i]
		}
		if op[i] >= max(g.s[i], g.d[i]) {
			return nil, fmt.Errorf("cannot match input size %d on spatial axis %d (output_padding %d)", want[i], i, op[i])
		}
	}
	attrs := []*onnxpb.AttributeProto{
		build.AttrInts("strides", g.s...), build.AttrInts("dilations", g.d...),
		build.AttrInts("pads", concatInts(g.pb, pe)...), build.AttrInts("kernel_shape", g.k...),
		build.AttrInt("group", group),
	}
	for _, p := range op {
		if p != 0 {
			attrs = append(attrs, build.AttrInts("output_padding", op...))
			break
		}
	}
	return attrs, nil
}

// transposeConv emits ConvTranspose(x, w) whose spatial output is want,
// choosing output_padding (or extra end padding when the forward windows ran
// past the input, e.g. ceil_mode) so that it matches exactly.
func (b *builder) transposeConv(name, x, w string, g convGeom, group int64, outC int64, want []int64) (string, error) {
	attrs, err := transposeConvAttrs(b.shapes[x].dims, g, group, want)
	if err != nil {
		return "", err
	}
	out := b.op("ConvTranspose", name, []string{x, w}, attrs...)
	b.setShape(out, b.elem(x), concatInts([]int64{b.shapes[x].dims[0], outC}, want))
	return out, nil
}

// inputGrad is the input gradient of a convolution: transposeConv, or,
// with Options.ConvInputGrad "auto" and when it needs less memory while it
// runs, the same sums as a convolution
// of dY with W's kernels flipped and its two channel axes swapped (stride
// 1, one group, pads p becoming d·(k-1)-p). ORT's ConvTranspose kernel
// computes each image into a column buffer of (channels of dX) × kernel
// size × (pixels of dY), nine times a dX image for a 3×3 kernel; its Conv
// kernel expands an image only when there are more filters than output
// pixels, into pixels × dY channels × kernel size, and not at all when
// pointwise (ops.KernelWorkspace gives both from onnx/ops/workspace.go).
// The flipped weights are two weight-sized tensors, counted against it.
func (b *builder) inputGrad(name, dy, w string, g convGeom, group, outC int64, want []int64) (string, error) {
	dyd, wd := b.shapes[dy].dims, b.shapes[w].dims
	r := len(want)
	ok := b.convForms && group == 1 && len(dyd) == r+2 && len(wd) == r+2 && b.elem(dy) == onnxpb.TensorProto_FLOAT
	pads := make([]int64, 2*r)
	for i := 0; ok && i < r; i++ {
		span := g.d[i] * (g.k[i] - 1)
		pads[i], pads[r+i] = span-g.pb[i], span-g.pe[i]
		ok = g.s[i] == 1 && pads[i] >= 0 && pads[r+i] >= 0 && dyd[2+i]+pads[i]+pads[r+i]-span == want[i]
	}
	convAttrs := []*onnxpb.AttributeProto{
		build.AttrInts("kernel_shape", g.k...), build.AttrInts("dilations", g.d...), build.AttrInts("pads", pads...), build.AttrInts("strides", ones(r)...),
	}
	if ok {
		tAttrs, err := transposeConvAttrs(dyd, g, group, want)
		if err != nil {
			return "", err
		}
		f := onnxpb.TensorProto_FLOAT
		tensor := func(d ...int64) ops.Tensor { return ops.Tensor{Elem: f, Dims: d, Rank: len(d)} }
		dyT, dxT := tensor(dyd...), tensor(concatInts([]int64{dyd[0], outC}, want)...)
		wT, flipT := tensor(wd...), tensor(concatInts([]int64{wd[1], wd[0]}, wd[2:])...)
		transposeWS := ops.KernelWorkspace(&onnxpb.NodeProto{OpType: proto.String("ConvTranspose"), Attribute: tAttrs}, []ops.Tensor{dyT, wT}, []ops.Tensor{dxT})
		convWS := ops.KernelWorkspace(&onnxpb.NodeProto{OpType: proto.String("Conv"), Attribute: convAttrs}, []ops.Tensor{dyT, flipT}, []ops.Tensor{dxT})
		wBytes, _ := wT.Bytes()
		ok = convWS+2*wBytes < transposeWS
	}
	if !ok {
		return b.transposeConv(name, dy, w, g, group, outC, want)
	}
	perm := []int64{1, 0}
	axes, starts, ends, steps := make([]int64, r), make([]int64, r), make([]int64, r), make([]int64, r)
	for i := 0; i < r; i++ {
		perm = append(perm, int64(2+i))
		axes[i], starts[i], ends[i], steps[i] = int64(2+i), -1, math.MinInt64, -1
	}
	wt := b.transpose("W_swapped", w, perm)
	flip := b.op("Slice", "W_flipped", []string{wt, b.constI64(starts...), b.constI64(ends...), b.constI64(axes...), b.constI64(steps...)})
	b.setShape(flip, b.elem(w), b.shapes[wt].dims)
	out := b.op("Conv", name, []string{dy, flip}, convAttrs...)
	b.setShape(out, b.elem(dy), concatInts([]int64{dyd[0], outC}, want))
	return out, nil
}

// weightGradChunk is the number of samples per batch chunk of the weight
// gradient, given the batch, the elements of in and out together (the
// tensors whose batch and channel axes the correlation swaps: a full copy of
// each, unless a chunk holds one sample and the swap only moves a size-1
// axis, a Reshape) and the elements of one correlation result. Chunks bound
// those copies to at most 1/8 of in and out: one sample per chunk up to
// batch 8, batch/8 samples above it. Chunking keeps a running total and the
// next chunk's result live besides the current one, so it is only chosen
// when the copies it avoids are at least 4 results large; batch 1 is always
// one chunk.
func weightGradChunk(batch, copies, result int64) int64 {
	switch {
	case batch <= 1 || copies < 4*result:
		return max(batch, 1)
	case batch <= 8:
		return 1
	}
	return batch / 8
}

// weightGrad computes W[b, a/g, k] = Σ_n Σ_o out[n,b,o] · in_pad[n,a,o·s+k·d]
// for a and b in the same group: the weight gradient of Conv (in = X,
// out = dY) and of ConvTranspose (in = dY, out = X). The sum over n runs over
// batch chunks (weightGradChunk): each chunk's nodes (slice in and out,
// swap axes, correlate) are emitted together and added to the running total
// at once, so that in file order only one chunk's copies are live. The
// total is cropped to the kernel size and transposed to W's layout once.
func (b *builder) weightGrad(in, out string, g convGeom) (string, error) {
	id, od := b.shapes[in].dims, b.shapes[out].dims
	N, A, B, grp := id[0], id[1], od[1], g.group
	sp := id[2:]
	r := len(sp)
	// Output size of the correlation: floor((H + pb + pe - ((O-1)·s + 1)) / d) + 1.
	osz := make([]int64, r)
	for i := 0; i < r; i++ {
		o := od[2+i]
		osz[i] = (sp[i]+g.pb[i]+g.pe[i]-((o-1)*g.s[i]+1))/g.d[i] + 1
		if osz[i] < g.k[i] {
			return "", fmt.Errorf("weight gradient window %d < kernel %d on axis %d", osz[i], g.k[i], i)
		}
	}
	// corr correlates samples [lo, hi): in and out, each sliced (when not
	// the whole batch) and then laid out with batch and channel swapped.
	corr := func(lo, hi int64) string {
		xi, oi := in, out
		if hi-lo < N {
			xi = b.sliceBatch("in_chunk", in, lo, hi)
		}
		xi = b.swapBatchChannel(xi, grp)
		if hi-lo < N {
			oi = b.sliceBatch("out_chunk", out, lo, hi)
		}
		kern := b.transpose("out_T", oi, concatInts([]int64{1, 0}, rangeFrom(2, r)))
		c := b.op("Conv", "dW_corr", []string{xi, kern},
			build.AttrInts("strides", g.d...), build.AttrInts("dilations", g.s...),
			build.AttrInts("pads", concatInts(g.pb, g.pe)...), build.AttrInts("kernel_shape", od[2:]...),
			build.AttrInt("group", grp))
		b.setShape(c, b.elem(in), concatInts([]int64{A / grp, B}, osz))
		return c
	}
	size := min(weightGradChunk(N, numel(id)+numel(od), A/grp*B*numel(osz)), N)
	c := corr(0, size)
	for lo := size; lo < N; lo += size {
		c = b.add("dW_acc", c, corr(lo, min(lo+size, N)))
	}
	need := false
	for i := range osz {
		if osz[i] != g.k[i] {
			need = true
		}
	}
	if need {
		axes := rangeFrom(2, r)
		s := b.op("Slice", "dW_crop", []string{c, b.constI64(make([]int64, r)...), b.constI64(g.k...), b.constI64(axes...)})
		b.setShape(s, b.elem(in), concatInts([]int64{A / grp, B}, g.k))
		c = s
	}
	return b.transpose("dW", c, concatInts([]int64{1, 0}, rangeFrom(2, r))), nil
}

// swapBatchChannel lays in [N, A, …] out as the correlation's input
// [A/g, g·N, …] (with g = 1: in with its first two axes swapped).
func (b *builder) swapBatchChannel(in string, grp int64) string {
	id := b.shapes[in].dims
	N, A, sp := id[0], id[1], id[2:]
	r := len(sp)
	if grp == 1 {
		return b.transpose("in_T", in, concatInts([]int64{1, 0}, rangeFrom(2, r)))
	}
	x5 := b.reshape("in_groups", in, concatInts([]int64{N, grp, A / grp}, sp))
	xt := b.transpose("in_groups_T", x5, concatInts([]int64{2, 1, 0}, rangeFrom(3, r)))
	return b.reshape("in_T", xt, concatInts([]int64{A / grp, grp * N}, sp))
}

// sliceBatch returns samples [lo, hi) of x along axis 0.
func (b *builder) sliceBatch(name, x string, lo, hi int64) string {
	out := b.op("Slice", name, []string{x, b.constI64(lo), b.constI64(hi), b.constI64(0)})
	b.setShape(out, b.elem(x), concatInts([]int64{hi - lo}, b.shapes[x].dims[1:]))
	return out
}

func rangeFrom(start, n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(start + i)
	}
	return v
}

// biasGrad sums dY over all axes but the channel axis.
func (b *builder) biasGrad(dy string) string {
	r := len(b.shapes[dy].dims)
	return b.reduceSum("dB", dy, concatInts([]int64{0}, rangeFrom(2, r-2)), false)
}

// gradConv: dX = inputGrad(dY, W) (ConvTranspose with the same strides,
// pads, dilations, groups, output_padding so dX has X's shape, or its
// convolution form); dW = weightGrad(X, dY); dB = ΣdY.
// dW is emitted before dX, so that X (often read last here) can be freed
// before dX is allocated when the backward runs in file order.
func gradConv(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x, w := n.Input[0], n.Input[1]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	wd, err := b.shape(w)
	if err != nil {
		return err
	}
	if _, err := b.shape(dy[0]); err != nil {
		return err
	}
	g, err := geometry(n, xd[2:], wd[2:])
	if err != nil {
		return err
	}
	// X = Concat(parts, axis 1) read only by this Conv (channelConcat):
	// dW = Concat(weightGrad(part_i, dY), axis 1) and dpart_i =
	// ConvTranspose(dY, W[:, c_i]), W[:, c_i] the part's input channels.
	// The same sums as through X, but neither X nor its gradient (two
	// tensors the size of X, and the Split's copies) is needed in the
	// backward. Otherwise X is the one part.
	parts, sizes := []string{x}, []int64{xd[1]}
	if ps, ss := b.channelConcat(x, n); ps != nil && g.group == 1 {
		parts, sizes = ps, ss
	}
	if b.needs[w] {
		var dws []string
		for _, p := range parts {
			dw, err := b.weightGrad(p, dy[0], g)
			if err != nil {
				return err
			}
			dws = append(dws, dw)
		}
		dw := dws[0]
		if len(dws) > 1 {
			dw = b.op("Concat", "dW_parts", dws, build.AttrInt("axis", 1))
			b.setShape(dw, b.elem(w), wd)
		}
		b.addGrad(w, dw)
	}
	var off int64
	for i, p := range parts {
		lo := off
		off += sizes[i]
		if !b.needs[p] {
			continue
		}
		wp, name, group := w, "dX", g.group
		if len(parts) > 1 {
			pw := append([]int64{}, wd...)
			pw[1] = sizes[i]
			wp, name, group = b.op("Slice", "W_part", []string{w, b.constI64(lo), b.constI64(off), b.constI64(1)}), "dX_part", 1
			b.setShape(wp, b.elem(w), pw)
		}
		pd := b.shapes[p].dims
		dx, err := b.inputGrad(name, dy[0], wp, g, group, pd[1], pd[2:])
		if err != nil {
			return err
		}
		b.addGrad(p, dx)
	}
	if bias := input(n, 2); bias != "" && b.needs[bias] {
		b.addGrad(bias, b.biasGrad(dy[0]))
	}
	return nil
}

// channelConcat returns the inputs of x and their channel counts when x is
// the output of a forward Concat on the channel axis (axis 1) and conv is
// its only reader: the convolution is then the sum of convolutions of the
// parts with the matching slices of W, and its gradient needs the parts,
// never the concatenation. Otherwise nil.
func (b *builder) channelConcat(x string, conv *onnxpb.NodeProto) ([]string, []int64) {
	var cat *onnxpb.NodeProto
	for _, n := range b.fwd {
		if slices.Contains(n.Output, x) {
			cat = n
		}
		if n != conv && slices.Contains(n.Input, x) {
			return nil, nil
		}
	}
	if cat == nil || cat.GetOpType() != "Concat" || len(cat.Input) < 2 {
		return nil, nil
	}
	xd := b.shapes[x].dims
	if normAxis(attrsOf(cat).int("axis", 0), len(xd)) != 1 {
		return nil, nil
	}
	var sizes []int64
	for _, in := range cat.Input {
		d, err := b.shape(in)
		if err != nil || b.elem(in) != b.elem(x) {
			return nil, nil
		}
		sizes = append(sizes, d[1])
	}
	return cat.Input, sizes
}

// gradConvTranspose: dX = Conv(dY, W) with the same geometry; dW =
// weightGrad(dY, X); dB = ΣdY. dW is emitted first, as in gradConv.
func gradConvTranspose(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x, w := n.Input[0], n.Input[1]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	wd, err := b.shape(w)
	if err != nil {
		return err
	}
	yd, err := b.shape(dy[0])
	if err != nil {
		return err
	}
	if attrsOf(n)["output_shape"] != nil {
		return fmt.Errorf("ConvTranspose with output_shape is not supported")
	}
	g, err := geometry(n, xd[2:], wd[2:])
	if err != nil {
		return err
	}
	if b.needs[w] {
		dw, err := b.weightGrad(dy[0], x, g)
		if err != nil {
			return err
		}
		b.addGrad(w, dw)
	}
	if b.needs[x] {
		dx := b.op("Conv", "dX", []string{dy[0], w},
			build.AttrInts("strides", g.s...), build.AttrInts("dilations", g.d...),
			build.AttrInts("pads", concatInts(g.pb, g.pe)...), build.AttrInts("kernel_shape", g.k...),
			build.AttrInt("group", g.group))
		// Output size floor((O + pb + pe - ((k-1)d+1))/s) + 1 = H (output_padding < s).
		osz := make([]int64, len(g.k))
		for i := range osz {
			osz[i] = (yd[2+i]+g.pb[i]+g.pe[i]-((g.k[i]-1)*g.d[i]+1))/g.s[i] + 1
			if osz[i] != xd[2+i] {
				return fmt.Errorf("input gradient size %d != input size %d on axis %d", osz[i], xd[2+i], i)
			}
		}
		b.setShape(dx, b.elem(x), xd)
		b.addGrad(x, dx)
	}
	if bias := input(n, 2); bias != "" && b.needs[bias] {
		b.addGrad(bias, b.biasGrad(dy[0]))
	}
	return nil
}
