package main

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

const gradSynopsis = `MODEL -o OUT [--loss cross-entropy|mse|sum] [--labels NAME] [--batch N] [--size N] [--seq N]
       [--no-weights] [--dim NAME=N]... [--trainable REGEX]... [--freeze REGEX]... [--conv-input-grad transpose|auto]
       [--check [--ort-lib PATH] [--tolerance X] [--check-params N]]

MODEL is a forward .onnx file or a built-in network name: resnet50, resnet101, resnet152,
vgg19, densenet161, googlenet, unet, pspnet, gpt2, llama (--preset tiny|1b|7b, --layers,
--hidden, --heads, --kv-heads, --ffn, --vocab).
OUT gets the training graph: the loss ("loss") and "<param>_grad" for every trainable
initializer, in standard ONNX ops (opset 17), written atomically.
--check runs it in ONNX Runtime on random inputs and compares sampled gradient
coordinates with central finite differences of the loss; it fails above --tolerance.`

func runGrad(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("grad", gradSynopsis, stderr)
	out := fs.StringP("output", "o", "", "write the training graph to this file (required)")
	loss := fs.String("loss", "", "loss on the first output: cross-entropy, mse or sum (default cross-entropy; mse when the output has one channel)")
	labels := fs.String("labels", "labels", "name of the int64 labels input of cross-entropy")
	convGrad := fs.String("conv-input-grad", "transpose", "form of a convolution's input gradient: transpose (ConvTranspose) or auto (a convolution with flipped kernels where ConvTranspose's column buffer in ONNX Runtime would be larger; rewrites may then differ from the original in the last bits under ORT's default optimisations)")
	classAxis := fs.Int("class-axis", 0, "class axis of the output for cross-entropy (default: the model's recompute.class_axis metadata, else 1; -1 = last, as in [batch, seq, vocab] logits)")
	batch := fs.Int("batch", 0, "batch size: of a built-in network, or the symbolic leading dim of a file's inputs (default 1 for files)")
	size := fs.Int("size", 0, sizeUsage)
	seq := fs.Int("seq", 0, seqUsage)
	llm := addLLMFlags(fs)
	noWeights := fs.Bool("no-weights", false, "built-in network without weight values (tiny file for planning)")
	dims := fs.StringArray("dim", nil, "bind a symbolic dimension of a file's inputs: NAME=N (repeatable)")
	trainable := fs.StringArray("trainable", nil, "train only the parameters whose initializer name matches this Go `REGEX` (repeatable; any match trains); the others are frozen: no gradient, and the backward graph holds only what the trained ones need")
	freeze := fs.StringArray("freeze", nil, "freeze the parameters whose name matches this `REGEX` (repeatable; applied after --trainable)")
	check := fs.Bool("check", false, "check the gradients on ONNX Runtime with finite differences")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime shared library (default $ONNXRUNTIME_LIB or scripts/fetch-ort.sh's)")
	tol := fs.Float64("tolerance", 0.05, "largest relative error --check accepts per coordinate")
	checkParams := fs.Int("check-params", 48, "parameters --check samples, spread over the list (each: the gradient direction and its largest coordinate)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("grad takes one MODEL argument, got %d (see recompute grad --help)", fs.NArg())
	}
	if *out == "" {
		return usagef("grad needs -o OUT")
	}
	if *loss != "" && !gradContains(autodiff.Losses, *loss) {
		return usagef("--loss %q: want one of %s", *loss, strings.Join(autodiff.Losses, ", "))
	}
	if *batch < 0 || *size < 0 || *seq < 0 {
		return usagef("--batch, --size and --seq must be positive")
	}
	if !slices.Contains(autodiff.ConvInputGrads, *convGrad) {
		return usagef("--conv-input-grad %q: want transpose or auto", *convGrad)
	}
	if *tol <= 0 {
		return usagef("--tolerance %g: must be positive", *tol)
	}
	src := fs.Arg(0)
	iopt, err := inferOptions(*dims, int64(*batch))
	if err != nil {
		return err
	}
	if same, _ := samePath(src, *out); same {
		return usagef("-o %s would overwrite the input model; choose another file", *out)
	}
	sel, err := newParamSelection(*trainable, *freeze)
	if err != nil {
		return err
	}
	start := time.Now()
	m, builtin, err := gradLoad(src, models.Options{Batch: *batch, Size: *size, Seq: *seq, NoWeights: *noWeights, LLM: *llm})
	if err != nil {
		return err
	}
	if !builtin && (*size != 0 || *seq != 0 || *noWeights) {
		return usagef("--size, --seq and --no-weights apply to built-in networks only; %s is a file", src)
	}
	tm, err := autodiff.Build(m, autodiff.Options{Loss: *loss, Labels: *labels, Batch: int64(*batch), Dims: iopt.Dims, ClassAxis: *classAxis, Trainable: sel.predicate(), ConvInputGrad: *convGrad})
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if err := tm.Save(*out); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	st := autodiff.Summarize(tm)
	frozen := ""
	if sel != nil {
		frozen = fmt.Sprintf("; %d frozen", sel.frozenCount())
	}
	fmt.Fprintf(stdout, "grad %s: %d parameters (%.1f M values%s), %d forward + %d backward nodes, loss %s -> %s (%.1f MB) in %.2f s\n",
		src, st.Params, float64(st.ParamValues)/1e6, frozen, st.ForwardNodes, st.BackwardNodes, st.Loss, *out, float64(fileSize(*out))/1e6, secs)
	if ext := tm.ExternalFiles(); len(ext) > 0 && !builtin {
		if d1, d2 := absDir(src), absDir(*out); d1 != d2 {
			fmt.Fprintf(stdout, "note: weights stay in %d external file(s) (%s; all: recompute inspect --json), read relative to %s's directory: copy them beside it\n", len(ext), summarise(ext, 3), *out)
		}
	}
	if !*check {
		return nil
	}
	r, err := gradcheck.Check(tm, gradcheck.Options{LibPath: *ortLib, Tolerance: *tol, MaxParams: *checkParams})
	if err != nil {
		return fmt.Errorf("check %s: %w", *out, err)
	}
	for _, p := range r.Params {
		fmt.Fprintf(stdout, "  %-48s worst rel err %.2e  (max |grad| %.2e)\n", p.Name, p.WorstRelErr, p.MaxAbsGrad)
	}
	note := ""
	if r.Note != "" {
		note = "; " + r.Note
	}
	fmt.Fprintf(stdout, "check: loss %.5g, %d of %d parameters, %d runs, %.1f s: worst relative error %.2e (%s), tolerance %g (central differences, float32 ONNX Runtime %s)%s\n",
		r.Loss, r.Checked, r.Total, r.Evals, r.Seconds, r.Worst, r.WorstParam, r.Tolerance, "CPU", note)
	if !r.OK() {
		return fmt.Errorf("gradient check failed: worst relative error %.3g at %s exceeds tolerance %g", r.Worst, r.WorstParam, r.Tolerance)
	}
	return nil
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

func gradContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
