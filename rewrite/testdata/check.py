"""check.py IN OUT: run onnx.checker on IN and OUT in each mode IN passes.

Default-domain ops that ONNX has no schema for (ONNX Runtime training
artifacts use MaxPoolGrad this way) are moved to an unregistered domain on
both files first, which is the checker mode such inputs pass. Exit status 0 if
OUT passes every mode IN passes, 1 otherwise; 3 if IN passes no mode.
Used by the rewrite tests through /usr/bin/python3 (Debian python3-onnx).
"""
import sys

import onnx
import onnx.checker
import onnx.defs


def prepared(path):
    m = onnx.load(path)
    moved = False
    for n in m.graph.node:
        if n.domain in ("", "ai.onnx") and not onnx.defs.has(n.op_type):
            n.domain = "recompute.unregistered"
            moved = True
    if moved:
        m.opset_import.add(domain="recompute.unregistered", version=1)
    return m


def modes(m):
    """Map each checker mode to None (passed) or its first error line."""
    out = {}
    for full in (False, True):
        try:
            onnx.checker.check_model(m, full_check=full)
            out["full_check=%s" % full] = None
        except Exception as e:  # noqa: BLE001 - report any checker failure
            out["full_check=%s" % full] = str(e).splitlines()[0]
    return out


src, dst = prepared(sys.argv[1]), prepared(sys.argv[2])
a, b = modes(src), modes(dst)
print("input:", a)
print("output:", b)
passed = [k for k, err in a.items() if err is None]
if not passed:
    sys.exit(3)
bad = [k for k in passed if b[k] is not None]
if bad:
    print("output fails checks the input passes:", bad)
    sys.exit(1)
