package ops

import (
	"bufio"
	"bytes"
	"encoding/json"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

const (
	systemPython = "/usr/bin/python3"
	testdataDir  = "/usr/share/libonnx-testdata/data"
)

// repoRoot walks up from the package directory to go.mod.
func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// corpusFiles lists the .onnx files of ../shared/corpus (relative to the
// repository root), skipping the test if the corpus is absent.
func corpusFiles(t testing.TB) []string {
	dir := filepath.Join(repoRoot(t), "..", "shared", "corpus")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.onnx"))
	if len(files) == 0 {
		testenv.Missing(t, "corpus not found at %s (it lives beside the repository); skipping", dir)
	}
	return files
}

func requireOnnxPython(t testing.TB) {
	if out, err := exec.Command(systemPython, "-c", "import onnx").CombinedOutput(); err != nil {
		testenv.Missing(t, "%s cannot import onnx (apt-get install python3-onnx): %v %s", systemPython, err, bytes.TrimSpace(out))
	}
}

// RefModel is one model's reference shapes.
type RefModel = refModel

type refModel struct {
	Path   string                        `json:"path"`
	Values map[string][2]json.RawMessage `json:"values"`
	Error  string                        `json:"error"`
}

// referenceShapes runs testdata/refshapes.py on the given models.
func referenceShapes(t *testing.T, paths []string, batch string) map[string]refModel {
	cmd := exec.Command(systemPython, filepath.Join("testdata", "refshapes.py"), "--batch", batch)
	cmd.Stdin = strings.NewReader(strings.Join(paths, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("refshapes.py: %v: %s", err, stderr.String())
	}
	res := map[string]refModel{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m refModel
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("refshapes.py output: %v", err)
		}
		res[m.Path] = m
	}
	return res
}

// referenceAllowList holds disagreements with onnx 1.12's shape inference
// that are onnx's mistakes or version differences, keyed "model dir:value"
// with the reason. It is empty: no model of the corpus or libonnx-testdata
// disagrees. (One known difference has no test model here: MaxPool with
// ceil_mode drops a window that would start in the right padding, as
// PyTorch, ONNX 1.16+ and current ONNX Runtime do; onnx 1.12 keeps it.)
var referenceAllowList = map[string]string{}

// TestReferenceShapes compares our rules (without the file's value_info) to
// onnx.shape_inference on the corpus and every libonnx-testdata model:
// wherever both infer a static shape and element type, they must agree.
func TestReferenceShapes(t *testing.T) {
	requireOnnxPython(t)
	var paths []string
	if root := filepath.Join(repoRoot(t), "..", "shared", "corpus"); true {
		files, _ := filepath.Glob(filepath.Join(root, "*", "*.onnx"))
		if len(files) == 0 {
			t.Logf("corpus not found at %s; checking testdata models only", root)
		}
		paths = append(paths, files...)
	}
	td, _ := filepath.Glob(filepath.Join(testdataDir, "*", "*", "model.onnx"))
	if len(td) == 0 {
		t.Logf("%s has no models (apt-get install libonnx-testdata)", testdataDir)
	}
	paths = append(paths, td...)
	if len(paths) == 0 {
		testenv.Missing(t, "%s", "no models to compare")
	}
	ref := referenceShapes(t, paths, "1")
	var disagree []string
	compared, agreed, missing, refErrors := 0, 0, 0, 0
	missingByOp := map[string]int{}
	for _, p := range paths {
		rm, ok := ref[p]
		if !ok || rm.Error != "" {
			refErrors++
			continue
		}
		m, err := onnx.Load(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		r, err := infer(m, Options{Batch: 1}, false)
		if err != nil {
			t.Errorf("infer %s: %v", p, err)
			continue
		}
		producer := map[string]*onnxpb.NodeProto{}
		for _, n := range m.Proto.GetGraph().GetNode() {
			for _, o := range n.GetOutput() {
				producer[o] = n
			}
		}
		short := filepath.Base(filepath.Dir(p))
		if strings.HasPrefix(p, filepath.Join(repoRoot(t), "..")) {
			short = filepath.Base(p)
		}
		for name, v := range rm.Values {
			var elem int32
			var dims []int64
			if json.Unmarshal(v[0], &elem) != nil || json.Unmarshal(v[1], &dims) != nil {
				t.Fatalf("bad reference entry %s %s", p, name)
			}
			want := shaped(onnxpb.TensorProto_DataType(elem), dims)
			got, ok := r.Values[name]
			if !ok || !got.Static() || got.Elem == 0 {
				missing++
				if n := producer[name]; n != nil {
					missingByOp[OpKey(n)]++
				}
				continue
			}
			compared++
			if got.Elem == want.Elem && equalDims(got.Dims, want.Dims) {
				agreed++
				continue
			}
			k := short + ":" + name
			if _, ok := referenceAllowList[k]; ok {
				continue
			}
			op := "input"
			if n := producer[name]; n != nil {
				op = OpKey(n)
			}
			disagree = append(disagree, k+" ("+op+"): ours "+got.String()+", onnx "+want.String())
		}
	}
	sort.Strings(disagree)
	t.Logf("%d models (%d not inferable by onnx 1.12); %d values compared, %d agree; %d values onnx infers and we do not",
		len(paths), refErrors, compared, agreed, missing)
	if testing.Verbose() {
		type kv struct {
			k string
			n int
		}
		var ms []kv
		for k, n := range missingByOp {
			ms = append(ms, kv{k, n})
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].n > ms[j].n || ms[i].n == ms[j].n && ms[i].k < ms[j].k })
		for _, e := range ms {
			t.Logf("  not inferred: %-40s %d values", e.k, e.n)
		}
	}
	for _, d := range disagree {
		t.Errorf("disagreement: %s", d)
	}
}

func equalDims(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
