package onnx

import (
	"github.com/onnx-recompute/recompute/internal/testenv"
	"os"
	"path/filepath"
	"testing"
)

// findCorpus returns ../shared/corpus relative to the repository root, or
// $RECOMPUTE_CORPUS when set, and whether it exists.
func findCorpus() (string, bool) {
	dir := os.Getenv("RECOMPUTE_CORPUS")
	if dir == "" {
		root, err := os.Getwd()
		if err != nil {
			return "", false
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				return "", false
			}
			root = parent
		}
		dir = filepath.Join(root, "..", "shared", "corpus")
	}
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// corpusFile returns the path of a corpus file, skipping the test when the
// corpus is absent.
func corpusFile(t testing.TB, rel string) string {
	t.Helper()
	dir, ok := findCorpus()
	if !ok {
		testenv.Missing(t, "corpus ../shared/corpus absent (set RECOMPUTE_CORPUS): skipping")
	}
	return filepath.Join(dir, rel)
}

const testdataDir = "/usr/share/libonnx-testdata/data"

// modelFiles lists every .onnx file under the corpus and every model.onnx
// under libonnx-testdata that is present; it skips when neither is.
func modelFiles(t testing.TB) (corpus, testdata []string) {
	t.Helper()
	if dir, ok := findCorpus(); ok {
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && filepath.Ext(p) == ".onnx" {
				corpus = append(corpus, p)
			}
			return nil
		})
	} else {
		t.Logf("corpus ../shared/corpus absent (set RECOMPUTE_CORPUS); testing libonnx-testdata only")
	}
	if _, err := os.Stat(testdataDir); err == nil {
		filepath.WalkDir(testdataDir, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && e.Name() == "model.onnx" {
				testdata = append(testdata, p)
			}
			return nil
		})
	} else {
		t.Logf("%s absent (apt-get install libonnx-testdata)", testdataDir)
	}
	if len(corpus) == 0 && len(testdata) == 0 {
		testenv.Missing(t, "neither ../shared/corpus nor %s is present: skipping", testdataDir)
	}
	return corpus, testdata
}
