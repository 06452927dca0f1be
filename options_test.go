package recompute

import "testing"

func TestParseSizeAndBudget(t *testing.T) {
	sizes := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "123", want: 123},
		{in: "123B", want: 123},
		{in: "4GiB", want: 4 << 30},
		{in: "800MiB", want: 800 << 20},
		{in: "800mib", want: 800 << 20},
		{in: "1.5GB", want: 1500000000},
		{in: "2G", want: 2 << 30},
		{in: " 64 KiB ", want: 64 << 10},
		{in: "", bad: true},
		{in: "MiB", bad: true},
		{in: "-1", bad: true},
		{in: "12XB", bad: true},
		{in: "1e400", bad: true},
	}
	for _, c := range sizes {
		got, err := ParseSize(c.in)
		if c.bad != (err != nil) || (!c.bad && got != c.want) {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (bad=%v)", c.in, got, err, c.want, c.bad)
		}
	}
	budgets := []struct {
		in    string
		bytes int64
		frac  float64
		bad   bool
	}{
		{in: "60%", frac: 0.6},
		{in: "12.5%", frac: 0.125},
		{in: "4GiB", bytes: 4 << 30},
		{in: "0", bad: true},
		{in: "0%", bad: true},
		{in: "-5%", bad: true},
		{in: "%", bad: true},
	}
	for _, c := range budgets {
		b, f, err := parseBudget(c.in)
		if c.bad != (err != nil) || (!c.bad && (b != c.bytes || f != c.frac)) {
			t.Errorf("parseBudget(%q) = %d, %g, %v; want %d, %g (bad=%v)", c.in, b, f, err, c.bytes, c.frac, c.bad)
		}
	}
}
