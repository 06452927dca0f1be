package autodiff

import (
	"fmt"
	"math"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// gradResize: Resize (nearest, linear) is linear in X and separable per axis:
// Y = M_h · X · M_wᵀ for the two spatial axes. The gradient applies the
// transposed constant interpolation matrices with MatMul, one per resized
// axis (the last axis by right-multiplication, the others by moving them
// last). Exact, and it reads no forward value.
func gradResize(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	yd, err := b.shape(dy[0])
	if err != nil {
		return err
	}
	a := attrsOf(n)
	mode := a.str("mode", "nearest")
	if mode != "nearest" && mode != "linear" {
		return fmt.Errorf("Resize mode %q is not supported (nearest, linear)", mode)
	}
	ctm := a.str("coordinate_transformation_mode", "half_pixel")
	if ctm == "tf_crop_and_resize" {
		return fmt.Errorf("coordinate_transformation_mode tf_crop_and_resize is not supported")
	}
	nm := a.str("nearest_mode", "round_prefer_floor")
	var scales []float64
	if s := input(n, 2); s != "" {
		t := b.inits[s]
		if t == nil {
			t = b.consts[s]
		}
		if t != nil {
			scales, _ = floatsOf(t)
		}
	}
	g := dy[0]
	r := len(xd)
	for ax := r - 1; ax >= 0; ax-- {
		in, out := xd[ax], yd[ax]
		scale := float64(out) / float64(in)
		if len(scales) == r && scales[ax] > 0 {
			scale = scales[ax]
		}
		if in == out && scale == 1 {
			continue
		}
		m, err := interpMatrix(in, out, scale, mode, ctm, nm)
		if err != nil {
			return err
		}
		g = b.axisMatMul(g, ax, b.constTensor(fmt.Sprintf("interp_axis%d", ax), b.elem(x), []int64{out, in}, m))
	}
	b.addGrad(x, g)
	return nil
}

// interpMatrix returns M [out, in] (row-major) with Y[o] = Σ_i M[o,i]·X[i]
// along one axis, following the ONNX Resize definition.
func interpMatrix(in, out int64, scale float64, mode, ctm, nm string) ([]float64, error) {
	m := make([]float64, out*in)
	for o := int64(0); o < out; o++ {
		var xo float64
		xr := float64(o)
		switch ctm {
		case "half_pixel":
			xo = (xr+0.5)/scale - 0.5
		case "pytorch_half_pixel":
			if out > 1 {
				xo = (xr+0.5)/scale - 0.5
			} else {
				xo = 0
			}
		case "align_corners":
			if out > 1 {
				xo = xr * float64(in-1) / float64(out-1)
			}
		case "asymmetric":
			xo = xr / scale
		default:
			return nil, fmt.Errorf("coordinate_transformation_mode %q is not supported", ctm)
		}
		if mode == "nearest" {
			var i float64
			switch nm {
			case "round_prefer_floor":
				if xo == math.Floor(xo)+0.5 {
					i = math.Floor(xo)
				} else {
					i = math.Round(xo)
				}
			case "round_prefer_ceil":
				i = math.Round(xo)
				if xo == math.Floor(xo)+0.5 {
					i = math.Ceil(xo)
				}
			case "floor":
				i = math.Floor(xo)
			case "ceil":
				i = math.Ceil(xo)
			default:
				return nil, fmt.Errorf("nearest_mode %q is not supported", nm)
			}
			k := int64(max(0, min(i, float64(in-1))))
			m[o*in+k] = 1
			continue
		}
		xo = max(0, min(xo, float64(in-1)))
		i0 := int64(math.Floor(xo))
		i1 := min(i0+1, in-1)
		f := xo - float64(i0)
		m[o*in+i0] += 1 - f
		m[o*in+i1] += f
	}
	return m, nil
}

// axisMatMul contracts axis ax of g (size out) with the constant matrix m
// [out, in]: the adjoint of applying m along that axis. The last axis is a
// plain MatMul; another axis is moved last and back with Transposes.
func (b *builder) axisMatMul(g string, ax int, m string) string {
	r := len(b.shapes[g].dims)
	if ax == r-1 {
		return b.matmul(fmt.Sprintf("dX_axis%d", ax), g, m)
	}
	perm := make([]int64, 0, r)
	for i := 0; i < r; i++ {
		if i != ax {
			perm = append(perm, int64(i))
		}
	}
	perm = append(perm, int64(ax))
	t := b.transpose(fmt.Sprintf("axis%d_last", ax), g, perm)
	t = b.matmul(fmt.Sprintf("dX_axis%d_T", ax), t, m)
	inv := make([]int64, r)
	for i, p := range perm {
		inv[p] = int64(i)
	}
	return b.transpose(fmt.Sprintf("dX_axis%d", ax), t, inv)
}
