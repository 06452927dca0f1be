package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTargets(t *testing.T) {
	src := `package x

// BenchmarkA does a.
// Target: s/op < 0.5, heap-x-file < 2
func BenchmarkA(b *testing.B) {}

// Target: lower-sets > 1000
// unrelated text
func helper() {}

func BenchmarkB(b *testing.B) {}

// Target: ratio <= 1
func BenchmarkC(b *testing.B) {}
`
	ts, err := parseTargets("x_test.go", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].bench != "BenchmarkA" || ts[1].metric != "heap-x-file" || ts[2].bench != "BenchmarkC" {
		t.Fatalf("targets %+v: want A's two and C's one (the one before helper belongs to no benchmark)", ts)
	}
	out := `goos: linux
BenchmarkA-2   	       1	 400000000 ns/op	         2.5 heap-x-file
BenchmarkC/sub-2   	       1	 100 ns/op	         1 ratio
PASS
`
	res, err := measured(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if code := report(&w, ts, res); code != 1 {
		t.Errorf("exit %d, want 1 (heap-x-file missed)", code)
	}
	for _, want := range []string{"BenchmarkA  ", "s/op", "0.4 ", "ok", "heap-x-file", "2.5", "MISSED", "BenchmarkC/sub"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, w.String())
		}
	}
	if _, err := parseTargets("y_test.go", strings.NewReader("// Target: fast\nfunc BenchmarkD(b *testing.B) {}\n")); err == nil {
		t.Error("a target without METRIC < VALUE was accepted")
	}
	w.Reset()
	if code := report(&w, ts[2:], map[string]map[string]float64{}); code != 1 || !strings.Contains(w.String(), "NOT RUN") {
		t.Errorf("a benchmark that did not run: exit %d\n%s", code, w.String())
	}
}
