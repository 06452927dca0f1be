package ort

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stats describe one model's runs.
type Stats struct {
	Seconds            float64   // wall time of ORT's Run: the median over the measured runs
	PeakRSSGrowthBytes int64     // peak resident-set growth during Run (median over measured runs); -1 if not measured
	NodeOrder          []string  // node names in executed order (last run), when Options.Profile
	RunSeconds         []float64 // every measured run
	RunPeakBytes       []int64   // every measured run (arena on: growth since before the first run)
	FirstRunSeconds    float64   // arena on: the first run, which grows the arena (not in RunSeconds)
	FirstRunPeakBytes  int64     // arena on: growth over the first run alone
	Method             string    // how the peak was measured
	Deterministic      bool      // every measured run gave the same bytes as the first run (Measure only)
}

// Run loads modelPath, runs it once in this process and returns the
// requested outputs (nil: all graph outputs). Stats.PeakRSSGrowthBytes is
// the growth of the process's VmHWM during the run; for a trustworthy
// number use Measure, which runs in a fresh process.
func Run(modelPath string, inputs []Tensor, outputNames []string, opt Options) ([]Tensor, *Stats, error) {
	s, err := NewSession(modelPath, nil, outputNames, opt)
	if err != nil {
		return nil, nil, err
	}
	var p peakProbe
	outs, secs, err := s.run(inputs, nil, p.hook)
	order, cerr := s.Close()
	if err != nil {
		return nil, nil, err
	}
	if cerr != nil {
		return nil, nil, cerr
	}
	st := &Stats{Seconds: secs, PeakRSSGrowthBytes: p.growth, NodeOrder: order,
		RunSeconds: []float64{secs}, RunPeakBytes: []int64{p.growth}, Method: p.method()}
	return outs, st, nil
}

// peakProbe measures the peak RSS growth between its two hook calls.
type peakProbe struct {
	base, growth int64
	cleared      bool
	// cumulative: every run reports its peak against the RSS before the
	// first run (the arena keeps what it grew); the peak is still reset
	// before each run, so nothing the harness did between runs counts.
	cumulative, started bool
}

func (p *peakProbe) hook(before bool) {
	if before {
		// The Go copies of the last run's outputs are garbage now.
		runtime.GC()
		debug.FreeOSMemory()
		p.cleared = resetPeakRSS()
		if p.cumulative && p.started {
			return // keep the first run's base: the arena keeps what it grew
		}
		p.started = true
		if p.cleared {
			p.base = readStatus("VmRSS")
		} else {
			// No reset: growth only shows if the run exceeds the old peak.
			p.base = readStatus("VmHWM")
		}
		return
	}
	hwm := readStatus("VmHWM")
	p.growth = -1
	if hwm >= 0 && p.base >= 0 {
		p.growth = max(hwm-p.base, 0)
	}
}

func (p *peakProbe) method() string {
	if p.cleared {
		return "VmHWM minus VmRSS just before Run, peak reset via /proc/self/clear_refs"
	}
	return "VmHWM growth across Run (no peak reset: clear_refs unavailable)"
}

// resetPeakRSS sets VmHWM to the current RSS (Linux >= 4.0).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// readStatus returns a kB field of /proc/self/status in bytes, or -1.
func readStatus(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, field+":") {
			continue
		}
		f := strings.Fields(line[len(field)+1:])
		if len(f) == 0 {
			return -1
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return -1
		}
		return kb * 1024
	}
	return -1
}

// MeasureOptions control Measure.
type MeasureOptions struct {
	Session Options
	LibPath string // "" = LibraryPath("")
	Runs    int    // measured runs after one warm-up run; < 1 means 1
	// PreallocateOutputs hands ORT fresh output buffers (pages counted as
	// ORT writes them) instead of letting it allocate outputs, which it may
	// then place in a dead input's buffer (in-place reuse). Without it, the
	// copy onnxruntime_go makes of each output after the run adds at most
	// the largest output to the measured peak.
	PreallocateOutputs bool
	// NoTiming is for a caller that times the models itself (TimePair):
	// Measure takes no runs for time alone (with the arena off it would
	// time as many runs again after settling malloc), and Stats.Method
	// says nothing about time. Stats.RunSeconds are then the peak runs'
	// own times, which page counting slows.
	NoTiming bool
}

