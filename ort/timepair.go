package ort

import "fmt"

// PairTiming is the wall time of two models' runs, taken side by side in
// one process (TimePair).
type PairTiming struct {
	A, B   []float64 // seconds of each measured run of a and of b, round by round
	Ratios []float64 // per round, B's run over A's
	Ratio  float64   // median of Ratios
	Warm   int       // warm-up runs of each session before the first round
	Method string
}

// TimePair times models a and b on the same inputs the way a training
// loop runs them: both sessions open in this process (glibc's malloc as
// any process has it, not Measure's low mmap threshold), each warmed up
// SettleRuns times so that arena growth and the memory pattern's first
// touches are behind it, then rounds of one run of each, the order
// alternating between rounds so that neither always runs on the caches the
// other left. The ratio is the median of the per-round ratios: load on a
// shared machine moves both runs of a round together, so the ratio
// scatters less than the ratio of two medians taken minutes apart, in two
// processes (on a 2-core machine, one ResNet-50 rewrite measured 0.83 and
// 1.19 that way on two days, and 1.02-1.06 as rounds). Outputs are not
// compared here; Measure does that.
func TimePair(a, b string, inputs []Tensor, outputNames []string, opt Options, rounds int) (*PairTiming, error) {
	opt.Profile = false
	rounds = max(rounds, 1)
	sa, err := NewSession(a, nil, outputNames, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a, err)
	}
	defer sa.Close()
	sb, err := NewSession(b, nil, outputNames, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	defer sb.Close()
	run := func(s *Session, name string) (float64, error) {
		_, secs, err := s.run(inputs, nil, nil)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return secs, nil
	}
	for r := 0; r < SettleRuns; r++ {
		if _, err := run(sa, a); err != nil {
			return nil, err
		}
		if _, err := run(sb, b); err != nil {
			return nil, err
		}
	}
	t := &PairTiming{Warm: SettleRuns}
	for r := 0; r < rounds; r++ {
		var ta, tb float64
		if r%2 == 0 {
			if ta, err = run(sa, a); err == nil {
				tb, err = run(sb, b)
			}
		} else {
			if tb, err = run(sb, b); err == nil {
				ta, err = run(sa, a)
			}
		}
		if err != nil {
			return nil, err
		}
		t.A, t.B = append(t.A, ta), append(t.B, tb)
		if ta > 0 {
			t.Ratios = append(t.Ratios, tb/ta)
		}
	}
	t.Ratio = Median(t.Ratios)
	t.Method = fmt.Sprintf("time: both models in one process, %d warm-up runs each, then %d rounds of one run of each (order alternating); ratio = median of the rounds' ratios", SettleRuns, rounds)
	return t, nil
}
