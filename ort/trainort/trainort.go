// Package trainort runs ONNX models on ONNX Runtime's training kernels: the
// training build of onnxruntime-web (WebAssembly) under Node.js, driven as a
// child process. It is how ORT training artifacts (com.microsoft gradient
// ops: ConvGrad, BatchNormalizationGrad, InPlaceAccumulatorV2, ...) are run,
// since the native library of package ort has no training kernels.
//
// Promise: Run feeds the given tensors, returns the requested outputs as
// raw bytes with their shapes, the time of each run and the memory the first
// run grew the process by; it never leaves a process behind (a runner that
// does not answer within Options.Timeout is killed with its process group)
// and turns every runtime failure, a missing kernel included, into a
// one-line error. The model file is only read.
//
// Files: scripts/fetch-ort-training.sh puts the build at <repo>/.ort/web;
// $RECOMPUTE_ORT_TRAINING names another directory. Node.js must be on PATH.
package trainort

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort"
)

//go:embed runner.js
var runnerJS []byte

// EnvDir names a directory holding ort.training.wasm.min.js and its .wasm.
const EnvDir = "RECOMPUTE_ORT_TRAINING"

// ErrUnavailable is returned (wrapped) when Node.js or the training build
// is missing; the message says how to get them.
var ErrUnavailable = errors.New("ONNX Runtime's training build is not available")

// Dir returns the directory of the training build: $RECOMPUTE_ORT_TRAINING,
// else .ort/web in the working directory, the executable's directory or
// one of their parents.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if _, err := os.Stat(filepath.Join(d, "ort.training.wasm.min.js")); err != nil {
			return "", fmt.Errorf("%w: %s (from %s): %v", ErrUnavailable, d, EnvDir, err)
		}
		return d, nil
	}
	if p := ort.FindFetched(filepath.Join(".ort", "web", "ort.training.wasm.min.js")); p != "" {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("%w: run scripts/fetch-ort-training.sh (npm onnxruntime-web@1.19.2 into .ort/web) or set %s", ErrUnavailable, EnvDir)
}

// Available reports whether Run can work: Node.js on PATH and the build.
func Available() error {
	_, err := locate()
	return err
}

// locate checks for Node.js and returns the build's directory.
func locate() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("%w: node (Node.js) not found on PATH", ErrUnavailable)
	}
	return Dir()
}

// Options are the session settings and limits of one Run.
type Options struct {
	Runs    int           // runs after the first (timed; outputs checked against the first); < 0 means 0
	Timeout time.Duration // the whole child process; 0 means 10 minutes
	// Optimize is ORT's graph optimisation level: disabled (the zero
	// value's meaning), basic, extended or all.
	Optimize string
	// Arena turns on ORT's CPU memory arena and memory pattern (off by
	// default here, so memory follows what the kernels allocate).
	Arena bool
}

// Result is what Run measured.
type Result struct {
	Outputs []ort.Tensor
	// Seconds of each run, the first included.
	Seconds []float64
	// PeakBytes is the process's resident growth over the first run
	// (VmHWM after it minus VmRSS before it; WebAssembly memory never
	// shrinks, so later runs reuse it); -1 if /proc/self/clear_refs could
	// not reset the peak.
	PeakBytes int64
	// SessionBytes is the growth of creating the session (weights, plan).
	SessionBytes int64
	// FedBytes is the size of the feeds. onnxruntime-web copies every feed
	// into WebAssembly memory for the run, so PeakBytes includes them;
	// PeakBytes - FedBytes is what the run itself needed (TransientBytes).
	FedBytes int64
	// Deterministic: every later run gave the first run's bytes.
	Deterministic bool
}

// TransientBytes is the first run's growth less the feeds the runtime copied
// in: the counterpart of the transient peak (DESIGN.md: graph inputs are
// resident, reported apart). -1 if the peak was not measured.
func (r *Result) TransientBytes() int64 {
	if r.PeakBytes < 0 {
		return -1
	}
	return r.PeakBytes - r.FedBytes
}

// TransientMethod describes TransientBytes.
const TransientMethod = "VmHWM after the first run minus VmRSS just before it, less the bytes fed (onnxruntime-web copies every feed into WebAssembly memory for the run; graph inputs are resident, not transient), of the model as given (gradients not exposed), in a fresh Node.js process running ONNX Runtime's training build for WebAssembly (onnxruntime-web 1.19.2), one thread, the module compiled eagerly with no tier-up; WebAssembly memory never shrinks, so this is the first run's growth"

