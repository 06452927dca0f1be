package recompute

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
)

// InspectOptions say how to read a model for Inspect.
type InspectOptions struct {
	Dims  []string // symbolic dimensions, NAME=N
	Batch int64    // leading dimension of every graph input whose leading dimension is symbolic
	Loss  string   // the loss value of a training graph ("": found)
}

// Inspect describes the model in the file at path or, if there is no such
// file and path names a built-in network, that network's forward model:
// opsets, ops, parameters, the forward/backward split of a training graph
// and its simulated peak.
func Inspect(path string, o InspectOptions) (*InspectReport, error) {
	opt, err := inferOptions(o.Dims, o.Batch)
	if err != nil {
		return nil, err
	}
	m, err := inspectLoad(path, o.Batch)
	if err != nil {
		return nil, err
	}
	rep, err := describe(m, opt, o.Loss)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rep.File = path
	return rep, nil
}

// InspectModel is Inspect of a model already in memory.
func InspectModel(m *onnx.Model, o InspectOptions) (*InspectReport, error) {
	opt, err := inferOptions(o.Dims, o.Batch)
	if err != nil {
		return nil, err
	}
	return describe(m, opt, o.Loss)
}

// inspectLoad loads the model file at path or, if there is no such file
// and path names a built-in network, builds that network's forward model
// (shapes only: its weights are references to an absent file).
func inspectLoad(path string, batch int64) (*onnx.Model, error) {
	m, err := onnx.Load(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return m, err
	}
	for _, name := range models.Names() {
		if name == path {
			return models.Build(name, models.Options{Batch: int(batch), NoWeights: true})
		}
	}
	return nil, fmt.Errorf("%v (nor a built-in network: %s)", err, strings.Join(models.Names(), ", "))
}

