package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/onnx-recompute/recompute/models"
)

// The text forms of Options' lists, as `recompute bench` takes them in its
// flags and states their defaults in its help.

// ParseModels reads a comma-separated list of built-in networks: "all" or
// "" is every models.Names(), "none" is an empty, non-nil list (only cg
// files). An unknown name is an error.
func ParseModels(s string) ([]string, error) {
	switch s {
	case "all", "":
		return models.Names(), nil
	case "none":
		return []string{}, nil
	}
	var out []string
	for _, n := range splitList(s) {
		if !slices.Contains(models.Names(), n) {
			return nil, fmt.Errorf("unknown model %q (known: %s)", n, strings.Join(models.Names(), ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// ParseStrategies reads a comma-separated list of strategies among none,
// chen, approx and exact. An unknown name is an error.
func ParseStrategies(s string) ([]string, error) {
	var out []string
	for _, st := range splitList(s) {
		switch st {
		case "none", "chen", "approx", "exact":
			out = append(out, st)
		default:
			return nil, fmt.Errorf("unknown strategy %q (want none, chen, approx, exact)", st)
		}
	}
	return out, nil
}

// ParseBudgets reads a budget sweep as fractions of the none peak: a list
// ("0.3,0.5,1" or "30%,50%") or a range "FROM:TO:STEP" with both ends
// included (values rounded to 6 decimals). Every budget is in (0, 1]; an
// empty list is an error.
func ParseBudgets(s string) ([]float64, error) {
	frac := func(f string) (float64, error) {
		pct := strings.HasSuffix(f, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(f, "%"), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", f)
		}
		if pct {
			v /= 100
		}
		if v <= 0 || v > 1 {
			return 0, fmt.Errorf("%q: want a fraction of the none peak in (0, 1]", f)
		}
		return v, nil
	}
	if parts := strings.Split(s, ":"); len(parts) == 3 {
		var v [3]float64
		for i, p := range parts {
			f, err := frac(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			v[i] = f
		}
		if v[0] > v[1] {
			return nil, fmt.Errorf("range %q runs backwards", s)
		}
		var out []float64
		for k := 0; ; k++ {
			f := v[0] + float64(k)*v[2]
			if f > v[1]+1e-9 {
				break
			}
			out = append(out, float64(int(f*1e6+0.5))/1e6)
		}
		return out, nil
	}
	var out []float64
	for _, f := range splitList(s) {
		v, err := frac(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no budgets in %q", s)
	}
	return out, nil
}

// FormatBudgets writes budgets as ParseBudgets reads them: "0.2,0.3,1".
func FormatBudgets(b []float64) string {
	s := make([]string, len(b))
	for i, v := range b {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// ParseMeasureNets reads networks and sizes to measure,
// "resnet50:2x64,gpt2:1x64": NAME:BATCHxSIZE, where the second number is
// the sequence length (Seq) for a network that takes one (gpt2, llama) and
// the image size (Size) for the others. An unknown network, a malformed
// entry or an empty list is an error.
func ParseMeasureNets(s string) ([]MeasureNet, error) {
	var out []MeasureNet
	for _, f := range splitList(s) {
		name, dims, ok := strings.Cut(f, ":")
		b, x, ok2 := strings.Cut(dims, "x")
		batch, err1 := strconv.Atoi(b)
		size, err2 := strconv.Atoi(x)
		if !ok || !ok2 || err1 != nil || err2 != nil || batch < 1 || size < 1 {
			return nil, fmt.Errorf("%q: want NAME:BATCHxSIZE, e.g. resnet50:2x64", f)
		}
		if !slices.Contains(models.Names(), name) {
			return nil, fmt.Errorf("unknown model %q", name)
		}
		nw := MeasureNet{Name: name, Batch: batch, Size: size}
		if models.DefaultSize(name) == 0 { // gpt2, llama: a sequence length
			nw.Size, nw.Seq = 0, size
		}
		out = append(out, nw)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no networks in %q", s)
	}
	return out, nil
}

// FormatMeasureNets writes nets as ParseMeasureNets reads them.
func FormatMeasureNets(nets []MeasureNet) string {
	parts := make([]string, len(nets))
	for i, nw := range nets {
		size := nw.Size
		if size == 0 {
			size = nw.Seq
		}
		parts[i] = fmt.Sprintf("%s:%dx%d", nw.Name, nw.Batch, size)
	}
	return strings.Join(parts, ",")
}

// DescribeDefaultSizes describes the paper's sizes that Run uses for each
// built-in network (DefaultSizes), for help texts, as
// models.DescribeDefaults writes them: the batch sizes, the image sizes
// and the sequence lengths.
func DescribeDefaultSizes() (batch, size, seq string) {
	field := func(i int) func(string) int {
		return func(name string) int {
			b, s, q := DefaultSizes(name)
			return [3]int{b, s, q}[i]
		}
	}
	return models.DescribeDefaults(field(0)), models.DescribeDefaults(field(1)), models.DescribeDefaults(field(2))
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
