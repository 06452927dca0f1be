package onnx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Model is a decoded ONNX model. Proto is the full ModelProto; fields this
// package does not know survive as unknown fields.
type Model struct {
	Proto *onnxpb.ModelProto
	// Path is the file the model was loaded from ("" when decoded from bytes).
	// External tensor data is resolved relative to its directory.
	Path string
}

// mapMinBytes is the file size from which Load maps the file instead of
// reading it. A variable so tests can map small files.
var mapMinBytes int64 = 16 << 20

// Load reads and decodes the model at path. External weight files are not
// opened; see TensorBytes. Large raw_data of initializers is not copied out
// of the file (see bigdata.go).
//
// A file of 16 MiB or more is memory-mapped copy-on-write (on Unix) when it
// has such raw_data: the weights are read from disk only when touched (Save
// streams them out), they do not count toward the Go heap, and the mapping
// lives as long as the process, because any model derived from this one may
// share its tensors. Replacing the file with a new one (as Save does, by
// rename) is safe; truncating it in place while the model is in use is not.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, unwrapPath(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("load %s: is a directory, not an .onnx file", path)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("load %s: not an ONNX model: empty file", path)
	}
	if st.Size() >= mapMinBytes && st.Mode().IsRegular() {
		if data, ok := mapFile(f, st.Size()); ok {
			m, aliased, err := decodeMapped(data)
			if !aliased {
				unmapFile(data) // nothing points into it
			}
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", path, err)
			}
			m.Path = path
			return m, nil
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, unwrapPath(err))
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("load %s: not an ONNX model: empty file", path)
	}
	m, err := decodeOwned(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

// Decode decodes a serialized ModelProto.
func Decode(data []byte) (*Model, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("not an ONNX model: empty input")
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("not an ONNX model: truncated or not protobuf (%v)", err)
	}
	if mp.Graph == nil {
		return nil, fmt.Errorf("not an ONNX model: no graph")
	}
	return &Model{Proto: mp}, nil
}

// Encode serializes the model.
func (m *Model) Encode() ([]byte, error) {
	return proto.MarshalOptions{}.Marshal(m.Proto)
}

// Save writes the model to path atomically: it writes a temporary file in the
// same directory and renames it, so a failure never leaves a partial file.
// The bytes are those of Encode; large initializer data is written straight
// from memory, not copied into one buffer first.
func (m *Model) Save(path string) error {
	chunks, err := m.encodeChunks()
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return writeChunksAtomic(path, chunks)
}

// WriteFileAtomic writes data to a temporary file beside path and renames it
// over path.
func WriteFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// unwrapPath drops the *fs.PathError wrapper (whose message repeats the
// path) so that messages name the file once: "load m.onnx: no such file or
// directory". errors.Is still sees the underlying error.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
