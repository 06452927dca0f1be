package ort

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// NodeTimes are the kernel times of one model's nodes in one ONNX Runtime
// session: what `--cost ort` prices recomputation with, since FLOPs do not
// predict time for memory-bound ops (issue "Plans that hold on the real
// runtime"). They are taken from ORT's own profile (Options.Profile).
type NodeTimes struct {
	Model   string             `json:"model"`         // the file profiled, or the profile read
	Session string             `json:"session"`       // Options.String of the profiling session
	Runs    int                `json:"runs"`          // warm-up runs before the profiled one
	Key     string             `json:"key,omitempty"` // the sizes it was taken at, for a cache
	Micros  map[string]float64 `json:"node_micros"`
}

// SettleRuns is how many warm-up runs a session needs before its kernel
// times are those of a training loop's later steps. With the CPU arena
// and memory pattern on, the first run grows the arena and the second
// allocates the memory pattern's block, whose pages are first touched by
// whichever kernels write them: in the second run of a ResNet-50 batch-8
// training graph the BatchNorm shift Adds took 68-83 ms each against
// 1.6-1.8 ms from the third run on, and all kernels 6.8 s against 4.4 s
// (ORT 1.30, default session options).
const SettleRuns = 2

// ProfileNodeTimes runs modelPath in this process warm times and once more
// with ORT's profiler on, and returns each node's kernel time in that last
// run. opt.Profile is forced on. warm < SettleRuns prices first-touch
// page faults as kernel time (see SettleRuns).
func ProfileNodeTimes(modelPath string, inputs []Tensor, opt Options, warm int) (*NodeTimes, error) {
	opt.Profile = true
	s, err := NewSession(modelPath, nil, nil, opt)
	if err != nil {
		return nil, err
	}
	for r := 0; r <= warm; r++ {
		if _, err := s.Run(inputs); err != nil {
			s.Close()
			return nil, err
		}
	}
	if _, err := s.Close(); err != nil {
		return nil, err
	}
	opt.Profile = false
	return timesOf(modelPath, opt.String(), warm, s.Timings()), nil
}

func timesOf(model, session string, warm int, ts []NodeTiming) *NodeTimes {
	t := &NodeTimes{Model: model, Session: session, Runs: warm, Micros: map[string]float64{}}
	for _, n := range ts {
		t.Micros[n.Name] += float64(n.Micros)
	}
	return t
}

// ReadNodeTimes reads node times from path: the JSON WriteNodeTimes writes,
// or a profile ONNX Runtime wrote (SessionOptions.enable_profiling; its
// last model_run counts), for example one recorded in the user's own
// training session.
func ReadNodeTimes(path string) (*NodeTimes, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if d := bytes.TrimSpace(data); len(d) > 0 && d[0] == '[' {
		ts, err := ParseProfileTimings(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(ts) == 0 {
			return nil, fmt.Errorf("%s: the profile has no kernel events (\"<node>_kernel_time\")", path)
		}
		return timesOf(path, "as recorded in the profile", 0, ts), nil
	}
	var t NodeTimes
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("%s: want node times (recompute's cache) or an ONNX Runtime profile: %w", path, err)
	}
	if len(t.Micros) == 0 {
		return nil, fmt.Errorf("%s: no node times", path)
	}
	return &t, nil
}

// WriteNodeTimes saves t as JSON at path (through a temporary file, so a
// reader never sees half of it).
func WriteNodeTimes(path string, t *NodeTimes) error {
	data, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
