package ort

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// InputOptions control RandomInputs.
type InputOptions struct {
	Seed int64
	// Dims sizes symbolic dimensions (dim_param) by name; unnamed unknown
	// dimensions and names not listed are 1.
	Dims map[string]int64
	// Batch sizes a symbolic leading dimension not named in Dims (0: 1).
	Batch int64
	// IntBounds gives integer inputs the range [0, bound). Inputs not listed
	// get the bound RandomInputs infers (indices of Gather, labels of
	// SoftmaxCrossEntropyLoss / NegativeLogLikelihoodLoss), else 0.
	IntBounds map[string]int64
}

// RandomInputs returns a deterministic random value for every graph input
// that is not an initializer, in graph order: floats uniform in [-1, 1)
// (inputs whose name contains "var", like BatchNorm running variances, in
// [0.5, 1.5)); integers in [0, bound) where the bound is known (see
// InputOptions.IntBounds), else 0; bools 0 or 1. Each input draws from its
// own stream seeded by (Seed, name), so adding an input changes no other.
func RandomInputs(m *onnx.Model, opt InputOptions) ([]Tensor, error) {
	g := m.Proto.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	sh := newShapeIndex(g)
	var out []Tensor
	for _, vi := range g.GetInput() {
		name := vi.GetName()
		if inits[name] {
			continue
		}
		tt := vi.GetType().GetTensorType()
		if tt == nil {
			return nil, fmt.Errorf("input %s: not a tensor; random inputs cover tensors only", name)
		}
		t := Tensor{Name: name, Elem: onnxpb.TensorProto_DataType(tt.GetElemType())}
		if ElemSize(t.Elem) == 0 {
			return nil, fmt.Errorf("input %s: element type %v is not supported", name, t.Elem)
		}
		if tt.Shape == nil {
			return nil, fmt.Errorf("input %s: no declared shape; cannot make a random value", name)
		}
		for k, d := range tt.Shape.Dim {
			n := int64(1)
			switch {
			case d.GetDimParam() != "" && opt.Dims[d.GetDimParam()] > 0:
				n = opt.Dims[d.GetDimParam()]
			case k == 0 && d.GetDimValue() <= 0 && opt.Batch > 0:
				n = opt.Batch
			case d.GetDimValue() > 0 || (d.Value != nil && d.GetDimParam() == ""):
				n = d.GetDimValue()
			}
			t.Dims = append(t.Dims, n)
		}
		h := fnv.New64a()
		h.Write([]byte(name))
		r := rand.New(rand.NewPCG(uint64(opt.Seed), h.Sum64()))
		n := t.NumElements()
		t.Data = make([]byte, n*int64(ElemSize(t.Elem)))
		lo, hi := -1.0, 1.0
		if strings.Contains(strings.ToLower(name), "var") {
			lo, hi = 0.5, 1.5
		}
		if vals, ok := sh.shapeData(name, n); ok && opt.IntBounds[name] <= 0 {
			// A shape or axes tensor fed at run time takes the values the
			// model's declared shapes imply (random ones would not run).
			for i, v := range vals {
				putElem(&t, int64(i), float64(v), v, r)
			}
			if len(t.Dims) == 0 {
				t.Dims = nil
			}
			out = append(out, t)
			continue
		}
		bound := opt.IntBounds[name]
		if bound <= 0 {
			bound = sh.intBound(g, name)
		}
		for i := int64(0); i < n; i++ {
			f := lo + (hi-lo)*r.Float64()
			var k int64
			if bound > 0 {
				k = r.Int64N(bound)
			}
			putElem(&t, i, f, k, r)
		}
		if len(t.Dims) == 0 {
			t.Dims = nil
		}
		out = append(out, t)
	}
	return out, nil
}

