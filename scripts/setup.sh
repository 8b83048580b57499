#!/usr/bin/env bash
# Prepares a fresh machine for fencepost: build tools, the Docker engine and
# the tools the images need (debootstrap for the offline base image), and
# the headless browser the web UI's tests drive (chromium + chromedriver),
# and the client adapters' libraries at their pinned versions (clients/).
# Idempotent: installs only what is missing, starts dockerd only when the
# engine does not answer.
set -euo pipefail

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo

need=()
command -v cc >/dev/null || need+=(gcc)
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v dockerd >/dev/null || need+=(docker.io)
command -v iptables >/dev/null || need+=(iptables)
# ssh and ssh-keygen: `run --nodes` drives hosts through OpenSSH, and the
# SSH test hosts get a fresh key pair.
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v debootstrap >/dev/null || need+=(debootstrap)
# jq: scripts/test.sh reads cargo's list of the test binaries it built.
command -v jq >/dev/null || need+=(jq)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# python3 and venv: the shipped client adapters (clients/*/adapter.py).
command -v /usr/bin/python3 >/dev/null || need+=(python3)
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }

if ! $SUDO docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd (log: ${TMPDIR:-/tmp}/fencepost-dockerd.log)"
  # setsid, and no inherited stdout/stderr: the engine must outlive this
  # script, and must not hold open the pipes of whoever ran it (CI waits for
  # those to close).
  $SUDO setsid dockerd >"${TMPDIR:-/tmp}/fencepost-dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    $SUDO docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! $SUDO docker info >/dev/null 2>&1; then
    echo "setup: dockerd did not answer within 60 s; its log:" >&2
    tail -20 "${TMPDIR:-/tmp}/fencepost-dockerd.log" >&2 || true
    exit 1
  fi
fi

# The client adapters' Python libraries, pinned in clients/*/requirements.txt,
# in one environment of the checkout's own (.venv-clients), reinstalled only
# when a requirements file changes.
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-clients"
wanted="$(cat "$root"/clients/*/requirements.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing the client adapters' libraries into $venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  for r in "$root"/clients/*/requirements.txt; do
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$r"
  done
  echo "$wanted" >"$venv/.requirements"
fi
