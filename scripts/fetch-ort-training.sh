#!/bin/sh
# fetch-ort-training.sh: put ONNX Runtime's training build for WebAssembly
# (from the npm package onnxruntime-web, no install scripts run) at
# <repo>/.ort/web and print that directory's absolute path as the last line
# of stdout. Node.js runs it (package ort/trainort): the native library of
# scripts/fetch-ort.sh has no training kernels.
#
# Idempotent: if the files of the pinned version are there, it only prints
# the path. Override the version with ORT_WEB_VERSION (default 1.19.2, the
# last release that ships the training build).
set -eu

version="${ORT_WEB_VERSION:-1.19.2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.ort/web"
stamp="$dest/VERSION"
files="ort.training.wasm.min.js ort-training-wasm-simd-threaded.wasm ort-training-wasm-simd-threaded.mjs"

if [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
	ok=1
	for f in $files; do [ -s "$dest/$f" ] || ok=0; done
	if [ "$ok" = 1 ]; then
		echo "$dest"
		exit 0
	fi
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-ort-training.sh: npm not found (needed for 'npm pack onnxruntime-web@$version')" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && npm pack --ignore-scripts --silent "onnxruntime-web@$version" >/dev/null) ||
	{ echo "fetch-ort-training.sh: npm pack onnxruntime-web@$version failed" >&2; exit 1; }
tgz="$(ls "$tmp"/onnxruntime-web-*.tgz)"
members=""
for f in $files; do members="$members package/dist/$f"; done
# shellcheck disable=SC2086
tar -xzf "$tgz" -C "$tmp" $members ||
	{ echo "fetch-ort-training.sh: the training build is not in $(basename "$tgz")" >&2; exit 1; }

mkdir -p "$dest"
# Copy then rename, so a concurrent reader never sees a partial file.
for f in $files; do
	cp "$tmp/package/dist/$f" "$dest/.$f.tmp"
	mv -f "$dest/.$f.tmp" "$dest/$f"
done
echo "$version" >"$stamp"
echo "fetched onnxruntime-web@$version (training build, WebAssembly)" >&2
echo "$dest"
