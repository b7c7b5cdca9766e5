#!/usr/bin/env bash
# Manual smoke run of the built app against a real `amphi serve` (with its Janus), in a
# private network namespace so WebRTC never touches the host's interfaces:
#
#   tests/e2e/netns-run.sh web/scripts/smoke.sh [build/amphi]
#
# Serves web/dist with `vite preview` (or the dev server: SMOKE_VITE=dev), proxying /api,
# /janus and /hls to serve, whose --public-url is the preview's origin (so hlsUrl and
# janusUrl stay same-origin). Then drives Chromium through the flow in smoke-flow.mjs:
# join, go live, raise hands, promote (warm), leave, demote, dismiss, reload on stage,
# serve dying. Screenshots go to $SMOKE_SHOTS (default /tmp/amphi-web-smoke).
# SMOKE_SERVE_ARGS: extra serve flags (default "--egress false": no broadcast).
# SMOKE_LIVE=1: the moderator goes live (viewers then play LL-HLS).
# Needs: npm run build (for preview), tests/e2e/setup.sh (playwright-core, Node 20).
set -euo pipefail
[ -n "${AMPHI_NETNS_IP:-}" ] || { echo "smoke: run me through tests/e2e/netns-run.sh" >&2; exit 2; }
web="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$web/.." && pwd)"
bin="$(realpath "${1:-$repo/build/amphi}")"
export SMOKE_SHOTS="${SMOKE_SHOTS:-/tmp/amphi-web-smoke}"
work="$(mktemp -d /tmp/amphi-web-smoke.XXXXXX)"
mkdir -p "$SMOKE_SHOTS"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$bin" serve --http 127.0.0.1:18080 --public-url http://127.0.0.1:5173 --data-dir "$work/data" \
  --stage-grace-seconds 8 ${SMOKE_SERVE_ARGS---egress false} > "$work/serve.log" 2>&1 &
pids+=($!)
export SMOKE_SERVE_PID=$!
(cd "$web" && exec ./node_modules/.bin/vite "${SMOKE_VITE:-preview}" --host 127.0.0.1 --port 5173 --strictPort) \
  > "$work/vite.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 80); do
  grep -q "Viewer invite" "$work/serve.log" && curl -sf http://127.0.0.1:5173/api/rooms/demo >/dev/null && break
  sleep 0.25
done
export SMOKE_SERVE_LOG="$work/serve.log"
timeout 240 "$repo/tests/e2e/node_modules/.bin/node" "$web/scripts/smoke-flow.mjs"
echo "smoke: logs in $work, screenshots in $SMOKE_SHOTS"
