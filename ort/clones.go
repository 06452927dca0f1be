package ort

import (
	"regexp"
	"sort"
	"strings"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort/ortorder"
)

// CloneOrder says where ONNX Runtime ran the clones of a rewritten model.
type CloneOrder struct {
	Clones        int      // clone nodes in the model (an output named <value>_rc<k> of a value another node writes)
	Ran           int      // clones found in the executed order (under their own name, or the one ORT's NCHWc layout transform gives a Conv)
	Folded        int      // clones ORT did not run because they compute on constants only: it folds them into initializers at load
	Unseen        int      // other clones not in the executed order: fused into another kernel or removed by one of ORT's optimisers
	AfterReaders  int      // ran after every other reader of the original value (the original could be freed first)
	AfterForward  int      // ran after the last forward node; -1 when the forward part is unknown
	MedianGap     float64  // executed nodes between a clone and its first reader, median over clones
	MaxGap        int      // and the largest
	EarlyExamples []string // up to 5 clones that ran before a reader of their original
}

var cloneName = regexp.MustCompile(`^(.+)_rc[0-9]+(_[0-9]+)?$`)

// guardPrefix marks the ordering-guard nodes package rewrite emits; they
// read values only for their shapes or as aliases, so they do not count as
// readers that keep an original alive.
const guardPrefix = ortorder.GuardPrefix

// AnalyzeClones relates the executed node order (profile names, see
// NodeNames) to the clones of g. forward marks forward nodes by index (nil:
// unknown).
func AnalyzeClones(g *onnxpb.GraphProto, executed []string, forward []bool) CloneOrder {
	names := NodeNames(g)
	pos := make(map[string]int, len(executed))
	for i, n := range executed {
		if _, ok := pos[n]; !ok {
			pos[n] = i
		}
	}
	// at is node i's position in the executed order. ORT's NCHWc layout
	// transform (optimisation level all) replaces a Conv by a node named
	// after its output, <output>_nchwc (seen in ORT 1.30 profiles).
	at := func(i int) (int, bool) {
		if p, ok := pos[names[i]]; ok {
			return p, true
		}
		if out := g.Node[i].GetOutput(); len(out) > 0 {
			if p, ok := pos[out[0]+"_nchwc"]; ok {
				return p, true
			}
		}
		return 0, false
	}
	konst := ortorder.ConstantValues(g)
	// folded reports whether ORT computes node i at load: every output is a
	// value it knows before any run (ortorder.ConstantValues).
	folded := func(i int) bool {
		for _, o := range g.Node[i].GetOutput() {
			if o != "" && !konst[o] {
				return false
			}
		}
		return true
	}
	producer := map[string]int{}
	readers := map[string][]int{}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = i
			}
		}
		for _, in := range n.GetInput() {
			if in != "" {
				readers[in] = append(readers[in], i)
			}
		}
	}
	// clone index -> original index
	original := map[int]int{}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			m := cloneName.FindStringSubmatch(o)
			if m == nil {
				continue
			}
			if j, ok := producer[m[1]]; ok && j != i && g.Node[j].GetOpType() == n.GetOpType() {
				original[i] = j
			}
			break
		}
	}
	res := CloneOrder{Clones: len(original), AfterForward: -1}
	lastForward := -1
	if forward != nil {
		res.AfterForward = 0
		for i, f := range forward {
			if p, ok := at(i); ok && f && p > lastForward {
				lastForward = p
			}
		}
	}
	idx := make([]int, 0, len(original))
	for i := range original {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var gaps []int
	for _, i := range idx {
		p, ok := at(i)
		if !ok {
			if folded(i) {
				res.Folded++
			} else {
				res.Unseen++
			}
			continue
		}
		res.Ran++
		j := original[i]
		late := true
		for _, o := range g.Node[j].GetOutput() {
			for _, r := range readers[o] {
				if _, isClone := original[r]; isClone || r == i || strings.HasPrefix(names[r], guardPrefix) {
					continue
				}
				if rp, ok := at(r); ok && rp > p {
					late = false
				}
			}
		}
		if late {
			res.AfterReaders++
		} else if len(res.EarlyExamples) < 5 {
			res.EarlyExamples = append(res.EarlyExamples, names[i])
		}
		if forward != nil && p > lastForward {
			res.AfterForward++
		}
		first := -1
		for _, o := range g.Node[i].GetOutput() {
			for _, r := range readers[o] {
				if rp, ok := at(r); ok && (first < 0 || rp < first) {
					first = rp
				}
			}
		}
		if first > p {
			gaps = append(gaps, first-p-1)
		}
	}
	if len(gaps) > 0 {
		sort.Ints(gaps)
		res.MaxGap = gaps[len(gaps)-1]
		f := make([]float64, len(gaps))
		for k, x := range gaps {
			f[k] = float64(x)
		}
		res.MedianGap = Median(f)
	}
	return res
}
