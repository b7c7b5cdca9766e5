#!/usr/bin/env bash
# Installs what Amphi needs to build, run and test on Debian 12.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt.
set -euo pipefail

APT_PACKAGES=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  # libraries (see README: "Dependencies")
  libboost-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libnats-dev libssl-dev libgtest-dev libgmock-dev
  # egress: GStreamer graph (compose, encode) and ffprobe to check the packager
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-tools ffmpeg fonts-dejavu-core
  # fuzzing (libFuzzer runtime for clang)
  clang libclang-rt-14-dev
  # runtime parts started by serve and by the tests
  nats-server janus coturn curl iproute2 procps nftables
  # the openssl tool: unit tests check generated certificates against it
  openssl
  # browser end-to-end tests (playwright-core drives Debian's Chromium)
  chromium
  # benchmark peers
  nginx-light libnginx-mod-nchan
)
# Node.js and npm: Debian's packages unless a node is there already (NodeSource's
# nodejs bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # Packages such as nginx must not start system services on this machine:
  # Amphi's tests start their own instances on free loopback ports.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  if [ $had_policy -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
  fi
  trap '[ $had_policy -eq 0 ] && $SUDO rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup: Debian packages present"
fi
