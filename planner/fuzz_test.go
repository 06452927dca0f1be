package planner

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// FuzzParseCG: ParseCG never panics; a graph it accepts plans with
// strategy none, and the none schedule written and read back replays at
// the same peak.
func FuzzParseCG(f *testing.F) {
	f.Add([]byte("3 2\n0 4 x\n1 8 _\n2 4 _\nforward\n1 1\n0 _\n1\nReLU\n{}\nforward\n1 1\n1 _\n2\nSum\n{}\n"))
	f.Add([]byte("3 4\n0 4 x\n1 8 _\n2 4 _\nforward\n1 1\n0 _\n1\nReLU\n{}\nforward\n1 1\n1 _\n2\nSum\n{}\nbackward\n2 1\n1 gradient\n1 output\n0\nReLU\n{}\nbackward\n2 1\n2 gradient\n1 input\n1\nSum\n{}\n"))
	if data, err := os.ReadFile("../../shared/corpus/cg/cg_vgg19.txt"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseCG(bytes.NewReader(data))
		if err != nil {
			return
		}
		p, err := Make(g, Options{Strategy: "none"})
		if err != nil {
			return // e.g. a backward function reading a gradient nobody writes
		}
		r, err := replayText(t, g, p.Schedule)
		if err != nil || r.PeakBytes != p.PeakBytes {
			t.Fatalf("re-read none schedule: %v, peak %v vs %d", err, r, p.PeakBytes)
		}
	})
}

func TestParseCGErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "end of file"},
		{"x y\n", "not an integer"},
		{"2\n", "want \"N F\""},
		{"1 1\n0 4 x\nforward\n1 1\n0 _\n5\nReLU\n{}\n", "out of range"},
		{"1 1\n0 4 x\nsideways\n", "want forward or backward"},
		{"2 1\n0 4 x\n1 4 _\nforward\n1 1\n0 weird\n1\nReLU\n{}\n", "unknown role"},
		{"2 1\n0 4 x\n1 4 _\nforward\n1 1\n0 _\n1\nReLU\nnot json\n", "not JSON"},
		{"2 1\n0 4 x\n0 4 _\n", "repeated"},
		{"2 2\n0 4 x\n1 4 _\nforward\n1 1\n0 _\n1\nA\n{}\nforward\n1 1\n0 _\n1\nB\n{}\n", "two forward functions"},
		{"3 2\n0 4 _\n1 4 _\n2 4 x\nforward\n1 1\n1 _\n0\nA\n{}\nforward\n1 1\n0 _\n1\nB\n{}\n", "no loss"},
	}
	for _, c := range cases {
		_, err := ParseCG(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseCG(%q) = %v, want error containing %q", c.in, err, c.want)
		}
	}
}

// slowPair recomputes a DP transition from first principles (PAPER.md §3
// with the explicit backward reads), to check the word-level pair.
func slowPair(d *dag, L, Lp bitset) (dt, dm, peak int64) {
	last := Lp.count() == d.n
	bd := boundary(d, Lp)
	var memV, memR int64
	inR := make([]bool, d.n)
	for v := d.n - 1; v >= 0; v-- {
		if !Lp.has(v) || L.has(v) {
			continue
		}
		memV += d.mem[v]
		if d.kept[v] || bd.has(v) {
			dm += d.mem[v]
			continue
		}
		in := d.br[v]
		for _, w := range d.succ[v] {
			if Lp.has(w) && !L.has(w) && inR[w] {
				in = true
			}
		}
		if in {
			inR[v] = true
			memR += d.mem[v]
			dt += d.t[v]
		}
	}
	// A = successors of L' outside it; B = their other inputs outside L'.
	a := map[int]bool{}
	Lp.each(func(v int) {
		for _, w := range d.succ[v] {
			if !Lp.has(w) {
				a[w] = true
			}
		}
	})
	b := map[int]bool{}
	var back int64
	for w := range a {
		back += d.mem[w]
		for _, u := range d.pred[w] {
			if !Lp.has(u) && !a[u] && !b[u] {
				b[u] = true
				back += d.mem[u]
			}
		}
	}
	if last {
		return 0, dm, 2*memV + back
	}
	return dt, dm, dm + memR + memV + back
}

func TestPairMatchesDefinition(t *testing.T) {
	rng := newRand(3)
	for trial := 0; trial < 30; trial++ {
		g := randomGraph(rng, 2+rng.Intn(9), trial%2 == 0)
		d, fam := exactDAG(t, g)
		// Give the principal sets (L_v: v and its ancestors) their
		// generator, as the approximate family does, so that both ways of
		// testing inclusion are checked against the bitsets.
		for v, b := range d.ancestorSets() {
			for i := range fam {
				if fam[i].bits.equal(b) {
					fam[i].gen = v
				}
			}
		}
		m := newDPModel(d, fam)
		for i := range fam {
			for j := range fam {
				if got, want := fam[i].subsetOf(&fam[j]), fam[i].bits.subsetOf(fam[j].bits); got != want {
					t.Fatalf("trial %d: set %d ⊆ set %d: got %v, want %v (gen %d)", trial, i, j, got, want, fam[i].gen)
				}
				if fam[j].size <= fam[i].size || !fam[i].bits.subsetOf(fam[j].bits) {
					continue
				}
				e := m.pair(i, j)
				dt, dm, peak := slowPair(d, fam[i].bits, fam[j].bits)
				if int64(e.dt) != dt || e.dm != dm || e.peak != peak {
					t.Fatalf("trial %d pair %d->%d: got (%d %d %d), want (%d %d %d)", trial, i, j, e.dt, e.dm, e.peak, dt, dm, peak)
				}
			}
		}
	}
}

// boundary returns ∂(L): the members of L that some non-member reads.
func boundary(d *dag, L bitset) bitset {
	b := newBitset(d.n)
	L.each(func(v int) {
		for _, w := range d.succ[v] {
			if !L.has(w) {
				b.set(v)
				return
			}
		}
	})
	return b
}
