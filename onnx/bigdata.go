package onnx

import (
	"bufio"
	"fmt"
	"os"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Weights move without being copied by this package. protobuf-go copies
// every bytes field on Unmarshal and Marshal; for a model with hundreds of
// megabytes of raw_data those copies (and the allocation clearing behind
// them) cost more than reading and writing the file. So:
//   - Load strips large initializer raw_data fields from the wire bytes,
//     unmarshals the small rest, and points each tensor's RawData into the
//     file buffer (which the Model then owns).
//   - Save marshals everything except those large fields and writes the
//     pieces in wire order, the large ones straight from memory.
// The wire bytes are exactly those of proto.Marshal (fields in number order,
// unknown fields last), which the round-trip tests check with the threshold
// lowered to one byte.

// Field numbers in onnx.proto.
const (
	fieldModelGraph       = 7
	fieldGraphInitializer = 5
	fieldTensorRawData    = 9
)

// bigRawBytes is the raw_data size from which a tensor takes the no-copy
// path. A variable so tests can force every tensor through it.
var bigRawBytes = 1 << 16

// decodeOwned decodes data, which the caller hands over: large raw_data
// fields of graph initializers alias it instead of being copied.
func decodeOwned(data []byte) (*Model, error) {
	m, _, err := decodeMapped(data)
	return m, err
}

// decodeMapped is decodeOwned that also reports whether the model aliases
// data; when it does not, everything was copied out of data.
func decodeMapped(data []byte) (m *Model, aliased bool, err error) {
	if len(data) == 0 {
		return nil, false, fmt.Errorf("not an ONNX model: empty input")
	}
	if len(data) < bigRawBytes {
		m, err = Decode(data) // nothing large enough to be worth aliasing
		return m, false, err
	}
	stripped, blobs, ok := stripRawData(data)
	if !ok || len(blobs) == 0 {
		m, err = Decode(data)
		return m, false, err
	}
	m, err = Decode(stripped)
	if err != nil {
		// Report the error on the real bytes, not the rewritten ones.
		m, err = Decode(data)
		return m, false, err
	}
	inits := m.Proto.GetGraph().GetInitializer()
	for _, b := range blobs {
		if b.init >= len(inits) || inits[b.init].RawData != nil {
			m, err = Decode(data)
			return m, false, err
		}
		inits[b.init].RawData = b.raw[:len(b.raw):len(b.raw)]
	}
	return m, true, nil
}

type rawBlob struct {
	init int    // index in graph.initializer
	raw  []byte // aliases the input
}

// stripRawData rewrites a serialized ModelProto without the large raw_data
// fields of its graph initializers and returns them. ok is false when the
// input is not simple enough to rewrite faithfully (malformed, the graph
// field repeated, raw_data repeated in one tensor); callers then fall back
// to a plain Unmarshal.
func stripRawData(data []byte) (out []byte, blobs []rawBlob, ok bool) {
	out = make([]byte, 0, 4096)
	seenGraph := false
	for rest := data; len(rest) > 0; {
		num, typ, n, size, ok := nextField(rest)
		if !ok {
			return nil, nil, false
		}
		field := rest[:size]
		rest = rest[size:]
		if num != fieldModelGraph || typ != protowire.BytesType {
			out = append(out, field...)
			continue
		}
		if seenGraph {
			return nil, nil, false
		}
		seenGraph = true
		g, _ := protowire.ConsumeBytes(field[n:])
		ng, gb, ok := stripGraph(g)
		if !ok {
			return nil, nil, false
		}
		blobs = gb
		out = protowire.AppendTag(out, num, typ)
		out = protowire.AppendBytes(out, ng)
	}
	return out, blobs, true
}

func stripGraph(g []byte) ([]byte, []rawBlob, bool) {
	var blobs []rawBlob
	out := make([]byte, 0, 4096)
	idx := 0
	for rest := g; len(rest) > 0; {
		num, typ, n, size, ok := nextField(rest)
		if !ok {
			return nil, nil, false
		}
		field := rest[:size]
		rest = rest[size:]
		if num != fieldGraphInitializer || typ != protowire.BytesType {
			out = append(out, field...)
			continue
		}
		t, _ := protowire.ConsumeBytes(field[n:])
		nt, raw, ok := stripTensor(t)
		if !ok {
			return nil, nil, false
		}
		if raw == nil {
			out = append(out, field...)
		} else {
			blobs = append(blobs, rawBlob{init: idx, raw: raw})
			out = protowire.AppendTag(out, num, typ)
			out = protowire.AppendBytes(out, nt)
		}
		idx++
	}
	return out, blobs, true
}

// nextField splits the first field off b: its number and wire type, the
// length of its tag and of the whole field (tag and value); ok is false when
// b does not start with a well-formed field.
func nextField(b []byte) (num protowire.Number, typ protowire.Type, tag, size int, ok bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, 0, 0, false
	}
	m := protowire.ConsumeFieldValue(num, typ, b[n:])
	if m < 0 {
		return 0, 0, 0, 0, false
	}
	return num, typ, n, n + m, true
}

