#!/usr/bin/env bash
# TURN benchmark: connect time of a promoted user, direct vs through the embedded coturn
# over TCP. Everything runs in private network namespaces (tests/e2e/netns-run.sh; root).
# Usage: bench/turn/run.sh [path/to/amphi] [-- --runs N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/prepare.sh
source "$here/../lib/prepare.sh"
BENCH_NEEDS="/usr/bin/chromium /usr/bin/janus /usr/bin/turnserver /usr/sbin/nft" bench_prepare bench/turn "$@"
e2e=$E2E
cd "$here"
exec timeout --kill-after=10 900 "$e2e/netns-run.sh" "$e2e/node_modules/.bin/node" turn.mjs "${BENCH_ARGS[@]}"
