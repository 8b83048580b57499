#!/usr/bin/env bash
# The test suite, in two tiers (README, "Testing"):
#
#   bash scripts/test.sh          the whole suite, what CI runs: formatting,
#                                 one build, lints, the tests that need no
#                                 container, the images, then the container
#                                 suites side by side
#   bash scripts/test.sh --quick  the edit-test loop: formatting, the build,
#                                 and every test that needs no container
#                                 (unit, corpus, property, CLI, HTTP, doc)
#   --serial                      the container suites one after another
#                                 (to tell a flaky test from a disturbed one)
#
# One build serves everything: `cargo test --no-run` over the workspace
# builds every test binary and `fencepost` itself with the features
# `cargo build --release` uses, so no crate compiles twice; the test
# binaries it reports are then run directly (from their package's folder,
# as cargo does). A per-package `cargo test -p` would resolve features for
# that package alone and rebuild the crates whose features differ.
#
# Every test binary runs in the full suite: the container suites are named
# in LANES below, and every other binary (a new test file too) is in the
# quick tier, which the full suite runs first. A name in LANES that matches
# no test binary stops the script, so a rename cannot drop a suite.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
serial=false
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true ;;
    --serial) serial=true ;;
    *) echo "usage: bash scripts/test.sh [--quick] [--serial]" >&2; exit 2 ;;
  esac
done

TARGET="${CARGO_TARGET_DIR:-target}"
FENCEPOST="$TARGET/release/fencepost"
LOGS="$TARGET/test-logs"

# The container suites: each lane runs its `package:test-file`s one after
# another, and the lanes run side by side. A container test is mostly
# waiting (a cluster forming, a fault's timer, a lease running out), so four
# lanes fit two cores; their timing assertions are on recorded events,
# never on the wall clock.
# - scenarios: every scenario once, one run after another; the longest
#   suite (about 8 minutes alone), in a lane of its own.
# - ssh: SSH hosts installing Debian packages (serialized within the file),
#   then the cleanup of killed `fencepost` processes.
# - systems: every system's clusters, recipes and undone calls, and every
#   fault kind on a real cluster, at the library level.
# - runs: `fencepost run` end to end, then the UI in headless Chromium over
#   a real Redis run, a run dropped mid-workload (harness's undo guard),
#   then a margin study against Redis, and a Redlock run replayed and shrunk.
LANES=(
  "scenarios:fencepost:scenarios"
  "ssh:fencepost:ssh fencepost:leftovers"
  "systems:workloads:clusters workloads:locks workloads:elections workloads:undone nemesis:faults"
  "runs:fencepost:run fencepost:browser fencepost:clients harness:undo fencepost:margin fencepost:replay"
)

# kit is tested on its own: its tests need tokio's `test-util`, which in the
# workspace's test build would make tokio differ from `cargo build --release`
# and rebuild every crate above it. Alone it rebuilds tokio, tokio-util, kit.
APART=kit

say() { echo "== $*"; }

bash scripts/setup.sh
cargo fmt --all -- --check

mkdir -p "$LOGS"
say "build: every test binary and fencepost itself, once"
# JSON on stdout (the binaries built), diagnostics and progress on stderr.
cargo test --release --workspace --exclude "$APART" --no-run --message-format=json-render-diagnostics >"$LOGS/build.json"
if ! $quick; then
  say "clippy"
  cargo clippy --release --workspace --all-targets -- -D warnings
fi

