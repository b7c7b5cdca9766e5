#!/usr/bin/env bash
# Checks deploy/systemd/*.service with `systemd-analyze verify` (syntax, directives,
# executables). The serve unit's ExecStart points at /usr/local/bin/amphi: it is checked
# with the built binary ($1) in its place. Exit 77 (skipped) without systemd-analyze.
set -euo pipefail
amphi=${1:?usage: verify-units.sh <amphi binary>}
here=$(cd "$(dirname "$0")/../.." && pwd)
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
dir=$(mktemp -d /tmp/amphi-units-XXXXXX)
trap 'rm -rf "$dir"' EXIT
for unit in "$here"/deploy/systemd/*.service; do
  name=$(basename "$unit")
  [[ $name == *@.service ]] && name=${name/@.service/@8080.service}
  sed "s#/usr/local/bin/amphi#$amphi#" "$unit" > "$dir/$name"
done
out=$(cd "$dir" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify ./*.service 2>&1) || {
  echo "$out"; exit 1; }
# verify exits 0 on some problems it only reports: fail on any line naming our units.
if grep -E "amphi-[a-z]+(@8080)?\.service" <<<"$out"; then exit 1; fi
echo "units OK: $(ls "$dir" | tr '\n' ' ')"