// inferOptions turns --dim NAME=N and --batch N into ops.Options.
func inferOptions(dims []string, batch int64) (ops.Options, error) {
	opt := ops.Options{Dims: map[string]int64{}, Batch: batch}
	if batch < 0 {
		return opt, optionErrorf("--batch %d: must be positive", batch)
	}
	for _, d := range dims {
		name, val, ok := strings.Cut(d, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if !ok || strings.TrimSpace(name) == "" || err != nil || n <= 0 {
			return opt, optionErrorf("--dim %q: want NAME=N with N a positive integer", d)
		}
		opt.Dims[strings.TrimSpace(name)] = n
	}
	return opt, nil
}

// InspectReport is what inspect prints; the JSON form is its fields.
// Every byte count says whether it is resident (graph inputs, initializers,
// constants: present for the whole run) or transient (node outputs:
// activations and gradients, live from their producer to their last reader).
type InspectReport struct {
	File       string          `json:"file"`
	IRVersion  int64           `json:"ir_version"`
	Producer   string          `json:"producer"`
	Opsets     []OpsetEntry    `json:"opsets"`
	Nodes      int             `json:"nodes"`
	OpCounts   []OpCount       `json:"op_counts"`
	Parameters ParamSummary    `json:"parameters"`
	Resident   ResidentSummary `json:"resident"`
	// ExternalData lists the external weight files the model names; they
	// are not read by inspect.
	ExternalData []string       `json:"external_data,omitempty"`
	Training     *TrainingSplit `json:"training,omitempty"`
	// NotTraining says why the model is not treated as a training graph.
	NotTraining string           `json:"not_training,omitempty"`
	Transient   TransientSummary `json:"transient"`
	Peak        PeakSummary      `json:"peak"`
	Largest     []ValueSummary   `json:"largest_values"`
	// OpsWithoutRules are "domain:OpType" names shape inference does not
	// know; their outputs have unknown size.
	OpsWithoutRules []string `json:"ops_without_rules"`
	// UnboundDims are symbolic dimensions of graph inputs that neither
	// --dim nor --batch bound; values depending on them have unknown size.
	UnboundDims []string `json:"unbound_dims,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
}

// OpsetEntry is an operator set the model imports.
type OpsetEntry struct {
	Domain  string `json:"domain"`
	Version int64  `json:"version"`
}

// OpCount is how many nodes run one op type.
type OpCount struct {
	Op    string `json:"op"`
	Count int    `json:"count"`
}

// ParamSummary counts the model's trainable parameters (float
// initializers) and where their values are stored.
type ParamSummary struct {
	Tensors     int   `json:"tensors"`
	Elements    int64 `json:"elements"`
	Bytes       int64 `json:"bytes"`
	UnknownSize int   `json:"unknown_size"`
	// Source lists where they were found: "initializers", "constant
	// nodes", "graph inputs with gradients".
	Source string `json:"source"`
}

// ResidentSummary sums the resident bytes: graph inputs, initializers and
// constants, present for the whole run.
type ResidentSummary struct {
	InputBytes       int64 `json:"input_bytes"`
	Inputs           int   `json:"inputs"`
	InitializerBytes int64 `json:"initializer_bytes"`
	Initializers     int   `json:"initializers"`
	ConstantBytes    int64 `json:"constant_bytes"`
	Constants        int   `json:"constants"`
	TotalBytes       int64 `json:"total_bytes"`
	UnknownSize      int   `json:"unknown_size"`
}

// TrainingSplit is a training graph's forward/backward split at its loss.
type TrainingSplit struct {
	Loss          []string `json:"loss"`
	ForwardNodes  int      `json:"forward_nodes"`
	BackwardNodes int      `json:"backward_nodes"`
}

// TransientSummary sums the transient values: node outputs, live from
// their producer to their last reader.
type TransientSummary struct {
	Values int   `json:"values"`
	Bytes  int64 `json:"bytes"`
	// ForwardBytes and BackwardBytes split Bytes for a training graph.
	ForwardBytes  int64 `json:"forward_bytes,omitempty"`
	BackwardBytes int64 `json:"backward_bytes,omitempty"`
	UnknownSize   int   `json:"unknown_size"`
}

// PeakSummary is the simulated transient peak in the order inspect runs
// the graph.
type PeakSummary struct {
	// Order is "file" when the nodes run in file order, "topological" when
	// the file is not topologically sorted and the stable order was used.
	Order          string `json:"order"`
	TransientBytes int64  `json:"transient_bytes"`
	AtNode         int    `json:"at_node"` // node index in the file, -1 for an empty graph
	AtNodeLabel    string `json:"at_node_label,omitempty"`
	ResidentBytes  int64  `json:"resident_bytes"`
	TotalBytes     int64  `json:"total_bytes"`
	// WorkspaceBytes is the part of TransientBytes that AtNode's kernel
	// allocates for itself while it runs (ORT's CPU kernels, onnx/ops);
	// MaxWorkspace the largest of any node, at MaxWorkspaceLabel.
	WorkspaceBytes    int64  `json:"workspace_bytes"`
	MaxWorkspaceBytes int64  `json:"max_workspace_bytes"`
	MaxWorkspaceLabel string `json:"max_workspace_at,omitempty"`
}

// ValueSummary is one of the largest transient values.
type ValueSummary struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Bytes    int64  `json:"bytes"`
	Producer string `json:"producer"`
	Phase    string `json:"phase,omitempty"` // forward|backward for a training graph
}

// describe computes the report for m.
func describe(m *onnx.Model, opt ops.Options, loss string) (*InspectReport, error) {
	mp := m.Proto
	g := mp.GetGraph()
	v, err := onnx.NewView(g)
	if err != nil {
		return nil, err
	}
	r, err := ops.Infer(m, opt)
	if err != nil {
		return nil, err
	}
	rep := &InspectReport{
		IRVersion:       mp.GetIrVersion(),
		Producer:        strings.TrimSpace(mp.GetProducerName() + " " + mp.GetProducerVersion()),
		Nodes:           len(g.GetNode()),
		OpsWithoutRules: append([]string{}, r.Unknown...),
		Warnings:        r.Warnings,
		ExternalData:    m.ExternalFiles(),
		Largest:         []ValueSummary{},
		OpCounts:        []OpCount{},
		Opsets:          []OpsetEntry{},
	}
	for _, o := range mp.GetOpsetImport() {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
		}
		rep.Opsets = append(rep.Opsets, OpsetEntry{d, o.GetVersion()})
	}
	counts := map[string]int{}
	for _, n := range g.GetNode() {
		counts[opName(n)]++
	}
	for op, c := range counts {
		rep.OpCounts = append(rep.OpCounts, OpCount{op, c})
	}
	sort.Slice(rep.OpCounts, func(i, j int) bool {
		a, b := rep.OpCounts[i], rep.OpCounts[j]
		return a.Count > b.Count || a.Count == b.Count && a.Op < b.Op
	})

	split, serr := ops.SplitTraining(m, v, loss)
	if serr != nil {
		if loss != "" {
			return nil, serr
		}
		rep.NotTraining = serr.Error()
		split = nil
	} else {
		rep.Training = &TrainingSplit{Loss: split.Loss, ForwardNodes: split.NumForward, BackwardNodes: split.NumBackward}
	}

	size := func(name string) (int64, bool) {
		t, ok := r.Values[name]
		if !ok {
			return 0, false
		}
		return t.Bytes()
	}
	if err := inspectCheckSizes(r); err != nil {
		return nil, err
	}

	// Resident values: graph inputs, initializers, constants.
	// Resident constants are the outputs of Constant nodes, as in
	// planner.FromModel (ONNX Runtime turns them into initializers). Other
	// constant-foldable nodes run like any other when graph optimisations
	// are off, as this project runs ORT, so their outputs are transient.
	constNode := make([]bool, len(g.GetNode()))
	for i, n := range g.GetNode() {
		constNode[i] = n.GetOpType() == "Constant" && (n.GetDomain() == "" || n.GetDomain() == "ai.onnx")
	}
	for _, in := range g.GetInput() {
		if v.Inits[in.GetName()] {
			continue // an initializer also listed as input (IR < 4)
		}
		rep.Resident.Inputs++
		if b, ok := size(in.GetName()); ok {
			rep.Resident.InputBytes += b
		} else {
			rep.Resident.UnknownSize++
		}
	}
	for _, t := range g.GetInitializer() {
		rep.Resident.Initializers++
		if b, ok := size(t.GetName()); ok {
			rep.Resident.InitializerBytes += b
		} else {
			rep.Resident.UnknownSize++
		}
	}
	for i, n := range g.GetNode() {
		if !constNode[i] {
			continue
		}
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			rep.Resident.Constants++
			if b, ok := size(o); ok {
				rep.Resident.ConstantBytes += b
			} else {
				rep.Resident.UnknownSize++
			}
		}
	}
	rep.Resident.TotalBytes = rep.Resident.InputBytes + rep.Resident.InitializerBytes + rep.Resident.ConstantBytes

	rep.Parameters = parameters(g, v, r, split)
	rep.UnboundDims = unboundDims(g, opt)

	// Transient values: outputs of the other nodes.
	type tv struct {
		name  string
		node  int
		bytes int64
	}
	var trans []tv
	for i, n := range g.GetNode() {
		if constNode[i] {
			continue
		}
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			rep.Transient.Values++
			b, ok := size(o)
			if !ok {
				rep.Transient.UnknownSize++
				continue
			}
			rep.Transient.Bytes += b
			if split != nil {
				if split.Forward[i] {
					rep.Transient.ForwardBytes += b
				} else {
					rep.Transient.BackwardBytes += b
				}
			}
			trans = append(trans, tv{o, i, b})
		}
	}
	sort.SliceStable(trans, func(i, j int) bool {
		return trans[i].bytes > trans[j].bytes || trans[i].bytes == trans[j].bytes && trans[i].name < trans[j].name
	})
	for _, t := range trans[:min(10, len(trans))] {
		vr := ValueSummary{Name: t.name, Type: r.Values[t.name].String(), Bytes: t.bytes, Producer: opName(g.GetNode()[t.node])}
		if split != nil {
			vr.Phase = "backward"
			if split.Forward[t.node] {
				vr.Phase = "forward"
			}
		}
		rep.Largest = append(rep.Largest, vr)
	}

	rep.Peak = fileOrderPeak(g, v, constNode, size, func(i int) int64 { return ops.Workspace(g.GetNode()[i], r) })
	rep.Peak.ResidentBytes = rep.Resident.TotalBytes
	rep.Peak.TotalBytes = rep.Peak.TransientBytes + rep.Peak.ResidentBytes
	return rep, nil
}

// unboundDims lists the dim_params of graph inputs that opt does not bind,
// sorted and unique.
func unboundDims(g *onnxpb.GraphProto, opt ops.Options) []string {
	seen := map[string]bool{}
	var out []string
	for _, in := range g.GetInput() {
		for k, d := range in.GetType().GetTensorType().GetShape().GetDim() {
			p := d.GetDimParam()
			if p == "" || seen[p] || opt.Dims[p] > 0 || k == 0 && opt.Batch > 0 {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// opName is "OpType" for the default domain, "domain:OpType" otherwise.
func opName(n *onnxpb.NodeProto) string {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return d + ":" + n.GetOpType()
	}
	return n.GetOpType()
}

// parameters counts the trainable tensors: floating-point initializers of
// rank >= 1, floating-point outputs of rank >= 1 of Constant and
// ConstantOfShape nodes with constant inputs that the forward part reads
// (weights carried as nodes, as in the ONNX "light" zoo models), and graph
// inputs for which
// the graph computes a gradient "<name>_grad" (the ONNX Runtime training
// artifact convention, where parameters are inputs). In a training graph
// only tensors whose gradient "<name>_grad" the graph computes count: the
// backward's own constants (one-hot values, interpolation matrices) are not
// parameters.
func parameters(g *onnxpb.GraphProto, v *onnx.View, r *ops.Result, split *ops.Split) ParamSummary {
	var p ParamSummary
	add := func(name string) {
		p.Tensors++
		t := r.Values[name]
		n, ok1 := t.Elements()
		b, ok2 := t.Bytes()
		if !ok1 || !ok2 {
			p.UnknownSize++
			return
		}
		p.Elements += n
		p.Bytes += b
	}
	weight := func(name string) bool {
		t := r.Values[name]
		switch t.Elem {
		case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16, onnxpb.TensorProto_DOUBLE:
			return t.Rank != 0 // a scalar is a constant, not a weight
		}
		return false
	}
	trained := func(name string) bool {
		_, ok := v.Producer[name+"_grad"]
		return ok
	}
	if split != nil {
		w := weight
		weight = func(name string) bool { return w(name) && trained(name) }
	}
	var fromInit, fromConst, fromInput bool
	for _, t := range g.GetInitializer() {
		if weight(t.GetName()) {
			add(t.GetName())
			fromInit = true
		}
	}
	foldable := v.ConstantNodes()
	for i, n := range g.GetNode() {
		if !foldable[i] || n.GetOpType() != "Constant" && n.GetOpType() != "ConstantOfShape" {
			continue
		}
		for _, o := range n.GetOutput() {
			if o == "" || !weight(o) {
				continue
			}
			// In a training graph a weight feeds the forward part; a
			// constant only the backward reads (zeros, ones) is not one.
			forward := split == nil
			for _, c := range v.Consumers[o] {
				forward = forward || split.Forward[c]
			}
			if forward {
				add(o)
				fromConst = true
			}
		}
	}
	for _, in := range g.GetInput() {
		name := in.GetName()
		if v.Inits[name] {
			continue
		}
		if trained(name) {
			add(name)
			fromInput = true
		}
	}
	var src []string
	if fromInit {
		src = append(src, "initializers")
	}
	if fromConst {
		src = append(src, "constant nodes")
	}
	if fromInput {
		src = append(src, "graph inputs with gradients")
	}
	p.Source = orNone(strings.Join(src, ", "))
	return p
}

// fileOrderPeak is the transient peak when the nodes run in file order (the
// stable topological order if the file is not sorted), with DESIGN.md's
// memory semantics: a value occupies its bytes from its producer until its
// last consumer has run (graph outputs until the end); running a node needs
// its inputs and outputs at once, plus the workspace ws(node) its kernel
// allocates while it runs. Resident values are not counted.
func fileOrderPeak(g *onnxpb.GraphProto, v *onnx.View, constNode []bool, size func(string) (int64, bool), ws func(int) int64) PeakSummary {
	order := v.Order
	p := PeakSummary{Order: "file", AtNode: -1}
	for k, i := range order {
		if k != i {
			p.Order = "topological"
			break
		}
	}
	pos := make([]int, len(order))
	for k, i := range order {
		pos[i] = k
	}
	// delta[k] is added to the live total before step k runs.
	delta := make([]int64, len(order)+1)
	for i, n := range g.GetNode() {
		if constNode[i] {
			continue
		}
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			b, ok := size(o)
			if !ok || b == 0 {
				continue
			}
			start, end := pos[i], pos[i]
			for _, c := range v.Consumers[o] {
				end = max(end, pos[c])
			}
			if v.Outputs[o] {
				end = len(order) - 1
			}
			delta[start] += b
			delta[end+1] -= b
		}
	}
	var live int64
	maxAt := -1
	for k := range order {
		live += delta[k]
		var w int64
		if !constNode[order[k]] {
			w = ws(order[k])
		}
		if live+w > p.TransientBytes || p.AtNode < 0 {
			p.TransientBytes = live + w
			p.AtNode, p.WorkspaceBytes = order[k], w
		}
		if w > p.MaxWorkspaceBytes {
			p.MaxWorkspaceBytes, maxAt = w, order[k]
		}
	}
	if p.AtNode >= 0 {
		p.AtNodeLabel = onnx.NodeLabel(g, p.AtNode)
	}
	if maxAt >= 0 {
		p.MaxWorkspaceLabel = onnx.NodeLabel(g, maxAt)
	}
	return p
}

// writeText prints the report for people.
// WriteText writes the report as `recompute inspect` prints it.
func (rep *InspectReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "model        %s\n", rep.File)
	fmt.Fprintf(w, "ir version   %d\n", rep.IRVersion)
	fmt.Fprintf(w, "producer     %s\n", orNone(rep.Producer))
	var sets []string
	for _, o := range rep.Opsets {
		sets = append(sets, fmt.Sprintf("%s %d", o.Domain, o.Version))
	}
	fmt.Fprintf(w, "opsets       %s\n", orNone(strings.Join(sets, ", ")))
	var oc []string
	for _, c := range rep.OpCounts {
		oc = append(oc, fmt.Sprintf("%s %d", c.Op, c.Count))
	}
	fmt.Fprintf(w, "nodes        %d: %s\n", rep.Nodes, orNone(strings.Join(oc, ", ")))
	p := rep.Parameters
	fmt.Fprintf(w, "parameters   %s in %d tensors, %s (%s)%s\n", groupDigits(p.Elements), p.Tensors, planner.HumanBytes(p.Bytes), p.Source, unknownNote(p.UnknownSize))
	rs := rep.Resident
	fmt.Fprintf(w, "resident     %s: graph inputs %s (%d), initializers %s (%d), constants %s (%d)%s\n",
		planner.HumanBytes(rs.TotalBytes), planner.HumanBytes(rs.InputBytes), rs.Inputs, planner.HumanBytes(rs.InitializerBytes), rs.Initializers,
		planner.HumanBytes(rs.ConstantBytes), rs.Constants, unknownNote(rs.UnknownSize))
	if len(rep.ExternalData) > 0 {
		if n := len(rep.ExternalData); n > 5 {
			fmt.Fprintf(w, "external     weights in %d files (not read): %s (all: --json)\n", n, summarise(rep.ExternalData, 5))
		} else {
			fmt.Fprintf(w, "external     weights in %s (not read)\n", strings.Join(rep.ExternalData, ", "))
		}
	}
	if t := rep.Training; t != nil {
		fmt.Fprintf(w, "training     loss %s; forward %d nodes, backward %d nodes\n", strings.Join(t.Loss, ", "), t.ForwardNodes, t.BackwardNodes)
	} else {
		fmt.Fprintf(w, "training     no: %s\n", rep.NotTraining)
	}
	tr := rep.Transient
	split := ""
	if rep.Training != nil {
		split = fmt.Sprintf(" (forward activations %s, backward %s)", planner.HumanBytes(tr.ForwardBytes), planner.HumanBytes(tr.BackwardBytes))
	}
	fmt.Fprintf(w, "transient    %s in %d node outputs%s%s\n", planner.HumanBytes(tr.Bytes), tr.Values, split, unknownNote(tr.UnknownSize))
	pk := rep.Peak
	at := ""
	if pk.AtNode >= 0 {
		at = " at " + pk.AtNodeLabel
	}
	if pk.WorkspaceBytes > 0 {
		at += fmt.Sprintf(" (%s of it that node's kernel workspace)", planner.HumanBytes(pk.WorkspaceBytes))
	}
	fmt.Fprintf(w, "peak         transient %s%s, nodes in %s order; with resident %s\n", planner.HumanBytes(pk.TransientBytes), at, pk.Order, planner.HumanBytes(pk.TotalBytes))
	if pk.MaxWorkspaceBytes > 0 {
		fmt.Fprintf(w, "workspace    largest %s at %s (ORT's CPU kernel allocates it while the node runs; counted in the peak at its step)\n", planner.HumanBytes(pk.MaxWorkspaceBytes), pk.MaxWorkspaceLabel)
	}
	fmt.Fprintf(w, "largest transient values:\n")
	for _, l := range rep.Largest {
		phase := ""
		if l.Phase != "" {
			phase = " " + l.Phase
		}
		fmt.Fprintf(w, "  %10s  %-28s %s (%s%s)\n", planner.HumanBytes(l.Bytes), l.Type, l.Name, l.Producer, phase)
	}
	if len(rep.Largest) == 0 {
		fmt.Fprintf(w, "  none of known size\n")
	}
	fmt.Fprintf(w, "ops without shape rules: %s\n", orNone(strings.Join(rep.OpsWithoutRules, ", ")))
	if len(rep.UnboundDims) > 0 {
		fmt.Fprintf(w, "unbound symbolic dims: %s (bind with --dim NAME=N or --batch N)\n", strings.Join(rep.UnboundDims, ", "))
	}
	for _, wn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func unknownNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d of unknown size not counted", n)
}

// groupDigits renders 1234567 as "1,234,567".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// inspectCheckSizes refuses sizes whose sums could overflow: a value whose
// byte count overflows int64, or values that add up to more than
// planner.MaxTotalBytes (every total inspect prints is a sum over them).
func inspectCheckSizes(r *ops.Result) error {
	names := slices.Sorted(maps.Keys(r.Values))
	var total int64
	largest := ""
	for _, name := range names {
		t := r.Values[name]
		b, ok := t.Bytes()
		if !ok {
			if t.Static() && ops.ElemBits(t.Elem) > 0 {
				return &planner.SizeError{Value: name, Shape: t.String()}
			}
			continue
		}
		if largest == "" || b > mustBytes(r.Values[largest]) {
			largest = name
		}
		total += b
		if total > planner.MaxTotalBytes {
			return &planner.SizeError{Value: largest, Bytes: mustBytes(r.Values[largest]), Total: true}
		}
	}
	return nil
}

func mustBytes(t ops.Tensor) int64 {
	b, _ := t.Bytes()
	return b
}
