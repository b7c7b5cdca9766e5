#!/usr/bin/env bash
# Builds the browser app (web/) into web/dist for `amphi serve`. Installs npm packages from
# the lockfile when they changed, rebuilds only when a source is newer than the build.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "web: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -f dist/index.html ] || [ -n "$(find src index.html package.json vite.config.ts tsconfig.json -newer dist/index.html -print -quit)" ]; then
  echo "web: building the app (vite)"
  npm run --silent build >/dev/null
fi
echo "web: web/dist is ready"
