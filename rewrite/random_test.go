package rewrite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/planner"
)

// randomTraining builds a random training graph of Sum nodes: forward
// v_k = Sum(v_k-1, random earlier values), loss = the last one; backward, in
// reverse, gin_k = Sum(gradient of v_k, forward inputs of op k) and the
// gradient of v_j = Sum of gin_k over j's consumers k. Sizes are random.
func randomTraining(rng *rand.Rand, n int) (*onnx.Model, *planner.Graph) {
	b := build.New("random")
	b.Input("x", f32, []int64{4})
	b.Initializer(build.Float32s("g_loss", []int64{4}, []float32{1, 1, 1, 1}))
	ins := make([][]string, n)
	consumers := make([][]int, n)
	name := func(k int) string {
		if k == n-1 {
			return "loss"
		}
		return fmt.Sprintf("v%d", k)
	}
	for k := range n {
		in := []string{"x"}
		if k > 0 {
			in = []string{name(k - 1)}
			consumers[k-1] = append(consumers[k-1], k)
			for j := range k - 1 {
				if rng.IntN(4) == 0 {
					in = append(in, name(j))
					consumers[j] = append(consumers[j], k)
				}
			}
		}
		ins[k] = in
		b.Node("Sum", fmt.Sprintf("f%d", k), in, []string{name(k)})
	}
	firstBackward := len(b.G.Node)
	for k := n - 1; k >= 0; k-- {
		grad := "g_loss"
		if k < n-1 {
			var parts []string
			for _, c := range consumers[k] {
				parts = append(parts, fmt.Sprintf("gin%d", c))
			}
			grad = fmt.Sprintf("g%d", k)
			b.Node("Sum", "acc"+grad, parts, []string{grad})
		}
		in := []string{grad}
		for _, x := range ins[k] {
			if x != "x" && rng.IntN(3) > 0 {
				in = append(in, x)
			}
		}
		if rng.IntN(3) == 0 {
			in = append(in, name(k)) // the op's own output, as ReluGrad reads it
		}
		b.Node("Sum", fmt.Sprintf("b%d", k), in, []string{fmt.Sprintf("gin%d", k)})
	}
	b.Output("loss", f32, []int64{4})
	b.Output("gin0", f32, []int64{4})
	m := &onnx.Model{Proto: build.Model(b.G, 17)}
	g := graphOf(m, firstBackward)
	for i := range g.Values {
		if !g.Values[i].Resident {
			g.Values[i].Bytes = int64(1+rng.IntN(10)) * 1000
		}
	}
	return m, g
}

// Against the real planner on random graphs: the rewritten file order
// replays to exactly the plan's peak, every recompute step is one clone,
// backward nodes appear once, forward originals keep their inputs.
func TestApplyRandomPlans(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	checked, clones, guards := 0, 0, 0
	for iter := range 80 {
		m, g := randomTraining(rng, 4+rng.IntN(14))
		for _, strat := range []string{"approx", "exact", "chen"} {
			for _, frac := range []float64{0, 0.5, 0.7, 0.9} {
				opt := planner.Options{Strategy: strat, Objective: "time", BudgetFrac: frac}
				if frac == 0 {
					opt.Objective = "memory"
				}
				p, err := planner.Make(g, opt)
				var ie *planner.InfeasibleError
				if errors.As(err, &ie) {
					continue
				}
				if err != nil {
					t.Fatalf("iter %d %s %v: plan: %v", iter, strat, frac, err)
				}
				label := fmt.Sprintf("iter %d %s budget %v", iter, strat, frac)
				out, rep, err := Apply(m, g, p, Options{})
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				if rep.PeakBytes != p.PeakBytes || rep.UnsizedValues != 0 {
					t.Errorf("%s: simulated file-order peak %d, plan replay %d (unsized %d)", label, rep.PeakBytes, p.PeakBytes, rep.UnsizedValues)
				}
				recomputes := 0
				seen := make([]int, len(g.Ops))
				for _, st := range p.Schedule {
					if st.Op >= 0 {
						if seen[st.Op] > 0 {
							recomputes++
						}
						seen[st.Op]++
					}
				}
				if rep.Clones != recomputes || len(out.Proto.Graph.Node) != len(g.Ops)+recomputes {
					t.Errorf("%s: %d clones, %d nodes; schedule has %d recomputes", label, rep.Clones, len(out.Proto.Graph.Node), recomputes)
				}
				orig := map[*onnxpb.NodeProto]bool{}
				for i, n := range m.Proto.Graph.Node {
					if !g.Ops[i].Backward {
						orig[n] = true
					}
				}
				for _, n := range out.Proto.Graph.Node {
					if orig[n] {
						delete(orig, n)
					}
				}
				if len(orig) != 0 {
					t.Errorf("%s: %d forward nodes are not the original objects", label, len(orig))
				}
				// With the guard the result stays valid (Apply checks the
				// order), ORT's predicted order is no worse than the file
				// order, and the guards cost nothing.
				gout, grep, err := Apply(m, g, p, Options{ORTGuard: true})
				if err != nil {
					t.Fatalf("%s guarded: %v", label, err)
				}
				// A plan without clones that lowers nothing leaves the
				// graph as it was: no guards, ORT keeps its own order.
				if grep.Unchanged != (rep.Clones == 0 && rep.PeakBytes >= rep.BeforePeakBytes) || grep.Unchanged && (grep.Guards != 0 || grep.Nodes != grep.NodesBefore) {
					t.Errorf("%s: unchanged %v with %d clones, peak %d -> %d, %d guards", label, grep.Unchanged, rep.Clones, rep.BeforePeakBytes, rep.PeakBytes, grep.Guards)
				}
				if !grep.Unchanged && grep.ORTPeakBytes > grep.PeakBytes || grep.PeakBytes != rep.PeakBytes {
					t.Errorf("%s: guarded peak %d (ORT order %d), unguarded %d", label, grep.PeakBytes, grep.ORTPeakBytes, rep.PeakBytes)
				}
				if grep.ReusePeakBytes <= 0 || grep.BeforeReusePeakBytes <= 0 || grep.Unchanged && grep.ReusePeakBytes != grep.BeforeReusePeakBytes {
					t.Errorf("%s: peaks with ORT's buffer reuse %d -> %d (unchanged %v)", label, grep.BeforeReusePeakBytes, grep.ReusePeakBytes, grep.Unchanged)
				}
				guards += grep.Guards
				_ = gout
				checked++
				clones += rep.Clones
			}
		}
	}
	t.Logf("%d plans, %d clones, %d guards", checked, clones, guards)
	if checked < 100 || clones < 100 {
		t.Errorf("only %d plans with %d clones checked", checked, clones)
	}
}
