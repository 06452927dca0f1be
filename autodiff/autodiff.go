package autodiff

import (
	"fmt"
	"sort"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"google.golang.org/protobuf/proto"
)

// Options choose the loss.
type Options struct {
	// Loss is cross-entropy (SoftmaxCrossEntropyLoss over axis 1 of the
	// first output with an int64 labels input), mse (mean squared error
	// against a float input "target" shaped like the first output) or sum
	// (the sum of the first output). "" picks cross-entropy, or mse when the
	// output has fewer than 2 classes on axis 1 (e.g. a one-channel
	// segmentation map, where cross-entropy is identically 0).
	Loss string
	// Labels names the labels input of cross-entropy (default "labels").
	Labels string
	// Batch fixes a symbolic or unknown leading dim of the graph inputs
	// (0: 1). Gradients need static shapes; the training graph's inputs are
	// declared with the fixed dims.
	Batch int64
	// Dims fixes named symbolic dims (dim_param NAME → N).
	Dims map[string]int64
	// ClassAxis is the class axis of the output for cross-entropy. 0 means
	// automatic: the model's metadata entry ClassAxisKey if present (the
	// built-in gpt2 sets -1: logits are [batch, seq, vocab]), else 1 (ONNX's
	// [N, C, ...] layout). Negative values count from the end. When it is
	// not 1, a Transpose moves the classes to axis 1 before the loss.
	ClassAxis int
	// Trainable, if set, chooses the parameters that get gradients among
	// the trainable initializers (fine-tuning: LoRA adapters, norms, the
	// last layers); the others are frozen, and the backward graph holds
	// only what the chosen ones need. Nil: every one trains.
	Trainable func(name string) bool
	// ConvInputGrad picks the form of a convolution's input gradient:
	// "transpose" (the default, ""): ConvTranspose; "auto": a convolution
	// with flipped kernels where ORT's ConvTranspose column buffer would
	// need more memory (conv.go, inputGrad). Under ORT's default graph
	// optimisations the auto form's rewrites have differed from the
	// original in the last bits of the first layers' gradients (ResNet-50:
	// 3 of 162 outputs, max rel diff 0.2%), so it is not the default.
	ConvInputGrad string
}

// ConvInputGrads lists the accepted Options.ConvInputGrad values.
var ConvInputGrads = []string{"transpose", "auto"}

// ClassAxisKey is the metadata_props key through which a model states the
// class axis of its first output.
const ClassAxisKey = "recompute.class_axis"

// Losses lists the accepted Options.Loss values.
var Losses = []string{"cross-entropy", "mse", "sum"}

// TargetOpset and TargetIR are the versions of every training graph Build
// writes.
const (
	TargetOpset = 17
	TargetIR    = 8
)

// LossName is the name of the loss output.
const LossName = "loss"

// Build returns the training graph of the forward model m: m's nodes (in
// opset-17 form), a loss and the backward graph; outputs are the loss and the
// parameter gradients. m is not modified; its initializer protos are shared.
func Build(m *onnx.Model, opt Options) (*onnx.Model, error) {
	if m == nil || m.Proto == nil || m.Proto.Graph == nil {
		return nil, fmt.Errorf("autodiff: no model")
	}
	if opt.Labels == "" {
		opt.Labels = "labels"
	}
	b, err := newBuilder(m)
	if err != nil {
		return nil, err
	}
	b.trainable = opt.Trainable
	switch opt.ConvInputGrad {
	case "", "transpose":
	case "auto":
		b.convForms = true
	default:
		return nil, fmt.Errorf("autodiff: convolution input gradient form %q (want transpose or auto)", opt.ConvInputGrad)
	}
	if err := b.convertForward(); err != nil {
		return nil, err
	}
	if opt.Batch <= 0 {
		opt.Batch = 1
	}
	if err := b.infer(ops.Options{Batch: opt.Batch, Dims: opt.Dims}); err != nil {
		return nil, err
	}
	if err := b.prepare(); err != nil {
		return nil, err
	}
	if err := b.addLoss(opt); err != nil {
		return nil, err
	}
	avail := map[string]bool{}
	for name := range b.inits {
		avail[name] = true
	}
	for _, in := range b.g.Input {
		avail[in.GetName()] = true
	}
	sorted, err := topo(b.fwd, avail)
	if err != nil {
		return nil, err
	}
	b.fwd = sorted
	if err := b.backward(); err != nil {
		return nil, err
	}
	return b.finish(), nil
}