func putElem(t *Tensor, i int64, f float64, k int64, r *rand.Rand) {
	b := t.Data[i*int64(ElemSize(t.Elem)):]
	switch t.Elem {
	case onnxpb.TensorProto_FLOAT:
		binary.LittleEndian.PutUint32(b, math.Float32bits(float32(f)))
	case onnxpb.TensorProto_DOUBLE:
		binary.LittleEndian.PutUint64(b, math.Float64bits(f))
	case onnxpb.TensorProto_FLOAT16:
		binary.LittleEndian.PutUint16(b, float32ToHalf(float32(f)))
	case onnxpb.TensorProto_BFLOAT16:
		binary.LittleEndian.PutUint16(b, uint16(math.Float32bits(float32(f))>>16))
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64:
		binary.LittleEndian.PutUint64(b, uint64(k))
	case onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		binary.LittleEndian.PutUint32(b, uint32(k))
	case onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16:
		binary.LittleEndian.PutUint16(b, uint16(k))
	case onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8:
		b[0] = byte(k)
	case onnxpb.TensorProto_BOOL:
		b[0] = byte(r.IntN(2))
	}
}

// float32ToHalf rounds toward zero; random test data needs no more.
func float32ToHalf(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23&0xff) - 127 + 15
	frac := uint16(bits>>13) & 0x3ff
	switch {
	case exp <= 0:
		return sign
	case exp >= 0x1f:
		return sign | 0x7c00
	}
	return sign | uint16(exp)<<10 | frac
}

// shapeIndex knows the declared dims of values (inputs, outputs,
// value_info, initializers) and their producers.
type shapeIndex struct {
	dims     map[string][]int64 // -1 unknown
	producer map[string]*onnxpb.NodeProto
	readers  map[string][]*onnxpb.NodeProto
}

func newShapeIndex(g *onnxpb.GraphProto) *shapeIndex {
	s := &shapeIndex{dims: map[string][]int64{}, producer: map[string]*onnxpb.NodeProto{}, readers: map[string][]*onnxpb.NodeProto{}}
	add := func(vi *onnxpb.ValueInfoProto) {
		sh := vi.GetType().GetTensorType().GetShape()
		if sh == nil {
			return
		}
		d := make([]int64, len(sh.Dim))
		for i, x := range sh.Dim {
			d[i] = -1
			if x.GetDimValue() > 0 {
				d[i] = x.GetDimValue()
			}
		}
		s.dims[vi.GetName()] = d
	}
	for _, l := range [][]*onnxpb.ValueInfoProto{g.GetInput(), g.GetOutput(), g.GetValueInfo()} {
		for _, vi := range l {
			add(vi)
		}
	}
	for _, t := range g.GetInitializer() {
		s.dims[t.GetName()] = t.GetDims()
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			s.producer[o] = n
		}
		for _, in := range n.GetInput() {
			s.readers[in] = append(s.readers[in], n)
		}
	}
	return s
}

// dim returns dimension axis (negative counts from the end) of value v, or
// -1; it looks through a few ops whose output keeps that dimension.
func (s *shapeIndex) dim(v string, axis int, depth int) int64 {
	if d, ok := s.dims[v]; ok {
		a := axis
		if a < 0 {
			a += len(d)
		}
		if a >= 0 && a < len(d) && d[a] > 0 {
			return d[a]
		}
	}
	n := s.producer[v]
	if n == nil || depth > 64 {
		return -1
	}
	in := n.GetInput()
	switch n.GetOpType() {
	case "Gemm":
		if axis == 1 || axis == -1 {
			if attrInt(n, "transB", 0) != 0 {
				return s.dim(in[1], 0, depth+1)
			}
			return s.dim(in[1], 1, depth+1)
		}
	case "MatMul":
		// Axis 1 of a MatMul by a matrix is its last axis when the result is
		// 2-D, the usual case for class scores.
		if w, ok := s.dims[in[1]]; axis == -1 || (axis == 1 && ok && len(w) == 2) {
			return s.dim(in[1], -1, depth+1)
		}
	case "Conv", "ConvTranspose":
		if axis == 1 {
			if n.GetOpType() == "Conv" {
				return s.dim(in[1], 0, depth+1)
			}
		}
	case "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Identity", "Softmax", "LogSoftmax",
		"BatchNormalization", "LeakyRelu", "Dropout", "Clip", "Neg", "Exp", "Erf", "Gelu":
		if d := s.dim(in[0], axis, depth+1); d > 0 {
			return d
		}
		if len(in) > 1 && (n.GetOpType() == "Add" || n.GetOpType() == "Sub" || n.GetOpType() == "Mul") && axis < 0 {
			return s.dim(in[1], axis, depth+1)
		}
	}
	return -1
}

