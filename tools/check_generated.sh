#!/usr/bin/env bash
# Fail if the committed generated code differs from what proto/ generates now.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tools/generate_proto.sh "$scratch"
for file in remofile_pb2.py remofile_pb2.pyi; do
  if ! diff -u "remofile-core/src/remofile/v1/$file" "$scratch/remofile/v1/$file"; then
    echo "remofile-core/src/remofile/v1/$file is stale: run 'make proto' and commit it" >&2
    exit 1
  fi
done
echo "generated code is up to date"
