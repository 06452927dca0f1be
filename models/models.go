package models

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Opset is the default-domain opset of every built model.
const Opset = 17

// Options choose the input of a network. Zero values take the defaults of
// PAPER.md §8: batch 1, 224x224 for the classifiers, 572x572 for unet,
// 713x713 for pspnet, sequence 1024 for gpt2.
type Options struct {
	Batch int
	// Size is the spatial input size (height = width) of the image networks.
	Size int
	// Seq is the sequence length of gpt2 (at most 1024, its position table)
	// and llama (default: its preset's).
	Seq int
	// LLM sizes llama (zero: the tiny preset).
	LLM LLM
	// NoWeights writes shapes only: every float initializer keeps its name,
	// type and dims but its data is an external reference to NoWeightsLocation,
	// a file that does not exist. For planning; not runnable.
	NoWeights bool
}

// network is one entry of the table of built-in networks.
type network struct {
	name        string
	defaultSize int // 0: takes Seq, not Size
	build       func(n *net, opt Options)
}

// networks is the one place that lists the built-in networks, in the order
// Names returns them.
var networks = []network{
	{"resnet50", 224, func(n *net, o Options) { resnetClassifier(n, o, [4]int{3, 4, 6, 3}) }},
	{"resnet101", 224, func(n *net, o Options) { resnetClassifier(n, o, [4]int{3, 4, 23, 3}) }},
	{"resnet152", 224, func(n *net, o Options) { resnetClassifier(n, o, [4]int{3, 8, 36, 3}) }},
	{"vgg19", 224, vgg19},
	{"densenet161", 224, densenet161},
	{"googlenet", 224, googlenet},
	{"unet", 572, unet},
	{"pspnet", 713, pspnet},
	{"gpt2", 0, gpt2},
	{"llama", 0, llama},
}

// classAxis names the networks whose logits do not hold the classes on
// axis 1: gpt2's are [batch, seq, vocab]. Build records it in the model's
// metadata (key "recompute.class_axis"), which autodiff's cross-entropy reads.
var classAxis = map[string]int{"gpt2": -1, "llama": -1}

// DefaultSeq is gpt2's sequence length when Options.Seq is 0: its
// position table's length.
const DefaultSeq = gptPositions

// DefaultPreset is llama's size preset when Options.LLM.Preset is empty.
const DefaultPreset = "tiny"

// DefaultSize returns the input size (height = width) an image network
// takes when Options.Size is 0, and 0 for a network that takes a sequence
// length instead (gpt2, llama) or an unknown name.
func DefaultSize(name string) int {
	for _, nw := range networks {
		if nw.name == name {
			return nw.defaultSize
		}
	}
	return 0
}

// Names returns the names of the built-in networks.
func Names() []string {
	out := make([]string, len(networks))
	for i, nw := range networks {
		out[i] = nw.name
	}
	return out
}

// Build returns the forward model of the named network (opset 17). Its
// input is "input" (float32 NCHW; gpt2: "input_ids", int64 [batch, seq]) and
// its one output is "logits".
func Build(name string, opt Options) (*onnx.Model, error) {
	n, opt, err := construct(name, opt)
	if err != nil {
		return nil, err
	}
	n.fill()
	mp := build.Model(n.b.G, Opset)
	weights := "seeded random weights"
	if opt.NoWeights {
		weights = "no weights (shapes only, external location " + NoWeightsLocation + ")"
	}
	what := fmt.Sprintf("size %d", opt.Size)
	if opt.Seq != 0 {
		what = fmt.Sprintf("seq %d", opt.Seq)
	}
	mp.DocString = proto.String(fmt.Sprintf("recompute built-in %s, batch %d, %s, %s", name, opt.Batch, what, weights))
	if axis, ok := classAxis[name]; ok {
		// autodiff reads this to put the cross-entropy over the right axis.
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{
			Key: proto.String("recompute.class_axis"), Value: proto.String(fmt.Sprint(axis))})
	}
	return &onnx.Model{Proto: mp}, nil
}

// construct validates the options, fills in defaults and builds the graph
// (weights not yet filled). It returns the options it used.
func construct(name string, opt Options) (n *net, _ Options, err error) {
	var nw *network
	for i := range networks {
		if networks[i].name == name {
			nw = &networks[i]
		}
	}
	if nw == nil {
		names := Names()
		sort.Strings(names)
		return nil, opt, fmt.Errorf("unknown network %q (built-in: %s)", name, strings.Join(names, ", "))
	}
	if opt.Batch < 0 || opt.Size < 0 || opt.Seq < 0 {
		return nil, opt, fmt.Errorf("%s: batch, size and seq must not be negative", name)
	}
	if opt.Batch == 0 {
		opt.Batch = 1
	}
	if name != "llama" && opt.LLM != (LLM{}) {
		return nil, opt, fmt.Errorf("%s: the preset and layer sizes apply to llama only", name)
	}
	if nw.defaultSize == 0 {
		if opt.Size != 0 {
			return nil, opt, fmt.Errorf("%s: takes a sequence length (seq), not a size", name)
		}
		if opt.Seq == 0 {
			opt.Seq = DefaultSeq
			if name == "llama" {
				preset := opt.LLM.Preset
				if preset == "" {
					preset = DefaultPreset
				}
				if p, ok := LLMPresets[preset]; ok {
					opt.Seq = p.Seq
				}
			}
		}
	} else {
		if opt.Seq != 0 {
			return nil, opt, fmt.Errorf("%s: takes a size, not a sequence length (seq applies to gpt2 and llama)", name)
		}
		if opt.Size == 0 {
			opt.Size = nw.defaultSize
		}
	}

	n = newNet(name, opt)
	defer func() {
		if r := recover(); r != nil {
			// A sizeError is a bad input; anything else is a bug in this
			// package, still returned as an error so no panic leaves it.
			if se, ok := r.(sizeError); ok {
				n, err = nil, fmt.Errorf("%s: %s", name, se.msg)
			} else {
				n, err = nil, fmt.Errorf("%s: internal error: %v", name, r)
			}
		}
	}()
	nw.build(n, opt)
	return n, opt, nil
}
