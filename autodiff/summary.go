package autodiff

import (
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// MetaLoss is the metadata_props key in which Build records the loss kind.
const MetaLoss = "recompute.autodiff.loss"

// Summary describes a training graph made by Build.
type Summary struct {
	Params        int   // gradient outputs
	ParamValues   int64 // elements of those parameters
	ForwardNodes  int   // nodes not named "Grad/..." (model, loss, training-mode expansions)
	BackwardNodes int   // nodes named "Grad/..."
	Loss          string
}

// Summarize counts what Build produced (by its naming: backward nodes are
// named "Grad/...").
func Summarize(m *onnx.Model) Summary {
	var s Summary
	g := m.Proto.GetGraph()
	for _, n := range g.GetNode() {
		if strings.HasPrefix(n.GetName(), "Grad/") {
			s.BackwardNodes++
		} else {
			s.ForwardNodes++
		}
	}
	dims := map[string][]int64{}
	for _, t := range g.GetInitializer() {
		dims[t.GetName()] = t.Dims
	}
	for _, in := range g.GetInput() {
		var d []int64
		for _, x := range in.GetType().GetTensorType().GetShape().GetDim() {
			d = append(d, x.GetDimValue())
		}
		dims[in.GetName()] = d
	}
	for _, o := range g.GetOutput() {
		p, ok := strings.CutSuffix(o.GetName(), "_grad")
		if !ok {
			continue
		}
		s.Params++
		s.ParamValues += numel(dims[p])
	}
	for _, kv := range m.Proto.GetMetadataProps() {
		if kv.GetKey() == MetaLoss {
			s.Loss = kv.GetValue()
		}
	}
	return s
}

func metaLoss(src []*onnxpb.StringStringEntryProto, kind string) []*onnxpb.StringStringEntryProto {
	out := make([]*onnxpb.StringStringEntryProto, 0, len(src)+1)
	for _, kv := range src {
		if kv.GetKey() != MetaLoss {
			out = append(out, kv)
		}
	}
	return append(out, &onnxpb.StringStringEntryProto{Key: proto.String(MetaLoss), Value: proto.String(kind)})
}
