package autodiff

import (
	"github.com/onnx-recompute/recompute/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
)

// corpusDir is ../shared/corpus relative to the repository root.
func corpusDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		testenv.Missing(t, "corpus %s absent: %v", dir, err)
	}
	return dir
}

// forwardModels lists the corpus forward models autodiff must handle.
func forwardModels(t testing.TB) []string {
	dir := corpusDir(t)
	zoo, _ := filepath.Glob(filepath.Join(dir, "zoo", "*.onnx"))
	fw, _ := filepath.Glob(filepath.Join(dir, "train", "*_forward.onnx"))
	return append(zoo, fw...)
}

// checkModel runs onnx.checker.check_model(full_check=True) with Debian's
// python3-onnx on the file.
func checkModel(t *testing.T, path string) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		testenv.Missing(t, "%s absent: cannot run onnx.checker", py)
	}
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		testenv.Missing(t, "python3-onnx not installed for %s", py)
	}
	out, err := exec.Command(py, "-c", `
import sys, onnx
onnx.checker.check_model(sys.argv[1], full_check=True)
`, path).CombinedOutput()
	if err != nil {
		t.Errorf("onnx.checker %s: %v\n%s", filepath.Base(path), err, lastLines(string(out), 5))
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func TestCorpusBuildAndCheck(t *testing.T) {
	for _, path := range forwardModels(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			tm, err := Build(m, Options{})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			out := filepath.Join(t.TempDir(), "train.onnx")
			if err := tm.Save(out); err != nil {
				t.Fatal(err)
			}
			standInExternalData(t, tm, filepath.Dir(out))
			checkModel(t, out)
		})
	}
}

// standInExternalData creates sparse zero files for external data the
// training graph references (the corpus's resnet18 weights file is absent on
// purpose), so the checker's full_check can find them.
func standInExternalData(t *testing.T, m *onnx.Model, dir string) {
	size := map[string]int64{}
	for _, init := range m.Proto.Graph.Initializer {
		if !onnx.IsExternal(init) {
			continue
		}
		ref, err := onnx.External(init)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := onnx.NumElements(init.Dims)
		b, _ := onnx.DataBytes(init.GetDataType(), n)
		end := ref.Offset + b
		if ref.Length >= 0 {
			end = ref.Offset + ref.Length
		}
		size[ref.Location] = max(size[ref.Location], end)
	}
	for loc, n := range size {
		f, err := os.Create(filepath.Join(dir, loc))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(n); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}
