package ort

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	ortgo "github.com/yalue/onnxruntime_go"
)

// Options are the session settings. The zero value is ONNX Runtime's
// default (all optimisations, arena on, all cores); checks use
// DefaultCheckOptions.
type Options struct {
	Threads                 int  // intra- and inter-op threads; 0 = ORT's default
	DisableAllOptimizations bool // ORT_DISABLE_ALL: no graph rewriting at all (overrides Level)
	DisableCSE              bool // only switch off CommonSubexpressionElimination (it merges clones back)
	// Level is the graph optimisation level when DisableAllOptimizations is
	// false: LevelAll (the zero value, ORT's default), LevelBasic or
	// LevelExtended.
	Level OptLevel
	// DisableOptimizers names further graph transformers to skip
	// (ORT's session config optimization.disable_specified_optimizers).
	DisableOptimizers []string
	Profile           bool // record the executed node order (Stats.NodeOrder)
	// OptimizedModelPath, if set, is where ORT writes the graph as it runs
	// it, after its graph transformers.
	OptimizedModelPath string
	ArenaOff           bool // CPU arena and memory pattern off: every tensor is its own malloc/free
	MemPatternOff      bool // memory pattern off (the arena stays as ArenaOff says)
}

// OptLevel is an ONNX Runtime graph optimisation level.
type OptLevel int

// The levels above "disabled" (Options.DisableAllOptimizations). LevelAll,
// the zero value, is every binding's default: basic (constant folding,
// eliminations, CSE), extended (fusions) and layout (NCHWc) transformers.
const (
	LevelAll OptLevel = iota
	LevelBasic
	LevelExtended
)

func (l OptLevel) String() string {
	switch l {
	case LevelBasic:
		return "basic"
	case LevelExtended:
		return "extended"
	}
	return "all"
}

// DefaultCheckOptions is one thread, graph optimisations off, arena and memory
// pattern off, sequential execution: reproducible results and a measured peak
// that follows the graph's liveness.
func DefaultCheckOptions() Options {
	return Options{Threads: 1, DisableAllOptimizations: true, DisableCSE: true, ArenaOff: true}
}

// String describes the options for reports.
func (o Options) String() string {
	var p []string
	if o.Threads > 0 {
		p = append(p, fmt.Sprintf("%d thread(s)", o.Threads))
	}
	if o.Threads == 0 {
		p = append(p, "default threads")
	}
	switch {
	case o.DisableAllOptimizations:
		p = append(p, "graph optimisations off")
	default:
		what := "graph optimisations " + o.Level.String()
		if off := o.disabled(); len(off) > 0 {
			what += " except " + strings.Join(off, ", ")
		}
		p = append(p, what)
	}
	switch {
	case o.ArenaOff:
		p = append(p, "arena and memory pattern off")
	case o.MemPatternOff:
		p = append(p, "arena on, memory pattern off")
	default:
		p = append(p, "arena and memory pattern on")
	}
	p = append(p, "sequential")
	if o.Profile {
		p = append(p, "profiling on")
	}
	return strings.Join(p, ", ")
}

// disabled lists the transformers the options switch off.
func (o Options) disabled() []string {
	off := slices.Clone(o.DisableOptimizers)
	if o.DisableCSE && !slices.Contains(off, "CommonSubexpressionElimination") {
		off = append(off, "CommonSubexpressionElimination")
	}
	return off
}

// configDisableOptimizers is ORT's session config key listing optimizers to skip.
const configDisableOptimizers = "optimization.disable_specified_optimizers"

func (o Options) sessionOptions(profilePrefix string) (*ortgo.SessionOptions, error) {
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	fail := func(what string, err error) (*ortgo.SessionOptions, error) {
		so.Destroy()
		return nil, fmt.Errorf("session options: %s: %w", what, err)
	}
	if o.Threads > 0 {
		if err := so.SetIntraOpNumThreads(o.Threads); err != nil {
			return fail("intra-op threads", err)
		}
		if err := so.SetInterOpNumThreads(o.Threads); err != nil {
			return fail("inter-op threads", err)
		}
	}
	if err := so.SetExecutionMode(ortgo.ExecutionModeSequential); err != nil {
		return fail("execution mode", err)
	}
	var level ortgo.GraphOptimizationLevel = ortgo.GraphOptimizationLevelEnableAll
	switch {
	case o.DisableAllOptimizations:
		level = ortgo.GraphOptimizationLevelDisableAll
	case o.Level == LevelBasic:
		level = ortgo.GraphOptimizationLevelEnableBasic
	case o.Level == LevelExtended:
		level = ortgo.GraphOptimizationLevelEnableExtended
	}
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return fail("optimisation level", err)
	}
	if off := o.disabled(); len(off) > 0 && !o.DisableAllOptimizations {
		if err := so.AddSessionConfigEntry(configDisableOptimizers, strings.Join(off, ",")); err != nil {
			return fail(configDisableOptimizers, err)
		}
	}
	if o.ArenaOff {
		if err := so.SetCpuMemArena(false); err != nil {
			return fail("arena", err)
		}
	}
	if o.ArenaOff || o.MemPatternOff {
		if err := so.SetMemPattern(false); err != nil {
			return fail("memory pattern", err)
		}
	}
	if o.OptimizedModelPath != "" {
		if err := so.SetOptimizedModelFilePath(o.OptimizedModelPath); err != nil {
			return fail("optimized model path", err)
		}
	}
	if profilePrefix != "" {
		if err := so.EnableProfiling(profilePrefix); err != nil {
			return fail("profiling", err)
		}
	}
	return so, nil
}

