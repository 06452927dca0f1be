package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/onnx-recompute/recompute/models"
)

// addLLMFlags registers the sizes of the built-in llama: --preset and the
// per-field overrides (0: the preset's).
func addLLMFlags(fs *pflag.FlagSet, c *models.LLM) {
	fs.StringVar(&c.Preset, "preset", "", "built-in llama: size preset, "+strings.Join(models.LLMPresetNames(), ", ")+" (default "+models.DefaultPreset+"; 1b and 7b have Llama 3.2 1B's and Llama 2 7B's shapes)")
	fs.IntVar(&c.Layers, "layers", 0, "built-in llama: decoder layers (default: the preset's)")
	fs.IntVar(&c.Hidden, "hidden", 0, "built-in llama: hidden width (default: the preset's)")
	fs.IntVar(&c.Heads, "heads", 0, "built-in llama: attention heads (default: the preset's)")
	fs.IntVar(&c.KVHeads, "kv-heads", 0, "built-in llama: key/value heads, grouped-query attention (default: the preset's)")
	fs.IntVar(&c.FFN, "ffn", 0, "built-in llama: SwiGLU width (default: the preset's)")
	fs.IntVar(&c.Vocab, "vocab", 0, "built-in llama: vocabulary (default: the preset's)")
}

// Help texts of the built-in networks' size flags, made from the defaults
// the code uses (package models) so that they cannot drift from them.
var (
	sizeUsage = "input size (height = width) of a built-in image network (default: the paper's: " + models.DescribeDefaults(models.DefaultSize) + ")"
	seqUsage  = fmt.Sprintf("sequence length of built-in gpt2 (default %d) and llama (default: its preset's)", models.DefaultSeq)
)
