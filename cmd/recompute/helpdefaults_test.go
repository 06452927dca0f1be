package main

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/bench"
	"github.com/onnx-recompute/recompute/models"
)

// helpFlagLine returns the usage text of --flag in `recompute cmd --help`.
func helpFlagLine(t *testing.T, cmd, flag string) string {
	t.Helper()
	_, stdout, stderr := rwRun(t, cmd, "--help")
	for _, l := range strings.Split(stdout+stderr, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "--"+flag {
			return l
		}
	}
	t.Fatalf("recompute %s --help: no --%s", cmd, flag)
	return ""
}

// parseDefaults reads a per-network default as models.DescribeDefaults writes it
// ("224, unet 572, pspnet 713") back into the value each network in names
// gets: the bare number, or the network's own.
func parseDefaults(t *testing.T, text string, names []string) map[string]int {
	t.Helper()
	parts := strings.Split(text, ", ")
	common, err := strconv.Atoi(parts[0])
	if err != nil {
		t.Fatalf("%q: the first default is not a number", text)
	}
	got := map[string]int{}
	for _, n := range names {
		got[n] = common
	}
	for _, p := range parts[1:] {
		name, v, ok := strings.Cut(p, " ")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("%q: %q is not NAME VALUE", text, p)
		}
		got[name] = n
	}
	return got
}

// inputDims returns the dims of a built-in network's first input as Build
// makes it with opt (shapes only).
func inputDims(t *testing.T, name string, opt models.Options) []int64 {
	t.Helper()
	opt.NoWeights = true
	m, err := models.Build(name, opt)
	if err != nil {
		t.Fatal(err)
	}
	var dims []int64
	for _, d := range m.Proto.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim() {
		dims = append(dims, d.GetDimValue())
	}
	return dims
}

// The defaults that help texts state in prose (pflag prints the others
// from the flag's own default) are the ones the code uses: each is read
// back from the help text and compared with what the code does when the
// flag is left out.
func TestHelpStatesCodeDefaults(t *testing.T) {
	var images, seqs []string
	for _, n := range models.Names() {
		if models.DefaultSize(n) > 0 {
			images = append(images, n)
		} else {
			seqs = append(seqs, n)
		}
	}
	sizeRe := regexp.MustCompile(`\(default: the paper's: ([^)]*)\)`)
	seqRe := regexp.MustCompile(`gpt2 \(default ([0-9]+)\)`)
	presetRe := regexp.MustCompile(`\(default ([a-z0-9]+);`)
	for _, cmd := range []string{"grad", "rewrite", "plan", "fit"} {
		t.Run(cmd, func(t *testing.T) {
			m := sizeRe.FindStringSubmatch(helpFlagLine(t, cmd, "size"))
			if m == nil {
				t.Fatalf("--size does not state its default as (default: the paper's: ...)")
			}
			for name, want := range parseDefaults(t, m[1], images) {
				if d := inputDims(t, name, models.Options{Batch: 1}); d[2] != int64(want) || d[3] != int64(want) {
					t.Errorf("--size says %s defaults to %d; Build gives input %v", name, want, d)
				}
			}
			m = seqRe.FindStringSubmatch(helpFlagLine(t, cmd, "seq"))
			if m == nil {
				t.Fatalf("--seq does not state gpt2's default")
			}
			if d := inputDims(t, "gpt2", models.Options{Batch: 1}); strconv.FormatInt(d[1], 10) != m[1] {
				t.Errorf("--seq says gpt2 defaults to %s; Build gives input %v", m[1], d)
			}
			m = presetRe.FindStringSubmatch(helpFlagLine(t, cmd, "preset"))
			if m == nil {
				t.Fatalf("--preset does not state its default")
			}
			dflt, named := inputDims(t, "llama", models.Options{}), inputDims(t, "llama", models.Options{LLM: models.LLM{Preset: m[1]}})
			if !reflect.DeepEqual(dflt, named) {
				t.Errorf("--preset says llama defaults to %s (input %v); without --preset the input is %v", m[1], named, dflt)
			}
		})
	}
	t.Run("bench", func(t *testing.T) {
		zeroRe := regexp.MustCompile(`\(0: (?:the paper's: )?([^)]*)\)`)
		for i, f := range []struct {
			flag  string
			names []string
		}{{"batch", models.Names()}, {"size", images}, {"seq", seqs}} {
			m := zeroRe.FindStringSubmatch(helpFlagLine(t, "bench", f.flag))
			if m == nil {
				t.Fatalf("bench --%s does not state its default as (0: ...)", f.flag)
			}
			for name, want := range parseDefaults(t, m[1], f.names) {
				b, s, q := bench.DefaultSizes(name)
				if got := [3]int{b, s, q}[i]; got != want {
					t.Errorf("bench --%s says %s defaults to %d; bench uses %d", f.flag, name, want, got)
				}
			}
		}
		m := regexp.MustCompile(`\(default ([^)]*)\)`).FindStringSubmatch(helpFlagLine(t, "bench", "measure-nets"))
		if m == nil {
			t.Fatal("bench --measure-nets does not state its default")
		}
		nets, err := bench.ParseMeasureNets(m[1])
		if err != nil {
			t.Fatalf("bench --measure-nets's stated default %q: %v", m[1], err)
		}
		if !reflect.DeepEqual(nets, bench.MeasureNets) {
			t.Errorf("bench --measure-nets says %v; bench measures %v", nets, bench.MeasureNets)
		}
		m = regexp.MustCompile(`\(default ([0-9.,]+); --quick ([0-9.,]+)\)`).FindStringSubmatch(helpFlagLine(t, "bench", "budgets"))
		if m == nil {
			t.Fatal("bench --budgets does not state its defaults")
		}
		for k, want := range [][]float64{bench.DefaultBudgets(), bench.QuickBudgets()} {
			got, err := bench.ParseBudgets(m[k+1])
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("bench --budgets states %q (%v, %v); bench uses %v", m[k+1], got, err, want)
			}
		}
	})
}
