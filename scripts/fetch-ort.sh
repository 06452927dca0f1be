#!/bin/sh
# fetch-ort.sh: put ONNX Runtime's shared library (from the npm package
# onnxruntime-node, no install scripts run) at <repo>/.ort/libonnxruntime.so.1
# and print its absolute path as the last line of stdout.
#
# Idempotent: if the library of the pinned version is already there, it only
# prints the path. Override the version with ORT_VERSION (default 1.30.0).
# Package ort finds the library at this path without any flag.
set -eu

version="${ORT_VERSION:-1.30.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.ort"
lib="$dest/libonnxruntime.so.1"
stamp="$dest/VERSION"

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) arch=x64 ;;
Linux-aarch64) arch=arm64 ;;
*) echo "fetch-ort.sh: no prebuilt ONNX Runtime in onnxruntime-node for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

if [ -s "$lib" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version-$arch" ]; then
	echo "$lib"
	exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-ort.sh: npm not found (needed for 'npm pack onnxruntime-node@$version')" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && npm pack --ignore-scripts --silent "onnxruntime-node@$version" >/dev/null) ||
	{ echo "fetch-ort.sh: npm pack onnxruntime-node@$version failed" >&2; exit 1; }
tgz="$(ls "$tmp"/onnxruntime-node-*.tgz)"
member="package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
tar -xzf "$tgz" -C "$tmp" "$member" ||
	{ echo "fetch-ort.sh: $member not in $(basename "$tgz")" >&2; exit 1; }

mkdir -p "$dest"
# Rename into place so a concurrent reader never sees a partial library.
cp "$tmp/$member" "$dest/.libonnxruntime.so.1.tmp"
mv -f "$dest/.libonnxruntime.so.1.tmp" "$lib"
echo "$version-$arch" >"$stamp"
echo "fetched onnxruntime-node@$version ($arch)" >&2
echo "$lib"
