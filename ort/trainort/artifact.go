package trainort

import (
	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
)

// accumulators are ORT training ops whose output is only a flag: the
// gradient they add into a buffer is their input 1.
var accumulators = map[string]bool{"InPlaceAccumulator": true, "InPlaceAccumulatorV2": true}

// seeded are the random ops and the type of their "seed" attribute.
var seeded = map[string]onnxpb.AttributeProto_AttributeType{
	"Dropout": onnxpb.AttributeProto_INT, "BitmaskDropout": onnxpb.AttributeProto_INT,
	"BiasDropout": onnxpb.AttributeProto_INT, "BitmaskBiasDropout": onnxpb.AttributeProto_INT,
	"RandomNormal": onnxpb.AttributeProto_FLOAT, "RandomUniform": onnxpb.AttributeProto_FLOAT,
	"RandomNormalLike": onnxpb.AttributeProto_FLOAT, "RandomUniformLike": onnxpb.AttributeProto_FLOAT,
	"Multinomial": onnxpb.AttributeProto_FLOAT, "Bernoulli": onnxpb.AttributeProto_FLOAT,
}

// Prepared is a private copy of a model made ready to compare.
type Prepared struct {
	Model *onnxpb.ModelProto
	// Gradients are the gradient values fed to an accumulator, now also
	// graph outputs.
	Gradients []string
	// Seeded counts random ops given the fixed seed 1.
	Seeded int
}

// Prepare returns a copy of m in which the gradient each InPlaceAccumulator
// (V2) adds is also a graph output, and every random op without a seed
// gets seed 1, so that two runs, and two models with the same random ops,
// draw the same numbers. m is not modified; weights are shared, not copied.
func Prepare(m *onnxpb.ModelProto) *Prepared { return prepare(m, true) }

// PrepareToMeasure is Prepare without the exposed gradients: the copy keeps
// m's outputs, so each gradient dies at its accumulator as in training and
// the measured memory is the model's own.
func PrepareToMeasure(m *onnxpb.ModelProto) *Prepared { return prepare(m, false) }

func prepare(m *onnxpb.ModelProto, expose bool) *Prepared {
	out := onnx.ShallowCopy(m)
	g := onnx.ShallowCopy(m.GetGraph())
	out.Graph = g
	p := &Prepared{Model: out}
	var inferred *ops.Result
	types := map[string]*onnxpb.TypeProto{}
	for _, vs := range [][]*onnxpb.ValueInfoProto{g.GetValueInfo(), g.GetInput(), g.GetOutput()} {
		for _, v := range vs {
			types[v.GetName()] = v.GetType()
		}
	}
	isOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		isOut[o.GetName()] = true
	}
	g.Output = append([]*onnxpb.ValueInfoProto(nil), g.GetOutput()...)
	g.Node = append([]*onnxpb.NodeProto(nil), g.GetNode()...)
	for i, n := range g.Node {
		if expose && accumulators[n.GetOpType()] && len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
			v := n.GetInput()[1]
			if !isOut[v] {
				isOut[v] = true
				ty := types[v]
				if ty == nil {
					ty = inferredType(m, v, &inferred)
				}
				g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(v), Type: ty})
				p.Gradients = append(p.Gradients, v)
			}
		}
		if t, ok := seeded[n.GetOpType()]; ok && !hasAttr(n, "seed") {
			c := proto.Clone(n).(*onnxpb.NodeProto)
			a := &onnxpb.AttributeProto{Name: proto.String("seed"), Type: t.Enum()}
			if t == onnxpb.AttributeProto_INT {
				a.I = proto.Int64(1)
			} else {
				a.F = proto.Float32(1)
			}
			c.Attribute = append(c.Attribute, a)
			g.Node[i] = c
			p.Seeded++
		}
	}
	return p
}

func hasAttr(n *onnxpb.NodeProto, name string) bool {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return true
		}
	}
	return false
}

// inferredType types value v by our shape inference (run once, into *r):
// its element type and static dims, else float of unknown shape. ORT
// rejects a graph output without a type.
func inferredType(m *onnxpb.ModelProto, v string, r **ops.Result) *onnxpb.TypeProto {
	if *r == nil {
		if res, err := ops.Infer(&onnx.Model{Proto: m}, ops.Options{}); err == nil {
			*r = res
		} else {
			*r = &ops.Result{}
		}
	}
	t, ok := (*r).Values[v]
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}
	if ok && t.Elem != onnxpb.TensorProto_UNDEFINED {
		tt.ElemType = proto.Int32(int32(t.Elem))
	}
	if ok && t.Static() {
		tt.Shape = &onnxpb.TensorShapeProto{}
		for _, d := range t.Dims {
			tt.Shape.Dim = append(tt.Shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
}
