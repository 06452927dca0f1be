"""Reference shapes for reference_test.go: runs onnx.shape_inference on each
model named on stdin (one path per line) and prints one JSON object per model:
{"path": ..., "values": {name: [elem_type, [dims...]]}, "error": "..."}.
Only main-graph values whose element type and every dim are known are listed.
With --batch N, a symbolic leading dim of every graph input that is not an
initializer is set to N first (as recompute's --batch does).
Run with /usr/bin/python3 (Debian python3-onnx)."""
import json
import sys

import onnx
from onnx import shape_inference


def static(vi):
    if not vi.type.HasField("tensor_type"):
        return None
    tt = vi.type.tensor_type
    if tt.elem_type == 0 or not tt.HasField("shape"):
        return None
    dims = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(d.dim_value)
    return [tt.elem_type, dims]


batch = 0
if len(sys.argv) == 3 and sys.argv[1] == "--batch":
    batch = int(sys.argv[2])


def bind_batch(g):
    inits = {t.name for t in g.initializer}
    for vi in g.input:
        if vi.name in inits or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if len(dims) > 0 and not dims[0].HasField("dim_value"):
            dims[0].dim_value = batch


for line in sys.stdin:
    path = line.strip()
    if not path:
        continue
    out = {"path": path, "values": {}}
    try:
        m = onnx.load(path, load_external_data=False)
        if batch > 0:
            bind_batch(m.graph)
        try:
            m = shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)
        except TypeError:  # older onnx without data_prop
            m = shape_inference.infer_shapes(m)
        g = m.graph
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            s = static(vi)
            if s is not None:
                out["values"][vi.name] = s
    except Exception as e:  # report, never stop the batch
        out["error"] = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
    print(json.dumps(out), flush=True)
