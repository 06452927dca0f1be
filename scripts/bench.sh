#!/bin/sh
# bench.sh: regenerate docs/RESULTS.md, docs/results.json and the plots
# (docs/<network>.{png,svg}: memory/overhead curves and timelines) from
# scratch by running `recompute bench` on every built-in network at the
# paper's sizes and on the paper's cg graph (../shared/corpus/cg/cg_vgg19.txt).
#
# Extra arguments go to `recompute bench` (e.g. --quick, --models resnet50).
# OUT=dir writes elsewhere; CG=file picks another cg graph; MEASURE=1 adds the
# ONNX Runtime rows (needs the library from scripts/fetch-ort.sh).
set -eu

cd "$(dirname "$0")/.."
out="${OUT:-docs}"
cg="${CG:-../shared/corpus/cg/cg_vgg19.txt}"

if [ "${MEASURE:-0}" = 1 ]; then
	set -- --measure "$@"
fi
if [ -f "$cg" ]; then
	set -- --cg "$cg" "$@"
else
	echo "bench.sh: $cg not found; benchmarking the built-in networks only" >&2
fi

mkdir -p "$out"
# From scratch: remove what the previous run wrote (the plots it listed in
# results.json, then RESULTS.md and results.json), nothing else in $out.
if [ -f "$out/results.json" ]; then
	for f in $(grep -o '"[A-Za-z0-9_.-]*\.\(png\|svg\)"' "$out/results.json" | tr -d '"' | sort -u); do
		rm -f "$out/$f"
	done
fi
rm -f "$out/RESULTS.md" "$out/results.json"

exec go run ./cmd/recompute bench --out "$out" "$@"
