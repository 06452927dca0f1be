package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
)

// withBigRawBytes runs f with the no-copy threshold set to n.
func withBigRawBytes(t testing.TB, n int) {
	old := bigRawBytes
	bigRawBytes = n
	t.Cleanup(func() { bigRawBytes = old })
}

// withMapMinBytes runs f with the file size from which Load maps set to n.
func withMapMinBytes(t testing.TB, n int64) {
	old := mapMinBytes
	mapMinBytes = n
	t.Cleanup(func() { mapMinBytes = old })
}

// TestNoCopyPathRoundTrip forces every raw_data tensor through the no-copy
// Load (from a mapped file and from a file read into memory) and chunked
// Save and requires the same bytes as the file and as proto.Marshal, and
// the same message as a plain Unmarshal.
func TestNoCopyPathRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mapMin int64
	}{{"mapped", 1}, {"read", 1 << 62}} {
		t.Run(tc.name, func(t *testing.T) {
			withMapMinBytes(t, tc.mapMin)
			noCopyRoundTrip(t)
		})
	}
}

func noCopyRoundTrip(t *testing.T) {
	withBigRawBytes(t, 1)
	corpus, testdata := modelFiles(t)
	out := filepath.Join(t.TempDir(), "out.onnx")
	n := 0
	for _, path := range append(corpus, testdata...) {
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := Decode(orig)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(m.Proto, plain.Proto) {
			t.Errorf("%s: no-copy Load differs from proto.Unmarshal", path)
			continue
		}
		if err := m.Save(out); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, orig) {
			t.Errorf("%s: chunked Save differs from the file at byte %d", path, firstDiff(got, orig))
			continue
		}
		n++
	}
	t.Logf("%d models byte-identical through the no-copy path", n)
}

// marshalAndSave returns proto.Marshal of m (what Save must write) and
// the path of m saved into the test's temp dir.
func marshalAndSave(t *testing.T, m *Model) ([]byte, string) {
	t.Helper()
	want, err := proto.Marshal(m.Proto)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	return want, path
}

// The generated benchmark model (many 4 MiB tensors, plus a small one) must
// save to the bytes proto.Marshal gives, and Load must alias, not copy.
func TestNoCopyGeneratedModel(t *testing.T) {
	m := generatedModel(12, int64(3*bigRawBytes+5))
	m.Proto.Graph.Initializer[1].RawData[7] = 42
	want, path := marshalAndSave(t, m)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Save differs from proto.Marshal at byte %d", firstDiff(got, want))
	}
	data := append([]byte(nil), want...)
	lm, err := decodeOwned(data)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(lm.Proto, m.Proto) {
		t.Fatal("decodeOwned result differs")
	}
	raw := lm.Proto.Graph.Initializer[1].RawData
	if len(raw) < bigRawBytes || raw[7] != 42 {
		t.Fatalf("initializer 1 raw_data wrong: %d bytes", len(raw))
	}
	// Aliasing: the tensor's bytes live inside the input buffer.
	data[bytes.Index(data, raw[:16])+7] = 43
	if raw[7] != 43 {
		t.Error("large raw_data was copied, not aliased")
	}
}

// Odd inputs (repeated graph or raw_data fields) fall back to a plain
// Unmarshal and still decode like it.
func TestNoCopyFallback(t *testing.T) {
	withBigRawBytes(t, 1)
	m := generatedModel(3, 0)
	b, err := proto.Marshal(m.Proto)
	if err != nil {
		t.Fatal(err)
	}
	doubled := append(append([]byte(nil), b...), b...) // every field twice: proto merge semantics
	lm, err := decodeOwned(append([]byte(nil), doubled...))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Decode(doubled)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(lm.Proto, plain.Proto) {
		t.Error("fallback decode differs from proto.Unmarshal")
	}
}

// A mapped model stays valid when its file is replaced by Save (a rename):
// the mapping keeps the old contents.
func TestMappedModelSurvivesReplace(t *testing.T) {
	withMapMinBytes(t, 1)
	withBigRawBytes(t, 16)
	m := generatedModel(3, 4096)
	want, path := marshalAndSave(t, m)
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	other := generatedModel(1, 64)
	if err := other.Save(path); err != nil { // replaces the file under the mapping
		t.Fatal(err)
	}
	got, err := proto.Marshal(loaded.Proto)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("mapped model changed when its file was replaced (first difference at byte %d)", firstDiff(got, want))
	}
}
