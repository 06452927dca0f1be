package ort

import (
	"fmt"
	"slices"
	"testing"
)

// TestChainExperiment reproduces DESIGN.md's "Measured" experiment on ORT
// and pins its findings (docs/ORT.md): which file positions, guards and
// session settings make ORT run a clone late enough to lower the peak.
// a = Relu(x) (T bytes) is read by an 8-op Sin chain and by a late
// consumer. Without recomputation the chain holds a + two chain tensors (3T);
// a clone that runs after the chain leaves 2T.
func TestChainExperiment(t *testing.T) {
	lib := needLib(t)
	const rows, cols = 1024, 2048 // T = 8 MiB
	const T = float64(rows*cols*4) / (1 << 20)
	off := DefaultCheckOptions()
	noCSE := Options{Threads: 1, ArenaOff: true, DisableCSE: true}
	allOn := Options{Threads: 1, ArenaOff: true}
	tests := []struct {
		final string
		v     chainVariant
		opt   Options
		wantT int  // peak in units of T
		late  bool // the clone ran after chain8
	}{
		{"dot", chainPlain, off, 3, false},
		{"dot", chainCloneLate, off, 3, false},  // ORT runs the clone first
		{"dot", chainCloneEarly, off, 2, true},  // ...and a clone written early last
		{"dot", chainGuarded, off, 2, true},     // the shape guard works from any position
		{"dot", chainGuardedLate, off, 2, true}, //
		{"dot", chainDataGuarded, off, 2, true},
		{"dot", chainCloneEarly, noCSE, 2, true},
		{"dot", chainGuarded, noCSE, 3, false},    // constant folding removes the shape guard
		{"dot", chainDataGuarded, noCSE, 2, true}, // the data guard survives it
		{"dot", chainCloneEarly, allOn, 3, false}, // CSE merges the clone into a
		{"dot", chainDataGuarded, allOn, 2, true}, // not a common subexpression: survives
		// DESIGN.md's graph: the late consumer is Add(c8, a'), which needs
		// three tensors itself (ORT's Add does not run in place).
		{"add", chainPlain, off, 3, false},
		{"add", chainGuarded, off, 3, true},
	}
	models := map[string]string{}
	for _, tc := range tests {
		key := tc.final + tc.v.String()
		if _, ok := models[key]; !ok {
			models[key] = chainModel(t, tc.v, rows, cols, "Sin", tc.final)
		}
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s/%s/%s", tc.final, tc.v, tc.opt)
		t.Run(name, func(t *testing.T) {
			path := models[tc.final+tc.v.String()]
			in := seededInputs(t, path)
			so := tc.opt
			so.Profile = true
			_, st, err := Measure(path, in, nil, MeasureOptions{Session: so, LibPath: lib, Runs: 1})
			if err != nil {
				t.Fatal(err)
			}
			peak := float64(st.PeakRSSGrowthBytes) / (1 << 20)
			pos := slices.Index(st.NodeOrder, "fwd_relu_rc0")
			late := pos > slices.Index(st.NodeOrder, "chain8")
			t.Logf("peak %.1f MiB = %.2f T; clone at %d of %d", peak, peak/T, pos, len(st.NodeOrder))
			if peak < (float64(tc.wantT)-0.1)*T || peak > (float64(tc.wantT)+0.4)*T {
				t.Errorf("peak %.1f MiB, want about %d × %.0f MiB", peak, tc.wantT, T)
			}
			if tc.v != chainPlain && late != tc.late {
				t.Errorf("clone ran late = %v, want %v; order %v", late, tc.late, st.NodeOrder)
			}
		})
	}
}
