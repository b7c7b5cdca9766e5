#!/usr/bin/env bash
# Smoke test of the browser Janus client against a private Janus, in a private netns.
# Usage: tests/e2e/run-janus-direct.sh     (needs root for unshare -n)
set -euo pipefail
cd "$(dirname "$0")"
export E2E_ARTIFACTS="${E2E_ARTIFACTS:-/tmp/amphi-e2e}"
mkdir -p "$E2E_ARTIFACTS" && rm -f "$E2E_ARTIFACTS"/janus-direct-*.png
./setup.sh
exec timeout --kill-after=10 300 ./netns-run.sh ./node_modules/.bin/node --test --test-concurrency=1 janus-direct.e2e.mjs