// shapeData returns the values of integer input v (n elements) when a node
// reads it as a shape or axes and the declared shapes around that node fix
// them: Reshape's shape (the declared output shape), Unsqueeze's and
// Squeeze's axes (where the declared output gains or loses dims of size 1).
func (s *shapeIndex) shapeData(v string, n int64) ([]int64, bool) {
	static := func(x string) ([]int64, bool) {
		d, ok := s.dims[x]
		if !ok {
			return nil, false
		}
		for _, k := range d {
			if k < 0 {
				return nil, false
			}
		}
		return d, true
	}
	for _, nd := range s.readers[v] {
		in := nd.GetInput()
		if len(in) < 2 || in[1] != v || len(nd.GetOutput()) == 0 {
			continue
		}
		out, ok := static(nd.GetOutput()[0])
		if !ok {
			continue
		}
		switch nd.GetOpType() {
		case "Reshape":
			if int64(len(out)) == n {
				return out, true
			}
		case "Unsqueeze", "Squeeze":
			x, ok := static(in[0])
			if !ok {
				continue
			}
			long, short := out, x
			if nd.GetOpType() == "Squeeze" {
				long, short = x, out
			}
			if axes := insertedOnes(long, short); axes != nil && int64(len(axes)) == n {
				return axes, true
			}
		}
	}
	return nil, false
}

// insertedOnes returns positions of size-1 dims of long whose removal gives
// short (matching dims from the left), or nil. Any such set gives Squeeze
// and Unsqueeze the same result.
func insertedOnes(long, short []int64) []int64 {
	var axes []int64
	j := 0
	for i, d := range long {
		switch {
		case j < len(short) && d == short[j]:
			j++
		case d == 1:
			axes = append(axes, int64(i))
		default:
			return nil
		}
	}
	if j != len(short) || len(axes) == 0 {
		return nil
	}
	return axes
}

// intBound infers [0, bound) for an integer input from how it is read,
// following Cast/Reshape/Squeeze/Unsqueeze/Flatten/Identity.
func (s *shapeIndex) intBound(g *onnxpb.GraphProto, name string) int64 {
	seen := map[string]bool{}
	var walk func(v string) int64
	walk = func(v string) int64 {
		if seen[v] {
			return -1
		}
		seen[v] = true
		for _, n := range s.readers[v] {
			in := n.GetInput()
			switch n.GetOpType() {
			case "Gather", "GatherElements":
				if len(in) > 1 && in[1] == v {
					if d := s.dim(in[0], int(attrInt(n, "axis", 0)), 0); d > 0 {
						return d
					}
				}
			case "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss":
				if len(in) > 1 && in[1] == v {
					if d := s.dim(in[0], 1, 0); d > 0 {
						return d
					}
				}
			case "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity":
				if in[0] == v {
					if d := walk(n.GetOutput()[0]); d > 0 {
						return d
					}
				}
			}
		}
		return -1
	}
	return walk(name)
}

func attrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return def
}