// builder holds the training graph under construction.
type builder struct {
	convForms bool // Options.ConvInputGrad "auto"
	src       *onnx.Model
	g         *onnxpb.GraphProto // the new graph; nodes are appended
	opset     int64              // opset of the source model's default domain
	inits     map[string]*onnxpb.TensorProto
	consts    map[string]*onnxpb.TensorProto // Constant node outputs (value attr)
	used      map[string]bool                // every value and node name taken
	shapes    map[string]info
	fwd       []*onnxpb.NodeProto // forward nodes (converted), topological order
	loss      string
	// gradient bookkeeping
	needs    map[string]bool     // value depends on a parameter (gradient wanted)
	params   []string            // parameters, in initializer (or input) order
	contrib  map[string][]string // value -> gradient contributions
	grad     map[string]string   // value -> accumulated gradient
	refs     map[string]int      // how many emitted nodes read a value
	mine     map[string]*onnxpb.NodeProto
	cur      string // name of the forward node whose gradient is being built
	constN   map[string]string
	gradVals map[string]bool // values that are accumulated gradients
	labels   string          // name of the labels input (cross-entropy)
	// trainable chooses the parameters (Options.Trainable; nil: all).
	trainable func(string) bool
	folded    map[string][]int64
	warnings  []string
	// forward conversion state (prepare.go)
	expand      map[*onnxpb.NodeProto][]*onnxpb.NodeProto
	flatSoftmax map[*onnxpb.NodeProto]bool
	bn          map[*onnxpb.NodeProto]bnSaved
	dropRatio   map[*onnxpb.NodeProto]float64
	lossKind    string
}

// info is the static type of a value.
type info struct {
	elem onnxpb.TensorProto_DataType
	dims []int64
}

func newBuilder(m *onnx.Model) (*builder, error) {
	src := m.Proto.Graph
	b := &builder{
		src:         m,
		opset:       defaultOpset(m.Proto),
		inits:       map[string]*onnxpb.TensorProto{},
		consts:      map[string]*onnxpb.TensorProto{},
		used:        map[string]bool{},
		shapes:      map[string]info{},
		needs:       map[string]bool{},
		contrib:     map[string][]string{},
		grad:        map[string]string{},
		refs:        map[string]int{},
		mine:        map[string]*onnxpb.NodeProto{},
		constN:      map[string]string{},
		gradVals:    map[string]bool{},
		folded:      map[string][]int64{},
		expand:      map[*onnxpb.NodeProto][]*onnxpb.NodeProto{},
		flatSoftmax: map[*onnxpb.NodeProto]bool{},
		bn:          map[*onnxpb.NodeProto]bnSaved{},
		dropRatio:   map[*onnxpb.NodeProto]float64{},
	}
	if len(src.Output) == 0 {
		return nil, fmt.Errorf("autodiff: graph has no output to put a loss on")
	}
	b.g = &onnxpb.GraphProto{
		Name:        proto.String(src.GetName() + "_training"),
		Initializer: append([]*onnxpb.TensorProto(nil), src.Initializer...),
		DocString:   src.DocString,
	}
	for _, t := range src.Initializer {
		b.inits[t.GetName()] = t
		b.used[t.GetName()] = true
	}
	for _, in := range src.Input {
		b.used[in.GetName()] = true
		if _, isInit := b.inits[in.GetName()]; isInit {
			continue // IR<4 lists initializers as inputs; they stay initializers only
		}
		b.g.Input = append(b.g.Input, in)
	}
	for _, n := range src.Node {
		if n.GetDomain() != "" && n.GetDomain() != "ai.onnx" && !(n.GetDomain() == msDomain && msLowered[n.GetOpType()]) {
			return nil, &UnsupportedOpError{Op: n.GetOpType(), Domain: n.GetDomain(), Node: nodeName(n), NotStandard: true}
		}
		b.used[n.GetName()] = true
		for _, o := range n.Output {
			b.used[o] = true
		}
		if n.GetOpType() == "Constant" && len(n.Output) == 1 {
			for _, a := range n.Attribute {
				if a.GetName() == "value" && a.T != nil {
					b.consts[n.Output[0]] = a.T
				}
			}
		}
	}
	return b, nil
}

