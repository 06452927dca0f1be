package recompute

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Provenance: every rewritten model records in its metadata_props what it
// was made from (a digest of the input file's bytes), how (the tool's
// version and the planning flags, canonical), and the result rewrite
// reported. `convert --resume` skips a file whose output records the same
// input and flags, and reports the recorded result, so that a resumed
// batch's report equals an uninterrupted one's apart from timings. The
// digest covers the .onnx file only, not external weight files.
const (
	metaInput  = "recompute.input_sha256"
	metaFlags  = "recompute.flags"
	metaResult = "recompute.result"
)

// fileDigest is the hex SHA-256 of the file at path.
func fileDigest(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// provenance is what a rewrite records as how it was made: the caller's
// Provenance, or the tool's version and the options.
func (f *RewriteOptions) provenance() string {
	if f.Provenance != "" {
		return f.Provenance
	}
	o := *f
	o.Progress = nil
	o.Plan.nodeTimes, o.Plan.costCache, o.Plan.costNote = nil, "", ""
	return fmt.Sprintf("version=%s %+v", Version, o)
}

// rwRecordProvenance writes the input's digest (a file input only), the
// flags and res into m's metadata_props.
func rwRecordProvenance(m *onnx.Model, in string, f *RewriteOptions, res *RewriteResult) error {
	kv := [][2]string{{metaFlags, f.provenance()}}
	if st, err := os.Stat(in); err == nil && st.Mode().IsRegular() {
		d, err := fileDigest(in)
		if err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		kv = append(kv, [2]string{metaInput, d})
	}
	r := *res
	r.Seconds, r.Status, r.OutBytes = 0, "", 0
	data, err := json.Marshal(&r)
	if err != nil {
		return err
	}
	kv = append(kv, [2]string{metaResult, string(data)})
	props := make([]*onnxpb.StringStringEntryProto, 0, len(m.Proto.MetadataProps)+len(kv))
	for _, p := range m.Proto.MetadataProps {
		if k := p.GetKey(); k != metaFlags && k != metaInput && k != metaResult {
			props = append(props, p)
		}
	}
	for _, p := range kv {
		props = append(props, &onnxpb.StringStringEntryProto{Key: proto.String(p[0]), Value: proto.String(p[1])})
	}
	m.Proto.MetadataProps = props
	return nil
}

// convertUpToDate returns the recorded result of outDir/rel if that file
// was written from dir/rel's bytes with the same flags, marked skipped;
// nil if it must be converted (absent, another input or other flags, or
// unreadable: converting again is always safe).
func convertUpToDate(dir, rel, outDir string, f *RewriteOptions) *RewriteResult {
	start := time.Now()
	in, out := filepath.Join(dir, rel), filepath.Join(outDir, rel)
	st, err := os.Stat(out)
	if err != nil {
		return nil
	}
	m, err := onnx.Load(out)
	if err != nil {
		return nil
	}
	md := map[string]string{}
	for _, p := range m.Proto.GetMetadataProps() {
		md[p.GetKey()] = p.GetValue()
	}
	if md[metaFlags] != f.provenance() || md[metaInput] == "" || md[metaResult] == "" {
		return nil
	}
	if d, err := fileDigest(in); err != nil || d != md[metaInput] {
		return nil
	}
	var r RewriteResult
	if err := json.Unmarshal([]byte(md[metaResult]), &r); err != nil {
		return nil
	}
	r.File, r.Out, r.OutBytes = rel, out, st.Size()
	r.Status, r.Skipped = "ok", "up to date"
	r.Seconds = time.Since(start).Seconds()
	return &r
}
