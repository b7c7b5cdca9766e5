#!/usr/bin/env bash
# Stage benchmark: amphi serve (+ its Janus, nats-server) and Chromium in a private
# network namespace (tests/e2e/netns-run.sh), on the e2e Node 20 and node_modules.
# Usage: bench/stage/run.sh [path/to/amphi] [-- promotion.mjs flags: --runs N --subs 10,50 ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
e2e="$here/../../tests/e2e"
bin="${1:-$here/../../build/amphi}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
[ -x "$bin" ] || { echo "bench/stage: no amphi binary at $bin" >&2; exit 2; }
AMPHI_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export AMPHI_BIN
for b in /usr/bin/chromium /usr/bin/janus; do
  [ -x "$b" ] || { echo "bench/stage: $b missing (run scripts/setup.sh)" >&2; exit 2; }
done
"$e2e/setup.sh"
cd "$here"
# node resolves playwright-core from tests/e2e/node_modules (harness.mjs lives there)
exec timeout --kill-after=10 1800 "$e2e/netns-run.sh" "$e2e/node_modules/.bin/node" promotion.mjs "$@"
