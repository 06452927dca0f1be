package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
)

// fmtBytes prints bytes in binary units with three significant figures.
func fmtBytes(b int64) string {
	f := float64(b)
	switch {
	case b >= gib:
		return fmt.Sprintf("%.2f GiB", f/gib)
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", f/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", f/(1<<10))
	default:
		return fmt.Sprintf("%d B", b)
	}
}

func fmtPct(p float64) string { return fmt.Sprintf("%.1f%%", p) }

func fmtSeconds(s float64) string {
	if s < 0.01 {
		return fmt.Sprintf("%.4f", s)
	}
	return fmt.Sprintf("%.2f", s)
}

// cell escapes a value for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

func tableRow(w io.Writer, cells ...string) {
	for i := range cells {
		cells[i] = cell(cells[i])
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

func tableHead(w io.Writer, cells ...string) {
	tableRow(w, cells...)
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
}

// sizesText describes the sizes a network was built at.
func sizesText(n *Network) string {
	switch {
	case n.Source != "built-in":
		return "cg file " + n.Source
	case n.Seq > 0:
		return fmt.Sprintf("batch %d, seq %d", n.Batch, n.Seq)
	default:
		return fmt.Sprintf("batch %d, %d×%d", n.Batch, n.Size, n.Size)
	}
}

// row returns the network's row with the given label, if any.
func (n *Network) row(label string) (Row, bool) {
	for _, r := range n.Rows {
		if r.Label == label {
			return r, true
		}
	}
	return Row{}, false
}

// MinMemory returns the plan with the lowest replayed peak among the
// memory-centric rows and Chen (the "minimum memory" the paper's table shows).
func (n *Network) MinMemory() (Row, bool) {
	var best Row
	found := false
	for _, r := range n.Rows {
		if !r.OK() || r.Label == "none" || (r.Objective != "memory" && r.Strategy != "chen") {
			continue
		}
		// Ties go to the DP rows (they come after Chen).
		if !found || r.PeakBytes < best.PeakBytes || (r.PeakBytes == best.PeakBytes && best.Strategy == "chen") {
			best, found = r, true
		}
	}
	return best, found
}

// peakCell is "peak (−reduction)" or why there is no number.
func peakCell(n *Network, label string) string {
	r, ok := n.row(label)
	switch {
	case !ok:
		return "not run"
	case r.Skipped != "":
		return r.Skipped
	case r.Err == "infeasible":
		return fmt.Sprintf("infeasible (lowest %s)", fmtBytes(r.MinBytes))
	case r.Err != "":
		return "failed: " + r.Err
	}
	return fmt.Sprintf("%s (−%s, +%s)", fmtBytes(r.PeakBytes), fmtPct(r.Reduction), fmtPct(r.Overhead))
}

func floorReduction(n *Network) float64 {
	if n.NonePeakBytes <= 0 {
		return 0
	}
	return 100 * (1 - float64(n.FloorBytes)/float64(n.NonePeakBytes))
}

// Judge sets n.Verdict: whether the minimum-memory reduction reaches the
// paper's, and the measured reason where it does not.
func Judge(n *Network) {
	switch {
	case n.Err != "":
		n.Verdict = "not benchmarked: " + n.Err
		return
	case n.Paper == nil:
		n.Verdict = "not in the paper's table"
		return
	}
	best, ok := n.MinMemory()
	if !ok {
		n.Verdict = "no: no minimum-memory plan was produced"
		return
	}
	target := n.Paper.TargetPct
	if best.Reduction+1e-9 >= target {
		n.Verdict = fmt.Sprintf("yes: %s reaches −%s (paper −%.0f%%)", best.Label, fmtPct(best.Reduction), target)
		return
	}
	why := []string{fmt.Sprintf("no: best %s −%s < paper −%.0f%%", best.Label, fmtPct(best.Reduction), target)}
	if fr := floorReduction(n); fr < target {
		why = append(why, fmt.Sprintf("the largest single op needs %s live at once, so no schedule of this graph can go below −%s", fmtBytes(n.FloorBytes), fmtPct(fr)))
	} else if pa := n.PeakAt; pa != nil {
		where := "forward"
		if pa.Backward {
			where = "backward"
		}
		why = append(why, fmt.Sprintf("the plan peaks at %s op %s (%s) with %s of activations and %s of gradients live; a one-level plan keeps every segment boundary and the gradients flowing back, and the single-op floor (−%s) is not the limit",
			where, pa.Op, pa.OpType, fmtBytes(pa.ActivationBytes), fmtBytes(pa.GradientBytes), fmtPct(fr)))
	} else {
		why = append(why, fmt.Sprintf("single-op floor allows −%s; one-level canonical schedules keep every segment boundary resident, and that resident memory is the gap", fmtPct(fr)))
	}
	if r, ok := n.row("exact MC"); ok && r.Skipped != "" {
		why = append(why, "exact DP not run: "+r.Skipped)
	}
	n.Verdict = strings.Join(why, "; ")
}

// WriteMarkdown renders RESULTS.md.
func WriteMarkdown(w io.Writer, r *Results) error {
	ew := &errWriter{w: w}
	writeMarkdown(ew, r)
	if ew.err != nil {
		return fmt.Errorf("write RESULTS.md: %w", ew.err)
	}
	return nil
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func writeMarkdown(w io.Writer, r *Results) {
	m := r.Machine
	fmt.Fprintf(w, "# Benchmark results\n\n")
	fmt.Fprintf(w, "Generated by `scripts/bench.sh` (`%s`) on %s.\n", commandText(r), m.Date)
	fmt.Fprintf(w, "Machine: %d CPUs (`nproc`), %s, %s, %s; load average at the start %s (the machine is shared).\n", m.CPUs, m.CPUModel, m.GoVersion, m.OSArch, m.LoadAvg)
	fmt.Fprintf(w, "Whole run: %.0f s wall clock, %.0f s CPU for building and planning (the planner builds its DP transitions on every core, the rest is one thread; ONNX Runtime runs not included).\n\n", r.TotalSeconds, r.CPUSeconds)
	fmt.Fprintf(w, "Every peak below is the **simulated transient peak**: the schedule is replayed step by step and the\n"+
		"activations and gradients live at once are summed (parameters, inputs and constants are resident and\n"+
		"not counted). Reduction is against strategy `none` on the same graph. Overhead is the recomputed cost\n"+
		"over the forward cost: FLOPs for the built-in networks, the paper's units (Conv 10, other 1) for cg files.\n"+
		"TC = time-centric (least overhead under a budget), MC = memory-centric (smallest peak).\n\n")

	WriteHeadline(w, r)

	fmt.Fprintf(w, "\n## At a budget of %.0f%% of the `none` peak\n\n", 100*r.Config.TCBudget)
	fmt.Fprintf(w, "Each cell: simulated peak and overhead of the time-centric plan under the budget, or why there is none.\n\n")
	tableHead(w, "network", "budget", "approx TC", "exact TC", "Chen (no budget)")
	for _, n := range r.Networks {
		if n.Err != "" {
			continue
		}
		var budget int64
		if tc, ok := n.row("approx TC"); ok {
			budget = tc.BudgetBytes
		}
		tableRow(w, n.Name, fmtBytes(budget), peakCell(n, "approx TC"), peakCell(n, "exact TC"), peakCell(n, "chen"))
	}

	for _, n := range r.Networks {
		writeNetwork(w, n, r)
	}
	if len(r.Measured) > 0 || r.MeasureNote != "" {
		writeMeasured(w, r)
	}
	fmt.Fprintf(w, "\n## How to regenerate\n\n```sh\nscripts/bench.sh          # rewrites docs/RESULTS.md, docs/results.json and docs/*.png|svg\n```\n")
	fmt.Fprintf(w, "\nThe paper's figures (PAPER.md §8) are GPU memory in Chainer, parameters and workspace included, at\n"+
		"batch sizes the paper does not state for its table; ours are the transient peak of the ONNX training graph\n"+
		"this project builds (standard-op backward from `autodiff`). Compare reductions, not gigabytes.\n")
}

func commandText(r *Results) string {
	if r.Config.Command != "" {
		return r.Config.Command
	}
	return "recompute bench"
}

// WriteHeadline writes the minimum-memory table beside the paper's numbers;
// the README shows the same table.
func WriteHeadline(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Minimum memory, beside the paper\n\n")
	tableHead(w, "network", "sizes", "none peak", "Chen", "approx MC", "exact MC", "paper approx / exact / Chen", "reaches the paper?")
	for _, n := range r.Networks {
		if n.Err != "" {
			tableRow(w, n.Name, sizesText(n), "—", "—", "—", "—", paperText(n.Paper), n.Verdict)
			continue
		}
		verdict := n.Verdict
		if head, _, cut := strings.Cut(verdict, "; "); cut {
			verdict = head + " (why: see " + n.Name + " below)"
		}
		tableRow(w, n.Name, sizesText(n), fmtBytes(n.NonePeakBytes), peakCell(n, "chen"), peakCell(n, "approx MC"), peakCell(n, "exact MC"), paperText(n.Paper), verdict)
	}
	fmt.Fprintf(w, "\nCells: simulated transient peak (−reduction from `none`, +recomputation overhead).\n")
}

func paperText(p *PaperRow) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("−%.0f%% / −%.0f%% / −%.0f%%", p.ApproxPct, p.ExactPct, p.ChenPct)
}

func writeNetwork(w io.Writer, n *Network, r *Results) {
	fmt.Fprintf(w, "\n## %s (%s)\n\n", n.Name, sizesText(n))
	if n.Err != "" {
		fmt.Fprintf(w, "Not benchmarked: %s\n", n.Err)
		return
	}
	ls := "not counted"
	if n.LowerSets > 0 {
		ls = fmt.Sprint(n.LowerSets)
		if n.LowerSetsCap {
			ls = fmt.Sprintf("more than %d (capped)", r.Config.MaxLowerSets)
		}
	}
	fmt.Fprintf(w, "%d ops (%d forward), %d values, forward cost %.4g %s, lower sets: %s. "+
		"Largest single-op working set (no schedule goes below it): %s (−%s possible at most). Graph built in %s s.\n\n",
		n.Ops, n.ForwardOps, n.Values, n.ForwardCost, n.CostUnit, ls, fmtBytes(n.FloorBytes), fmtPct(floorReduction(n)), fmtSeconds(n.BuildSeconds))
	tableHead(w, "plan", "budget", "simulated peak", "DP estimate", "reduction", "overhead", "overhead ("+n.CostUnit+")", "segments", "recomputed ops", "planning s", "note")
	for _, row := range n.Rows {
		budget := "—"
		if row.BudgetBytes > 0 {
			budget = fmtBytes(row.BudgetBytes)
		}
		switch {
		case row.Skipped != "":
			tableRow(w, row.Label, budget, row.Skipped, "", "", "", "", "", "", "", row.Note)
			continue
		case row.Err == "infeasible":
			tableRow(w, row.Label, budget, "infeasible", "", "", "", "", "", "", fmtSeconds(row.Seconds), "lowest peak this strategy reaches: "+fmtBytes(row.MinBytes))
			continue
		case row.Err != "":
			tableRow(w, row.Label, budget, "failed", "", "", "", "", "", "", fmtSeconds(row.Seconds), row.Err)
			continue
		}
		pred := "—"
		if row.Predicted > 0 {
			pred = fmtBytes(row.Predicted)
		}
		tableRow(w, row.Label, budget, fmtBytes(row.PeakBytes), pred, fmtPct(row.Reduction), fmtPct(row.Overhead),
			fmt.Sprintf("%.4g", row.Cost), fmt.Sprint(row.Segments), fmt.Sprint(row.Recomputed), fmtSeconds(row.Seconds), row.Note)
	}
	if n.Verdict != "" {
		fmt.Fprintf(w, "\nAgainst the paper: %s.\n", n.Verdict)
	}
	if pa := n.PeakAt; pa != nil {
		ws := ""
		if pa.WorkspaceBytes > 0 {
			ws = fmt.Sprintf(", and its kernel's workspace %s", fmtBytes(pa.WorkspaceBytes))
		}
		fmt.Fprintf(w, "\nWhere %s peaks: step %d, op %s (%s, %s), %s live: %s activations (kept or recomputed forward values), %s gradients; the op itself reads and writes %s%s.\n",
			pa.Plan, pa.Step, pa.Op, pa.OpType, map[bool]string{true: "backward", false: "forward"}[pa.Backward],
			fmtBytes(pa.Bytes), fmtBytes(pa.ActivationBytes), fmtBytes(pa.GradientBytes), fmtBytes(pa.OpBytes), ws)
	}
	for _, note := range n.Notes {
		fmt.Fprintf(w, "\nNote: %s\n", note)
	}
	writeSweep(w, n)
	for _, p := range n.Plots {
		if strings.HasSuffix(p, ".png") {
			fmt.Fprintf(w, "\n![%s](%s)\n", strings.TrimSuffix(p, ".png"), p)
		}
	}
}

// writeSweep prints the budget sweep as a table: one row per budget, one
// column per strategy, "peak / overhead" or "infeasible".
func writeSweep(w io.Writer, n *Network) {
	if len(n.Sweep) == 0 {
		return
	}
	fracs := map[float64]bool{}
	for _, c := range n.Sweep {
		for _, p := range c.Points {
			fracs[p.BudgetFrac] = true
		}
	}
	var order []float64
	for f := range fracs {
		order = append(order, f)
	}
	sort.Float64s(order)
	fmt.Fprintf(w, "\nBudget sweep (simulated peak / overhead; budget as a fraction of the `none` peak):\n\n")
	head := []string{"budget"}
	for _, c := range n.Sweep {
		head = append(head, c.Label)
	}
	tableHead(w, head...)
	for _, f := range order {
		cells := []string{fmt.Sprintf("%.0f%%", 100*f)}
		for _, c := range n.Sweep {
			s := ""
			for _, p := range c.Points {
				if math.Abs(p.BudgetFrac-f) > 1e-12 {
					continue
				}
				switch {
				case p.Infeasible && p.Derived != "":
					s = "infeasible (" + p.Derived + ")"
				case p.Infeasible:
					s = "infeasible"
				case p.Derived != "" && p.PeakBytes == 0:
					s = p.Derived
				case p.Derived != "":
					s = fmt.Sprintf("%s / +%s (%s)", fmtBytes(p.PeakBytes), fmtPct(p.Overhead), p.Derived)
				case p.Err != "":
					s = "failed"
				default:
					s = fmt.Sprintf("%s / +%s", fmtBytes(p.PeakBytes), fmtPct(p.Overhead))
				}
			}
			cells = append(cells, s)
		}
		tableRow(w, cells...)
	}
}

func writeMeasured(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\n## Measured in ONNX Runtime\n\n")
	if r.MeasureNote != "" {
		fmt.Fprintf(w, "%s\n\n", r.MeasureNote)
	}
	if len(r.Measured) == 0 {
		return
	}
	tableHead(w, "network", "sizes", "plan", "session", "simulated original", "simulated rewritten", "measured original", "measured rewritten", "peak ratio simulated / measured",
		"time original s", "time rewritten s", "time ratio predicted (FLOPs) / measured", "outputs identical", "error")
	for _, m := range r.Measured {
		tableRow(w, m.Network, m.Sizes, m.Plan, m.Session, fmtBytes(m.SimOrigBytes), fmtBytes(m.SimNewBytes), fmtBytes(m.PeakOrigBytes), fmtBytes(m.PeakNewBytes),
			fmtRatios(m.SimNewBytes, m.SimOrigBytes, m.PeakNewBytes, m.PeakOrigBytes),
			fmtSeconds(m.SecondsOrig), fmtSeconds(m.SecondsNew), fmtTimeRatios(m), fmt.Sprint(m.OutputsIdentical), m.Err)
	}
	fmt.Fprintf(w, "\nPredicted time ratio: 1 + recomputed FLOPs / the training step's FLOPs (forward and backward); the planner's cost model. Where measured differs, time does not follow FLOPs on this runtime (guards, per-node dispatch, memory-bound recomputed ops, and, with the arena off, one malloc and free per tensor).\n")
	if nets := fusedOnly(r.Measured); len(nets) > 0 {
		fmt.Fprintf(w, "\nOutputs of %s differ under ORT's defaults and are identical with graph optimisations off (controlled): ORT fuses the two graphs differently, and fused kernels round differently (docs/ORT.md; `recompute verify` names the fused ops in each graph).\n", strings.Join(nets, ", "))
	}
}

// fusedOnly lists the networks whose outputs differ in a session with
// graph optimisations on while a session without them gave identical
// outputs: the difference is ORT's fusions, not the rewrite.
func fusedOnly(ms []Measured) []string {
	var nets []string
	for _, m := range ms {
		if m.Err != "" || m.OutputsIdentical || m.Session == "controlled" || slices.Contains(nets, m.Network) {
			continue
		}
		if slices.ContainsFunc(ms, func(c Measured) bool {
			return c.Network == m.Network && c.Sizes == m.Sizes && c.Session == "controlled" && c.Err == "" && c.OutputsIdentical
		}) {
			nets = append(nets, m.Network)
		}
	}
	return nets
}

// fmtRatios is "a/b / c/d" with three decimals; "—" where a divisor is 0.
func fmtRatios(a, b, c, d int64) string {
	r := func(x, y int64) string {
		if y <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.3f", float64(x)/float64(y))
	}
	return r(a, b) + " / " + r(c, d)
}

// fmtTimeRatios is "predicted / measured" time ratios of m.
func fmtTimeRatios(m Measured) string {
	p, r := "—", "—"
	if m.PredictedTimeRatio > 0 {
		p = fmt.Sprintf("%.2f", m.PredictedTimeRatio)
	}
	if m.TimeRatio > 0 {
		r = fmt.Sprintf("%.2f", m.TimeRatio)
	} else if m.SecondsOrig > 0 && m.SecondsNew > 0 {
		r = fmt.Sprintf("%.2f", m.SecondsNew/m.SecondsOrig)
	}
	return p + " / " + r
}
