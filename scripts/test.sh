#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit, corpus,
# property and CLI tests). This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release --workspace
