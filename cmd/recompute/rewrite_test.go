package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/internal/testenv"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/planner"
	"google.golang.org/protobuf/proto"
)

// corpusDir is ../shared/corpus relative to the repository root, or "" (the
// test is skipped) if it is absent.
func rwCorpus(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus", sub)
	if _, err := os.Stat(dir); err != nil {
		testenv.Missing(t, "corpus %s absent (%v); these tests read the real ONNX files under ../shared/corpus", dir, err)
	}
	return dir
}

// rwRun runs the CLI in process and returns exit status, stdout, stderr.
func rwRun(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func rwMeta(t testing.TB, path string) map[string]string {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	md := map[string]string{}
	for _, p := range m.Proto.MetadataProps {
		md[p.GetKey()] = p.GetValue()
	}
	return md
}

// rwLoadGraph loads the main graph of the model at path.
func rwLoadGraph(t testing.TB, path string) *onnxpb.GraphProto {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m.Proto.GetGraph()
}

func rwCopy(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rwChecker runs onnx.checker on out in every mode in passes (see
// rewrite/testdata/check.py), or skips if Debian's python3-onnx is missing.
func rwChecker(t *testing.T, in, out string) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		testenv.Missing(t, "%s", "onnx.checker needs /usr/bin/python3 with Debian python3-onnx")
	}
	res, err := exec.Command("/usr/bin/python3", "../../rewrite/testdata/check.py", in, out).CombinedOutput()
	if strings.Contains(string(res), "No module named 'onnx'") {
		testenv.Missing(t, "%s", "onnx.checker needs Debian python3-onnx")
	}
	if err != nil {
		t.Errorf("onnx.checker on %s: %v\n%s", out, err, res)
	}
}

// Every ONNX Runtime training artifact of the corpus (at batch 8, which
// binds the symbolic batches) rewrites at its smallest
// peak, passes the onnx.checker checks its input passes, and its simulated
// transient peak drops, or, where the smallest feasible peak is the
// original's (cct: the forward Conv→Relu pair holds both 64 KiB tensors),
// the rewrite says so and writes the graph unchanged.
func TestRewriteCorpusTraining(t *testing.T) {
	dir := rwCorpus(t, "train")
	files, _ := filepath.Glob(filepath.Join(dir, "*_training_model.onnx"))
	if len(files) == 0 {
		t.Fatalf("no training artifacts in %s", dir)
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.onnx")
			code, stdout, stderr := rwRun(t, "rewrite", in, "-o", out, "--objective", "memory", "--batch", "8")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			t.Log(stdout)
			md := rwMeta(t, out)
			before, _ := strconv.ParseInt(md["recompute.original_peak_bytes"], 10, 64)
			after, _ := strconv.ParseInt(md["recompute.simulated_peak_bytes"], 10, 64)
			if after <= 0 || after > before {
				t.Errorf("simulated peak %d, original %d: want lower", after, before)
			}
			if after == before {
				// Only when nothing can be lowered: the smallest feasible
				// peak (the planner's answer to an impossible budget) is
				// the original's, and the nodes are the input's.
				// The planner works in the base order (ORT's, where that
				// is lower than the file's), so its smallest feasible peak
				// is the unchanged graph's peak in that order: the planned
				// peak, which is at most the file order's.
				planned, _ := strconv.ParseInt(md["recompute.planned_peak_bytes"], 10, 64)
				if planned <= 0 || planned > before {
					t.Errorf("unchanged graph: planned peak %d, file order's %d", planned, before)
				}
				_, _, stderr := rwRun(t, "rewrite", in, "-o", filepath.Join(t.TempDir(), "x.onnx"), "--budget", "1B", "--batch", "8")
				if want := fmt.Sprintf("smallest feasible transient peak %s (%d bytes)", planner.HumanBytes(planned), planned); !strings.Contains(stderr, want) {
					t.Errorf("peak not lowered (%d bytes planned), but the smallest feasible is not it: %s", planned, stderr)
				}
				if !strings.Contains(stdout, "unchanged") {
					t.Errorf("peak not lowered, report does not say the graph is unchanged")
				}
				a, b := rwLoadGraph(t, in), rwLoadGraph(t, out)
				if len(a.GetNode()) != len(b.GetNode()) || len(b.GetInitializer()) != len(a.GetInitializer()) {
					t.Fatalf("unchanged rewrite: %d -> %d nodes, %d -> %d initializers", len(a.GetNode()), len(b.GetNode()), len(a.GetInitializer()), len(b.GetInitializer()))
				}
				for i := range a.GetNode() {
					if !proto.Equal(a.GetNode()[i], b.GetNode()[i]) {
						t.Errorf("unchanged rewrite: node %d differs: %v -> %v", i, a.GetNode()[i], b.GetNode()[i])
					}
				}
				rwChecker(t, in, out)
				return
			}
			// `recompute inspect` sees the drop. inspect counts the output
			// of an ordering guard's Reshape as a copy where ORT (measured)
			// and rewrite alias it, so compare without guards.
			plain := filepath.Join(t.TempDir(), "plain.onnx")
			if code, _, stderr := rwRun(t, "rewrite", in, "-o", plain, "--objective", "memory", "--ort-guard=false", "--batch", "8"); code != 0 {
				t.Fatalf("rewrite --ort-guard=false: exit %d: %s", code, stderr)
			}
			plainAfter, _ := strconv.ParseInt(rwMeta(t, plain)["recompute.simulated_peak_bytes"], 10, 64)
			if a, b := rwInspectPeak(t, in, "--batch", "8"), rwInspectPeak(t, plain, "--batch", "8"); b >= a || b != plainAfter {
				t.Errorf("inspect transient peak %d -> %d, rewrite simulated %d", a, b, plainAfter)
			}
			rwChecker(t, in, out)
		})
	}
}

