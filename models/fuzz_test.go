package models

import (
	"testing"
)

// FuzzBuild builds shapes-only networks with arbitrary options: Build must
// never panic, and a model it returns must have a positive output shape
// whose batch is the requested one.
func FuzzBuild(f *testing.F) {
	for i := range networks {
		f.Add(uint8(i), 2, 64, 0)
	}
	f.Add(uint8(6), 1, 571, 0)
	f.Add(uint8(7), 1, 33, 0)
	f.Add(uint8(8), 1, 0, 1)
	f.Add(uint8(8), 3, 0, 1025)
	f.Fuzz(func(t *testing.T, idx uint8, batch, size, seq int) {
		if batch > 64 || size > 2048 || seq > 2048 {
			return // outside the fuzzed range (building would take too long)
		}
		name := networks[int(idx)%len(networks)].name
		m, err := Build(name, Options{Batch: batch, Size: size, Seq: seq, NoWeights: true})
		if err != nil {
			return
		}
		d := outputDims(m)
		for _, x := range d {
			if x <= 0 {
				t.Fatalf("%s batch %d size %d seq %d: output dims %v", name, batch, size, seq, d)
			}
		}
		if want := int64(max(batch, 1)); d[0] != want {
			t.Fatalf("%s: output batch %d, want %d", name, d[0], want)
		}
	})
}
