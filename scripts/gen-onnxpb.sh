#!/usr/bin/env bash
# Regenerates onnx/onnxpb/onnx.pb.go from the onnx.proto shipped by Debian's
# libonnx-dev (proto2, IR 8). Needs protoc (protobuf-compiler) and protoc-gen-go.
# The generated file is committed; run this only to move to a newer onnx.proto.
set -euo pipefail
cd "$(dirname "$0")/.."
proto=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
[ -f "$proto" ] || { echo "gen-onnxpb: $proto not found; apt-get install libonnx-dev" >&2; exit 1; }
command -v protoc-gen-go >/dev/null || go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
export PATH="$PATH:$(go env GOPATH)/bin"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$proto" "$tmp/onnx.proto"
protoc -I "$tmp" --go_out="$tmp" \
  --go_opt=Monnx.proto=github.com/onnx-recompute/recompute/onnx/onnxpb \
  --go_opt=paths=source_relative "$tmp/onnx.proto"
mv "$tmp/onnx.pb.go" onnx/onnxpb/onnx.pb.go
echo "wrote onnx/onnxpb/onnx.pb.go from $proto"
