// Package build is a small helper for constructing ONNX graphs in code: nodes
// with attributes, initializers, typed inputs and outputs. The model builders
// (package models) and autodiff use it so that emitted graphs look alike.
// It only constructs protos; it never validates or infers anything.
package build

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Graph accumulates nodes, initializers and value declarations.
type Graph struct {
	G    *onnxpb.GraphProto
	next int
}

// New returns an empty graph with the given name.
func New(name string) *Graph {
	return &Graph{G: &onnxpb.GraphProto{Name: proto.String(name)}}
}

// Fresh returns a value name that starts with prefix and was not handed out
// before by this Graph.
func (b *Graph) Fresh(prefix string) string {
	b.next++
	return fmt.Sprintf("%s_%d", prefix, b.next)
}

// Node appends a node and returns it. Attributes are given as name/value
// pairs through the Attr helpers.
func (b *Graph) Node(opType, name string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := &onnxpb.NodeProto{
		OpType:    proto.String(opType),
		Name:      proto.String(name),
		Input:     inputs,
		Output:    outputs,
		Attribute: attrs,
	}
	b.G.Node = append(b.G.Node, n)
	return n
}

// Op appends a single-output node whose output name is derived from name, and
// returns the output name.
func (b *Graph) Op(opType, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	out := name
	b.Node(opType, name, inputs, []string{out}, attrs...)
	return out
}

// Input declares a graph input of the given element type and shape (a
// negative dim or a named dim in symbolic becomes a dim_param).
func (b *Graph) Input(name string, elem onnxpb.TensorProto_DataType, dims []int64, symbolic ...string) {
	b.G.Input = append(b.G.Input, ValueInfo(name, elem, dims, symbolic...))
}

// Output declares a graph output.
func (b *Graph) Output(name string, elem onnxpb.TensorProto_DataType, dims []int64, symbolic ...string) {
	b.G.Output = append(b.G.Output, ValueInfo(name, elem, dims, symbolic...))
}

// Initializer appends an initializer.
func (b *Graph) Initializer(t *onnxpb.TensorProto) { b.G.Initializer = append(b.G.Initializer, t) }

// ValueInfo returns a tensor ValueInfoProto. dims[i] < 0 is an unknown
// dimension; if symbolic[i] is non-empty it names that dimension.
func ValueInfo(name string, elem onnxpb.TensorProto_DataType, dims []int64, symbolic ...string) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for i, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch {
		case i < len(symbolic) && symbolic[i] != "":
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: symbolic[i]}
		case d >= 0:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(elem)),
			Shape:    shape,
		}}},
	}
}

// Model wraps a graph in a ModelProto with the given default-domain opset
// (IR version 8, which this proto describes) and extra opset imports.
func Model(g *onnxpb.GraphProto, opset int64, extra ...*onnxpb.OperatorSetIdProto) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(8),
		ProducerName: proto.String("recompute"),
		Graph:        g,
		OpsetImport:  append([]*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}}, extra...),
	}
}

// AttrInt, AttrInts, AttrFloat, AttrFloats, AttrString and AttrTensor build
// attributes.
func AttrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func AttrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func AttrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func AttrFloats(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

func AttrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func AttrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

// Int64s returns an INT64 tensor with raw data.
func Int64s(name string, dims []int64, v []int64) *onnxpb.TensorProto {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), RawData: raw}
}

// Float32s returns a FLOAT tensor with raw data.
func Float32s(name string, dims []int64, v []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
}
