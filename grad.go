package recompute

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/autodiff/gradcheck"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
)

// GradOptions say how Grad builds the training graph. Each field is the
// grad command's flag of the same name.
type GradOptions struct {
	Loss          string // cross-entropy, mse or sum ("": cross-entropy; mse when the output has one channel)
	Labels        string // the int64 labels input of cross-entropy ("": labels)
	ConvInputGrad string // transpose ("" too) or auto
	ClassAxis     int    // the output's class axis for cross-entropy (0: the model's metadata, else 1; -1: last)
	Batch         int    // of a built-in network, or the symbolic leading dimension of a file's inputs (0: 1 for files)
	Size, Seq     int    // built-in networks: input size, sequence length
	LLM           models.LLM
	NoWeights     bool     // built-in network without weight values
	Dims          []string // symbolic dimensions of a file's inputs, NAME=N
	Trainable     []string // train only the parameters whose name matches one of these regular expressions
	Freeze        []string // freeze the parameters whose name matches one of these

	// Check runs the training graph in ONNX Runtime (ORTLib, default
	// $ONNXRUNTIME_LIB) and compares CheckParams sampled gradient
	// coordinates (0: 48) with central finite differences of the loss;
	// Grad fails above Tolerance (0: 0.05).
	Check       bool
	ORTLib      string
	Tolerance   float64
	CheckParams int
}

// GradReport is what Grad built and, with Check, how the gradients compare.
type GradReport struct {
	Source        string            `json:"source"`
	Out           string            `json:"out"`
	Params        int               `json:"params"`
	ParamValues   int64             `json:"param_values"`
	Frozen        int               `json:"frozen,omitempty"`
	ForwardNodes  int               `json:"forward_nodes"`
	BackwardNodes int               `json:"backward_nodes"`
	Loss          string            `json:"loss"`
	OutBytes      int64             `json:"out_bytes"`
	Seconds       float64           `json:"seconds"`
	ExternalFiles []string          `json:"external_files,omitempty"` // weights read relative to Out's directory that stay where they are
	Check         *gradcheck.Result `json:"check,omitempty"`
	selected      bool
}

// Grad appends a loss and the backward graph (standard ONNX ops) to the
// forward model src (a file, or a built-in network's name) and writes the
// training graph to out, atomically. A failed gradient check returns the
// report and an error.
func Grad(src, out string, o GradOptions) (*GradReport, error) {
	if o.Labels == "" {
		o.Labels = "labels"
	}
	if o.ConvInputGrad == "" {
		o.ConvInputGrad = "transpose"
	}
	if o.Tolerance == 0 {
		o.Tolerance = 0.05
	}
	if o.CheckParams == 0 {
		o.CheckParams = 48
	}
	if o.Loss != "" && !slices.Contains(autodiff.Losses, o.Loss) {
		return nil, optionErrorf("--loss %q: want one of %s", o.Loss, strings.Join(autodiff.Losses, ", "))
	}
	if o.Batch < 0 || o.Size < 0 || o.Seq < 0 {
		return nil, optionErrorf("--batch, --size and --seq must be positive")
	}
	if !slices.Contains(autodiff.ConvInputGrads, o.ConvInputGrad) {
		return nil, optionErrorf("--conv-input-grad %q: want transpose or auto", o.ConvInputGrad)
	}
	if o.Tolerance <= 0 {
		return nil, optionErrorf("--tolerance %g: must be positive", o.Tolerance)
	}
	iopt, err := inferOptions(o.Dims, int64(o.Batch))
	if err != nil {
		return nil, err
	}
	if same, _ := samePath(src, out); same {
		return nil, optionErrorf("-o %s would overwrite the input model; choose another file", out)
	}
	sel, err := newParamSelection(o.Trainable, o.Freeze)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	m, builtin, err := gradLoad(src, models.Options{Batch: o.Batch, Size: o.Size, Seq: o.Seq, NoWeights: o.NoWeights, LLM: o.LLM})
	if err != nil {
		return nil, err
	}
	if !builtin && (o.Size != 0 || o.Seq != 0 || o.NoWeights) {
		return nil, optionErrorf("--size, --seq and --no-weights apply to built-in networks only; %s is a file", src)
	}
	tm, err := autodiff.Build(m, autodiff.Options{Loss: o.Loss, Labels: o.Labels, Batch: int64(o.Batch), Dims: iopt.Dims, ClassAxis: o.ClassAxis, Trainable: sel.predicate(), ConvInputGrad: o.ConvInputGrad})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if err := tm.Save(out); err != nil {
		return nil, err
	}
	st := autodiff.Summarize(tm)
	rep := &GradReport{Source: src, Out: out, Params: st.Params, ParamValues: int64(st.ParamValues), ForwardNodes: st.ForwardNodes, BackwardNodes: st.BackwardNodes,
		Loss: st.Loss, OutBytes: fileSize(out), Seconds: time.Since(start).Seconds(), selected: sel != nil}
	if sel != nil {
		rep.Frozen = sel.frozenCount()
	}
	if ext := tm.ExternalFiles(); len(ext) > 0 && !builtin && absDir(src) != absDir(out) {
		rep.ExternalFiles = ext
	}
	if !o.Check {
		return rep, nil
	}
	r, err := gradcheck.Check(tm, gradcheck.Options{LibPath: o.ORTLib, Tolerance: o.Tolerance, MaxParams: o.CheckParams})
	if err != nil {
		return rep, fmt.Errorf("check %s: %w", out, err)
	}
	rep.Check = r
	if !r.OK() {
		return rep, fmt.Errorf("gradient check failed: worst relative error %.3g at %s exceeds tolerance %g", r.Worst, r.WorstParam, r.Tolerance)
	}
	return rep, nil
}

