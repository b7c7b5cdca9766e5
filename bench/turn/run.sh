#!/usr/bin/env bash
# TURN benchmark: connect time of a promoted user, direct vs through the embedded coturn
# over TCP. Everything runs in private network namespaces (tests/e2e/netns-run.sh; root).
# Usage: bench/turn/run.sh [path/to/amphi] [-- --runs N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
e2e="$here/../../tests/e2e"
bin="${1:-$here/../../build/amphi}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
[ -x "$bin" ] || { echo "bench/turn: no amphi binary at $bin" >&2; exit 2; }
AMPHI_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export AMPHI_BIN
for b in /usr/bin/chromium /usr/bin/janus /usr/bin/turnserver /usr/sbin/nft; do
  [ -x "$b" ] || { echo "bench/turn: $b missing (run scripts/setup.sh)" >&2; exit 2; }
done
"$e2e/setup.sh"
cd "$here"
exec timeout --kill-after=10 900 "$e2e/netns-run.sh" "$e2e/node_modules/.bin/node" turn.mjs "$@"
