# Sourced by the benchmark run.sh scripts that drive Chromium with the e2e harness.
#   bench_prepare NAME [path/to/amphi] [-- flags] ; then BENCH_ARGS holds the flags.
# Sets and exports AMPHI_BIN (absolute), sets E2E (tests/e2e) and BENCH_ARGS, checks that
# the binaries in BENCH_NEEDS (default: Chromium) are there, and installs the e2e Node and
# playwright-core (tests/e2e/setup.sh). Exits 2 with what to do when something is missing.
bench_prepare() {
  local name=$1
  shift
  E2E="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/e2e" && pwd)"
  local bin="$E2E/../../build/amphi"
  if [ $# -gt 0 ] && [ "$1" != "--" ]; then bin=$1; shift; fi
  [ "${1:-}" = "--" ] && shift
  BENCH_ARGS=("$@")
  [ -x "$bin" ] || { echo "$name: no amphi binary at $bin (make build)" >&2; exit 2; }
  AMPHI_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
  export AMPHI_BIN
  local b
  for b in ${BENCH_NEEDS:-/usr/bin/chromium}; do
    [ -x "$b" ] || { echo "$name: $b missing (run scripts/setup.sh)" >&2; exit 2; }
  done
  "$E2E/setup.sh"
}
