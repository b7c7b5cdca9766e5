#!/usr/bin/env bash
# Issue 5's web end-to-end test (and issue 4's hls.js playback): the app served by
# amphi serve, with nats-server, Janus and amphi egress (the real stage composite), and
# Chromium, all inside a private network namespace. Needs root (unshare -n).
# Usage: tests/e2e/run-web.sh [path/to/amphi]   (default: build/amphi)
# Env: E2E_ARTIFACTS (screenshots web-*.png, default /tmp/amphi-e2e), E2E_WEB_SERVE_ARGS,
#      E2E_WEB_CYCLES (promote/demote cycles, default 5), E2E_KEEP=1, E2E_VERBOSE=1,
#      E2E_WEB_TLS=1 (the flow over HTTPS with serve's self-signed certificate, 1 cycle).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../build/amphi}"
[ -x "$bin" ] || { echo "run-web: no amphi binary at $bin" >&2; exit 2; }
AMPHI_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export AMPHI_BIN
export E2E_ARTIFACTS="${E2E_ARTIFACTS:-/tmp/amphi-e2e}"
for b in /usr/bin/chromium /usr/bin/janus; do
  [ -x "$b" ] || { echo "run-web: $b missing (run scripts/setup.sh)" >&2; exit 2; }
done
# serve hosts the built app (web/dist beside the build folder)
web_dist="$(dirname "$AMPHI_BIN")/../web/dist"
[ -f "$web_dist/index.html" ] || [ -n "${AMPHI_WEB_DIR:-}" ] || { echo "run-web: no built app at $web_dist (make build)" >&2; exit 2; }
mkdir -p "$E2E_ARTIFACTS" && rm -f "$E2E_ARTIFACTS"/web-*.png
"$here/setup.sh"
cd "$here"
# Outer limit so nothing hangs CI; node:test has per-test timeouts inside.
exec timeout --kill-after=10 840 ./netns-run.sh ./node_modules/.bin/node --test --test-concurrency=1 web.e2e.mjs
