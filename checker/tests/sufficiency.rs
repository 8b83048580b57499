//! Whether a history holds enough to judge: thin evidence (no key granted
//! twice, mostly unknown outcomes, a fault nobody was active during) bounds
//! a `valid` at `unknown` and names what was missing; an `invalid` stands.

mod common;
use checker::sufficiency::{self, Shortfall, Sufficiency};
use checker::Verdict;
use common::history;
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

/// `n` acquire/release cycles of one key by alternating processes, 100 ms
/// each, from `from`.
fn cycles(from: u64, n: u64) -> Vec<(u64, i64, &'static str, &'static str, &'static str, Value)> {
    let mut events = Vec::new();
    for i in 0..n {
        let (t, p) = (from + i * 100 * MS, 1 + (i % 2) as i64);
        events.push((t, p, "invoke", "acquire", "k0", Value::Null));
        events.push((t + 10 * MS, p, "ok", "acquire", "k0", json!({ "token": i + 1 })));
        events.push((t + 60 * MS, p, "invoke", "release", "k0", Value::Null));
        events.push((t + 70 * MS, p, "ok", "release", "k0", Value::Null));
    }
    events
}

fn judged(h: &checker::History, grants: bool) -> Sufficiency {
    let s = sufficiency::judge(h, grants).unwrap();
    let back: Sufficiency = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(back, s, "results.json's shape reads back");
    s
}

fn kinds(s: &Sufficiency) -> Vec<String> {
    s.shortfalls.iter().map(|x| serde_json::to_value(x).unwrap()["kind"].as_str().unwrap().to_string()).collect()
}

/// The degenerate run in small: one grant, a few refusals, most
/// outcomes broken pipes (`info`).
#[test]
fn a_run_that_barely_ran_is_too_thin_to_call_valid() {
    let mut events =
        vec![(0, 0, "invoke", "acquire", "k0", Value::Null), (MS, 0, "ok", "acquire", "k0", json!({ "token": 1 }))];
    for p in 1..4 {
        events.push((p as u64 * MS, p, "invoke", "acquire", "k0", Value::Null));
        events.push((p as u64 * MS + 1, p, "fail", "acquire", "k0", Value::Null));
    }
    for p in 10..18 {
        events.push((p as u64 * MS, p, "invoke", "acquire", "k0", Value::Null));
        events.push((p as u64 * MS + 1, p, "info", "acquire", "k0", json!("broken pipe")));
    }
    let s = judged(&history(&events), true);
    assert!(!s.enough);
    assert_eq!((s.ok, s.fail, s.info), (1, 3, 8));
    assert_eq!(s.grants.as_ref().map(|g| (g.total, g.most_on_one_key)), Some((1, 1)));
    assert_eq!(kinds(&s), ["no-key-granted-twice", "mostly-unknown"]);
    assert!(s.summary.starts_with("too little to judge"), "{}", s.summary);
    assert!(s.summary.contains("8 of 12 client outcomes unknown (info, 67 %)"), "{}", s.summary);
    assert_eq!(s.bound(Verdict::Valid), Verdict::Unknown);
    assert_eq!(s.bound(Verdict::Invalid), Verdict::Invalid, "an anomaly found stands");
}

#[test]
fn a_busy_run_is_enough_and_a_short_one_is_warned() {
    let s = judged(&history(&cycles(0, 12)), true);
    assert!(s.enough && s.shortfalls.is_empty(), "{:?}", s.shortfalls);
    assert_eq!(s.bound(Verdict::Valid), Verdict::Valid);
    assert!(
        s.summary.starts_with("enough to judge: 24 client outcomes (0 % unknown), 12 grants on 1 key"),
        "{}",
        s.summary
    );

    // Three grants can show an overlap, but few: said, not held against it.
    let s = judged(&history(&cycles(0, 3)), true);
    assert!(s.enough);
    assert_eq!(kinds(&s), ["few-grants"]);
    assert_eq!(s.warnings().count(), 1);
    assert_eq!(s.bound(Verdict::Valid), Verdict::Valid);

    // A register history is not judged by its grants.
    let reg = history(&[
        (1, 1, "invoke", "write", "", json!(1)),
        (2, 1, "ok", "write", "", json!(1)),
        (3, 2, "invoke", "read", "", Value::Null),
        (4, 2, "ok", "read", "", json!(1)),
    ]);
    let s = judged(&reg, false);
    assert!(s.enough && s.grants.is_none(), "{:?}", s);
    // An empty history holds nothing.
    let s = judged(&history(&[]), true);
    assert_eq!(kinds(&s), ["no-client-ops"]);
}

/// A fault that struck while no client op was in flight and no lock was
/// held could not show anything; one during a hold could.
#[test]
fn a_fault_no_client_saw_is_named() {
    let partition = json!({ "kind": "one", "targets": ["n2"] });
    let mut events = cycles(0, 12);
    // The cycles end at t=1.17 s; the partition is from 2 s to 3 s.
    events.push((2000 * MS, -1, "info", "partition-start", "", partition.clone()));
    events.push((3000 * MS, -1, "info", "partition-stop", "", partition.clone()));
    events.extend(cycles(4000 * MS, 12));
    let s = judged(&history(&events), true);
    assert!(!s.enough);
    assert_eq!(kinds(&s), ["fault-unwitnessed"]);
    assert_eq!((s.faults[0].ops, s.faults[0].holds), (0, 0));
    let Shortfall::FaultUnwitnessed { text, .. } = &s.shortfalls[0] else { unreachable!() };
    assert_eq!(
        text,
        "no client operation in flight and no lock held during a one partition on n2 (t=2.000 s to t=3.000 s): nothing could show what it did"
    );

    // The same partition while a lock is held (and no op in flight).
    let mut events = cycles(0, 12);
    events.push((2000 * MS, 1, "invoke", "acquire", "k0", Value::Null));
    events.push((2001 * MS, 1, "ok", "acquire", "k0", json!({ "token": 100 })));
    events.push((2100 * MS, -1, "info", "partition-start", "", partition.clone()));
    events.push((2900 * MS, -1, "info", "partition-stop", "", partition));
    events.push((3000 * MS, 1, "invoke", "release", "k0", Value::Null));
    events.push((3001 * MS, 1, "ok", "release", "k0", Value::Null));
    let s = judged(&history(&events), true);
    assert!(s.enough, "{:?}", s.shortfalls);
    assert_eq!((s.faults[0].ops, s.faults[0].holds), (0, 1));
}
