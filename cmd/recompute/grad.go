package main

import (
	"io"

	"github.com/onnx-recompute/recompute"
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
	var o recompute.GradOptions
	fs.StringVar(&o.Loss, "loss", "", "loss on the first output: cross-entropy, mse or sum (default cross-entropy; mse when the output has one channel)")
	fs.StringVar(&o.Labels, "labels", "labels", "name of the int64 labels input of cross-entropy")
	fs.StringVar(&o.ConvInputGrad, "conv-input-grad", "transpose", "form of a convolution's input gradient: transpose (ConvTranspose) or auto (a convolution with flipped kernels where ConvTranspose's column buffer in ONNX Runtime would be larger; rewrites may then differ from the original in the last bits under ORT's default optimisations)")
	fs.IntVar(&o.ClassAxis, "class-axis", 0, "class axis of the output for cross-entropy (default: the model's recompute.class_axis metadata, else 1; -1 = last, as in [batch, seq, vocab] logits)")
	fs.IntVar(&o.Batch, "batch", 0, "batch size: of a built-in network, or the symbolic leading dim of a file's inputs (default 1 for files)")
	fs.IntVar(&o.Size, "size", 0, sizeUsage)
	fs.IntVar(&o.Seq, "seq", 0, seqUsage)
	addLLMFlags(fs, &o.LLM)
	fs.BoolVar(&o.NoWeights, "no-weights", false, "built-in network without weight values (tiny file for planning)")
	fs.StringArrayVar(&o.Dims, "dim", nil, "bind a symbolic dimension of a file's inputs: NAME=N (repeatable)")
	fs.StringArrayVar(&o.Trainable, "trainable", nil, "train only the parameters whose initializer name matches this Go `REGEX` (repeatable; any match trains); the others are frozen: no gradient, and the backward graph holds only what the trained ones need")
	fs.StringArrayVar(&o.Freeze, "freeze", nil, "freeze the parameters whose name matches this `REGEX` (repeatable; applied after --trainable)")
	fs.BoolVar(&o.Check, "check", false, "check the gradients on ONNX Runtime with finite differences")
	fs.StringVar(&o.ORTLib, "ort-lib", "", "ONNX Runtime shared library (default $ONNXRUNTIME_LIB or scripts/fetch-ort.sh's)")
	fs.Float64Var(&o.Tolerance, "tolerance", 0.05, "largest relative error --check accepts per coordinate")
	fs.IntVar(&o.CheckParams, "check-params", 48, "parameters --check samples, spread over the list (each: the gradient direction and its largest coordinate)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("grad takes one MODEL argument, got %d (see recompute grad --help)", fs.NArg())
	}
	if *out == "" {
		return usagef("grad needs -o OUT")
	}
	if fs.Changed("tolerance") && o.Tolerance <= 0 {
		return usagef("--tolerance %g: must be positive", o.Tolerance)
	}
	rep, err := recompute.Grad(fs.Arg(0), *out, o)
	if rep != nil {
		rep.WriteText(stdout)
	}
	return err
}
