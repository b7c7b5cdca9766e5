#!/usr/bin/env bash
# LL-HLS latency and viewer/egress cost: amphi serve --demo-source test and headless
# Chromium on loopback (plain HTTP; no network namespace needed), on the e2e Node 20 and
# playwright-core (tests/e2e/node_modules) and the app's hls.js (web/node_modules).
# Usage: bench/latency/run.sh [path/to/amphi] [-- latency.mjs flags: --seconds 60 --parts 0.5,0.2 ...]
# Env: BENCH_SERVE_ARGS (extra serve flags), E2E_VERBOSE=1 (browser console).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/prepare.sh
source "$here/../lib/prepare.sh"
bench_prepare bench/latency "$@"
[ -f "$here/../../web/node_modules/hls.js/dist/hls.light.min.js" ] \
  || { echo "bench/latency: web/node_modules/hls.js missing (cd web && npm ci)" >&2; exit 2; }
e2e=$E2E
cd "$here"
exec timeout --kill-after=10 1200 "$e2e/node_modules/.bin/node" latency.mjs "${BENCH_ARGS[@]}"
