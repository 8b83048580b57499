#!/usr/bin/env bash
# The main job: set the machine up, build fencepost and its images, then run
# real tests end to end and report them:
#  1. etcd locks (three members, 5 clients) under partitions and kills;
#  2. Kleppmann's scenario on Redis: a fenced counter whose lock holder
#     stalls past its lease (a client pause) — mutual exclusion breaks, and
#     the resource's fencing check is what saves the counter;
# each checked by every checker, stored under store/ and indexed; then the
# comparison table of the runs in the store.
# fencepost's exit codes: 0 valid, 1 a violation found, 2 unknown, 3 the
# test could not run — only 3 fails this script.
set -uo pipefail
cd "$(dirname "$0")/.."
# CI may keep cargo's target directory outside the checkout.
FENCEPOST="${CARGO_TARGET_DIR:-target}/release/fencepost"
bash scripts/setup.sh || exit 1
cargo build --release --quiet || exit 1
"$FENCEPOST" images || exit 1
run() {
    echo
    echo "\$ fencepost $*"
    "$FENCEPOST" "$@"
    status=$?
    [ "$status" -le 2 ] || exit "$status"
}
run run etcd --workload lock --nemesis partition,kill --nemesis-interval 3s --time-limit 20s --concurrency 5
run run redis --workload fenced-counter --ttl 1s --nemesis client-pause --client-pause 2500ms --nemesis-interval 2s --time-limit 12s
run compare
echo
echo "Browse the reports: $FENCEPOST serve   (then open http://127.0.0.1:8080)"
exit 0