// childEnv names the request file for a child process started by Measure.
const childEnv = "RECOMPUTE_ORT_CHILD"

// MallocMmapThreshold is the glibc setting Measure gives its child so that
// every tensor larger than 128 KiB is its own mapping and a freed tensor
// leaves the RSS at once.
const MallocMmapThreshold = "131072"

type childRequest struct {
	LibPath, Model string
	Inputs         []Tensor
	Outputs        []string
	Opt            Options
	Runs           int
	Prealloc       bool
	NoTiming       bool
}

type childResponse struct {
	Outputs []Tensor
	Stats   Stats
	Err     string
}

// ServeChild turns this process into Measure's child when the environment
// asks for it: it runs the request, writes the answer and exits. Programs
// that call Measure must call ServeChild first thing in main (or in
// TestMain); otherwise it returns at once.
func ServeChild() {
	req := os.Getenv(childEnv)
	if req == "" {
		return
	}
	resp := serve(req)
	f, err := os.Create(req + ".out")
	if err == nil {
		err = gob.NewEncoder(f).Encode(resp)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ort child: write answer: %v\n", err)
		os.Exit(3)
	}
	os.Exit(0)
}

func serve(reqPath string) (resp childResponse) {
	var req childRequest
	f, err := os.Open(reqPath)
	if err != nil {
		return childResponse{Err: err.Error()}
	}
	err = gob.NewDecoder(bufio.NewReader(f)).Decode(&req)
	f.Close()
	if err != nil {
		return childResponse{Err: "read request: " + err.Error()}
	}
	if err := Init(req.LibPath); err != nil {
		return childResponse{Err: err.Error()}
	}
	// Profiling costs time per node, so the measured runs use a session
	// without it and, when asked, one more run in a profiling session gives
	// the executed order.
	opt := req.Opt
	opt.Profile = false
	s, err := NewSession(req.Model, nil, req.Outputs, opt)
	if err != nil {
		return childResponse{Err: err.Error()}
	}
	defer func() {
		if _, err := s.Close(); err != nil && resp.Err == "" {
			resp.Err = err.Error()
		}
		if req.Opt.Profile && resp.Err == "" {
			order, err := profileOrder(req)
			if err != nil {
				resp.Err = err.Error()
			}
			resp.Stats.NodeOrder = order
		}
	}()
	if !req.Opt.ArenaOff {
		return serveArena(s, req)
	}
	// Warm-up: one-time allocations, output shapes, and the results.
	outs, _, err := s.run(req.Inputs, nil, nil)
	if err != nil {
		return childResponse{Err: err.Error()}
	}
	resp.Outputs = outs
	resp.Stats.Deterministic = true
	var p peakProbe
	for r := 0; r < max(req.Runs, 1); r++ {
		// Preallocated outputs are fresh anonymous mappings: untouched pages
		// cost no RSS until ORT writes them, so outputs count as they are
		// produced, like any other tensor.
		var bufs []*Tensor
		release := func() {}
		if req.Prealloc {
			if bufs, release, err = mmapBuffers(outs); err != nil {
				return childResponse{Err: err.Error()}
			}
		}
		got, secs, err := s.run(req.Inputs, bufs, p.hook)
		if err == nil {
			for i := range got {
				data := got[i].Data
				if bufs != nil && bufs[i] != nil {
					data = bufs[i].Data
				}
				if !bytes.Equal(data, outs[i].Data) {
					resp.Stats.Deterministic = false
				}
			}
		}
		got = nil
		release()
		if err != nil {
			return childResponse{Err: err.Error()}
		}
		resp.Stats.RunSeconds = append(resp.Stats.RunSeconds, secs)
		resp.Stats.RunPeakBytes = append(resp.Stats.RunPeakBytes, p.growth)
	}
	timing := "; time: median of the same runs"
	if req.NoTiming {
		timing = ""
	} else if secs, err := settledTimes(s, req); err != nil {
		return childResponse{Err: err.Error()}
	} else if secs != nil {
		resp.Stats.RunSeconds = secs
		timing = "; time: median of as many runs after those, with glibc's mmap threshold at 32 MiB (as its dynamic threshold settles in a long-running process) after one more warm-up run"
	}
	resp.Stats.Seconds = Median(resp.Stats.RunSeconds)
	resp.Stats.Method = p.method() + ", in a fresh process with MALLOC_MMAP_THRESHOLD_=" + os.Getenv("MALLOC_MMAP_THRESHOLD_") +
		", after session creation and one warm-up run" + timing + "; profiling (node order) in a separate run"
	resp.Stats.PeakRSSGrowthBytes = int64(Median(toFloat(resp.Stats.RunPeakBytes)))
	return resp
}

