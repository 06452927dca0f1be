package ort

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Prepared is a model made ready for ONNX Runtime through onnxruntime_go,
// which cannot pass rank-0 tensors in or out and profiles nodes by name:
//   - every node has a unique name (unnamed or repeated ones get
//     NodeNames' names), so the profile maps back to node indexes;
//   - a scalar graph output y is returned through Reshape(y, [1]) and a
//     scalar graph input x is fed through Reshape(x_1d, []); callers still
//     see rank-0 tensors named y and x.
//
// Nothing else changes. When nothing needs changing, Path is the original
// file and no copy is written.
type Prepared struct {
	Path        string   // the file to load in ONNX Runtime
	InputNames  []string // graph inputs that are not initializers, as callers name them
	OutputNames []string // graph outputs, as callers name them
	NodeNames   []string // per node index of the original graph: its name in the profile
	feedAs      map[string]string
	fetchAs     map[string]string
	tmpDir      string
	untrack     func()
}

// Close removes the prepared copy, if one was written.
func (p *Prepared) Close() {
	if p.tmpDir != "" {
		os.RemoveAll(p.tmpDir)
		p.untrack()
		p.tmpDir = ""
	}
}

// NodeNames returns a unique name per node: its own name when that is set
// and not taken by an earlier node, else "node<i>_<op>" (made unique).
func NodeNames(g *onnxpb.GraphProto) []string {
	used := make(map[string]bool, len(g.Node))
	names := make([]string, len(g.Node))
	for _, n := range g.Node {
		used[n.GetName()] = false
	}
	for i, n := range g.Node {
		name := n.GetName()
		if name == "" || used[name] {
			base := fmt.Sprintf("node%d_%s", i, n.GetOpType())
			name = base
			for k := 2; ; k++ {
				if _, taken := used[name]; !taken {
					break
				}
				name = fmt.Sprintf("%s_%d", base, k)
			}
		}
		used[name] = true
		names[i] = name
	}
	return names
}

// Prepare loads path and writes, if needed, an ORT-ready copy into a
// temporary directory (see Prepared). Close removes it.
func Prepare(path string) (*Prepared, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	return PrepareModel(m)
}

// PrepareModel is Prepare for a decoded model; m.Path must be set (it is
// returned as is when no change is needed) unless a copy is needed anyway.
// m is not modified.
func PrepareModel(m *onnx.Model) (*Prepared, error) {
	g := m.Proto.GetGraph()
	p := &Prepared{feedAs: map[string]string{}, fetchAs: map[string]string{}}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, vi := range g.GetInput() {
		if !inits[vi.GetName()] {
			p.InputNames = append(p.InputNames, vi.GetName())
		}
	}
	for _, vi := range g.GetOutput() {
		p.OutputNames = append(p.OutputNames, vi.GetName())
	}
	p.NodeNames = NodeNames(g)
	renamed := false
	for i, n := range g.GetNode() {
		if n.GetName() != p.NodeNames[i] {
			renamed = true
		}
	}
	var scalarIn, scalarOut []int
	for i, vi := range g.GetInput() {
		if !inits[vi.GetName()] && declaredRank(vi) == 0 {
			scalarIn = append(scalarIn, i)
		}
	}
	for i, vi := range g.GetOutput() {
		if declaredRank(vi) == 0 {
			scalarOut = append(scalarOut, i)
		}
	}
	if !renamed && len(scalarIn) == 0 && len(scalarOut) == 0 {
		if m.Path == "" {
			return nil, fmt.Errorf("prepare model: no file path")
		}
		p.Path = m.Path
		return p, nil
	}
	if hasExternalData(g) {
		if len(scalarIn)+len(scalarOut) > 0 {
			return nil, fmt.Errorf("prepare %s: scalar inputs/outputs in a model with external data are not supported by the ONNX Runtime bridge", m.Path)
		}
		// Unnamed nodes only cost the profile's mapping; run the file as is.
		p.Path = m.Path
		return p, nil
	}

	c := proto.Clone(m.Proto).(*onnxpb.ModelProto)
	cg := c.Graph
	for i, n := range cg.Node {
		n.Name = proto.String(p.NodeNames[i])
	}
	var pre []*onnxpb.NodeProto
	if len(scalarOut) > 0 {
		cg.Initializer = append(cg.Initializer, int64Tensor("__ort_shape_1", []int64{1}, []int64{1}))
	}
	if len(scalarIn) > 0 {
		cg.Initializer = append(cg.Initializer, int64Tensor("__ort_shape_scalar", []int64{0}, nil))
	}
	for _, i := range scalarIn {
		vi := cg.Input[i]
		name := vi.GetName()
		feed := name + "__ort_1d"
		p.feedAs[name] = feed
		nvi := proto.Clone(vi).(*onnxpb.ValueInfoProto)
		nvi.Name = proto.String(feed)
		nvi.GetType().GetTensorType().Shape = &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}}}}
		cg.Input[i] = nvi
		pre = append(pre, &onnxpb.NodeProto{OpType: proto.String("Reshape"), Name: proto.String("__ort_in_" + name),
			Input: []string{feed, "__ort_shape_scalar"}, Output: []string{name}})
	}
	cg.Node = append(pre, cg.Node...)
	for _, i := range scalarOut {
		vi := cg.Output[i]
		name := vi.GetName()
		fetch := name + "__ort_1d"
		p.fetchAs[name] = fetch
		cg.Node = append(cg.Node, &onnxpb.NodeProto{OpType: proto.String("Reshape"), Name: proto.String("__ort_out_" + name),
			Input: []string{name, "__ort_shape_1"}, Output: []string{fetch}})
		nvi := proto.Clone(vi).(*onnxpb.ValueInfoProto)
		nvi.Name = proto.String(fetch)
		nvi.GetType().GetTensorType().Shape = &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}}}}
		cg.Output[i] = nvi
	}
	dir, err := os.MkdirTemp("", "recompute-ort-model-")
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", m.Path, err)
	}
	p.tmpDir, p.untrack = dir, TrackScratch(dir)
	p.Path = filepath.Join(dir, "model.onnx")
	if err := (&onnx.Model{Proto: c}).Save(p.Path); err != nil {
		p.Close()
		return nil, fmt.Errorf("prepare %s: %w", m.Path, err)
	}
	return p, nil
}

// declaredRank is the rank a ValueInfo declares, or -1 if it has no shape.
func declaredRank(vi *onnxpb.ValueInfoProto) int {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil {
		return -1
	}
	return len(tt.Shape.Dim)
}

func hasExternalData(g *onnxpb.GraphProto) bool {
	for _, t := range g.GetInitializer() {
		if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
			return true
		}
	}
	return false
}

func int64Tensor(name string, dims, v []int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: v}
}

// ortNames maps caller-facing names to the prepared model's names.
func (p *Prepared) ortInputs(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if f, ok := p.feedAs[n]; ok {
			n = f
		}
		out[i] = n
	}
	return out
}

func (p *Prepared) ortOutputs(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if f, ok := p.fetchAs[n]; ok {
			n = f
		}
		out[i] = n
	}
	return out
}
