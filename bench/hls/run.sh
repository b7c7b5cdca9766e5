#!/usr/bin/env bash
# LL-HLS origin benchmark: builds amphi and hls_bench in a build dir (default build/, or
# $BUILD_DIR) with at most 2 jobs, then runs hls_bench with the flags given.
# Usage: bench/hls/run.sh [hls_bench flags]   e.g.  bench/hls/run.sh --viewers 1000
#        bench/hls/run.sh --help
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${BUILD_DIR:-$here/../../build}"
for b in nats-server nginx; do
  command -v "$b" >/dev/null || { echo "bench/hls: $b not found (scripts/setup.sh)" >&2; exit 2; }
done
[ -f "$build/CMakeCache.txt" ] || cmake -S "$here/../.." -B "$build" -G Ninja
cmake --build "$build" --target amphi hls_bench -j 2
# The client keeps one socket per viewer and serve inherits the limit: raise it as far as
# the hard limit allows (hls_bench raises its own soft limit too).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec timeout --kill-after=10 3600 "$build/bench/hls/hls_bench" "$@"