// Session is a loaded model ready to run many times (finite differences,
// timing). It is not safe for concurrent use.
type Session struct {
	path        string
	prep        *Prepared
	inputNames  []string // caller-facing
	outputNames []string
	s           *ortgo.DynamicAdvancedSession
	profileDir  string
	untrack     func()
	order       []string
	timings     []NodeTiming
}

// NewSession loads modelPath with the given options. inputNames and
// outputNames fix which values Run feeds and returns, in order; nil means
// every graph input that is not an initializer, and every graph output.
// Init must have been called.
func NewSession(modelPath string, inputNames, outputNames []string, opt Options) (*Session, error) {
	if !ortgo.IsInitialized() {
		return nil, errors.New("ONNX Runtime not initialised: call ort.Init")
	}
	prep, err := Prepare(modelPath)
	if err != nil {
		return nil, err
	}
	if inputNames == nil {
		inputNames = prep.InputNames
	}
	if outputNames == nil {
		outputNames = prep.OutputNames
	}
	s := &Session{path: modelPath, prep: prep, inputNames: inputNames, outputNames: outputNames}
	if len(outputNames) == 0 {
		s.cleanup()
		return nil, fmt.Errorf("session %s: no outputs requested", modelPath)
	}
	prefix := ""
	if opt.Profile {
		dir, err := os.MkdirTemp("", "recompute-ort-profile-")
		if err != nil {
			s.cleanup()
			return nil, fmt.Errorf("profile directory: %w", err)
		}
		s.profileDir, s.untrack = dir, TrackScratch(dir)
		prefix = filepath.Join(dir, "profile")
	}
	so, err := opt.sessionOptions(prefix)
	if err != nil {
		s.cleanup()
		return nil, err
	}
	defer so.Destroy()
	s.s, err = ortgo.NewDynamicAdvancedSession(prep.Path, prep.ortInputs(inputNames), prep.ortOutputs(outputNames), so)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("load %s in ONNX Runtime: %w", modelPath, err)
	}
	return s, nil
}

// InputNames and OutputNames are the values Run feeds and returns.
func (s *Session) InputNames() []string  { return s.inputNames }
func (s *Session) OutputNames() []string { return s.outputNames }

// NodeNames are the names the profile uses, per node index of the model.
func (s *Session) NodeNames() []string { return s.prep.NodeNames }

func (s *Session) cleanup() {
	if s.profileDir != "" {
		os.RemoveAll(s.profileDir)
		s.untrack()
		s.profileDir = ""
	}
	if s.prep != nil {
		s.prep.Close()
	}
}

// Run feeds inputs (matched to the session's input names by Tensor.Name)
// and returns the outputs in the session's output order.
func (s *Session) Run(inputs []Tensor) ([]Tensor, error) {
	outs, _, err := s.run(inputs, nil, nil)
	return outs, err
}

// run is Run with optional preallocated output buffers (out[i] nil: ORT
// allocates) and an optional hook called right before and after ORT's Run
// (memory measurement). It returns the wall time of ORT's Run alone.
// Outputs written into preallocated buffers are returned without copying
// their data (Data is nil): the caller owns the buffers.
func (s *Session) run(inputs []Tensor, outBufs []*Tensor, hook func(before bool)) ([]Tensor, float64, error) {
	byName := make(map[string]*Tensor, len(inputs))
	for i := range inputs {
		byName[inputs[i].Name] = &inputs[i]
	}
	in := make([]ortgo.Value, len(s.inputNames))
	out := make([]ortgo.Value, len(s.outputNames))
	defer func() {
		for _, v := range append(in, out...) {
			destroy(v)
		}
	}()
	for i, name := range s.inputNames {
		t := byName[name]
		if t == nil {
			return nil, 0, fmt.Errorf("run %s: no value for input %s", s.path, name)
		}
		feed := *t
		if _, ok := s.prep.feedAs[name]; ok {
			feed.Dims = []int64{1}
		}
		if len(feed.Dims) == 0 {
			return nil, 0, fmt.Errorf("run %s: input %s is a scalar but not declared rank 0 in the model; onnxruntime_go cannot pass rank-0 tensors", s.path, name)
		}
		v, err := toValue(&feed)
		if err != nil {
			return nil, 0, fmt.Errorf("run %s: %w", s.path, err)
		}
		in[i] = v
	}
	for i := range out {
		if i < len(outBufs) && outBufs[i] != nil {
			b := *outBufs[i]
			if _, ok := s.prep.fetchAs[s.outputNames[i]]; ok {
				b.Dims = []int64{1}
			}
			v, err := toValue(&b)
			if err != nil {
				return nil, 0, fmt.Errorf("run %s: output buffer: %w", s.path, err)
			}
			out[i] = v
		}
	}
	if hook != nil {
		hook(true)
	}
	start := time.Now()
	err := s.s.Run(in, out)
	secs := time.Since(start).Seconds()
	if hook != nil {
		hook(false)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("run %s: %w", s.path, scalarHint(err))
	}
	res := make([]Tensor, len(out))
	for i, v := range out {
		name := s.outputNames[i]
		if i < len(outBufs) && outBufs[i] != nil {
			res[i] = Tensor{Name: name, Elem: outBufs[i].Elem, Dims: outBufs[i].Dims}
			continue
		}
		t, err := fromValue(name, v)
		if err != nil {
			return nil, 0, fmt.Errorf("run %s: %w", s.path, err)
		}
		if _, ok := s.prep.fetchAs[name]; ok {
			t.Dims = nil
		}
		res[i] = t
	}
	return res, secs, nil
}