// ReadInputs reads inputs saved as ONNX TensorProto files: path is one .pb
// file or a directory in the ONNX test-data layout (input_0.pb, input_1.pb,
// …). Tensors without a name take the name of the graph input at their
// position (graph inputs that are not initializers, in order).
func ReadInputs(path string, m *onnx.Model) ([]Tensor, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("inputs %s: %w", path, err)
	}
	files := []string{path}
	if st.IsDir() {
		files, err = filepath.Glob(filepath.Join(path, "input_*.pb"))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("inputs %s: no input_*.pb files", path)
		}
		sort.Slice(files, func(i, j int) bool { return pbIndex(files[i]) < pbIndex(files[j]) })
	}
	var names []string
	if m != nil {
		inits := map[string]bool{}
		for _, t := range m.Proto.GetGraph().GetInitializer() {
			inits[t.GetName()] = true
		}
		for _, vi := range m.Proto.GetGraph().GetInput() {
			if !inits[vi.GetName()] {
				names = append(names, vi.GetName())
			}
		}
	}
	var out []Tensor
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("inputs %s: %w", f, err)
		}
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(data, tp); err != nil {
			return nil, fmt.Errorf("inputs %s: not a TensorProto: %w", f, err)
		}
		t, err := FromProto(tp)
		if err != nil {
			return nil, fmt.Errorf("inputs %s: %w", f, err)
		}
		if t.Name == "" {
			if i >= len(names) {
				return nil, fmt.Errorf("inputs %s: unnamed tensor #%d but the model has %d inputs", f, i, len(names))
			}
			t.Name = names[i]
		}
		out = append(out, t)
	}
	return out, nil
}

func pbIndex(f string) int {
	var k int
	fmt.Sscanf(strings.TrimPrefix(filepath.Base(f), "input_"), "%d", &k)
	return k
}

// FromProto converts a TensorProto with inline data to a Tensor.
func FromProto(tp *onnxpb.TensorProto) (Tensor, error) {
	t := Tensor{Name: tp.GetName(), Elem: onnxpb.TensorProto_DataType(tp.GetDataType()), Dims: tp.GetDims()}
	es := ElemSize(t.Elem)
	if es == 0 {
		return t, fmt.Errorf("tensor %s: element type %v is not supported", t.Name, t.Elem)
	}
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return t, fmt.Errorf("tensor %s: external data is not supported here", t.Name)
	}
	n := t.NumElements()
	if tp.RawData != nil {
		t.Data = append([]byte(nil), tp.RawData...)
		return t, t.Check()
	}
	t.Data = make([]byte, n*int64(es))
	for i := int64(0); i < n; i++ {
		b := t.Data[i*int64(es):]
		switch t.Elem {
		case onnxpb.TensorProto_FLOAT:
			if i >= int64(len(tp.FloatData)) {
				return t, fmt.Errorf("tensor %s: %d float_data for %d elements", t.Name, len(tp.FloatData), n)
			}
			binary.LittleEndian.PutUint32(b, math.Float32bits(tp.FloatData[i]))
		case onnxpb.TensorProto_DOUBLE:
			if i >= int64(len(tp.DoubleData)) {
				return t, fmt.Errorf("tensor %s: %d double_data for %d elements", t.Name, len(tp.DoubleData), n)
			}
			binary.LittleEndian.PutUint64(b, math.Float64bits(tp.DoubleData[i]))
		case onnxpb.TensorProto_INT64:
			if i >= int64(len(tp.Int64Data)) {
				return t, fmt.Errorf("tensor %s: %d int64_data for %d elements", t.Name, len(tp.Int64Data), n)
			}
			binary.LittleEndian.PutUint64(b, uint64(tp.Int64Data[i]))
		case onnxpb.TensorProto_UINT64, onnxpb.TensorProto_UINT32:
			if i >= int64(len(tp.Uint64Data)) {
				return t, fmt.Errorf("tensor %s: %d uint64_data for %d elements", t.Name, len(tp.Uint64Data), n)
			}
			v := tp.Uint64Data[i]
			if es == 8 {
				binary.LittleEndian.PutUint64(b, v)
			} else {
				binary.LittleEndian.PutUint32(b, uint32(v))
			}
		default: // int32 and the narrower types live in int32_data
			if i >= int64(len(tp.Int32Data)) {
				return t, fmt.Errorf("tensor %s: %d int32_data for %d elements", t.Name, len(tp.Int32Data), n)
			}
			v := uint32(tp.Int32Data[i])
			switch es {
			case 4:
				binary.LittleEndian.PutUint32(b, v)
			case 2:
				binary.LittleEndian.PutUint16(b, uint16(v))
			case 1:
				b[0] = byte(v)
			}
		}
	}
	return t, nil
}
