#!/usr/bin/env bash
# The one test entry point: the same on a laptop, in CI (.ci/run) and in the
# README. Checks formatting, vets, runs every package's tests, then fuzzes
# the ONNX decoder for $FUZZTIME (default 30s).
#
# Tests that need data skip with a message when it is absent:
#   ../shared/corpus (or $RECOMPUTE_CORPUS)          real ONNX files
#   /usr/share/libonnx-testdata/data                 apt-get install libonnx-testdata
#   /usr/bin/python3 with onnx                       apt-get install python3-onnx
#   $ONNXRUNTIME_LIB                                 scripts/fetch-ort.sh (set here if it works)
#   $RECOMPUTE_ORT_TRAINING and node                 scripts/fetch-ort-training.sh (likewise)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "gofmt -l"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.*'))
if [ -n "$unformatted" ]; then
	echo "these files need gofmt -w:" >&2
	echo "$unformatted" >&2
	exit 1
fi

step "go mod tidy -diff"
# go.mod lists the direct dependencies as direct, and go.sum is complete.
if ! go mod tidy -diff; then
	echo "go.mod or go.sum is not tidy: run go mod tidy" >&2
	exit 1
fi

step "go vet ./..."
go vet ./...

if command -v staticcheck >/dev/null; then
	step "staticcheck ./..."
	staticcheck ./...
fi

if [ -z "${ONNXRUNTIME_LIB:-}" ] && [ -f scripts/fetch-ort.sh ]; then
	if lib=$(sh scripts/fetch-ort.sh 2>/dev/null | tail -n 1) && [ -f "$lib" ]; then
		export ONNXRUNTIME_LIB="$lib"
	else
		echo "note: scripts/fetch-ort.sh could not provide ONNX Runtime (needs npm); tests that run models in it will skip"
	fi
fi
if [ -n "${ONNXRUNTIME_LIB:-}" ]; then echo "ONNXRUNTIME_LIB=$ONNXRUNTIME_LIB"; fi
if [ -z "${RECOMPUTE_ORT_TRAINING:-}" ] && [ -f scripts/fetch-ort-training.sh ] && command -v node >/dev/null; then
	if web=$(sh scripts/fetch-ort-training.sh 2>/dev/null | tail -n 1) && [ -f "$web/ort.training.wasm.min.js" ]; then
		export RECOMPUTE_ORT_TRAINING="$web"
	else
		echo "note: scripts/fetch-ort-training.sh could not provide ORT's training build (needs npm); tests that run training artifacts will skip"
	fi
fi
if [ -n "${RECOMPUTE_ORT_TRAINING:-}" ]; then echo "RECOMPUTE_ORT_TRAINING=$RECOMPUTE_ORT_TRAINING"; fi

step "go test ./..."
# testsum prints a line per package, every failed test's output, and the
# tests that skipped with their reasons; with CI=true (.ci/run) a test whose
# data or tool is missing fails instead of skipping (internal/testenv).
testsum=$(mktemp -d)/testsum
go build -o "$testsum" ./internal/testsum
go test -json -timeout "${TEST_TIMEOUT:-15m}" ./... | "$testsum"

step "benchmarks, once each (that they still run; about a minute)"
bench_log=$(mktemp)
if ! go test -run '^$' -bench . -benchtime 1x ./... >"$bench_log" 2>&1; then
	cat "$bench_log" >&2
	exit 1
fi
grep -E '^(Benchmark|FAIL|--- )' "$bench_log" || true

step "fuzz FuzzDecode for ${FUZZTIME:-30s}"
# A short minimisation budget: with the default (60s) a 30s run spends most
# of its time shrinking new inputs instead of fuzzing.
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${FUZZTIME:-30s}" -fuzzminimizetime 2s ./onnx

step "all checks passed"