// scalarHint explains onnxruntime_go's refusal of rank-0 outputs.
func scalarHint(err error) error {
	if errors.Is(err, ortgo.ZeroShapeLengthError) {
		return fmt.Errorf("%w (a rank-0 output: onnxruntime_go cannot return scalars; the ort package reshapes them, see PrepareModel)", err)
	}
	return err
}

// Close releases the session. With profiling on, it reads the profile ORT
// writes at release and returns the executed node order of the last Run.
func (s *Session) Close() ([]string, error) {
	if s.s == nil {
		return s.order, nil
	}
	err := s.s.Destroy()
	s.s = nil
	if s.prep != nil {
		s.prep.Close()
	}
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("close %s: %w", s.path, err)
	}
	if s.profileDir != "" {
		s.timings, err = readProfileDir(s.profileDir)
		s.cleanup()
		if err != nil {
			return nil, fmt.Errorf("profile of %s: %w", s.path, err)
		}
		s.order = make([]string, len(s.timings))
		for i, n := range s.timings {
			s.order[i] = n.Name
		}
	}
	return s.order, nil
}

// Timings returns, after Close of a profiling session, the last run's
// kernels with their start and duration.
func (s *Session) Timings() []NodeTiming { return s.timings }

// profileEvent is one entry of ORT's Chrome-trace profile.
type profileEvent struct {
	Cat  string `json:"cat"`
	Name string `json:"name"`
	Ts   int64  `json:"ts"`
	Dur  int64  `json:"dur"`
	Args struct {
		OpName string `json:"op_name"`
	} `json:"args"`
}

func readProfileDir(dir string) ([]NodeTiming, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("ONNX Runtime wrote no profile in %s", dir)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return nil, err
	}
	return ParseProfileTimings(data)
}

// ParseProfile returns the node names in the order ONNX Runtime executed
// them during the last model_run recorded in a profile (the JSON that
// EnableProfiling writes). Kernel events are "<node name>_kernel_time".
func ParseProfile(data []byte) ([]string, error) {
	nodes, err := ParseProfileTimings(data)
	if err != nil {
		return nil, err
	}
	order := make([]string, len(nodes))
	for i, n := range nodes {
		order[i] = n.Name
	}
	return order, nil
}

// NodeTiming is one kernel run of a profile: start relative to the start of
// its model_run, and duration, in microseconds.
type NodeTiming struct {
	Name                string
	StartMicros, Micros int64
}

// ParseProfileTimings is ParseProfile with each node's start and duration.
func ParseProfileTimings(data []byte) ([]NodeTiming, error) {
	var ev []profileEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("parse profile: %w", err)
	}
	var runStart, runEnd int64 = -1, -1
	for _, e := range ev {
		if e.Cat == "Session" && e.Name == "model_run" && e.Ts > runStart {
			runStart, runEnd = e.Ts, e.Ts+e.Dur
		}
	}
	var nodes []NodeTiming
	for _, e := range ev {
		if e.Cat != "Node" || !strings.HasSuffix(e.Name, "_kernel_time") {
			continue
		}
		if runStart >= 0 && (e.Ts < runStart || e.Ts > runEnd) {
			continue
		}
		nodes = append(nodes, NodeTiming{strings.TrimSuffix(e.Name, "_kernel_time"), e.Ts - max(runStart, 0), e.Dur})
	}
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].StartMicros < nodes[j].StartMicros })
	return nodes, nil
}

// destroy releases v. onnxruntime_go may leave a typed nil pointer in an
// output slot when Run fails (seen with float16 outputs); calling Destroy on
// it would panic.
func destroy(v ortgo.Value) {
	if v == nil {
		return
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return
	}
	v.Destroy()
}