func defaultOpset(m *onnxpb.ModelProto) int64 {
	for _, o := range m.OpsetImport {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 1
}

func nodeName(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	if len(n.Output) > 0 {
		return n.GetOpType() + "(" + n.Output[0] + ")"
	}
	return n.GetOpType()
}

// fresh returns an unused name built from base.
func (b *builder) fresh(base string) string {
	name := base
	for i := 1; b.used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	b.used[name] = true
	return name
}

// emit appends a node with nOut fresh outputs named after name and returns
// the outputs. Node and value names are prefixed "Grad/<forward node>/"
// while building a gradient.
func (b *builder) emit(op, name string, inputs []string, nOut int, attrs ...*onnxpb.AttributeProto) []string {
	full := name
	if b.cur != "" {
		full = "Grad/" + b.cur + "/" + name
	}
	nname := b.fresh(full)
	outs := make([]string, nOut)
	for i := range outs {
		if nOut == 1 {
			outs[i] = nname
		} else {
			outs[i] = b.fresh(fmt.Sprintf("%s:%d", nname, i))
		}
	}
	n := &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(nname), Input: inputs, Output: outs, Attribute: attrs}
	b.g.Node = append(b.g.Node, n)
	for _, in := range inputs {
		b.refs[in]++
	}
	for _, o := range outs {
		b.mine[o] = n
	}
	return outs
}

// op emits a single-output node.
func (b *builder) op(op, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	return b.emit(op, name, inputs, 1, attrs...)[0]
}

// shape returns the static dims of v; every dim must be known.
func (b *builder) shape(v string) ([]int64, error) {
	t, ok := b.shapes[v]
	if !ok || t.dims == nil {
		return nil, fmt.Errorf("no static shape for %q (fix symbolic dims with --batch N or --dim NAME=N)", v)
	}
	for _, d := range t.dims {
		if d < 0 {
			return nil, fmt.Errorf("value %q has an unknown dim %v (fix symbolic dims with --batch N or --dim NAME=N)", v, t.dims)
		}
	}
	return t.dims, nil
}

func (b *builder) elem(v string) onnxpb.TensorProto_DataType {
	if t, ok := b.shapes[v]; ok && t.elem != 0 {
		return t.elem
	}
	return onnxpb.TensorProto_FLOAT
}

// setShape records the type of a value Build created.
func (b *builder) setShape(v string, elem onnxpb.TensorProto_DataType, dims []int64) {
	b.shapes[v] = info{elem: elem, dims: dims}
}

// addGrad records a gradient contribution g for value v.
func (b *builder) addGrad(v, g string) {
	if v == "" || g == "" || !b.needs[v] {
		return
	}
	b.contrib[v] = append(b.contrib[v], g)
}

