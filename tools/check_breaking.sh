#!/usr/bin/env bash
# Run `buf breaking` against the newest released protocol (proto/RELEASES): through its
# tag where this clone has it, through the commit the file records otherwise (a clone
# of the main branch alone has the commit but not the tag).
set -euo pipefail
cd "$(dirname "$0")/.."
release=$(grep -v '^#' proto/RELEASES | grep . | tail -n 1)
tag=${release%% *}
commit=${release##* }
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
  against="../.git#tag=$tag,subdir=proto"
elif git cat-file -e "$commit^{commit}" 2>/dev/null; then
  against="../.git#ref=$commit,subdir=proto"
else
  echo "buf breaking: neither tag $tag nor commit $commit is in this clone" >&2
  exit 1
fi
cd proto
buf breaking --against "$against"
echo "buf breaking: no wire-breaking change since $tag"