// settledTimes times req.Runs more runs of s after settleMalloc and one
// warm-up run (the heap grows into its new size once, as in the first step
// of a training loop); nil when the malloc settings could not be changed.
// With the arena off and the low mmap threshold the peak measurement needs,
// every tensor is a fresh mapping, which slows a run by its tensor count
// rather than its work: a least-memory ResNet-50 rewrite measured 2.98× the
// original's time that way and 1.10× with settled malloc.
func settledTimes(s *Session, req childRequest) ([]float64, error) {
	if !settleMalloc() {
		return nil, nil
	}
	var secs []float64
	for r := 0; r <= max(req.Runs, 1); r++ {
		_, t, err := s.run(req.Inputs, nil, nil)
		if err != nil {
			return nil, err
		}
		if r > 0 {
			secs = append(secs, t)
		}
	}
	return secs, nil
}

// serveArena measures a session with ORT's CPU arena on. The arena keeps
// what it grows to and the memory pattern adds its block from the second
// run on, so what a training loop holds is the process's growth from the
// ready session over its first runs: every run, the first included, is
// measured against the RSS before the first (the peak is reset before each
// run, with the Go copies of earlier outputs freed: only ORT's memory and
// the run itself count). Stats.PeakRSSGrowthBytes is the largest; the
// first run is also reported alone. Outputs are compared between runs by
// digest and only the last run's are kept.
func serveArena(s *Session, req childRequest) (resp childResponse) {
	p := peakProbe{cumulative: true}
	var prev [][32]byte
	resp.Stats.Deterministic = true
	runs := 1 + max(req.Runs, 1)
	for r := 0; r < runs; r++ {
		got, secs, err := s.run(req.Inputs, nil, p.hook)
		if err != nil {
			return childResponse{Err: err.Error()}
		}
		sums := make([][32]byte, len(got))
		for i := range got {
			sums[i] = sha256.Sum256(got[i].Data)
		}
		if prev != nil && !slices.Equal(prev, sums) {
			resp.Stats.Deterministic = false
		}
		prev = sums
		if r == 0 {
			resp.Stats.FirstRunSeconds, resp.Stats.FirstRunPeakBytes = secs, p.growth
		} else {
			resp.Stats.RunSeconds = append(resp.Stats.RunSeconds, secs)
		}
		resp.Stats.RunPeakBytes = append(resp.Stats.RunPeakBytes, p.growth)
		resp.Stats.PeakRSSGrowthBytes = max(resp.Stats.PeakRSSGrowthBytes, p.growth)
		if r == runs-1 {
			resp.Outputs = got
		}
	}
	resp.Stats.Seconds = Median(resp.Stats.RunSeconds)
	timing := "; time: median of the runs after the first"
	if req.NoTiming {
		timing = ""
	}
	resp.Stats.Method = fmt.Sprintf("largest VmHWM over %d runs (reset via /proc/self/clear_refs before each) minus VmRSS before the first, in a fresh process with ORT's CPU arena on (it keeps what it grows to)%s; profiling (node order) in a separate run", runs, timing)
	if !p.cleared {
		resp.Stats.Method = fmt.Sprintf("VmHWM growth over %d runs from the ready session (no peak reset: clear_refs unavailable), CPU arena on", runs)
	}
	return resp
}

