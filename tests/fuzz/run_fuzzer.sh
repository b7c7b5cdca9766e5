#!/usr/bin/env bash
# Runs one libFuzzer target for FUZZ_SECONDS (default 20) on a copy of its seed corpus.
# Crash inputs land in the build folder (fuzz-artifacts/) for reproduction.
set -euo pipefail
fuzzer=$1 seeds=$2 artifacts=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/ 2>/dev/null || true
mkdir -p "$artifacts"
exec "$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "$work"
