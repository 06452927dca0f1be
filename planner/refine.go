package planner

import (
	"math/rand"
	"sort"
	"time"
)

// refineEvals bounds the schedules the local search of refine replays:
// about refineWork op-steps in all, between refineMin and refineMax
// schedules, so plans do not depend on the machine's speed. refineTime
// is only a safety net.
const (
	refineWork   = 4_000_000
	refineMin    = 300
	refineMax    = 4000
	refineStarts = 3
	refineTime   = 30 * time.Second
)

// refine improves the best DP candidate by local search over lower-set
// sequences of the same family, judged by replay — the DP optimises its
// memory model, refine optimises the replayed peak (DESIGN.md: the
// replayed schedule is the truth). Moves: drop one lower set, insert a
// family member between two neighbours, or replace one by a family member
// that still fits between its neighbours. First improvement, random move
// order (fixed seeds: plans are reproducible), from the best few DP
// answers, bounded by a number of schedules that shrinks with graph size.
func (c *planCtx) refine(m *dpModel) error {
	if c.budget == 0 && c.opt.Objective == "time" {
		return nil // objective time without budget: the DP's answer is the point
	}
	// Starts: the best few distinct DP candidates.
	var starts []*candidate
	for _, x := range c.cands {
		if x.model == m {
			starts = append(starts, x)
		}
	}
	sort.SliceStable(starts, func(a, b int) bool { return c.better(starts[a], starts[b]) })
	if len(starts) > refineStarts {
		starts = starts[:refineStarts]
	}
	budget := min(max(refineWork/max(len(c.g.Ops), 1), refineMin), refineMax)
	deadline := time.Now().Add(refineTime)
	seen := map[string]bool{}
	var best *candidate
	for k, x := range starts {
		y, err := c.climb(m, x, budget/len(starts), deadline, seen, int64(k+1))
		if err != nil {
			return err
		}
		if best == nil || c.better(y, best) {
			best = y
		}
	}
	if best != nil {
		c.cands = append(c.cands, best)
	}
	return nil
}

// climb is one first-improvement hill climb from cur.
func (c *planCtx) climb(m *dpModel, cur *candidate, maxEvals int, deadline time.Time, seen map[string]bool, seed int64) (*candidate, error) {
	rng := rand.New(rand.NewSource(seed))
	evals := 0
	eval := func(seq []int) (*candidate, error) {
		bits := make([]bitset, len(seq))
		for i, j := range seq {
			bits[i] = m.fam[j].bits
		}
		x, err := c.build(bits, nil, m.predict(seq))
		if err != nil {
			return nil, err
		}
		x.seq, x.model = seq, m
		return x, nil
	}
	type move struct{ drop, insert, at int }
	for evals < maxEvals && time.Now().Before(deadline) {
		seq := cur.seq
		var moves []move
		for k := 0; k < len(seq)-1; k++ {
			moves = append(moves, move{drop: k, insert: -1})
		}
		for j := 1; j < len(m.fam)-1; j++ {
			// Position: after the last member that is a proper subset.
			at := 0
			for at < len(seq) && m.fam[seq[at]].size < m.fam[j].size && m.fam[seq[at]].subsetOf(&m.fam[j]) {
				at++
			}
			if at < len(seq) && m.fam[seq[at]].size > m.fam[j].size && m.fam[j].subsetOf(&m.fam[seq[at]]) {
				moves = append(moves, move{drop: -1, insert: j, at: at})
			}
			// Replace a neighbour: move a segment end.
			for _, k := range []int{at - 1, at} {
				if k < 0 || k >= len(seq)-1 || seq[k] == j {
					continue
				}
				lo := -1
				if k > 0 {
					lo = seq[k-1]
				}
				hi := seq[k+1]
				okLo := lo < 0 || (m.fam[lo].size < m.fam[j].size && m.fam[lo].subsetOf(&m.fam[j]))
				okHi := m.fam[j].size < m.fam[hi].size && m.fam[j].subsetOf(&m.fam[hi])
				if okLo && okHi {
					moves = append(moves, move{drop: k, insert: j, at: k})
				}
			}
		}
		rng.Shuffle(len(moves), func(a, b int) { moves[a], moves[b] = moves[b], moves[a] })
		improved := false
		for _, mv := range moves {
			if evals >= maxEvals || time.Now().After(deadline) {
				break
			}
			var next []int
			switch {
			case mv.drop >= 0 && mv.insert >= 0: // replace
				next = append(next, seq...)
				next[mv.drop] = mv.insert
			case mv.drop >= 0:
				next = append(append(next, seq[:mv.drop]...), seq[mv.drop+1:]...)
			default:
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
				return nil, err
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
	return cur, nil
}

func seqKey(seq []int) string {
	b := make([]byte, 0, 4*len(seq))
	for _, v := range seq {
		b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return string(b)
}