// gradOf accumulates the contributions of v into one value named
// "<v>_grad" and returns it ("" if none).
func (b *builder) gradOf(v string) string {
	if g, ok := b.grad[v]; ok {
		return g
	}
	cs := b.contrib[v]
	var g string
	switch {
	case len(cs) == 0:
		return ""
	case len(cs) == 1:
		g = cs[0]
		// A temporary only this accumulation reads is renamed in place.
		if n := b.mine[g]; n != nil && b.refs[g] == 0 && b.contribCount(g) == 1 && !b.isGradValue(g) {
			name := b.fresh(v + "_grad")
			for i, o := range n.Output {
				if o == g {
					n.Output[i] = name
				}
			}
			b.shapes[name] = b.shapes[v]
			b.mine[name] = n
			g = name
		}
	default:
		if g = b.accumulateUnpool(v, cs); g != "" {
			break
		}
		g = b.accumulated(v, "Sum", cs)
	}
	b.grad[v] = g
	b.gradVals[g] = true
	return g
}

// accumulated appends the node that writes v's accumulated gradient, named
// "Grad/accumulate/<v>", and returns its output, "<v>_grad" (v's shape).
func (b *builder) accumulated(v, op string, inputs []string) string {
	name := b.fresh(v + "_grad")
	n := &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(b.fresh("Grad/accumulate/" + v)), Input: inputs, Output: []string{name}}
	b.g.Node = append(b.g.Node, n)
	for _, in := range inputs {
		b.refs[in]++
	}
	b.mine[name] = n
	b.shapes[name] = b.shapes[v]
	return name
}

func (b *builder) contribCount(g string) int {
	c := 0
	for _, cs := range b.contrib {
		for _, x := range cs {
			if x == g {
				c++
			}
		}
	}
	return c
}

func (b *builder) isGradValue(g string) bool { return b.gradVals[g] }

// finish assembles the model.
func (b *builder) finish() *onnx.Model {
	src := b.src.Proto
	var nodes []*onnxpb.NodeProto
	for _, n := range b.fwd {
		if e, ok := b.expand[n]; ok {
			nodes = append(nodes, e...)
		} else {
			nodes = append(nodes, n)
		}
	}
	b.g.Node = live(append(nodes, b.g.Node...), b.g.Output)
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(TargetIR),
		ProducerName:    proto.String("recompute autodiff"),
		ProducerVersion: src.ProducerVersion,
		Domain:          src.Domain,
		ModelVersion:    src.ModelVersion,
		DocString:       src.DocString,
		Graph:           b.g,
		MetadataProps:   metaLoss(src.MetadataProps, b.lossKind),
	}
	mp.OpsetImport = []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(TargetOpset)}}
	return &onnx.Model{Proto: mp, Path: b.src.Path}
}

// topo returns nodes in a topological order, stable with respect to file
// order.
func topo(nodes []*onnxpb.NodeProto, available map[string]bool) ([]*onnxpb.NodeProto, error) {
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.Output {
			if o != "" {
				producer[o] = i
			}
		}
	}
	indeg := make([]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, n := range nodes {
		seen := map[int]bool{}
		for _, in := range n.Input {
			if in == "" {
				continue
			}
			p, ok := producer[in]
			if !ok {
				if !available[in] {
					return nil, fmt.Errorf("autodiff: node %s reads %q, which nothing produces", nodeName(n), in)
				}
				continue
			}
			if !seen[p] {
				seen[p] = true
				indeg[i]++
				users[p] = append(users[p], i)
			}
		}
	}
	var ready []int
	for i := range nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	var out []*onnxpb.NodeProto
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		out = append(out, nodes[i])
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(out) != len(nodes) {
		return nil, fmt.Errorf("autodiff: the forward graph has a cycle")
	}
	return out, nil
}

// isFloat reports whether elem is a floating-point type gradients flow in.
func isFloat(e onnxpb.TensorProto_DataType) bool {
	switch e {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
		return true
	}
	return false
}

