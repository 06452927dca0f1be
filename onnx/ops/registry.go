package ops

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Rule is everything the tool knows about one op type. Every registered rule
// has all three facets (registry_test.go checks it).
type Rule struct {
	Domain string // "" for the default ONNX domain
	Type   string
	// Infer sets c.Out (and optionally c.OutC, folded constants) from the
	// inputs. An error is reported as a warning; the outputs then fall back to
	// the file's value_info.
	Infer func(c *Ctx) error
	// FLOPs estimates the work of one execution from the inferred input and
	// output types (unknown dims: the estimate may be 0; FLOPs applies a floor).
	FLOPs func(n *onnxpb.NodeProto, in, out []Tensor) float64
	// Recompute says whether this node may be run a second time with the same
	// result: deterministic, no side effects, no subgraph.
	Recompute func(n *onnxpb.NodeProto) bool
	// Workspace, if set, is the bytes ORT's CPU kernel allocates for one
	// run beyond the outputs (workspace.go); nil: none.
	Workspace func(n *onnxpb.NodeProto, in, out []Tensor) int64
}

var registry = map[string]*Rule{}

// normDomain maps the default domain's two spellings to "".
func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

func key(domain, opType string) string { return normDomain(domain) + ":" + opType }

// register adds rules; a duplicate is a programming error caught by tests
// (init-time panic never crosses a package boundary at run time).
func register(rules ...Rule) {
	for i := range rules {
		r := rules[i]
		k := key(r.Domain, r.Type)
		if _, dup := registry[k]; dup {
			panic("ops: duplicate rule " + k)
		}
		registry[k] = &r
	}
}

// registerAs registers one rule under several op types of one domain.
func registerAs(domain string, types []string, r Rule) {
	for _, t := range types {
		rr := r
		rr.Domain, rr.Type = domain, t
		register(rr)
	}
}

// lookup finds the rule of a node. ORT's training ops sometimes appear with an
// empty or the com.microsoft domain interchangeably; fall back between them.
func lookup(n *onnxpb.NodeProto) *Rule {
	d := normDomain(n.GetDomain())
	if r := registry[key(d, n.GetOpType())]; r != nil {
		return r
	}
	switch d {
	case "":
		return registry[key("com.microsoft", n.GetOpType())]
	case "com.microsoft", "ai.onnx.contrib":
		return registry[key("", n.GetOpType())]
	}
	return nil
}

// HasRule reports whether the registry knows the node's op.
func HasRule(n *onnxpb.NodeProto) bool { return lookup(n) != nil }

// Registered lists the registered ops as "domain:OpType", sorted.
func Registered() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Rules returns the registered rules (for tests and documentation).
func Rules() []*Rule {
	out := make([]*Rule, 0, len(registry))
	for _, k := range Registered() {
		out = append(out, registry[k])
	}
	return out
}

// OpKey is the "domain:OpType" name of a node's op as used in Result.Unknown.
func OpKey(n *onnxpb.NodeProto) string { return key(n.GetDomain(), n.GetOpType()) }

// Recomputable reports whether a node may be cloned: it has a rule, and the
// rule says it is deterministic, free of side effects and has no subgraph.
func Recomputable(n *onnxpb.NodeProto) bool {
	r := lookup(n)
	if r == nil {
		return false
	}
	for _, a := range n.GetAttribute() {
		if a.GetType() == onnxpb.AttributeProto_GRAPH || a.GetType() == onnxpb.AttributeProto_GRAPHS || a.G != nil || len(a.Graphs) > 0 {
			return false
		}
	}
	return r.Recompute(n)
}

// defaultFLOPs is the cost of an op with no rule or with unknown shapes: small
// and positive, so planners never see a free op.
const defaultFLOPs = 1

// FLOPs estimates the floating-point work of one run of n, using the types
// in r (which may be nil). Unknown ops and unknown shapes cost defaultFLOPs.
func FLOPs(n *onnxpb.NodeProto, r *Result) float64 {
	rule := lookup(n)
	if rule == nil {
		return defaultFLOPs
	}
	in, out := r.types(n)
	f := rule.FLOPs(n, in, out)
	if !(f >= defaultFLOPs) { // also catches NaN
		return defaultFLOPs
	}
	return f
}

// types returns the types in r of n's inputs and outputs (unknown where r
// has none).
func (r *Result) types(n *onnxpb.NodeProto) (in, out []Tensor) {
	in = make([]Tensor, len(n.GetInput()))
	for i, name := range n.GetInput() {
		in[i] = r.value(name)
	}
	out = make([]Tensor, len(n.GetOutput()))
	for i, name := range n.GetOutput() {
		out[i] = r.value(name)
	}
	return in, out
}

func (r *Result) value(name string) Tensor {
	if r == nil || name == "" {
		return unknownTensor
	}
	if t, ok := r.Values[name]; ok {
		return t
	}
	return unknownTensor
}

// ---- recompute policies ----

func always(*onnxpb.NodeProto) bool { return true }
func never(*onnxpb.NodeProto) bool  { return false }

// ---- FLOPs helpers ----

// elems is the element count of t, 0 if unknown.
func elems(t Tensor) float64 {
	n, ok := t.Elements()
	if !ok {
		return 0
	}
	return float64(n)
}

// perOutput returns a FLOPs function of k operations per output element.
func perOutput(k float64) func(*onnxpb.NodeProto, []Tensor, []Tensor) float64 {
	return func(_ *onnxpb.NodeProto, _, out []Tensor) float64 {
		s := 0.0
		for _, t := range out {
			s += elems(t)
		}
		return k * s
	}
}

// perInput returns a FLOPs function of k operations per element of input 0.
func perInput(k float64) func(*onnxpb.NodeProto, []Tensor, []Tensor) float64 {
	return func(_ *onnxpb.NodeProto, in, _ []Tensor) float64 {
		if len(in) == 0 {
			return 0
		}
		return k * elems(in[0])
	}
}

// zeroFLOPs is for ops that only move or describe data (Shape, Reshape, …).
func zeroFLOPs(*onnxpb.NodeProto, []Tensor, []Tensor) float64 { return 0 }

// ---- attributes ----

func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func attrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

func attrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

func attrInts(n *onnxpb.NodeProto, name string) ([]int64, bool) {
	if a := attr(n, name); a != nil {
		return a.GetInts(), true
	}
	return nil, false
}

func attrString(n *onnxpb.NodeProto, name, def string) string {
	if a := attr(n, name); a != nil {
		return string(a.GetS())
	}
	return def
}

// nodeLabel names a node in messages.
func nodeLabel(n *onnxpb.NodeProto) string {
	name := n.GetName()
	if name == "" && len(n.GetOutput()) > 0 {
		name = n.GetOutput()[0]
	}
	return fmt.Sprintf("%s %q", strings.TrimPrefix(OpKey(n), ":"), name)
}
