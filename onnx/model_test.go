package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Save replaces the target in one step and leaves no temporary files; a
// failed Save leaves the old file as it was.
func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := tinyModel()
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	want, _ := m.Encode()
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, want) {
		t.Error("saved bytes differ from Encode")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Save, want 1 (no temporary files left)", len(entries))
	}
	// Failures: the target is a directory; the directory does not exist.
	sub := filepath.Join(dir, "sub.onnx")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{sub, filepath.Join(dir, "missing", "m.onnx")} {
		err := m.Save(bad)
		if err == nil || !strings.Contains(err.Error(), "save "+bad) {
			t.Errorf("Save(%s) = %v, want an error naming the path", bad, err)
		}
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("failed saves left files behind: %d entries", len(entries))
	}
	if st, err := os.Stat(sub); err != nil || !st.IsDir() {
		t.Error("failed Save damaged the directory it could not replace")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.onnx")
	os.WriteFile(empty, nil, 0o644)
	nograph := filepath.Join(dir, "nograph.onnx")
	os.WriteFile(nograph, []byte{0x08, 0x07}, 0o644) // ir_version 7 only
	for _, tt := range []struct{ path, want string }{
		{empty, "empty file"},
		{nograph, "no graph"},
		{dir, "is a directory"},
		{filepath.Join(dir, "absent.onnx"), "absent.onnx: no such file or directory"},
	} {
		_, err := Load(tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "load "+tt.path+": ") {
			t.Errorf("Load(%s) = %v, want \"load %s: …%s…\"", tt.path, err, tt.path, tt.want)
		}
	}
}
