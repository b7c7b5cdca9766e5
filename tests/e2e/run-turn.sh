#!/usr/bin/env bash
# Issue 6 TURN test: amphi serve (with coturn, Janus and nats-server) and two Chromiums,
# one behind a UDP-dropping firewall in a namespace of its own. Needs root (unshare -n).
# Usage: tests/e2e/run-turn.sh [path/to/amphi]   (default: build/amphi)
# Env: E2E_ARTIFACTS (screenshots, default /tmp/amphi-e2e), E2E_KEEP=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../build/amphi}"
[ -x "$bin" ] || { echo "run-turn: no amphi binary at $bin" >&2; exit 2; }
AMPHI_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export AMPHI_BIN
export E2E_ARTIFACTS="${E2E_ARTIFACTS:-/tmp/amphi-e2e}"
for b in /usr/bin/chromium /usr/bin/janus /usr/bin/turnserver /usr/sbin/nft; do
  [ -x "$b" ] || { echo "run-turn: $b missing (run scripts/setup.sh)" >&2; exit 2; }
done
mkdir -p "$E2E_ARTIFACTS" && rm -f "$E2E_ARTIFACTS"/turn-*.png
"$here/setup.sh"
cd "$here"
# Outer limit so nothing hangs CI; node:test has per-test timeouts inside.
exec timeout --kill-after=10 300 ./netns-run.sh ./node_modules/.bin/node --test --test-concurrency=1 turn.e2e.mjs
