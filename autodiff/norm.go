package autodiff

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// gradBatchNorm (training mode, written as primitives by prepareBatchNorm):
//
//	dB     = Σ dY                     (over all axes but 1)
//	dscale = Σ dY·xhat
//	dX     = scale·inv_std · (dY − dB/M − xhat·dscale/M)
//
// It reads dY, xhat, inv_std and the reshaped scale; not X.
func gradBatchNorm(b *builder, n *onnxpb.NodeProto, dy []string) error {
	sv, ok := b.bn[n]
	if !ok {
		return fmt.Errorf("batch normalization was not prepared")
	}
	x, scale, bias := n.Input[0], n.Input[1], n.Input[2]
	g := dy[0]
	cdims := b.shapes[sv.scale].dims
	var dB, dS string
	if b.needs[bias] || b.needs[x] {
		dB = b.reduceSum("dB", g, sv.axes, false)
		if b.needs[bias] {
			b.addGrad(bias, dB)
		}
	}
	if b.needs[scale] || b.needs[x] {
		dS = b.reduceSum("dScale", b.mul("dY_xhat", g, sv.xhat), sv.axes, false)
		if b.needs[scale] {
			b.addGrad(scale, dS)
		}
	}
	if b.needs[x] {
		m := 1 / float64(sv.count)
		t1 := b.scale("mean_dY", b.reshape("dB_c", dB, cdims), m)
		t2 := b.scale("mean_dY_xhat", b.reshape("dScale_c", dS, cdims), m)
		inner := b.sub("dY_centered", b.sub("dY_minus_mean", g, t1), b.mul("xhat_t2", sv.xhat, t2))
		k := b.mul("scale_inv_std", sv.inv, sv.scale)
		b.addGrad(x, b.mul("dX", inner, k))
	}
	return nil
}

// gradLayerNorm: the forward node is given its Mean and InvStdDev outputs
// (prepare), so the backward recomputes xhat = (X − mean)·inv from X and the
// two small statistics:
//
//	dX = inv · (dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)),  dxhat = dY·scale
func gradLayerNorm(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x, scale := n.Input[0], n.Input[1]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	if len(n.Output) < 3 || n.Output[1] == "" || n.Output[2] == "" {
		return fmt.Errorf("layer normalization was not prepared")
	}
	axis := normAxis(attrsOf(n).int("axis", -1), len(xd))
	var normAxes, lead []int64
	for i := range xd {
		if int64(i) >= axis {
			normAxes = append(normAxes, int64(i))
		} else {
			lead = append(lead, int64(i))
		}
	}
	mean, inv := n.Output[1], n.Output[2]
	xhat := b.mul("xhat", b.sub("centered", x, mean), inv)
	g := dy[0]
	if bias := input(n, 2); bias != "" && b.needs[bias] {
		b.addGrad(bias, b.reshape("dB", b.reduceSum("dB_sum", g, lead, false), b.shapes[bias].dims))
	}
	if b.needs[scale] {
		b.addGrad(scale, b.reshape("dScale", b.reduceSum("dScale_sum", b.mul("dY_xhat", g, xhat), lead, false), b.shapes[scale].dims))
	}
	if b.needs[x] {
		m := 1 / float64(numel(xd[axis:]))
		dxhat := b.mul("dxhat", g, scale)
		t1 := b.scale("mean_dxhat", b.reduceSum("sum_dxhat", dxhat, normAxes, true), m)
		t2 := b.scale("mean_dxhat_xhat", b.reduceSum("sum_dxhat_xhat", b.mul("dxhat_xhat", dxhat, xhat), normAxes, true), m)
		inner := b.sub("inner", b.sub("dxhat_centered", dxhat, t1), b.mul("xhat_t2", xhat, t2))
		b.addGrad(x, b.mul("dX", inner, inv))
	}
	return nil
}

// prepareLayerNorm adds the Mean and InvStdDev outputs the backward reads.
func (b *builder) prepareLayerNorm(n *onnxpb.NodeProto) error {
	xd, err := b.shape(n.Input[0])
	if err != nil {
		return err
	}
	axis := normAxis(attrsOf(n).int("axis", -1), len(xd))
	sd := append([]int64{}, xd...)
	for i := axis; i < int64(len(sd)); i++ {
		sd[i] = 1
	}
	for len(n.Output) < 3 {
		n.Output = append(n.Output, "")
	}
	stash := onnxpb.TensorProto_FLOAT
	if n.Output[1] == "" {
		n.Output[1] = b.fresh(nodeName(n) + "/mean")
	}
	if n.Output[2] == "" {
		n.Output[2] = b.fresh(nodeName(n) + "/inv_std")
	}
	b.setShape(n.Output[1], stash, sd)
	b.setShape(n.Output[2], stash, sd)
	return nil
}

