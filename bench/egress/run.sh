#!/usr/bin/env bash
# Egress cost of one stage composite with 1 and 4 publishers (issue #4): amphi serve with
# Janus and --egress-source janus, headless Chromium pages with fake cameras, all inside a
# private network namespace (tests/e2e/netns-run.sh; needs root for unshare -n), on the
# e2e Node 20 and playwright-core (tests/e2e/node_modules).
# Usage: bench/egress/run.sh [path/to/amphi] [-- egress.mjs flags: --publishers 1,4 --seconds 30 --warmup 10 --camera-fps 15]
# Env: BENCH_SERVE_ARGS (extra serve flags, e.g. "--video-size 640x360"), E2E_VERBOSE=1
#      (browser console), E2E_KEEP=1 (keep serve's data dir and logs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/prepare.sh
source "$here/../lib/prepare.sh"
BENCH_NEEDS="/usr/bin/chromium /usr/bin/janus" bench_prepare bench/egress "$@"
web_dist="$(dirname "$AMPHI_BIN")/../web/dist"
[ -f "$web_dist/index.html" ] || [ -n "${AMPHI_WEB_DIR:-}" ] \
  || { echo "bench/egress: no built app at $web_dist (bash scripts/build-web.sh)" >&2; exit 2; }
e2e=$E2E
cd "$here"
# serve's data dir and Chromium's profile go into a temp dir of this run's own, so that
# another job cleaning /tmp/amphi-e2e-* cannot remove them mid-run (it happened once, on a
# machine shared with other test runs).
TMPDIR="$(mktemp -d /tmp/amphi-egress-bench.XXXXXX)"
export TMPDIR
trap '[ -n "${E2E_KEEP:-}" ] || rm -rf "$TMPDIR"' EXIT
timeout --kill-after=10 900 "$e2e/netns-run.sh" "$e2e/node_modules/.bin/node" egress.mjs "${BENCH_ARGS[@]}"
