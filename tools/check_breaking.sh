#!/usr/bin/env bash
# Run `buf breaking` against the newest proto release tag (proto/v*), once one exists.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=$(git tag --list 'proto/v*' --sort=-v:refname 2>/dev/null | head -n 1 || true)
if [ -z "$tag" ]; then
  echo "buf breaking: no proto/v* release tag yet, nothing to compare against"
  exit 0
fi
cd proto
buf breaking --against "../.git#tag=$tag,subdir=proto"
echo "buf breaking: no wire-breaking change since $tag"