// gradLRN, with S = bias + α/size·Σ_win x² and y = x·S^−β:
//
//	dX = dY·S^−β − 2αβ/size · x · Σ_win'(dY·x·S^(−β−1))
//
// Σ_win is the channel window sum (a ones Conv over [N,1,C,rest]); Σ_win'
// its mirror (the adjoint). Reads X only.
func gradLRN(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	a := attrsOf(n)
	alpha, beta, bias := float64(a.float("alpha", 1e-4)), float64(a.float("beta", 0.75)), float64(a.float("bias", 1))
	size := a.int("size", 0)
	if size <= 0 {
		return fmt.Errorf("LRN size %d", size)
	}
	elem := b.elem(x)
	before, after := (size-1)/2, size-1-(size-1)/2
	flat := []int64{xd[0], 1, xd[1], numel(xd[2:])}
	kern := make([]float64, size)
	for i := range kern {
		kern[i] = 1
	}
	w := b.constTensor("window", elem, []int64{1, 1, size, 1}, kern)
	winsum := func(name, v string, lo, hi int64) string {
		f := b.reshape(name+"_flat", v, flat)
		c := b.op("Conv", name, []string{f, w}, build.AttrInts("kernel_shape", size, 1), build.AttrInts("pads", lo, 0, hi, 0))
		b.setShape(c, elem, flat)
		return b.reshape(name+"_nchw", c, xd)
	}
	s := b.add("S", b.scale("alpha_sum", winsum("sum_x2", b.mul("x2", x, x), before, after), alpha/float64(size)), b.constScalar(bias, elem))
	sb := b.bin("Pow", "S_pow", s, b.constScalar(-beta, elem))
	sb1 := b.div("S_pow1", sb, s)
	t := b.mul("dY_x_S", b.mul("dY_x", dy[0], x), sb1)
	back := winsum("sum_back", t, after, before)
	d2 := b.scale("second", b.mul("x_back", x, back), 2*alpha*beta/float64(size))
	b.addGrad(x, b.sub("dX", b.mul("first", dy[0], sb), d2))
	return nil
}

// gradInstanceNorm recomputes the per-(n, c) statistics from X in the
// backward (InstanceNormalization has no mean/var outputs) and applies the
// normalisation formula over the spatial axes:
//
//	dX = inv · (dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)),  dxhat = dY·scale
func gradInstanceNorm(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x, scale, bias := n.Input[0], n.Input[1], n.Input[2]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	if len(xd) < 3 {
		return fmt.Errorf("input rank %d < 3", len(xd))
	}
	eps := float64(attrsOf(n).float("epsilon", 1e-5))
	e := b.elem(x)
	sp := rangeFrom(2, len(xd)-2)
	cdims := append([]int64{xd[1]}, ones(len(xd)-2)...)
	mean := func(name, v string) string {
		out := b.op("ReduceMean", name, []string{v}, build.AttrInts("axes", sp...), build.AttrInt("keepdims", 1))
		d := append([]int64{}, b.shapes[v].dims...)
		for _, a := range sp {
			d[a] = 1
		}
		b.setShape(out, e, d)
		return out
	}
	xc := b.sub("centered", x, mean("mean", x))
	inv := b.unary("Reciprocal", "inv_std", b.unary("Sqrt", "std", b.add("var_eps", mean("var", b.mul("sq", xc, xc)), b.constScalar(eps, e))))
	xhat := b.mul("xhat", xc, inv)
	g := dy[0]
	red := append([]int64{0}, sp...)
	if b.needs[bias] {
		b.addGrad(bias, b.reduceSum("dB", g, red, false))
	}
	if b.needs[scale] {
		b.addGrad(scale, b.reduceSum("dScale", b.mul("dY_xhat", g, xhat), red, false))
	}
	if b.needs[x] {
		dxhat := b.mul("dxhat", g, b.reshape("scale_c", scale, cdims))
		inner := b.sub("inner", b.sub("dxhat_centered", dxhat, mean("mean_dxhat", dxhat)), b.mul("xhat_t2", xhat, mean("mean_dxhat_xhat", b.mul("dxhat_xhat", dxhat, xhat))))
		b.addGrad(x, b.mul("dX", inner, inv))
	}
	return nil
}
