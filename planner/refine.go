package planner

import (
	"math/rand"
	"time"
)

// refineEvals and refineTime bound the local search of refine.
const (
	refineEvals = 4000
	refineTime  = 2 * time.Second
)

// refine improves the best DP candidate by local search over lower-set
// sequences of the same family, judged by replay — the DP optimises its
// memory model, refine optimises the replayed peak (DESIGN.md: the
// replayed schedule is the truth). Moves: drop one lower set, or insert a
// family member between two neighbours. First improvement, random move
// order (fixed seed: plans are reproducible), bounded by refineEvals
// schedules and refineTime.
func (c *planCtx) refine(m *dpModel) error {
	var cur *candidate
	for _, x := range c.cands {
		if x.model == m && (cur == nil || c.better(x, cur)) {
			cur = x
		}
	}
	if cur == nil || (c.budget == 0 && c.opt.Objective == "time") {
		return nil // objective time without budget: the DP's answer is the point
	}
	deadline := time.Now().Add(refineTime)
	rng := rand.New(rand.NewSource(1))
	seen := map[string]bool{}
	evals := 0
	eval := func(seq []int) (*candidate, error) {
		bits := make([]bitset, len(seq))
		for i, j := range seq {
			bits[i] = m.fam[j].bits
		}
		x, err := c.build(bits, m.predict(seq))
		if err != nil {
			return nil, err
		}
		x.seq, x.model = seq, m
		return x, nil
	}
	type move struct{ drop, insert, at int }
	for evals < refineEvals && time.Now().Before(deadline) {
		seq := cur.seq
		var moves []move
		for k := 0; k < len(seq)-1; k++ {
			moves = append(moves, move{drop: k, insert: -1})
		}
		for j := 1; j < len(m.fam)-1; j++ {
			// Position: after the last member that is a proper subset.
			at := 0
			for at < len(seq) && m.fam[seq[at]].size < m.fam[j].size && m.fam[seq[at]].bits.subsetOf(m.fam[j].bits) {
				at++
			}
			if at < len(seq) && m.fam[seq[at]].size > m.fam[j].size && m.fam[j].bits.subsetOf(m.fam[seq[at]].bits) {
				moves = append(moves, move{drop: -1, insert: j, at: at})
			}
		}
		rng.Shuffle(len(moves), func(a, b int) { moves[a], moves[b] = moves[b], moves[a] })
		improved := false
		for _, mv := range moves {
			if evals >= refineEvals || time.Now().After(deadline) {
				break
			}
			var next []int
			if mv.drop >= 0 {
				next = append(append(next, seq[:mv.drop]...), seq[mv.drop+1:]...)
			} else {
				next = append(append(append(next, seq[:mv.at]...), mv.insert), seq[mv.at:]...)
			}
			key := seqKey(next)
			if seen[key] {
				continue
			}
			seen[key] = true
			evals++
			x, err := eval(next)
			if err != nil {
				return err
			}
			if c.better(x, cur) {
				cur = x
				improved = true
				break
			}
		}
		if !improved {
			break
		}
	}
	c.cands = append(c.cands, cur)
	return nil
}

func seqKey(seq []int) string {
	b := make([]byte, 0, 4*len(seq))
	for _, v := range seq {
		b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return string(b)
}