// Method describes how Result's memory is measured.
const Method = "VmHWM after the first run minus VmRSS just before it (peak reset via /proc/self/clear_refs, JavaScript heap collected), in a fresh Node.js process running ONNX Runtime's training build for WebAssembly (onnxruntime-web 1.19.2), one thread, the module compiled eagerly with no tier-up; WebAssembly memory never shrinks, so this is the first run's growth"

type wireTensor struct {
	Name string  `json:"name"`
	Elem int32   `json:"elem"`
	Dims []int64 `json:"dims"`
	File string  `json:"file"`
}

type request struct {
	OrtDir  string         `json:"ortDir"`
	Model   string         `json:"model"`
	Feeds   []wireTensor   `json:"feeds"`
	Outputs []string       `json:"outputs"`
	OutDir  string         `json:"outDir"`
	Runs    int            `json:"runs"`
	Session map[string]any `json:"session"`
}

type reply struct {
	Error         string       `json:"error"`
	Outputs       []wireTensor `json:"outputs"`
	Seconds       []float64    `json:"seconds"`
	PeakBytes     int64        `json:"peakBytes"`
	SessionBytes  int64        `json:"sessionBytes"`
	Deterministic bool         `json:"deterministic"`
}

// Run loads model in a fresh runner process, feeds feeds, runs it
// 1+opt.Runs times and returns the named outputs (nil: every graph output)
// of the first run.
func Run(ctx context.Context, model string, feeds []ort.Tensor, outputs []string, opt Options) (*Result, error) {
	dir, err := locate()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(model)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "trainort-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	defer ort.TrackScratch(tmp)()
	script := filepath.Join(tmp, "runner.js")
	if err := os.WriteFile(script, runnerJS, 0o644); err != nil {
		return nil, err
	}
	level := opt.Optimize
	if level == "" {
		level = "disabled"
	}
	req := request{OrtDir: dir, Model: abs, Outputs: outputs, OutDir: tmp, Runs: 1 + max(opt.Runs, 0),
		Session: map[string]any{"graphOptimizationLevel": level, "enableCpuMemArena": opt.Arena, "enableMemPattern": opt.Arena}}
	for i, t := range feeds {
		if err := t.Check(); err != nil {
			return nil, err
		}
		f := filepath.Join(tmp, fmt.Sprintf("in_%d.bin", i))
		if err := os.WriteFile(f, t.Data, 0o644); err != nil {
			return nil, err
		}
		req.Feeds = append(req.Feeds, wireTensor{Name: t.Name, Elem: int32(t.Elem), Dims: append([]int64{}, t.Dims...), File: f}) // [] for a scalar, not null
	}
	in, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Compile the whole WebAssembly module when it loads, once, with no
	// tier-up later (V8 otherwise compiles kernels lazily and recompiles
	// hot ones in the background during the measured run, tens of MiB of
	// code the peak would count); --expose-gc lets the runner collect the
	// JavaScript heap before it measures.
	cmd := exec.CommandContext(ctx, "node", "--no-wasm-lazy-compilation", "--no-wasm-tier-up", "--no-wasm-dynamic-tiering", "--expose-gc", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := ort.RunChild(cmd)
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("training runtime: %s did not finish within %v (killed)", filepath.Base(model), timeout)
	}
	var rep reply
	line := ort.LastLine(stdout.String())
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		msg := ort.LastLine(stderr.String())
		if msg == "" {
			msg = fmt.Sprint(runErr)
		}
		return nil, fmt.Errorf("training runtime: %s: %s", filepath.Base(model), msg)
	}
	if rep.Error != "" {
		return nil, fmt.Errorf("training runtime: %s: %s", filepath.Base(model), kernelHint(rep.Error))
	}
	if runErr != nil {
		return nil, fmt.Errorf("training runtime: %s: %v", filepath.Base(model), runErr)
	}
	res := &Result{Seconds: rep.Seconds, PeakBytes: rep.PeakBytes, SessionBytes: rep.SessionBytes, Deterministic: rep.Deterministic}
	for _, t := range feeds {
		res.FedBytes += int64(len(t.Data))
	}
	for _, o := range rep.Outputs {
		data, err := os.ReadFile(o.File)
		if err != nil {
			return nil, err
		}
		res.Outputs = append(res.Outputs, ort.Tensor{Name: o.Name, Elem: onnxpb.TensorProto_DataType(o.Elem), Dims: o.Dims, Data: data})
	}
	return res, nil
}

// kernelHint shortens ORT's message for an op it has no kernel for.
func kernelHint(msg string) string {
	if i := strings.Index(msg, "Could not find an implementation for "); i >= 0 {
		return "no kernel in ONNX Runtime's training build: " + msg[i+len("Could not find an implementation for "):]
	}
	return msg
}
