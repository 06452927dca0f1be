package models

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// LLM sizes a Llama-style network (Options.LLM); zero fields take the
// preset's values.
type LLM struct {
	Preset  string // tiny (default), 1b, 7b
	Layers  int
	Hidden  int
	Heads   int
	KVHeads int // grouped-query attention: heads share KVHeads key/value heads
	FFN     int // SwiGLU width
	Vocab   int
}

// LLMPresets are the named Llama sizes: tiny (tests), 1b (Llama 3.2 1B's
// shape: 16 layers, 2048 wide, 32 heads over 8 key/value heads) and 7b
// (Llama 2 7B's: 32 layers, 4096 wide, 32 heads, no grouping). Each gives
// its default sequence length.
var LLMPresets = map[string]struct {
	LLM
	Seq int
}{
	"tiny": {LLM{Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, FFN: 176, Vocab: 256}, 32},
	"1b":   {LLM{Layers: 16, Hidden: 2048, Heads: 32, KVHeads: 8, FFN: 8192, Vocab: 128256}, 2048},
	"7b":   {LLM{Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 32, FFN: 11008, Vocab: 32000}, 2048},
}

// LLMPresetNames lists the presets, sorted.
func LLMPresetNames() []string {
	var out []string
	for k := range LLMPresets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// resolveLLM fills c's zero fields from its preset and checks the sizes.
func resolveLLM(c LLM) LLM {
	if c.Preset == "" {
		c.Preset = DefaultPreset
	}
	p, ok := LLMPresets[c.Preset]
	if !ok {
		failf("unknown preset %q (want one of %s)", c.Preset, strings.Join(LLMPresetNames(), ", "))
	}
	for _, f := range []struct{ dst, def *int }{{&c.Layers, &p.Layers}, {&c.Hidden, &p.Hidden}, {&c.Heads, &p.Heads}, {&c.KVHeads, &p.KVHeads}, {&c.FFN, &p.FFN}, {&c.Vocab, &p.Vocab}} {
		if *f.dst < 0 {
			failf("layers, hidden, heads, kv-heads, ffn and vocab must not be negative")
		}
		if *f.dst == 0 {
			*f.dst = *f.def
		}
	}
	if c.Hidden%c.Heads != 0 || (c.Hidden/c.Heads)%2 != 0 {
		failf("hidden %d must split into %d heads of an even width (rotary embeddings rotate pairs)", c.Hidden, c.Heads)
	}
	if c.KVHeads > c.Heads || c.Heads%c.KVHeads != 0 {
		failf("kv-heads %d must divide heads %d", c.KVHeads, c.Heads)
	}
	return c
}

// llama is a Llama-style decoder (as in Hugging Face's LlamaForCausalLM):
// token embedding, pre-norm blocks of RMSNorm, causal self-attention with
// rotary position embeddings and grouped-query attention (key/value heads
// repeated with Expand), a SwiGLU MLP (down(silu(gate(x)) · up(x))),
// residual Adds, a final RMSNorm and an untied LM head. Linear layers have
// no bias; weights are [in, out] for MatMul and keep the Hugging Face
// names (model.layers.N.self_attn.q_proj.weight, …). Standard ops only.
func llama(n *net, opt Options) {
	c := resolveLLM(opt.LLM)
	B, T := int64(opt.Batch), int64(opt.Seq)
	D, H, KV, F, V := int64(c.Hidden), int64(c.Heads), int64(c.KVHeads), int64(c.FFN), int64(c.Vocab)
	hd := D / H
	ids := n.input("input_ids", onnxpb.TensorProto_INT64, []int64{B, T})
	emb := n.param("model.embed_tokens.weight", []int64{V, D}, float32(0.02*math.Sqrt(3)), 0)
	h := n.gather(emb, ids, "model.embed_tokens")

	pos := make([]int64, T)
	for i := range pos {
		pos[i] = int64(i)
	}
	row, col := n.ints([]int64{T, 1}, pos...), n.ints([]int64{1, T}, pos...)
	n.b.Op("GreaterOrEqual", "causal_mask", []string{row, col})
	mask := n.set("causal_mask", []int64{T, T})
	// Rotary tables [T, hd]: cos and sin of the angle t·θ_i for the pair
	// (i, i+hd/2), θ_i = 10000^(-2i/hd), laid out as Hugging Face's
	// rotate_half expects; computed by the graph from a [T,1] position
	// column and a [1,hd] frequency row, so the file stays small.
	posf := make([]float32, T)
	for i := range posf {
		posf[i] = float32(i)
	}
	freq := make([]float32, hd)
	for i := range freq {
		freq[i] = float32(math.Pow(10000, -2*float64(int64(i)%(hd/2))/float64(hd)))
	}
	angle := n.binary("Mul", n.constFloats("rope_pos", []int64{T, 1}, posf), n.constFloats("rope_freq", []int64{1, hd}, freq), "rope_angle")
	cos, sin := n.unary("Cos", angle, "rope_cos"), n.unary("Sin", angle, "rope_sin")

	std := float32(0.02 * math.Sqrt(3))
	linear := func(x, name string, out int64) string {
		d := n.dims(x)
		w := n.param(name+".weight", []int64{d[len(d)-1], out}, std, 0)
		return n.matmul(x, w, name)
	}
	for l := range c.Layers {
		p := fmt.Sprintf("model.layers.%d", l)
		a := rmsNorm(n, h, p+".input_layernorm")
		a = llamaAttention(n, a, mask, cos, sin, p+".self_attn", B, T, H, KV, hd, linear)
		h = n.add(h, a, p+".add_1")
		m := rmsNorm(n, h, p+".post_attention_layernorm")
		g := linear(m, p+".mlp.gate_proj", F)
		u := linear(m, p+".mlp.up_proj", F)
		g = n.binary("Mul", g, n.unary("Sigmoid", g, p+".mlp.sigmoid"), p+".mlp.silu")
		m = n.binary("Mul", g, u, p+".mlp.swiglu")
		m = linear(m, p+".mlp.down_proj", D)
		h = n.add(h, m, p+".add_2")
	}
	h = rmsNorm(n, h, "model.norm")
	h = n.reshape(h, "model.norm.2d", B*T, D)
	out := linear(h, "lm_head", V)
	n.output(n.reshape(out, "logits", B, T, V))
}

// rmsNorm is x / sqrt(mean(x²) + 1e-5) · weight over the last axis.
func rmsNorm(n *net, x, name string) string {
	d := n.dims(x)
	sq := n.binary("Mul", x, x, name+".sq")
	o := n.b.Op("ReduceMean", name+".mean", []string{sq}, build.AttrInts("axes", -1), build.AttrInt("keepdims", 1)) // opset 17: axes is an attribute
	ms := n.set(o, append(append([]int64(nil), d[:len(d)-1]...), 1))
	r := n.unary("Sqrt", n.binary("Add", ms, n.scalar(1e-5), name+".eps"), name+".rms")
	r = n.unary("Reciprocal", r, name+".inv")
	w := n.param(name+".weight", []int64{d[len(d)-1]}, 0, 1)
	return n.binary("Mul", n.binary("Mul", x, r, name+".normed"), w, name)
}

// llamaAttention is causal self-attention with rotary embeddings on q and
// k and kv heads repeated to the query heads (grouped-query attention).
func llamaAttention(n *net, x, mask, cos, sin, p string, B, T, H, KV, hd int64, linear func(x, name string, out int64) string) string {
	heads := func(v, name string, nh int64) string { // [B,T,nh·hd] -> [B,nh,T,hd]
		return n.transpose(n.reshape(v, name+".heads", B, T, nh, hd), name+".t", 0, 2, 1, 3)
	}
	rope := func(v, name string) string { // v·cos + rotate_half(v)·sin
		d := n.dims(v)
		x1, x2 := name+".x1", name+".x2"
		half := hd / 2
		n.b.Node("Split", name+".split", []string{v, n.ints([]int64{2}, half, half)}, []string{x1, x2}, build.AttrInt("axis", -1))
		hdims := append(append([]int64(nil), d[:len(d)-1]...), half)
		n.set(x1, hdims)
		n.set(x2, hdims)
		o := n.b.Op("Concat", name+".rot", []string{n.unary("Neg", x2, name+".neg"), x1}, build.AttrInt("axis", -1))
		rot := n.set(o, d)
		return n.add(n.binary("Mul", v, cos, name+".cos"), n.binary("Mul", rot, sin, name+".sin"), name)
	}
	repeat := func(v, name string) string { // [B,KV,T,hd] -> [B,H,T,hd]
		if KV == H {
			return v
		}
		r := n.reshape(v, name+".unsq", B, KV, 1, T, hd)
		o := n.b.Op("Expand", name+".expand", []string{r, n.ints([]int64{5}, B, KV, H/KV, T, hd)})
		n.set(o, []int64{B, KV, H / KV, T, hd})
		return n.reshape(o, name+".rep", B, H, T, hd)
	}
	q := rope(heads(linear(x, p+".q_proj", H*hd), p+".q", H), p+".q.rope")
	k := repeat(rope(heads(linear(x, p+".k_proj", KV*hd), p+".k", KV), p+".k.rope"), p+".k")
	v := repeat(heads(linear(x, p+".v_proj", KV*hd), p+".v", KV), p+".v")
	y := n.attention(q, n.transpose(k, p+".k.T", 0, 1, 3, 2), v, mask, p, hd, B, T, H*hd)
	return linear(y, p+".o_proj", n.dims(x)[2])
}
