package main

import (
	"bytes"
	"flag"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/internal/testenv"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// -update rewrites golden files. Registered in init (after every
// package-level var) and only if no other test file of this package
// registered it already.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata")
	}
}

func mtUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// mtRun runs the CLI in process and returns its exit status and output.
func mtRun(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// mtCorpus returns the path of a file under ../shared/corpus (relative to
// the repository root; $RECOMPUTE_CORPUS overrides), skipping the test when
// the corpus is absent.
func mtCorpus(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("RECOMPUTE_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpus") // from cmd/recompute
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		testenv.Missing(t, "corpus %s absent (set RECOMPUTE_CORPUS): skipping", dir)
	}
	return filepath.Join(dir, rel)
}

// mtSmallModel is a valid 3-node model built in code, so the tests below do
// not depend on the corpus.
func mtSmallModel(t testing.TB) []byte {
	t.Helper()
	g := build.New("small")
	g.Input("x", onnxpb.TensorProto_FLOAT, []int64{2, 8})
	a := g.Op("Relu", "a", []string{"x"})
	b := g.Op("Relu", "b", []string{a})
	c := g.Op("Add", "c", []string{a, b})
	g.Output(c, onnxpb.TensorProto_FLOAT, []int64{2, 8})
	data, err := (&onnx.Model{Proto: build.Model(g.G, 17)}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdoutHas  string
		stderrHas  string
		stdoutNone bool
	}{
		{args: []string{"help"}, code: 0, stdoutHas: "inspect"},
		{args: []string{"--help"}, code: 0, stdoutHas: "Commands:"},
		{args: []string{"-h"}, code: 0, stdoutHas: "Commands:"},
		{args: []string{"--version"}, code: 0, stdoutHas: "recompute " + version},
		{args: []string{"version"}, code: 0, stdoutHas: "recompute " + version},
		{args: nil, code: 2, stderrHas: "Usage:", stdoutNone: true},
		{args: []string{"frobnicate"}, code: 2, stderrHas: `unknown command "frobnicate"`, stdoutNone: true},
		{args: []string{"inspect", "--help"}, code: 0, stderrHas: "Usage: recompute inspect MODEL"},
		{args: []string{"help", "inspect"}, code: 0, stderrHas: "--dim"},
		{args: []string{"inspect"}, code: 2, stderrHas: "one MODEL argument", stdoutNone: true},
		{args: []string{"inspect", "a.onnx", "b.onnx"}, code: 2, stderrHas: "got 2", stdoutNone: true},
		{args: []string{"inspect", "--frob", "a.onnx"}, code: 2, stderrHas: "unknown flag: --frob", stdoutNone: true},
		{args: []string{"inspect", "--dim", "N", "a.onnx"}, code: 2, stderrHas: `--dim "N": want NAME=N`, stdoutNone: true},
		{args: []string{"inspect", "--dim", "N=-3", "a.onnx"}, code: 2, stderrHas: "positive integer", stdoutNone: true},
		{args: []string{"inspect", "--batch", "-1", "a.onnx"}, code: 2, stderrHas: "--batch -1", stdoutNone: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := mtRun(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.stdoutHas) {
				t.Errorf("stdout %q lacks %q", stdout, tt.stdoutHas)
			}
			if !strings.Contains(stderr, tt.stderrHas) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderrHas)
			}
			if tt.stdoutNone && stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
		})
	}
}

// TestInspectBadInput: a file that is not a usable model gives one line on
// stderr naming the file and the cause, exit status 1, nothing on stdout.
func TestInspectBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	random := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(random)
	good := mtSmallModel(t)
	cycle := func() []byte {
		g := build.New("cycle")
		g.Input("x", onnxpb.TensorProto_FLOAT, []int64{2})
		g.Node("Add", "A", []string{"x", "b"}, []string{"a"})
		g.Node("Relu", "B", []string{"a"}, []string{"b"})
		g.Output("b", onnxpb.TensorProto_FLOAT, []int64{2})
		d, _ := (&onnx.Model{Proto: build.Model(g.G, 17)}).Encode()
		return d
	}()
	dangling := func() []byte {
		g := build.New("dangling")
		g.Input("x", onnxpb.TensorProto_FLOAT, []int64{2})
		g.Node("Add", "A", []string{"x", "ghost"}, []string{"a"})
		g.Output("a", onnxpb.TensorProto_FLOAT, []int64{2})
		d, _ := (&onnx.Model{Proto: build.Model(g.G, 17)}).Encode()
		return d
	}()
	tests := []struct {
		name, path, cause string
	}{
		{"empty file", write("empty.onnx", nil), "empty file"},
		{"random bytes", write("random.onnx", random), "not an ONNX model"},
		{"truncated model", write("truncated.onnx", good[:len(good)*2/3]), "not an ONNX model"},
		{"text file", write("notes.onnx", []byte("hello, this is not protobuf\n")), "not an ONNX model"},
		{"directory", dir, "is a directory"},
		{"missing path", filepath.Join(dir, "absent.onnx"), "no such file or directory"},
		{"cycle", write("cycle.onnx", cycle), `cycle through node "A"`},
		{"value without producer", write("dangling.onnx", dangling), `value "ghost" read by node "A"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, extra := range [][]string{nil, {"--json"}} {
				code, stdout, stderr := mtRun(append([]string{"inspect", tt.path}, extra...)...)
				if code != 1 {
					t.Errorf("exit %d, want 1 (stderr %q)", code, stderr)
				}
				if stdout != "" {
					t.Errorf("stdout not empty: %q", stdout)
				}
				if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
					t.Errorf("stderr is not exactly one line: %q", stderr)
				}
				if !strings.Contains(stderr, tt.path) || !strings.Contains(stderr, tt.cause) {
					t.Errorf("stderr %q should name %s and %q", stderr, tt.path, tt.cause)
				}
			}
		})
	}
	// A real model cut at several points, if the corpus is present.
	p := filepath.Join("..", "..", "..", "shared", "corpus", "train", "lenet_training_model.onnx")
	if d := os.Getenv("RECOMPUTE_CORPUS"); d != "" {
		p = filepath.Join(d, "train", "lenet_training_model.onnx")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Logf("corpus absent; truncation of a real model not tested")
		return
	}
	for _, frac := range []int{1, 10, 50, 90, 99} {
		tp := write("cut.onnx", data[:len(data)*frac/100])
		code, stdout, stderr := mtRun("inspect", tp)
		if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tp) {
			t.Errorf("lenet cut at %d%%: exit %d, stdout %q, stderr %q", frac, code, stdout, stderr)
		}
	}
}
