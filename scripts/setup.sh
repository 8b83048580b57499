#!/usr/bin/env bash
# Prepares a fresh machine for fencepost: the build tools it needs.
# Idempotent: installs only what is missing.
set -euo pipefail

need=()
command -v cc >/dev/null || need+=(gcc)
command -v protoc >/dev/null || need+=(protobuf-compiler)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
