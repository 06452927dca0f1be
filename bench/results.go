package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Results is everything one benchmark run measured; results.json is this
// struct and RESULTS.md is rendered from it.
type Results struct {
	Machine      Machine    `json:"machine"`
	Config       Config     `json:"config"`
	Networks     []*Network `json:"networks"`
	Measured     []Measured `json:"measured,omitempty"`
	MeasureNote  string     `json:"measure_note,omitempty"`
	TotalSeconds float64    `json:"total_seconds"`
	// CPUSeconds is the user+system CPU time of this process (the planner
	// builds its DP transitions on every core, the rest runs on one): CPU
	// time over wall time mixes the parallel share and, on a shared
	// machine, the share of the cores the run got.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Machine says where and when the numbers were taken.
type Machine struct {
	Date      string `json:"date"` // RFC 3339, UTC
	CPUs      int    `json:"cpus"` // runtime.NumCPU, the same as nproc
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	OSArch    string `json:"os_arch"`
	LoadAvg   string `json:"load_average"` // /proc/loadavg at the start: 1, 5, 15 minutes
}

// Config is how the run was called, so the tables can say it.
type Config struct {
	Budgets      []float64 `json:"budgets"`        // fractions of the none peak swept for the curves
	TCBudget     float64   `json:"tc_budget"`      // fraction of the none peak given to the TC rows of the main table
	Strategies   []string  `json:"strategies"`     // of none, chen, approx, exact
	MaxLowerSets int       `json:"max_lower_sets"` // exact DP runs only below this
	Quick        bool      `json:"quick"`
	Command      string    `json:"command,omitempty"`
}

// Network is one benchmarked graph: a built-in model at given sizes or a cg file.
type Network struct {
	Name     string `json:"name"`   // resnet50, cg_vgg19, ...
	Source   string `json:"source"` // "built-in" or the cg file's base name
	Batch    int    `json:"batch,omitempty"`
	Size     int    `json:"size,omitempty"`
	Seq      int    `json:"seq,omitempty"`
	CostUnit string `json:"cost_unit"` // "FLOPs" or "paper units"

	Ops          int     `json:"ops"`
	ForwardOps   int     `json:"forward_ops"`
	Values       int     `json:"values"`
	ForwardCost  float64 `json:"forward_cost"`
	LowerSets    int     `json:"lower_sets,omitempty"` // counted up to the cap; 0 = not counted
	LowerSetsCap bool    `json:"lower_sets_capped,omitempty"`
	// FloorBytes is the largest working set of one op (its non-resident inputs
	// and outputs): no schedule of this graph can peak below it.
	FloorBytes    int64   `json:"floor_bytes"`
	NonePeakBytes int64   `json:"none_peak_bytes"`
	BuildSeconds  float64 `json:"build_seconds"` // model + autodiff + inference + planner graph

	Rows     []Row     `json:"rows"`  // main table: none, chen, approx TC/MC, exact TC/MC
	Sweep    []Curve   `json:"sweep"` // budget sweep, one curve per strategy/objective
	Timeline *Timeline `json:"timeline,omitempty"`
	Paper    *PaperRow `json:"paper,omitempty"`
	Verdict  string    `json:"verdict,omitempty"` // does the min-memory reduction reach the paper's, and why not
	Err      string    `json:"error,omitempty"`   // the network could not be benchmarked
	Notes    []string  `json:"notes,omitempty"`
	// PeakAt describes the step at which the minimum-memory plan peaks:
	// what stands between it and a lower peak.
	PeakAt *PeakAt  `json:"peak_at,omitempty"`
	Plots  []string `json:"plots,omitempty"` // file names written beside RESULTS.md
}

// Row is one plan in a network's main table.
type Row struct {
	Label       string  `json:"label"`     // "none", "chen", "approx TC", ...
	Strategy    string  `json:"strategy"`  // planner strategy
	Objective   string  `json:"objective"` // time|memory ("" for none and chen)
	BudgetBytes int64   `json:"budget_bytes,omitempty"`
	Skipped     string  `json:"skipped,omitempty"`   // why the row was not run, e.g. "n/a (40000 lower sets)"
	Err         string  `json:"error,omitempty"`     // the planner failed (e.g. infeasible budget)
	MinBytes    int64   `json:"min_bytes,omitempty"` // infeasible budget: the lowest peak the strategy reaches
	PeakBytes   int64   `json:"peak_bytes"`          // replayed transient peak
	Predicted   int64   `json:"predicted_peak_bytes,omitempty"`
	Reduction   float64 `json:"reduction_pct"` // 100·(1 - peak/none)
	Overhead    float64 `json:"overhead_pct"`  // 100·recompute cost / forward cost
	Cost        float64 `json:"overhead_cost"` // in the network's cost unit
	Segments    int     `json:"segments"`
	Recomputed  int     `json:"recomputed_ops"`
	Seconds     float64 `json:"seconds"` // planning wall-clock
	Note        string  `json:"note,omitempty"`
}

// OK reports whether the row holds a plan.
func (r Row) OK() bool { return r.Skipped == "" && r.Err == "" }

// PeakAt is the live set at a schedule's peak step.
type PeakAt struct {
	Plan            string `json:"plan"`
	Op              string `json:"op"`
	OpType          string `json:"op_type"`
	Backward        bool   `json:"backward"`
	Step            int    `json:"step"`
	Bytes           int64  `json:"bytes"`
	ActivationBytes int64  `json:"activation_bytes"` // values written by forward ops (originals and recomputations)
	GradientBytes   int64  `json:"gradient_bytes"`   // values written by backward ops
	OpBytes         int64  `json:"op_bytes"`         // the op's own inputs and outputs
	WorkspaceBytes  int64  `json:"workspace_bytes"`  // the op's kernel workspace (Bytes = activations + gradients + this)
}

// Curve is one strategy's trade-off over the budget sweep.
type Curve struct {
	Label  string  `json:"label"` // "approx TC", ...
	Points []Point `json:"points"`
}

// Point is one budget of a sweep.
type Point struct {
	BudgetFrac  float64 `json:"budget_frac"`
	BudgetBytes int64   `json:"budget_bytes"`
	PeakBytes   int64   `json:"peak_bytes,omitempty"` // 0 when infeasible
	Overhead    float64 `json:"overhead_pct"`
	Seconds     float64 `json:"seconds"`
	Infeasible  bool    `json:"infeasible,omitempty"`
	Err         string  `json:"error,omitempty"`
	// Derived says why the point was not planned: "none fits" (budget at or
	// above the none peak: none itself, no overhead) or "below the MC
	// minimum" (no candidate of the strategy replays that low).
	Derived string `json:"derived,omitempty"`
}

// Timeline holds live transient bytes after each schedule step, before (none)
// and after (the minimum-memory plan), downsampled for plotting.
type Timeline struct {
	AfterLabel string  `json:"after_label"`
	NoneSteps  int     `json:"none_steps"`
	AfterSteps int     `json:"after_steps"`
	None       []Level `json:"none"`
	After      []Level `json:"after"`
}

// Level is live bytes at schedule step Step.
type Level struct {
	Step  int   `json:"step"`
	Bytes int64 `json:"bytes"`
}

// Measured is one ONNX Runtime measurement of an original and a rewritten model.
type Measured struct {
	Network       string  `json:"network"`
	Sizes         string  `json:"sizes"` // e.g. "batch 2, 64×64"
	Plan          string  `json:"plan"`
	Session       string  `json:"session"` // MeasureSession.Name
	SimOrigBytes  int64   `json:"simulated_original_bytes"`
	SimNewBytes   int64   `json:"simulated_rewritten_bytes"`
	PeakOrigBytes int64   `json:"measured_original_bytes"`
	PeakNewBytes  int64   `json:"measured_rewritten_bytes"`
	SecondsOrig   float64 `json:"seconds_original"`
	SecondsNew    float64 `json:"seconds_rewritten"`
	// TimeRatio is the measured time ratio: the median of rounds of one
	// run of each model side by side in one process (ort.TimePair); the
	// seconds above are the medians of those runs. 0 in results recorded
	// before it: their ratio is SecondsNew/SecondsOrig, each the median of
	// its own process's runs.
	TimeRatio float64 `json:"time_ratio,omitempty"`
	// Overhead is the recomputed FLOPs over the forward pass's, and
	// PredictedTimeRatio the time ratio they predict for a training step:
	// 1 + recomputed FLOPs / the step's FLOPs (forward and backward).
	Overhead           float64 `json:"overhead"`
	PredictedTimeRatio float64 `json:"predicted_time_ratio"`
	OutputsIdentical   bool    `json:"outputs_identical"`
	Err                string  `json:"error,omitempty"`
}

// DetectMachine fills Machine from the running system; fields it cannot read
// say "unknown".
func DetectMachine(now time.Time) Machine {
	return Machine{
		Date:      now.UTC().Format(time.RFC3339),
		CPUs:      runtime.NumCPU(),
		CPUModel:  cpuModel("/proc/cpuinfo"),
		GoVersion: runtime.Version(),
		OSArch:    runtime.GOOS + "/" + runtime.GOARCH,
		LoadAvg:   loadAvg("/proc/loadavg"),
	}
}

func loadAvg(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// processCPUSeconds is the user and system time this process has used.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Results) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	return nil
}

// ReadJSON reads results written by WriteJSON.
func ReadJSON(rd io.Reader) (*Results, error) {
	var r Results
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("decode results: %w", err)
	}
	return &r, nil
}
