package recompute

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// --shard K/N splits any list of files into N disjoint parts that cover it,
// and a file's part does not change when other files come and go.
func TestConvertShardPick(t *testing.T) {
	var files []string
	for i := range 200 {
		files = append(files, fmt.Sprintf("dir%d/model_%d.onnx", i%7, i))
	}
	for _, n := range []int{1, 2, 3, 8} {
		count := map[string]int{}
		for k := range n {
			sh, err := parseShard(fmt.Sprintf("%d/%d", k, n))
			if err != nil {
				t.Fatal(err)
			}
			part := sh.pick(files)
			if n > 1 && (len(part) < len(files)/n/2 || len(part) > 2*len(files)/n) {
				t.Errorf("shard %d/%d has %d of %d files", k, n, len(part), len(files))
			}
			for _, f := range part {
				count[f]++
			}
			// Stable: the shard of a file does not depend on the others.
			if got := sh.pick(files[len(files)/2:]); len(got) > 0 && !slices.Contains(part, got[0]) {
				t.Errorf("shard %d/%d: %s moved when the list shrank", k, n, got[0])
			}
		}
		for _, f := range files {
			if count[f] != 1 {
				t.Errorf("N=%d: %s in %d shards", n, f, count[f])
			}
		}
	}
	for _, bad := range []string{"3/3", "-1/3", "0/0", "1", "a/b", "1/2/3"} {
		if _, err := parseShard(bad); err == nil {
			t.Errorf("parseShard(%q) accepted", bad)
		}
	}
}

func TestConvertListSkipsOutDir(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.onnx", "sub/b.ONNX", "out/c.onnx", "notes.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	files, err := convertList(dir, filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(files, ","); got != "a.onnx,sub/b.ONNX" {
		t.Errorf("files %s", got)
	}
}
