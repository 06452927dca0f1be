"""Check built-in models with the ONNX reference checker (run by models_test.go).

Usage: /usr/bin/python3 check.py FILE... ; prints one JSON line per file:
{"file": F, "ok": bool, "error": str, "output": [dims of the inferred output]}.

Shapes-only models (float initializers with external data in the missing file
NO_WEIGHTS) are checked with each such initializer turned into a graph input
of the same type and shape, which leaves every node and shape unchanged.
The output's shape is erased before shape inference so that the reported
dims are inferred from the graph, not copied from the declaration.
"""
import json
import sys

import onnx
from onnx import helper, shape_inference


def check(path):
    m = onnx.load(path, load_external_data=False)
    g = m.graph
    keep = []
    for t in g.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            keep.append(t)
    if len(keep) != len(g.initializer):
        del g.initializer[:]
        g.initializer.extend(keep)
    onnx.checker.check_model(m, full_check=True)
    for o in g.output:
        o.type.tensor_type.ClearField("shape")
    inferred = shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    dims = [d.dim_value if d.HasField("dim_value") else -1
            for d in inferred.graph.output[0].type.tensor_type.shape.dim]
    return dims


for path in sys.argv[1:]:
    try:
        print(json.dumps({"file": path, "ok": True, "error": "", "output": check(path)}), flush=True)
    except Exception as e:  # report and go on with the next file
        msg = str(e).strip().splitlines()
        print(json.dumps({"file": path, "ok": False, "error": msg[0] if msg else repr(e), "output": []}), flush=True)