// backward computes which values need gradients, seeds the loss gradient and
// walks the forward nodes in reverse, applying each op's rule.
func (b *builder) backward() error {
	// Trainable parameters: float initializers at differentiable inputs.
	isParam := map[string]bool{}
	ancestors := b.lossAncestors()
	for _, n := range b.fwd {
		if !ancestors[n] {
			continue
		}
		r, ok := rules[n.GetOpType()]
		for i, in := range n.Input {
			t, isInit := b.inits[in]
			if !isInit || !isFloat(onnxpb.TensorProto_DataType(t.GetDataType())) {
				continue
			}
			if ok && !r.differentiable(i) {
				continue
			}
			isParam[in] = true
		}
	}
	candidates := 0
	for _, t := range b.src.Proto.Graph.Initializer {
		if !isParam[t.GetName()] {
			continue
		}
		candidates++
		if b.trainable != nil && !b.trainable(t.GetName()) {
			delete(isParam, t.GetName()) // frozen
			continue
		}
		b.params = append(b.params, t.GetName())
	}
	if b.trainable != nil && candidates > 0 && len(b.params) == 0 {
		return fmt.Errorf("autodiff: the parameter selection leaves none of the %d trainable parameters", candidates)
	}
	if len(b.params) == 0 {
		// Fall back to the float graph inputs (documented in doc.go).
		for _, in := range b.g.Input {
			if in.GetName() == b.labels || in.GetName() == "target" {
				continue
			}
			if isFloat(b.elem(in.GetName())) && b.readDifferentiably(in.GetName(), ancestors) {
				if b.trainable != nil && !b.trainable(in.GetName()) {
					candidates++
					continue
				}
				b.params = append(b.params, in.GetName())
				isParam[in.GetName()] = true
			}
		}
	}
	if len(b.params) == 0 && candidates > 0 {
		return fmt.Errorf("autodiff: the parameter selection leaves none of the %d trainable parameters", candidates)
	}
	if len(b.params) == 0 {
		return fmt.Errorf("autodiff: no trainable parameters and no float input reaches the loss")
	}
	for p := range isParam {
		b.needs[p] = true
	}
	for _, n := range b.fwd {
		if !ancestors[n] {
			continue
		}
		r, ok := rules[n.GetOpType()]
		if !ok {
			// Only an error if a gradient has to flow through it.
			for _, in := range n.Input {
				if b.needs[in] {
					return &UnsupportedOpError{Op: n.GetOpType(), Domain: n.GetDomain(), Node: nodeName(n)}
				}
			}
			continue
		}
		any := false
		for i, in := range n.Input {
			if b.needs[in] && r.differentiable(i) {
				any = true
			}
		}
		if !any {
			continue
		}
		for i, o := range n.Output {
			if o != "" && isFloat(b.elem(o)) && r.outputDifferentiable(i) {
				b.needs[o] = true
			}
		}
	}
	if !b.needs[b.loss] {
		return fmt.Errorf("autodiff: the loss does not depend on any parameter")
	}
	b.cur = "loss"
	seed := b.constScalar(1, b.elem(b.loss))
	b.cur = ""
	b.contrib[b.loss] = []string{seed}
	b.grad[b.loss] = seed
	for i := len(b.fwd) - 1; i >= 0; i-- {
		n := b.fwd[i]
		if !ancestors[n] {
			continue
		}
		dy := make([]string, len(n.Output))
		anyGrad := false
		for j, o := range n.Output {
			if o != "" && b.needs[o] {
				dy[j] = b.gradOf(o)
				if dy[j] != "" {
					anyGrad = true
				}
			}
		}
		if !anyGrad {
			continue
		}
		r := rules[n.GetOpType()]
		b.cur = nodeName(n)
		err := r.fn(b, n, dy)
		b.cur = ""
		if err != nil {
			return fmt.Errorf("autodiff: gradient of %s node %s: %w", n.GetOpType(), nodeName(n), err)
		}
	}
	b.g.Output = append(b.g.Output, b.valueInfo(b.loss, b.loss))
	// A value that is the gradient of several parameters (e.g. both
	// operands of an Add) is never renamed; each gets an Identity.
	shared := map[string]int{}
	for _, p := range b.params {
		shared[b.gradOf(p)]++
	}
	for _, p := range b.params {
		g := b.gradOf(p)
		want := p + "_grad"
		if g == "" {
			dims, err := b.shape(p)
			if err != nil {
				return fmt.Errorf("autodiff: zero gradient of %s: %w", p, err)
			}
			b.cur = "zero"
			g = b.zeros(dims, b.elem(p))
			b.cur = ""
		}
		if g != want {
			if n := b.mine[g]; n != nil && b.refs[g] == 0 && shared[g] == 1 && !b.used[want] {
				for i, o := range n.Output {
					if o == g {
						n.Output[i] = want
					}
				}
				b.used[want] = true
				b.shapes[want] = b.shapes[p]
			} else {
				name := b.fresh(want)
				b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: proto.String("Identity"), Name: proto.String("Grad/output/" + p), Input: []string{g}, Output: []string{name}})
				b.refs[g]++
				want = name
			}
		}
		b.g.Output = append(b.g.Output, b.valueInfoAs(want, p))
	}
	return nil
}

