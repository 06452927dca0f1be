#!/usr/bin/env bash
# bench-targets.sh: run every Go benchmark properly (BENCHTIME, default 3x)
# and print each target a benchmark states in its doc comment
# ("// Target: s/op < 0.5, ...") beside the figure measured, with ok or
# MISSED (internal/benchtargets). Exits 1 if a target was missed. Seconds
# are this machine's: on a shared or busy machine compare runs side by side.
# .ci/run only runs each benchmark once (scripts/test.sh), to keep them
# working; it does not judge them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
log=$(mktemp)
go test -run '^$' -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-3x}" ./... | tee "$log" | grep -E '^(Benchmark|FAIL|ok )' || true
echo
go run ./internal/benchtargets . < "$log"
