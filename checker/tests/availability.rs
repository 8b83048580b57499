//! Availability's outages and served share: one definition for both — per
//! key, a stretch of a second or more in which clients asked, no one held
//! the lock (or led), and nothing was granted.

use checker::analysis;
use checker::evidence::{Availability, Evidence};
mod common;
use common::history;
use serde_json::{json, Value};

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

fn availability(h: &checker::History) -> (String, Availability) {
    let a = analysis::availability(h).unwrap();
    // The evidence reads back as written: results.json's shape.
    let back: analysis::Analysis = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
    assert_eq!(back, a);
    match a.evidence {
        Evidence::Availability(e) => (a.summary, *e),
        other => panic!("not availability: {other:?}"),
    }
}

/// The served share and the outages agree: the share is the history's time
/// outside the outages (which here do not overlap).
fn assert_consistent(e: &Availability, duration: u64) {
    let out: u64 = e.outages.iter().map(|o| o.end - o.start).sum();
    let share = 1.0 - out as f64 / duration as f64;
    assert!((e.progress_share - share).abs() < 1e-9, "share {} but {out} ns of {duration} out", e.progress_share);
}

/// The etcd-lease-pause pattern: one lock handed from client to client,
/// each holding it about 1.2 s while the other waits in a blocking acquire.
/// Grants come more than a second apart, yet no one ever asked for a free
/// lock in vain: no outage, served all the time.
#[test]
fn a_lock_held_by_its_holder_is_no_outage() {
    let mut events = Vec::new();
    let mut t = 100 * MS;
    // p1 takes the lock; then each cycle the other process, already waiting,
    // is granted it as the holder releases.
    events.push((0, 1, "invoke", "acquire", "k0", Value::Null));
    events.push((t, 1, "ok", "acquire", "k0", json!({ "token": 1 })));
    events.push((t + MS, 2, "invoke", "acquire", "k0", Value::Null));
    let (mut holder, mut waiter) = (1i64, 2i64);
    for token in 2..10 {
        t += 1200 * MS;
        events.push((t, holder, "invoke", "release", "k0", Value::Null));
        events.push((t + 5 * MS, waiter, "ok", "acquire", "k0", json!({ "token": token })));
        events.push((t + 6 * MS, holder, "ok", "release", "k0", Value::Null));
        events.push((t + 7 * MS, holder, "invoke", "acquire", "k0", Value::Null));
        std::mem::swap(&mut holder, &mut waiter);
    }
    t += 1200 * MS;
    events.push((t, holder, "invoke", "release", "k0", Value::Null));
    events.push((t + 5 * MS, holder, "ok", "release", "k0", Value::Null));
    let h = history(&events);
    let (summary, e) = availability(&h);
    assert!(e.outages.is_empty(), "{:?}", e.outages);
    assert_eq!(e.progress_share, 1.0);
    assert!(summary.contains("no outage: served 100 % of the time"), "{summary}");
}

/// A free lock that clients keep asking for and are refused (a try-lock
/// retried every 300 ms while the node is killed) is an outage, and the
/// served share says the same.
#[test]
fn a_free_lock_refused_while_clients_ask_is_an_outage() {
    let mut events = vec![
        (0, 1, "invoke", "acquire", "k0", Value::Null),
        (10 * MS, 1, "ok", "acquire", "k0", json!({ "token": 1 })),
        (500 * MS, 1, "invoke", "release", "k0", Value::Null),
        (510 * MS, 1, "ok", "release", "k0", Value::Null),
        (S, -1, "info", "kill-start", "", json!({ "kind": "kill", "targets": ["n1"] })),
    ];
    // Nobody asks from t=0.5 (the release) to t=1.0: the lock is free but
    // not out. Refused from t=1.0 to t=2.8, granted at t=3.5: out 2.5 s.
    for i in 0..7 {
        let t = S + i * 300 * MS;
        events.push((t, 2, "invoke", "acquire", "k0", Value::Null));
        events.push((t + 20 * MS, 2, "fail", "acquire", "k0", Value::Null));
    }
    events.push((3 * S, -1, "info", "kill-stop", "", json!({ "kind": "kill", "targets": ["n1"] })));
    events.push((3 * S + 100 * MS, 2, "invoke", "acquire", "k0", Value::Null));
    events.push((3 * S + 500 * MS, 2, "ok", "acquire", "k0", json!({ "token": 2 })));
    events.push((4 * S, 2, "invoke", "release", "k0", Value::Null));
    events.push((4 * S + MS, 2, "ok", "release", "k0", Value::Null));
    let h = history(&events);
    let (summary, e) = availability(&h);
    assert_eq!(e.outages.len(), 1, "{:?}", e.outages);
    let o = &e.outages[0];
    assert_eq!((o.key.as_deref(), o.start, o.end), (Some("k0"), S, 3 * S + 500 * MS));
    assert_eq!(
        o.text,
        "no grant from t=1.000 s to t=3.500 s (2.5 s) while clients asked for lock k0 and no one held it, during kill on n1"
    );
    assert_eq!(o.faults, ["kill on n1"]);
    assert_consistent(&e, 4 * S + MS);
    assert!(summary.contains("1 outage, 2.5 s in all: served 38 % of the time"), "{summary}");
}