// readDifferentiably reports whether a loss ancestor reads v at an input
// gradients flow to (not e.g. Clip's bounds or a Resize's scales).
func (b *builder) readDifferentiably(v string, anc map[*onnxpb.NodeProto]bool) bool {
	for _, n := range b.fwd {
		if !anc[n] {
			continue
		}
		r, ok := rules[n.GetOpType()]
		for i, in := range n.Input {
			if in == v && (!ok || r.differentiable(i)) {
				return true
			}
		}
	}
	return false
}

// lossAncestors marks the forward nodes the loss depends on.
func (b *builder) lossAncestors() map[*onnxpb.NodeProto]bool {
	prod := map[string]*onnxpb.NodeProto{}
	for _, n := range b.fwd {
		for _, o := range n.Output {
			prod[o] = n
		}
	}
	anc := map[*onnxpb.NodeProto]bool{}
	stack := []string{b.loss}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := prod[v]
		if n == nil || anc[n] {
			continue
		}
		anc[n] = true
		stack = append(stack, n.Input...)
	}
	return anc
}

// valueInfo declares value v with the type of like.
func (b *builder) valueInfo(v, like string) *onnxpb.ValueInfoProto {
	return b.valueInfoAs(v, like)
}

func (b *builder) valueInfoAs(v, like string) *onnxpb.ValueInfoProto {
	t := b.shapes[like]
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range t.dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if d >= 0 {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	elem := t.elem
	if elem == 0 {
		elem = onnxpb.TensorProto_FLOAT
	}
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem))}
	if t.dims != nil {
		tt.Shape = shape
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(v), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
}

// attrs is a small view of a node's attributes.
type attrs map[string]*onnxpb.AttributeProto

func attrsOf(n *onnxpb.NodeProto) attrs {
	a := attrs{}
	for _, x := range n.Attribute {
		a[x.GetName()] = x
	}
	return a
}

func (a attrs) int(name string, def int64) int64 {
	if x, ok := a[name]; ok {
		return x.GetI()
	}
	return def
}

func (a attrs) ints(name string) []int64 {
	if x, ok := a[name]; ok {
		return x.Ints
	}
	return nil
}

func (a attrs) float(name string, def float32) float32 {
	if x, ok := a[name]; ok {
		return x.GetF()
	}
	return def
}

func (a attrs) str(name, def string) string {
	if x, ok := a[name]; ok {
		return string(x.S)
	}
	return def
}

func input(n *onnxpb.NodeProto, i int) string {
	if i < len(n.Input) {
		return n.Input[i]
	}
	return ""
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// live drops nodes no graph output depends on (e.g. the constants that fed
// BatchNormalization's running statistics, unused in training mode).
func live(nodes []*onnxpb.NodeProto, outputs []*onnxpb.ValueInfoProto) []*onnxpb.NodeProto {
	names := make([]string, len(outputs))
	for i, o := range outputs {
		names[i] = o.GetName()
	}
	return onnx.Ancestors(nodes, names...)
}
