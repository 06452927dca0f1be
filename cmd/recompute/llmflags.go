package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/onnx-recompute/recompute/models"
)

// addLLMFlags registers the sizes of the built-in llama: --preset and the
// per-field overrides (0: the preset's).
func addLLMFlags(fs *pflag.FlagSet) *models.LLM {
	c := &models.LLM{}
	fs.StringVar(&c.Preset, "preset", "", "built-in llama: size preset, "+strings.Join(models.LLMPresetNames(), ", ")+" (default tiny; 1b and 7b have Llama 3.2 1B's and Llama 2 7B's shapes)")
	fs.IntVar(&c.Layers, "layers", 0, "built-in llama: decoder layers (default: the preset's)")
	fs.IntVar(&c.Hidden, "hidden", 0, "built-in llama: hidden width (default: the preset's)")
	fs.IntVar(&c.Heads, "heads", 0, "built-in llama: attention heads (default: the preset's)")
	fs.IntVar(&c.KVHeads, "kv-heads", 0, "built-in llama: key/value heads, grouped-query attention (default: the preset's)")
	fs.IntVar(&c.FFN, "ffn", 0, "built-in llama: SwiGLU width (default: the preset's)")
	fs.IntVar(&c.Vocab, "vocab", 0, "built-in llama: vocabulary (default: the preset's)")
	return c
}
