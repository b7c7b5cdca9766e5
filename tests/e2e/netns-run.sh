#!/usr/bin/env bash
# Runs a command inside a fresh, private network namespace (needs root, or
# CAP_SYS_ADMIN + CAP_NET_ADMIN):
#   - `lo` up (127.0.0.1 for serve, nats-server and Janus's own ports),
#   - a veth pair v0/v1 with 10.99.0.1/24 on v0 (both ends up), because Janus never
#     offers 127.0.0.1 ICE candidates: it gathers on 10.99.0.1, and Chromium reaches
#     it there. No traffic leaves the namespace; the host's interfaces are untouched.
# Usage: netns-run.sh COMMAND [ARGS...]
# The namespace (and its veth pair) disappears when the command and all its children exit.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

if [ "${AMPHI_NETNS_INNER:-}" != "1" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo -E"
  command -v unshare >/dev/null || { echo "netns-run: unshare (util-linux) not found" >&2; exit 1; }
  command -v ip >/dev/null || { echo "netns-run: ip (iproute2) not found" >&2; exit 1; }
  # --fork so the command is a child of the namespace, not of the shell that made it.
  exec $SUDO env AMPHI_NETNS_INNER=1 unshare --net --fork --kill-child=SIGTERM -- "$0" "$@"
fi

unset AMPHI_NETNS_INNER
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.99.0.1/24 dev v0
ip link set v0 up
ip link set v1 up
# Wait (briefly) until the link is operationally up before anything enumerates
# interfaces (/sys is the host's here, so ask ip).
for _ in $(seq 1 50); do
  ip -o link show v0 | grep -q 'state UP' && break
  sleep 0.05
done
export AMPHI_NETNS_IP=10.99.0.1
exec "$@"
