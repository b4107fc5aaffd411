#!/usr/bin/env bash
# Generate the Python code and type stubs of proto/ into the directory given ($1).
# Used by `make proto` (into remofile-core/src) and by `make lint` (into a scratch
# directory, to prove the committed code is what the .proto files give).
set -euo pipefail
out=$1
venv_bin=$(dirname "$(command -v python)")
cd "$(dirname "$0")/.."
mkdir -p "$out"
PATH="$venv_bin:$PATH" python -m grpc_tools.protoc \
  --proto_path=proto \
  --python_out="$out" \
  --mypy_out="$out" \
  proto/remofile/v1/remofile.proto
