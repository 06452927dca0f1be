package autodiff

import (
	"fmt"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"google.golang.org/protobuf/proto"
)

// infer runs shape inference (onnx/ops) over the converted forward graph and
// records every value's static type; folded constants (shape arithmetic)
// become readable through constInts.
func (b *builder) infer(opt ops.Options) error {
	g := &onnxpb.GraphProto{
		Name:        b.g.Name,
		Node:        b.fwd,
		Initializer: b.g.Initializer,
		Input:       b.g.Input,
		Output:      b.src.Proto.Graph.Output,
		ValueInfo:   b.src.Proto.Graph.ValueInfo,
	}
	mp := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(TargetIR),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(TargetOpset)}},
		Graph:       g,
	}
	r, err := ops.Infer(&onnx.Model{Proto: mp, Path: b.src.Path}, opt)
	if err != nil {
		return fmt.Errorf("autodiff: shape inference: %w", err)
	}
	for name, t := range r.Values {
		if _, done := b.shapes[name]; done {
			continue
		}
		var dims []int64
		if t.Rank >= 0 {
			dims = append([]int64{}, t.Dims...)
		}
		b.shapes[name] = info{elem: t.Elem, dims: dims}
	}
	for name, c := range r.Consts {
		if c != nil && !c.IsFloat() {
			b.folded[name] = c.IntSlice()
		}
	}
	// Declare the graph inputs with the fixed dims.
	for i, in := range b.g.Input {
		if _, err := b.shape(in.GetName()); err != nil {
			return fmt.Errorf("autodiff: input %s: %w", in.GetName(), err)
		}
		b.g.Input[i] = b.valueInfo(in.GetName(), in.GetName())
	}
	if len(r.Unknown) > 0 {
		b.warnings = append(b.warnings, "no shape rule for "+strings.Join(r.Unknown, ", "))
	}
	return nil
}
