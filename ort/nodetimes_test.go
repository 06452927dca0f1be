package ort

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadNodeTimes reads the two files --cost ort:FILE takes: a profile
// ONNX Runtime wrote (its last model_run counts; a node's kernel events
// add up) and recompute's own cache; and refuses what is neither.
func TestReadNodeTimes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	profile := write("profile.json", `[
{"cat":"Session","dur":30,"ts":15,"ph":"X","name":"model_run","args":{}},
{"cat":"Node","dur":7,"ts":20,"ph":"X","name":"conv_kernel_time","args":{"op_name":"Conv"}},
{"cat":"Session","dur":100,"ts":55,"ph":"X","name":"model_run","args":{}},
{"cat":"Node","dur":3,"ts":60,"ph":"X","name":"conv_fence_before","args":{"op_name":"Conv"}},
{"cat":"Node","dur":40,"ts":61,"ph":"X","name":"conv_kernel_time","args":{"op_name":"Conv"}},
{"cat":"Node","dur":2,"ts":110,"ph":"X","name":"relu_kernel_time","args":{"op_name":"Relu"}},
{"cat":"Node","dur":1,"ts":120,"ph":"X","name":"relu_kernel_time","args":{"op_name":"Relu"}}
]`)
	cache := filepath.Join(dir, "m.onnx.ort-times.json")
	if err := WriteNodeTimes(cache, &NodeTimes{Model: "m.onnx", Session: "s", Runs: 1, Key: "batch 2", Micros: map[string]float64{"a": 1.5}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		want       map[string]float64
		err        string
	}{
		{"ORT profile", profile, map[string]float64{"conv": 40, "relu": 3}, ""},
		{"cache", cache, map[string]float64{"a": 1.5}, ""},
		{"no kernels", write("empty.json", `[{"cat":"Session","dur":1,"ts":1,"name":"model_run"}]`), nil, "no kernel events"},
		{"empty cache", write("c.json", `{"model":"m","node_micros":{}}`), nil, "no node times"},
		{"garbage", write("g.json", `{not json`), nil, "want node times"},
		{"missing", filepath.Join(dir, "nope.json"), nil, "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadNodeTimes(c.path)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want it to say %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Micros) != len(c.want) {
				t.Errorf("times %v, want %v", got.Micros, c.want)
			}
			for k, v := range c.want {
				if got.Micros[k] != v {
					t.Errorf("%s: %v µs, want %v", k, got.Micros[k], v)
				}
			}
		})
	}
}

// FuzzReadNodeTimes: any file gives node times or an error, never a panic,
// and times read are never empty.
func FuzzReadNodeTimes(f *testing.F) {
	f.Add(`[{"cat":"Session","dur":9,"ts":1,"name":"model_run"},{"cat":"Node","dur":4,"ts":2,"name":"a_kernel_time"}]`)
	f.Add(`{"model":"m","node_micros":{"a":1}}`)
	f.Add(`[`)
	f.Add(``)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(dir, "f.json")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadNodeTimes(p)
		if err == nil && len(got.Micros) == 0 {
			t.Errorf("no error and no times for %q", data)
		}
	})
}