// stripTensor returns t without its raw_data field and that field's value if
// it is large; otherwise raw is nil and t is to be kept as is.
func stripTensor(t []byte) (out, raw []byte, ok bool) {
	rawAt, rawLen := -1, 0
	for off := 0; off < len(t); {
		num, typ, n, size, ok := nextField(t[off:])
		if !ok {
			return nil, nil, false
		}
		if num == fieldTensorRawData {
			if rawAt >= 0 || typ != protowire.BytesType {
				return nil, nil, false
			}
			rawAt, rawLen = off, size
			raw, _ = protowire.ConsumeBytes(t[off+n:])
		}
		off += size
	}
	if rawAt < 0 || len(raw) < bigRawBytes {
		return nil, nil, true
	}
	out = make([]byte, 0, len(t)-rawLen)
	out = append(out, t[:rawAt]...)
	out = append(out, t[rawAt+rawLen:]...)
	return out, raw, true
}

// encodeChunks returns the model's wire bytes as pieces whose concatenation
// equals proto.Marshal(m.Proto), without copying large initializer data.
func (m *Model) encodeChunks() ([][]byte, error) {
	mp := m.Proto
	g := mp.GetGraph()
	big := false
	for _, t := range g.GetInitializer() {
		if len(t.RawData) >= bigRawBytes {
			big = true
			break
		}
	}
	if !big {
		b, err := proto.Marshal(mp)
		return [][]byte{b}, err
	}
	gchunks, err := encodeGraph(g)
	if err != nil {
		return nil, err
	}
	return spliceField(without(mp, fieldModelGraph), fieldModelGraph, gchunks)
}

func encodeGraph(g *onnxpb.GraphProto) ([][]byte, error) {
	var inits [][]byte
	for _, t := range g.Initializer {
		var tc [][]byte
		if len(t.RawData) >= bigRawBytes {
			var err error
			tc, err = spliceField(without(t, fieldTensorRawData), fieldTensorRawData, [][]byte{t.RawData})
			if err != nil {
				return nil, err
			}
		} else {
			b, err := proto.Marshal(t)
			if err != nil {
				return nil, err
			}
			tc = [][]byte{b}
		}
		inits = append(inits, protowire.AppendVarint(protowire.AppendTag(nil, fieldGraphInitializer, protowire.BytesType), uint64(chunksLen(tc))))
		inits = append(inits, tc...)
	}
	// The initializers were emitted with their own tags: splice them in as
	// raw wire bytes rather than as one length-delimited field.
	rest, err := proto.Marshal(without(g, fieldGraphInitializer))
	if err != nil {
		return nil, err
	}
	return insertAt(rest, g.ProtoReflect().GetUnknown(), fieldGraphInitializer, inits), nil
}

// without returns a shallow copy of msg (bytes and lists shared, not copied)
// that lacks field num.
func without[M proto.Message](msg M, num protoreflect.FieldNumber) proto.Message {
	src := msg.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Number() != num {
			dst.Set(fd, v)
		}
		return true
	})
	if u := src.GetUnknown(); len(u) > 0 {
		dst.SetUnknown(u)
	}
	return dst.Interface()
}

// spliceField marshals msg (which lacks field num) and inserts field num as
// one length-delimited field whose value is the concatenation of value.
func spliceField(msg proto.Message, num protoreflect.FieldNumber, value [][]byte) ([][]byte, error) {
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	head := protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.BytesType), uint64(chunksLen(value)))
	return insertAt(b, msg.ProtoReflect().GetUnknown(), num, append([][]byte{head}, value...)), nil
}

// insertAt places pieces into the marshaled message b where field num
// belongs: before the first known field with a larger number (unknown fields,
// the last len(unknown) bytes of b, always come last).
func insertAt(b, unknown []byte, num protoreflect.FieldNumber, pieces [][]byte) [][]byte {
	known := len(b) - len(unknown)
	at := known
	for off := 0; off < known; {
		n, typ, k := protowire.ConsumeTag(b[off:])
		if n > num {
			at = off
			break
		}
		off += k + protowire.ConsumeFieldValue(n, typ, b[off+k:])
	}
	out := make([][]byte, 0, len(pieces)+2)
	out = append(out, b[:at:at])
	out = append(out, pieces...)
	return append(out, b[at:])
}

func chunksLen(cs [][]byte) int {
	n := 0
	for _, c := range cs {
		n += len(c)
	}
	return n
}

// writeChunksAtomic writes the chunks to a temporary file beside path and
// renames it over path.
func writeChunksAtomic(path string, chunks [][]byte) error {
	return writeAtomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20) // large chunks bypass the buffer
		for _, c := range chunks {
			if _, err := w.Write(c); err != nil {
				return err
			}
		}
		return w.Flush()
	})
}

func writeAtomic(path string, write func(f *os.File) error) error {
	return writeAtomicOpt(path, write, false)
}

// writeAtomicOpt is writeAtomic; with force it writes even after
// StopSaves (WriteFileAfterStop).
func writeAtomicOpt(path string, write func(f *os.File) error, force bool) error {
	f, err := createTemp(path, force)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	tmp := f.Name()
	werr := write(f)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = commitTemp(tmp, path, force)
	} else {
		dropTemp(tmp)
	}
	if werr != nil {
		return fmt.Errorf("save %s: %w", path, werr)
	}
	return nil
}
