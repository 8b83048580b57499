#!/usr/bin/env bash
# The whole test suite: formatting, lints, the container images, and every
# test (unit, corpus, property, CLI, and the real-container cluster tests).
# This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# CI may keep cargo's target directory outside the checkout.
FENCEPOST="${CARGO_TARGET_DIR:-target}/release/fencepost"
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo build --release
# Build (or find up to date) every image first, so the cluster tests do not
# each wait on a build; a fresh machine bootstraps debian:bookworm-slim here.
"$FENCEPOST" images
cargo test --release --workspace
