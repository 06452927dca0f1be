package models

import (
	"fmt"
	"math"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// GPT-2 small (Radford et al. 2019), as in Hugging Face's GPT2LMHeadModel.
const (
	gptVocab     = 50257
	gptPositions = 1024
	gptWidth     = 768
	gptHeads     = 12
	gptLayers    = 12
)

// gpt2 is GPT-2 small: token and learned position embeddings (Gather),
// twelve pre-LN blocks (LayerNormalization, causal self-attention with 12
// heads, tanh-GELU MLP of width 3072, residual Adds), a final LayerNorm and
// an LM head tied to the token embedding (Gemm with transB=1 on "wte"), so
// the model has 124,439,808 parameters. The causal mask is
// GreaterOrEqual(row, col) of two int64 position initializers, applied with
// Where (masked scores are -10000, as in the original). No dropout.
func gpt2(n *net, opt Options) {
	B, T := int64(opt.Batch), int64(opt.Seq)
	if T > gptPositions {
		failf("seq %d is longer than GPT-2's %d learned positions", T, gptPositions)
	}
	std := float32(0.02 * math.Sqrt(3)) // uniform with GPT-2's std 0.02
	ids := n.input("input_ids", onnxpb.TensorProto_INT64, []int64{B, T})
	wte := n.param("wte", []int64{gptVocab, gptWidth}, std, 0)
	wpe := n.param("wpe", []int64{gptPositions, gptWidth}, std, 0)
	pos := make([]int64, T)
	for i := range pos {
		pos[i] = int64(i)
	}
	positions := n.ints([]int64{T}, pos...)
	tok := n.gather(wte, ids, "tok_emb")
	pe := n.gather(wpe, positions, "pos_emb")
	h := n.add(tok, pe, "emb")

	row := n.ints([]int64{T, 1}, pos...)
	col := n.ints([]int64{1, T}, pos...)
	n.b.Op("GreaterOrEqual", "causal_mask", []string{row, col})
	mask := n.set("causal_mask", []int64{T, T})

	for l := range gptLayers {
		p := fmt.Sprintf("h.%d", l)
		a := n.layerNorm(h, p+".ln_1")
		a = gptAttention(n, a, mask, p+".attn", B, T)
		h = n.add(h, a, p+".add_1")
		m := n.layerNorm(h, p+".ln_2")
		m = n.dense(m, p+".mlp.c_fc", 4*gptWidth, std)
		m = n.gelu(m, p+".mlp.gelu")
		m = n.dense(m, p+".mlp.c_proj", gptWidth, std)
		h = n.add(h, m, p+".add_2")
	}
	h = n.layerNorm(h, "ln_f")
	h = n.reshape(h, "ln_f.2d", B*T, gptWidth)
	n.b.Op("Gemm", "lm_head", []string{h, wte}, build.AttrInt("transB", 1))
	n.set("lm_head", []int64{B * T, gptVocab})
	out := n.reshape("lm_head", "logits", B, T, gptVocab)
	n.output(out)
}

// gptAttention is causal multi-head self-attention with fused QKV
// projection (c_attn) and output projection (c_proj).
func gptAttention(n *net, x, mask, p string, B, T int64) string {
	const hd = gptWidth / gptHeads
	std := float32(0.02 * math.Sqrt(3))
	qkv := n.dense(x, p+".c_attn", 3*gptWidth, std)
	q, k, v := p+".q", p+".k", p+".v"
	n.b.Node("Split", p+".split", []string{qkv, n.ints([]int64{3}, gptWidth, gptWidth, gptWidth)},
		[]string{q, k, v}, build.AttrInt("axis", 2))
	for _, s := range []string{q, k, v} {
		n.set(s, []int64{B, T, gptWidth})
	}
	q = n.transpose(n.reshape(q, q+".heads", B, T, gptHeads, hd), q+".t", 0, 2, 1, 3)
	k = n.transpose(n.reshape(k, k+".heads", B, T, gptHeads, hd), k+".t", 0, 2, 3, 1)
	v = n.transpose(n.reshape(v, v+".heads", B, T, gptHeads, hd), v+".t", 0, 2, 1, 3)
	y := n.attention(q, k, v, mask, p, hd, B, T, gptWidth)
	return n.dense(y, p+".c_proj", gptWidth, std)
}

// attention is scaled dot-product attention over heads, shared by gpt2 and
// llama: q [B, H, T, hd] times kT [B, H, hd, T], scaled by 1/sqrt(hd),
// masked (mask true: keep; else -10000), softmax, times v [B, H, T, hd],
// and the heads merged back into [B, T, width]. Node names start with p.
func (n *net) attention(q, kT, v, mask, p string, hd, B, T, width int64) string {
	s := n.matmul(q, kT, p+".scores")
	s = n.binary("Mul", s, n.scalar(float32(1/math.Sqrt(float64(hd)))), p+".scaled")
	o := n.b.Op("Where", p+".masked", []string{mask, s, n.scalar(-10000)})
	s = n.set(o, n.dims(s))
	o = n.b.Op("Softmax", p+".probs", []string{s}, build.AttrInt("axis", -1))
	s = n.set(o, n.dims(s))
	y := n.matmul(s, v, p+".context")
	y = n.transpose(y, p+".context.t", 0, 2, 1, 3)
	return n.reshape(y, p+".merge", B, T, width)
}

// gather is an embedding lookup: rows of table picked by int64 indices.
func (n *net) gather(table, idx, name string) string {
	o := n.b.Op("Gather", name, []string{table, idx}, build.AttrInt("axis", 0))
	return n.set(o, append(append([]int64(nil), n.dims(idx)...), n.dims(table)[1:]...))
}

// layerNorm normalises the last axis with learned scale (1) and bias (0).
func (n *net) layerNorm(x, name string) string {
	c := n.dims(x)[len(n.dims(x))-1]
	scale := n.param(name+".weight", []int64{c}, 0, 1)
	bias := n.param(name+".bias", []int64{c}, 0, 0)
	o := n.b.Op("LayerNormalization", name, []string{x, scale, bias},
		build.AttrInt("axis", -1), build.AttrFloat("epsilon", 1e-5))
	return n.set(o, n.dims(x))
}

// dense is GPT-2's Conv1D: MatMul with a [in, out] weight plus bias (0).
func (n *net) dense(x, name string, out int64, limit float32) string {
	d := n.dims(x)
	w := n.param(name+".weight", []int64{d[len(d)-1], out}, limit, 0)
	b := n.param(name+".bias", []int64{out}, 0, 0)
	y := n.matmul(x, w, name+".mm")
	return n.add(y, b, name)
}

// gelu is GPT-2's tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in standard ops.
func (n *net) gelu(x, name string) string {
	x2 := n.binary("Mul", x, x, name+".x2")
	x3 := n.binary("Mul", x2, x, name+".x3")
	t := n.binary("Mul", x3, n.scalar(0.044715), name+".cubic")
	t = n.add(x, t, name+".inner")
	t = n.binary("Mul", t, n.scalar(float32(math.Sqrt(2/math.Pi))), name+".scaled")
	t = n.unary("Tanh", t, name+".tanh")
	t = n.add(t, n.scalar(1), name+".one_plus")
	h := n.binary("Mul", x, n.scalar(0.5), name+".half")
	return n.binary("Mul", h, t, name)
}