// profileOrder runs the request once in a profiling session and returns the
// executed node order.
func profileOrder(req childRequest) ([]string, error) {
	s, err := NewSession(req.Model, nil, req.Outputs, req.Opt)
	if err != nil {
		return nil, err
	}
	if _, err := s.Run(req.Inputs); err != nil {
		s.Close()
		return nil, err
	}
	return s.Close()
}

// mmapBuffers allocates one anonymous mapping per output shaped like outs.
// Empty outputs get nil (ORT allocates them).
func mmapBuffers(outs []Tensor) ([]*Tensor, func(), error) {
	bufs := make([]*Tensor, len(outs))
	var maps [][]byte
	release := func() {
		for _, m := range maps {
			syscall.Munmap(m)
		}
	}
	for i, o := range outs {
		if len(o.Data) == 0 {
			continue
		}
		m, err := syscall.Mmap(-1, 0, len(o.Data), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("output buffer for %s: %w", o.Name, err)
		}
		maps = append(maps, m)
		bufs[i] = &Tensor{Name: o.Name, Elem: o.Elem, Dims: o.Dims, Data: m}
	}
	return bufs, release, nil
}

// Measure runs modelPath in a fresh child process (this executable, which
// must call ServeChild at start) with MALLOC_MMAP_THRESHOLD_ set: one warm-up
// run, then opt.Runs measured runs, each with its peak RSS growth over the
// level just before Run (VmHWM reset through /proc/self/clear_refs) and its
// wall time. It returns the warm-up run's outputs (nil names: all outputs).
func Measure(modelPath string, inputs []Tensor, outputNames []string, opt MeasureOptions) ([]Tensor, *Stats, error) {
	lib := opt.LibPath
	if lib == "" {
		var err error
		if lib, err = LibraryPath(""); err != nil {
			return nil, nil, err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("measure %s: find own executable: %w", modelPath, err)
	}
	f, err := os.CreateTemp("", "recompute-ort-req-")
	if err != nil {
		return nil, nil, fmt.Errorf("measure %s: %w", modelPath, err)
	}
	reqPath := f.Name()
	defer os.Remove(reqPath)
	defer os.Remove(reqPath + ".out")
	defer TrackScratch(reqPath)()
	defer TrackScratch(reqPath + ".out")()
	w := bufio.NewWriter(f)
	err = gob.NewEncoder(w).Encode(childRequest{LibPath: lib, Model: modelPath, Inputs: inputs, Outputs: outputNames, Opt: opt.Session, Runs: opt.Runs, Prealloc: opt.PreallocateOutputs, NoTiming: opt.NoTiming})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("measure %s: write request: %w", modelPath, err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+reqPath)
	if opt.Session.ArenaOff {
		// Without the arena, freed tensors leave the RSS at once only if
		// glibc maps each one; with it, the process runs as users run it.
		cmd.Env = append(cmd.Env, "MALLOC_MMAP_THRESHOLD_="+MallocMmapThreshold)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	runErr := RunChild(cmd)
	rf, err := os.Open(reqPath + ".out")
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if runErr != nil {
			return nil, nil, fmt.Errorf("measure %s: child process failed after %.1fs (%v): %s", modelPath, time.Since(start).Seconds(), runErr, LastLine(msg))
		}
		return nil, nil, fmt.Errorf("measure %s: child process gave no answer; does this program call ort.ServeChild? %s", modelPath, LastLine(msg))
	}
	defer rf.Close()
	var resp childResponse
	if err := gob.NewDecoder(bufio.NewReader(rf)).Decode(&resp); err != nil {
		return nil, nil, fmt.Errorf("measure %s: read answer: %w", modelPath, err)
	}
	if resp.Err != "" {
		return nil, nil, errors.New(resp.Err)
	}
	return resp.Outputs, &resp.Stats, nil
}

// LastLine is the last line of s once surrounding space is trimmed (a
// child process's closing message).
func LastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Median is the median of v (0 for none); v is not modified.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func toFloat(v []int64) []float64 {
	f := make([]float64, len(v))
	for i, x := range v {
		f[i] = float64(x)
	}
	return f
}
