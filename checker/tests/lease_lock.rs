//! Linearizability of a lease lock: a grant may lapse once its promise
//! ended (`checker::models::lapse`). A lock that let a lease run out, found
//! the holder's release `LockNotOwned` and granted the lock to another
//! client behaved as specified; one that granted inside a lease it had
//! promised did not, whatever the lapses.

use checker::analysis;
use checker::check::{check, CheckOptions};
use checker::formats::jsonl;
use checker::lease::LeaseOptions;
use checker::models::{lapse, ModelSpec};
use checker::{History, Verdict};
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

/// (time in ms, process (-1: nemesis), type, f, value, node)
type Event = (u64, i64, &'static str, &'static str, Value, Option<&'static str>);

fn history(events: &[Event]) -> History {
    let mut text = String::new();
    for (i, (t, p, ty, f, v, node)) in events.iter().enumerate() {
        let process = if *p < 0 { json!("nemesis") } else { json!(p) };
        let mut op = json!({ "index": i, "time": t * MS, "process": process, "type": ty, "f": f, "value": v });
        if *p >= 0 {
            op["key"] = json!("k0");
        }
        if let Some(n) = node {
            op["node"] = json!(n);
        }
        text.push_str(&op.to_string());
        text.push('\n');
    }
    jsonl::read("lease-lock.jsonl", &text).unwrap()
}

fn ev(t: u64, p: i64, ty: &'static str, f: &'static str, v: Value) -> Event {
    (t, p, ty, f, v, None)
}

/// Linearizability as a plain mutex, and as a lease lock.
fn verdicts(h: &History, model: &ModelSpec) -> (Verdict, Verdict) {
    let opts = CheckOptions::default();
    let plain = check(h, model, &opts).unwrap().verdict;
    let lapses = lapse::lapses(h, &LeaseOptions::default()).unwrap();
    let leased = check(&lapse::with_lapses(h, &lapses), model, &opts).unwrap().verdict;
    (plain, leased)
}

/// The shape: process 1 takes a 1000 ms lease, holds it past its
/// end, and its release finds the lock gone (`LockNotOwnedError`); process
/// 2 is granted the lock after the lease ran out. No two holders ever.
fn lapsed_then_granted(second: u64) -> Vec<Event> {
    vec![
        ev(0, 1, "invoke", "acquire", json!({ "ttl_ms": 1000 })),
        ev(10, 1, "ok", "acquire", json!({ "token": 1, "ttl_ms": 1000 })),
        ev(1500, 1, "invoke", "release", Value::Null),
        ev(1502, 1, "fail", "release", json!({ "error": "LockNotOwnedError" })),
        ev(second, 2, "invoke", "acquire", json!({ "ttl_ms": 1000 })),
        ev(second + 10, 2, "ok", "acquire", json!({ "token": 2, "ttl_ms": 1000 })),
        ev(second + 500, 2, "invoke", "release", Value::Null),
        ev(second + 501, 2, "ok", "release", Value::Null),
    ]
}

#[test]
fn a_lease_that_lapsed_before_the_next_grant_is_linearizable() {
    let h = history(&lapsed_then_granted(1600));
    // What the issue saw: the plain mutex knows no leases.
    assert_eq!(verdicts(&h, &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Valid));
    assert_eq!(verdicts(&h, &ModelSpec::FencedMutex), (Verdict::Invalid, Verdict::Valid));
    // And the views that know leases agree.
    let options = LeaseOptions::default();
    assert_eq!(analysis::mutual_exclusion(&h, &options).unwrap().validity, Verdict::Valid);
    assert_eq!(analysis::lease_safety(&h, &options).unwrap().validity, Verdict::Valid);
    // One lapse, from the lease's end (0 + 1000 ms less 1 % drift), never
    // bounded: process 1 asked for the lock no more.
    let lapses = lapse::lapses(&h, &options).unwrap();
    assert_eq!(lapses.len(), 1);
    assert_eq!((lapses[0].process, lapses[0].at, lapses[0].by), (1, 990 * MS, None));
}

#[test]
fn a_grant_inside_the_promised_lease_stays_not_linearizable() {
    // Process 2 is granted at 500 ms, inside process 1's lease (to 990 ms).
    let h = history(&lapsed_then_granted(490));
    assert_eq!(verdicts(&h, &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Invalid));
    assert_eq!(analysis::lease_safety(&h, &LeaseOptions::default()).unwrap().validity, Verdict::Invalid);
    // A grant after the lease's end but before the drift margin: still inside.
    let h = history(&lapsed_then_granted(975));
    assert_eq!(verdicts(&h, &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Invalid));
}

#[test]
fn a_grant_released_in_time_has_no_lapse_and_the_next_one_its_own() {
    // Process 1 released at 100 and was granted again at 210 (a lease to
    // 1190 ms: 200 + 990); process 2's grant at 1100 is inside it.
    let events = vec![
        ev(0, 1, "invoke", "acquire", json!({ "ttl_ms": 1000 })),
        ev(10, 1, "ok", "acquire", json!({ "token": 1, "ttl_ms": 1000 })),
        ev(100, 1, "invoke", "release", Value::Null),
        ev(101, 1, "ok", "release", Value::Null),
        ev(200, 1, "invoke", "acquire", json!({ "ttl_ms": 1000 })),
        ev(210, 1, "ok", "acquire", json!({ "token": 3, "ttl_ms": 1000 })),
        ev(1090, 2, "invoke", "acquire", json!({ "ttl_ms": 1000 })),
        ev(1100, 2, "ok", "acquire", json!({ "token": 4, "ttl_ms": 1000 })),
        ev(1500, 1, "invoke", "release", Value::Null),
        ev(1501, 1, "fail", "release", Value::Null),
    ];
    let h = history(&events);
    let lapses = lapse::lapses(&h, &LeaseOptions::default()).unwrap();
    assert_eq!(lapses.iter().map(|l| l.at / MS).collect::<Vec<_>>(), [1190]);
    assert_eq!(verdicts(&h, &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Invalid));
}

#[test]
fn a_lapse_is_bounded_by_the_holders_next_acquire() {
    // Process 1 overran its lease, found it gone at 1500, asked again at
    // 1600 and was granted at 1610 with a new lease; process 2's grant at
    // 1700 is inside that one, and the first grant's lapse cannot end it.
    let events = vec![
        ev(0, 1, "invoke", "acquire", json!({ "ttl_ms": 1000 })),
        ev(10, 1, "ok", "acquire", json!({ "token": 1, "ttl_ms": 1000 })),
        ev(1500, 1, "invoke", "release", Value::Null),
        ev(1502, 1, "fail", "release", Value::Null),
        ev(1600, 1, "invoke", "acquire", json!({ "ttl_ms": 1000 })),
        ev(1610, 1, "ok", "acquire", json!({ "token": 2, "ttl_ms": 1000 })),
        ev(1690, 2, "invoke", "acquire", json!({ "ttl_ms": 1000 })),
        ev(1700, 2, "ok", "acquire", json!({ "token": 3, "ttl_ms": 1000 })),
    ];
    let h = history(&events);
    let lapses = lapse::lapses(&h, &LeaseOptions::default()).unwrap();
    assert_eq!(lapses[0].by, Some(1600 * MS));
    assert_eq!(verdicts(&h, &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Invalid));
    // Granted after the second lease too (to 2590 ms): a lease lock.
    let mut later = events.clone();
    later[6].0 = 2600;
    later[7].0 = 2610;
    assert_eq!(verdicts(&history(&later), &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Valid));
}

#[test]
fn a_grant_with_no_lease_recorded_never_lapses() {
    let mut events = lapsed_then_granted(1600);
    events[0].4 = Value::Null;
    events[1].4 = json!({ "token": 1 });
    let h = history(&events);
    assert!(lapse::lapses(&h, &LeaseOptions::default()).unwrap().is_empty());
    assert_eq!(verdicts(&h, &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Invalid));
}

#[test]
fn a_late_release_acknowledged_after_another_grant_found_the_lease_gone() {
    // A client pause on etcd: process 1's lease ran out at 990 ms while it
    // slept, process 2 was granted at 1210, and process 1's release at 1500
    // came back `ok` (deleting a key that was already gone).
    let mut events = lapsed_then_granted(1200);
    events[3] = ev(1502, 1, "ok", "release", Value::Null);
    events.sort_by_key(|e| e.0);
    let h = history(&events);
    assert_eq!(verdicts(&h, &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Valid));
    assert_eq!(verdicts(&h, &ModelSpec::FencedMutex), (Verdict::Invalid, Verdict::Valid));
    let lapses = lapse::lapses(&h, &LeaseOptions::default()).unwrap();
    assert_eq!((lapses[0].by, lapses[0].release.is_some()), (Some(1502 * MS), true));
    // The clients overlapped (the holder overran its lease); the service
    // kept its promise.
    let options = LeaseOptions::default();
    assert_eq!(analysis::mutual_exclusion(&h, &options).unwrap().validity, Verdict::Invalid);
    assert_eq!(analysis::lease_safety(&h, &options).unwrap().validity, Verdict::Valid);
    // Acknowledged after process 2's release too: both orders are possible.
    let mut later = lapsed_then_granted(1200);
    later[3] = ev(1800, 1, "ok", "release", Value::Null);
    later.sort_by_key(|e| e.0);
    assert_eq!(verdicts(&history(&later), &ModelSpec::Mutex), (Verdict::Invalid, Verdict::Valid));
    // A release acknowledged while the lease held, then a grant inside
    // what would have been the lease: an ordinary release, linearizable.
    let mut early = lapsed_then_granted(1600);
    early[2].0 = 300;
    early[3] = ev(302, 1, "ok", "release", Value::Null);
    early.sort_by_key(|e| e.0);
    assert_eq!(verdicts(&history(&early), &ModelSpec::Mutex), (Verdict::Valid, Verdict::Valid));
}

#[test]
fn a_session_lock_lapses_when_a_fault_could_end_its_session() {
    // Process 1 holds a session lock granted by n1; n1 is killed at 500 ms;
    // the release finds the session gone; process 2 is granted at 800.
    let events: Vec<Event> = vec![
        ev(0, 1, "invoke", "acquire", Value::Null),
        (10, 1, "ok", "acquire", json!({ "token": 1, "session": true }), Some("n1")),
        ev(500, -1, "invoke", "kill-start", json!({ "kind": "kill", "targets": ["n1"] })),
        ev(550, -1, "info", "kill-start", json!({ "kind": "kill", "targets": ["n1"] })),
        ev(600, -1, "invoke", "kill-stop", json!({ "kind": "kill", "targets": ["n1"] })),
        ev(700, -1, "info", "kill-stop", json!({ "kind": "kill", "targets": ["n1"] })),
        ev(790, 2, "invoke", "acquire", Value::Null),
        (800, 2, "ok", "acquire", json!({ "token": 2, "session": true }), Some("n2")),
        ev(900, 1, "invoke", "release", Value::Null),
        ev(901, 1, "fail", "release", json!({ "released_by": "session-lost" })),
    ];
    let h = history(&events);
    let lapses = lapse::lapses(&h, &LeaseOptions::default()).unwrap();
    assert_eq!(lapses.iter().map(|l| (l.process, l.at / MS)).collect::<Vec<_>>(), [(1, 500)]);
    assert_eq!(verdicts(&h, &ModelSpec::FencedMutex), (Verdict::Invalid, Verdict::Valid));
}
