#!/usr/bin/env bash
# Stage benchmark: amphi serve (+ its Janus, nats-server) and Chromium in a private
# network namespace (tests/e2e/netns-run.sh), on the e2e Node 20 and node_modules.
# Usage: bench/stage/run.sh [path/to/amphi] [-- promotion.mjs flags: --runs N --subs 10,50 ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/prepare.sh
source "$here/../lib/prepare.sh"
BENCH_NEEDS="/usr/bin/chromium /usr/bin/janus" bench_prepare bench/stage "$@"
e2e=$E2E
cd "$here"
# node resolves playwright-core from tests/e2e/node_modules (harness.mjs lives there)
exec timeout --kill-after=10 1800 "$e2e/netns-run.sh" "$e2e/node_modules/.bin/node" promotion.mjs "${BENCH_ARGS[@]}"