# The test binaries: `label<TAB>folder<TAB>executable`, label `package:file`
# for a test file, `package:unit` for a library's or binary's own tests.
cargo metadata --no-deps --format-version 1 >"$LOGS/metadata.json"
mapfile -t BINARIES < <(jq -r --slurpfile meta "$LOGS/metadata.json" '
  ($meta[0].packages | map({key: .manifest_path, value: .name}) | from_entries) as $names
  | select(.reason == "compiler-artifact" and .executable != null and .profile.test)
  | (if (.target.kind | index("test")) then .target.name
     elif (.target.kind | index("bin")) then "bin-\(.target.name)"
     else "unit" end) as $file
  | "\($names[.manifest_path]):\($file)\t\(.manifest_path | sub("/Cargo.toml$"; ""))\t\(.executable)"' "$LOGS/build.json")
binary() { printf '%s\n' "${BINARIES[@]}" | awk -F '\t' -v l="$1" '$1 == l'; }

laned=" "
for lane in "${LANES[@]}"; do
  for t in ${lane#*:}; do
    [ -n "$(binary "$t")" ] || { echo "test.sh: no test binary $t (renamed? update LANES)" >&2; exit 2; }
    laned+="$t "
  done
done

# Runs one test binary the way `cargo test` does; on failure says how to run
# it alone.
run_binary() {
  local label folder exe
  IFS=$'\t' read -r label folder exe <<<"$(binary "$1")"
  echo "--- $label ($exe)"
  if ! (cd "$folder" && "$exe"); then
    local p=${label%%:*} f=${label#*:}
    case "$f" in
      unit) echo "--- FAILED: $label; alone: cargo test --release -p $p --lib" ;;
      bin-*) echo "--- FAILED: $label; alone: cargo test --release -p $p --bin ${f#bin-}" ;;
      *) echo "--- FAILED: $label; alone: cargo test --release -p $p --test $f" ;;
    esac
    return 1
  fi
}

quick_tier() {
  local b label
  for b in "${BINARIES[@]}"; do
    label=${b%%$'\t'*}
    [[ "$laned" == *" $label "* ]] && continue
    run_binary "$label"
  done
  say "doc tests"
  cargo test --release --workspace --exclude "$APART" --doc
  say "$APART (its own build)"
  cargo test --release -p "$APART"
}

started=$SECONDS
say "tests without containers"
quick_tier
if $quick; then
  say "quick tier passed in $((SECONDS - started)) s (the container suites too: bash scripts/test.sh)"
  exit 0
fi

# Build (or find up to date) every image first, so the cluster tests do not
# each wait on a build; a fresh machine bootstraps debian:bookworm-slim here.
say "images"
"$FENCEPOST" images

# One lane: its binaries one after another, everything in its log. The long
# tests' progress lines (tests/common/progress.rs) and each binary's end are
# copied to the terminal as they come, tagged with the lane's name.
run_lane() {
  local name=$1
  shift
  (
    failed=0
    for t in "$@"; do
      began=$SECONDS
      if run_binary "$t"; then
        echo "  [progress] $t passed in $((SECONDS - began)) s"
      else
        echo "  [progress] $t FAILED after $((SECONDS - began)) s"
        failed=1
      fi
    done
    exit "$failed"
  ) 2>&1 | tee "$LOGS/$name.log" | { grep --line-buffered -F '[progress]' | sed -u "s/^ *\[progress\]/[$name]/" || true; }
  return "${PIPESTATUS[0]}"
}

# A finished lane: its binaries' results when it passed, all of it when not.
report() {
  local name=$1 status=$2
  if [ "$status" -eq 0 ]; then
    say "$name passed (log: $LOGS/$name.log)"
    grep -E '^(--- |test result:)' "$LOGS/$name.log" | sed "s/^/[$name] /"
  else
    say "$name FAILED; its whole log ($LOGS/$name.log):"
    sed "s/^/[$name] /" "$LOGS/$name.log"
  fi
}

declare -A lane_of=()
failed=()
for lane in "${LANES[@]}"; do
  name=${lane%%:*}
  # shellcheck disable=SC2086 # a lane's binaries are words
  if $serial; then
    status=0
    run_lane "$name" ${lane#*:} || status=$?
    report "$name" "$status"
    [ "$status" -eq 0 ] || failed+=("$name")
  else
    run_lane "$name" ${lane#*:} &
    lane_of[$!]=$name
    say "$name started (log: $LOGS/$name.log)"
  fi
done
while [ ${#lane_of[@]} -gt 0 ]; do
  status=0
  wait -n -p pid "${!lane_of[@]}" || status=$?
  report "${lane_of[$pid]}" "$status"
  [ "$status" -eq 0 ] || failed+=("${lane_of[$pid]}")
  unset "lane_of[$pid]"
done

if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]} ($((SECONDS - started)) s of tests)"
  exit 1
fi
say "every test passed ($((SECONDS - started)) s of tests)"