// WriteText writes the report as `recompute grad` prints it.
func (rep *GradReport) WriteText(w io.Writer) {
	frozen := ""
	if rep.selected || rep.Frozen > 0 {
		frozen = fmt.Sprintf("; %d frozen", rep.Frozen)
	}
	fmt.Fprintf(w, "grad %s: %d parameters (%.1f M values%s), %d forward + %d backward nodes, loss %s -> %s (%.1f MB) in %.2f s\n",
		rep.Source, rep.Params, float64(rep.ParamValues)/1e6, frozen, rep.ForwardNodes, rep.BackwardNodes, rep.Loss, rep.Out, float64(rep.OutBytes)/1e6, rep.Seconds)
	if ext := rep.ExternalFiles; len(ext) > 0 {
		fmt.Fprintf(w, "note: weights stay in %d external file(s) (%s; all: recompute inspect --json), read relative to %s's directory: copy them beside it\n", len(ext), summarise(ext, 3), rep.Out)
	}
	r := rep.Check
	if r == nil {
		return
	}
	for _, p := range r.Params {
		fmt.Fprintf(w, "  %-48s worst rel err %.2e  (max |grad| %.2e)\n", p.Name, p.WorstRelErr, p.MaxAbsGrad)
	}
	note := ""
	if r.Note != "" {
		note = "; " + r.Note
	}
	fmt.Fprintf(w, "check: loss %.5g, %d of %d parameters, %d runs, %.1f s: worst relative error %.2e (%s), tolerance %g (central differences, float32 ONNX Runtime %s)%s\n",
		r.Loss, r.Checked, r.Total, r.Evals, r.Seconds, r.Worst, r.WorstParam, r.Tolerance, "CPU", note)
}

// gradLoad loads MODEL from a file or builds the built-in network of that
// name (a file of that name wins).
func gradLoad(src string, opt models.Options) (*onnx.Model, bool, error) {
	m, err := onnx.Load(src)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return m, false, err
	}
	for _, name := range models.Names() {
		if name == src {
			m, err := models.Build(name, opt)
			return m, true, err
		}
	}
	return nil, false, fmt.Errorf("%v (nor a built-in network: %s)", err, strings.Join(models.Names(), ", "))
}

func samePath(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

func absDir(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Dir(p)
	}
	return filepath.Dir(a)
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}
