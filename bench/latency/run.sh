#!/usr/bin/env bash
# LL-HLS latency and viewer/egress cost: amphi serve --demo-source test and headless
# Chromium on loopback (plain HTTP; no network namespace needed), on the e2e Node 20 and
# playwright-core (tests/e2e/node_modules) and the app's hls.js (web/node_modules).
# Usage: bench/latency/run.sh [path/to/amphi] [-- latency.mjs flags: --seconds 60 --parts 0.5,0.2 ...]
# Env: BENCH_SERVE_ARGS (extra serve flags), E2E_VERBOSE=1 (browser console).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
e2e="$here/../../tests/e2e"
bin="${1:-$here/../../build/amphi}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
[ -x "$bin" ] || { echo "bench/latency: no amphi binary at $bin" >&2; exit 2; }
AMPHI_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export AMPHI_BIN
[ -x /usr/bin/chromium ] || { echo "bench/latency: /usr/bin/chromium missing (run scripts/setup.sh)" >&2; exit 2; }
[ -f "$here/../../web/node_modules/hls.js/dist/hls.light.min.js" ] \
  || { echo "bench/latency: web/node_modules/hls.js missing (cd web && npm ci)" >&2; exit 2; }
"$e2e/setup.sh"
cd "$here"
exec timeout --kill-after=10 1200 "$e2e/node_modules/.bin/node" latency.mjs "$@"