// Bad input: a one-line error, exit status 1, and no output file.
func TestRewriteBadInput(t *testing.T) {
	dir := rwCorpus(t, "train")
	tmp := t.TempDir()
	model := filepath.Join(tmp, "model.onnx")
	rwCopy(t, filepath.Join(dir, "mlp_training_model.onnx"), model)
	link := filepath.Join(tmp, "link.onnx")
	if err := os.Symlink(model, link); err != nil {
		t.Fatal(err)
	}
	fwd := filepath.Join(dir, "mlp_forward.onnx")
	out := filepath.Join(tmp, "out.onnx")
	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, model)
	for _, tc := range []struct {
		name string
		args []string
		want string
		out  string // must not exist afterwards ("" = out)
	}{
		{"out is model", []string{model, "-o", model}, "is the input model", model},
		{"out is model via symlink", []string{link, "-o", model}, "is the input model", model},
		{"out is model via relative path", []string{model, "-o", rel}, "is the input model", model},
		{"unwritable directory", []string{model, "-o", "/proc/out.onnx"}, "output /proc/out.onnx", ""},
		{"infeasible budget", []string{model, "-o", out, "--budget", "1B", "--batch", "8"}, "smallest feasible", ""},
		{"unknown sizes", []string{model, "-o", out}, "symbolic dimension batch_size not bound", ""},
		{"forward only", []string{fwd, "-o", out}, "--grad", ""},
		{"corrupt", []string{filepath.Join(tmp, "link.onnx") + ".missing", "-o", out}, "no such file", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(model)
			code, stdout, stderr := rwRun(t, append([]string{"rewrite"}, tc.args...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1 (stdout %q)", code, stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want one line containing %q", stderr, tc.want)
			}
			if tc.out == model {
				if after, _ := os.ReadFile(model); !bytes.Equal(before, after) {
					t.Error("the input model changed")
				}
			} else if _, err := os.Stat(out); err == nil {
				t.Error("an output file was written")
				os.Remove(out)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 2 {
				t.Errorf("temporary files left behind: %v", ents)
			}
		})
	}
}

func TestRewriteUsage(t *testing.T) {
	for _, args := range [][]string{{"rewrite"}, {"rewrite", "x.onnx"}, {"rewrite", "a", "b", "-o", "c"}, {"rewrite", "x", "-o", "y", "--budget", "abc"}} {
		if code, _, stderr := rwRun(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}

// rwInspectPeak is the file-order transient peak `recompute inspect --json`
// reports for path.
func rwInspectPeak(t *testing.T, path string, flags ...string) int64 {
	t.Helper()
	code, stdout, stderr := rwRun(t, append([]string{"inspect", path, "--json"}, flags...)...)
	if code != 0 {
		t.Fatalf("inspect %s: exit %d: %s", path, code, stderr)
	}
	var r struct {
		Peak struct {
			TransientBytes int64 `json:"transient_bytes"`
		} `json:"peak"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("inspect --json: %v", err)
	}
	return r.Peak.TransientBytes
}