/// An election with a leader most of the time and one 2.5 s succession in
/// which candidates campaigned and no one led: one outage, and the served
/// share is 75 % — though observers got answers every second (the old
/// figure, seconds with any `ok`, said 100 % beside two outages).
#[test]
fn an_election_led_most_of_the_time_has_one_outage_and_a_share_that_agrees() {
    let mut events = vec![
        (0, 1, "invoke", "campaign", "e0", json!({ "id": "p1" })),
        (100 * MS, 1, "ok", "campaign", "e0", json!({ "id": "p1", "term": 1 })),
        (200 * MS, 2, "invoke", "campaign", "e0", json!({ "id": "p2" })),
        (300 * MS, 3, "invoke", "campaign", "e0", json!({ "id": "p3" })),
    ];
    // p1 leads to t=4; p2 is elected only at t=6.5; p2 leads to the end.
    events.push((4 * S, 1, "invoke", "resign", "e0", Value::Null));
    events.push((4 * S + MS, 1, "ok", "resign", "e0", Value::Null));
    events.push((6 * S + 500 * MS, 2, "ok", "campaign", "e0", json!({ "id": "p2", "term": 2 })));
    for second in 0..10 {
        let t = second * S + 50 * MS;
        events.push((t, 0, "invoke", "observe", "e0", Value::Null));
        events.push((t + MS, 0, "ok", "observe", "e0", json!({ "leader": "p2", "term": 2 })));
    }
    events.push((10 * S, 3, "info", "campaign", "e0", Value::Null));
    events.sort_by_key(|e| e.0);
    let h = history(&events);
    let (summary, e) = availability(&h);
    assert_eq!(e.outages.len(), 1, "{:?}", e.outages);
    let o = &e.outages[0];
    assert_eq!((o.key.as_deref(), o.start, o.end), (Some("e0"), 4 * S, 6 * S + 500 * MS));
    assert!(o.text.contains("while candidates campaigned in election e0 and no one led it"), "{}", o.text);
    assert_consistent(&e, 10 * S);
    assert!((e.progress_share - 0.75).abs() < 1e-9, "{}", e.progress_share);
    assert!(summary.contains("served 75 % of the time"), "{summary}");
}

/// Concatenated per-process logs: lines out of time order. Availability
/// takes the earliest and latest times, not the first and last lines', and
/// never indexes past its per-second figures.
#[test]
fn lines_out_of_time_order_do_not_panic() {
    let h = history(&[
        (5 * S, 2, "invoke", "acquire", "k0", Value::Null),
        (5 * S + MS, 2, "ok", "acquire", "k0", json!({ "token": 2 })),
        (5 * S + 2 * MS, 2, "invoke", "release", "k0", Value::Null),
        (5 * S + 3 * MS, 2, "ok", "release", "k0", Value::Null),
        (0, 1, "invoke", "acquire", "k0", Value::Null),
        (MS, 1, "ok", "acquire", "k0", json!({ "token": 1 })),
        (2 * MS, 1, "invoke", "release", "k0", Value::Null),
        (3 * MS, 1, "ok", "release", "k0", Value::Null),
    ]);
    let (_, e) = availability(&h);
    assert_eq!(e.throughput_per_second.len(), 6);
    let completions: u64 = e.throughput_per_second.iter().map(|b| b[0] + b[1] + b[2]).sum();
    assert_eq!(completions, 4);
}
