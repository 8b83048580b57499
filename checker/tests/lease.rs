//! The lease arithmetic on hand-made histories: each grant's guaranteed
//! window (leases, renewals and keep-alives, drift, releases, sessions and
//! the faults that end them, unknown outcomes), the cause of every overlap,
//! and `lease-safety`'s verdict.

use checker::analysis::{self, Analysis};
use checker::evidence::Evidence;
use checker::formats::jsonl;
use checker::lease::{Cause, Ended, LeaseOptions, Promise};
use checker::Verdict;
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

/// One event: (time in ms, process (-1: nemesis), type, f, value, node).
type Event<'a> = (u64, i64, &'a str, &'a str, Value, Option<&'a str>);

fn history(events: &[Event]) -> checker::History {
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
    jsonl::read("lease.jsonl", &text).unwrap()
}

fn ok(t: u64, p: i64, f: &'static str, v: Value) -> Event<'static> {
    (t, p, "ok", f, v, None)
}

fn invoke(t: u64, p: i64, f: &'static str, v: Value) -> Event<'static> {
    (t, p, "invoke", f, v, None)
}

/// Process 1 takes a 1000 ms lease at t=0 (granted at 10 ms) and releases
/// at 3000 ms; process 2 is granted it at `second` ms and releases at 4000.
fn two_holders(second: u64, extra: &[Event<'static>]) -> Vec<Event<'static>> {
    let mut events = vec![
        invoke(0, 1, "acquire", json!({ "ttl_ms": 1000 })),
        ok(10, 1, "acquire", json!({ "token": 1, "ttl_ms": 1000 })),
        invoke(second - 5, 2, "acquire", json!({ "ttl_ms": 1000 })),
        ok(second, 2, "acquire", json!({ "token": 2, "ttl_ms": 1000 })),
        invoke(3000, 1, "release", Value::Null),
        ok(3001, 1, "release", Value::Null),
        invoke(4000, 2, "release", Value::Null),
        ok(4001, 2, "release", Value::Null),
    ];
    events.extend_from_slice(extra);
    events.sort_by_key(|e| e.0);
    events
}

fn check(events: &[Event], options: &LeaseOptions) -> (Analysis, Analysis) {
    let h = history(events);
    let me = analysis::mutual_exclusion(&h, options).unwrap();
    let ls = analysis::lease_safety(&h, options).unwrap();
    // Both read back as they were written.
    for a in [&me, &ls] {
        let back: Analysis = serde_json::from_value(serde_json::to_value(a).unwrap()).unwrap();
        assert_eq!(&back, a);
    }
    (me, ls)
}

fn causes(a: &Analysis) -> Vec<Cause> {
    let Evidence::MutualExclusion(e) = &a.evidence else { panic!("{a:?}") };
    e.anomalies.iter().map(|o| o.cause.expect("every overlap has a cause")).collect()
}

#[test]
fn a_holder_that_outlives_its_lease_overran_it() {
    let (me, ls) = check(&two_holders(1500, &[]), &LeaseOptions::default());
    assert_eq!(me.validity, Verdict::Invalid);
    assert_eq!(causes(&me), [Cause::LeaseExpired]);
    let Evidence::MutualExclusion(e) = &me.evidence else { unreachable!() };
    assert_eq!(e.causes.get(&Cause::LeaseExpired), Some(&1));
    assert!(
        e.anomalies[0].text.ends_with(
            "lease-expired: process 1's lease ran out at t=0.990 s (1000 ms from t=0.000 s, its acquire's invocation, less 1 % drift)"
        ),
        "{}",
        e.anomalies[0].text
    );
    assert_eq!(ls.validity, Verdict::Valid, "{}", ls.summary);
    assert_eq!(ls.summary, "2 guaranteed windows (2 leases), none granted inside another's");
}

#[test]
fn drift_shortens_what_a_lease_guarantees() {
    // Granted to process 2 at 995 ms: past 1000 ms × 0.99, inside 1000 ms.
    let events = two_holders(995, &[]);
    let (me, ls) = check(&events, &LeaseOptions::default());
    assert_eq!((causes(&me), ls.validity), (vec![Cause::LeaseExpired], Verdict::Valid));
    let (me, ls) = check(&events, &LeaseOptions { drift: 0.0 });
    assert_eq!((causes(&me), ls.validity), (vec![Cause::PromiseBroken], Verdict::Invalid));
}

#[test]
fn an_acknowledged_renewal_extends_the_promise() {
    // Renewed at 800 ms: guaranteed to 800 + 990 = 1790 ms.
    let renewed = [invoke(800, 1, "renew", Value::Null), ok(805, 1, "renew", json!({ "ttl_ms": 1000 }))];
    let (me, ls) = check(&two_holders(1500, &renewed), &LeaseOptions::default());
    assert_eq!(causes(&me), [Cause::PromiseBroken]);
    assert_eq!(ls.validity, Verdict::Invalid);
    let Evidence::LeaseSafety(e) = &ls.evidence else { unreachable!() };
    let first = &e.anomalies[0];
    assert_eq!(first.processes, [1, 2]);
    assert_eq!((first.start, first.duration), (1500 * MS, 290 * MS));
    assert_eq!(first.windows[0].promise, Promise::Lease { ttl_ms: 1000, from: 800 * MS, renewals: 1 });
    assert_eq!(first.windows[0].ended, Ended::LeaseRanOut);
    assert_eq!(
        first.text,
        "process 2 was granted lock k0 at t=1.500 s, inside process 1's guaranteed window (a 1000 ms lease from t=0.800 s, guaranteed to t=1.790 s)"
    );
    // Granted after that: the lease had run out after all.
    let (me, ls) = check(&two_holders(1800, &renewed), &LeaseOptions::default());
    assert_eq!((causes(&me), ls.validity), (vec![Cause::LeaseExpired], Verdict::Valid));
    // A renewal answered without a TTL (a recipe's own "still held", not
    // the server's acknowledgement) extends nothing.
    let local = [invoke(800, 1, "renew", Value::Null), ok(805, 1, "renew", Value::Null)];
    let (me, _) = check(&two_holders(1500, &local), &LeaseOptions::default());
    assert_eq!(causes(&me), [Cause::LeaseExpired]);
}

#[test]
fn keep_alives_recorded_on_the_holders_behalf_renew_too_but_unanswered_ones_do_not() {
    let keeper = 3_000_000;
    let kept = |answer: &'static str| {
        vec![
            invoke(700, keeper, "keep-alive", json!({ "of_process": 1, "lease": 7 })),
            (705, keeper, answer, "keep-alive", json!({ "of_process": 1, "lease": 7, "ttl_ms": 2000 }), None),
        ]
    };
    // Acknowledged with a 2000 ms TTL at 700 ms: guaranteed to 2680 ms.
    let (me, ls) = check(&two_holders(2500, &kept("ok")), &LeaseOptions::default());
    assert_eq!((causes(&me), ls.validity), (vec![Cause::PromiseBroken], Verdict::Invalid));
    // An `info` keep-alive may have renewed it, but the client never knew:
    // the promise it relied on is the acquire's.
    let (me, ls) = check(&two_holders(2500, &kept("info")), &LeaseOptions::default());
    assert_eq!((causes(&me), ls.validity), (vec![Cause::LeaseExpired], Verdict::Valid));
    // Another process's keep-alives are not process 1's.
    let mut other = kept("ok");
    other[0].4 = json!({ "of_process": 9, "lease": 8 });
    other[1].4 = json!({ "of_process": 9, "lease": 8, "ttl_ms": 2000 });
    let (me, _) = check(&two_holders(2500, &other), &LeaseOptions::default());
    assert_eq!(causes(&me), [Cause::LeaseExpired]);
}

#[test]
fn a_release_before_expiry_ends_the_window_and_nothing_overlaps() {
    let events = vec![
        invoke(0, 1, "acquire", json!({ "ttl_ms": 1000 })),
        ok(10, 1, "acquire", json!({ "ttl_ms": 1000 })),
        invoke(500, 1, "release", Value::Null),
        ok(501, 1, "release", Value::Null),
        invoke(502, 2, "acquire", json!({ "ttl_ms": 1000 })),
        ok(600, 2, "acquire", json!({ "ttl_ms": 1000 })),
    ];
    let (me, ls) = check(&events, &LeaseOptions::default());
    assert_eq!((me.validity, ls.validity), (Verdict::Valid, Verdict::Valid));
    let Evidence::LeaseSafety(e) = &ls.evidence else { unreachable!() };
    assert_eq!((e.windows, e.leases, e.sessions, e.broken), (2, 2, 0, 0));
}

#[test]
fn an_unknown_acquire_grants_no_window() {
    // Process 1's acquire ended `info`: it may hold the lock, but the
    // service promised it nothing it acknowledged.
    let events = vec![
        invoke(0, 1, "acquire", json!({ "ttl_ms": 1000 })),
        (1000, 1, "info", "acquire", Value::Null, None),
        invoke(1001, 2, "acquire", json!({ "ttl_ms": 1000 })),
        ok(1002, 2, "acquire", json!({ "ttl_ms": 1000 })),
    ];
    let (me, ls) = check(&events, &LeaseOptions::default());
    assert_eq!((me.validity, ls.validity), (Verdict::Valid, Verdict::Valid));
    let Evidence::LeaseSafety(e) = &ls.evidence else { unreachable!() };
    assert_eq!(e.windows, 1);
}

/// Session locks: process 1 holds through n1 from 10 ms to 3000 ms;
/// process 2 is granted at 2000 ms.
fn session_holders(extra: &[Event<'static>], release: &'static str, release_value: Value) -> Vec<Event<'static>> {
    let mut events = vec![
        invoke(0, 1, "acquire", json!({ "ttl_ms": 1000 })),
        (10, 1, "ok", "acquire", json!({ "token": 1, "session": true }), Some("n1")),
        invoke(1995, 2, "acquire", json!({ "ttl_ms": 1000 })),
        (2000, 2, "ok", "acquire", json!({ "token": 2, "session": true }), Some("n1")),
        invoke(3000, 1, "release", Value::Null),
        (3001, 1, release, "release", release_value, None),
    ];
    events.extend_from_slice(extra);
    events.sort_by_key(|e| e.0);
    events
}

#[test]
fn a_fault_on_the_sessions_node_ends_a_session_lock() {
    let kill = |node: &'static str| {
        vec![
            (1000, -1, "invoke", "kill-start", json!({ "kind": "kill", "targets": [node] }), None),
            (1100, -1, "info", "kill-start", json!({ "kind": "kill", "targets": [node] }), None),
            (1500, -1, "invoke", "kill-stop", json!({ "kind": "kill", "targets": [node] }), None),
            (1900, -1, "info", "kill-stop", json!({ "kind": "kill", "targets": [node] }), None),
        ]
    };
    let lost = json!({ "released_by": "session-lost" });
    let (me, ls) = check(&session_holders(&kill("n1"), "info", lost.clone()), &LeaseOptions::default());
    assert_eq!(causes(&me), [Cause::SessionLost]);
    let Evidence::MutualExclusion(e) = &me.evidence else { unreachable!() };
    assert!(e.anomalies[0]
        .text
        .contains("session-lost: process 1's session could have ended at t=1.000 s, when kill on n1 began"));
    assert_eq!(ls.validity, Verdict::Valid, "{}", ls.summary);
    let Evidence::LeaseSafety(e) = &ls.evidence else { unreachable!() };
    assert_eq!((e.leases, e.sessions), (0, 2));
    // A kill of another node does not end a session held through n1, and
    // the TTL asked for does not bound a session lock: a broken promise.
    let (me, ls) = check(&session_holders(&kill("n2"), "ok", Value::Null), &LeaseOptions::default());
    assert_eq!((causes(&me), ls.validity), (vec![Cause::PromiseBroken], Verdict::Invalid));
}

#[test]
fn a_partition_ends_a_session_only_where_it_cuts_the_sessions_node() {
    let cut = |grudge: Value| {
        vec![
            (
                900,
                -1,
                "invoke",
                "partition-start",
                json!({ "kind": "one", "targets": ["n1", "n2", "n3"], "grudge": grudge }),
                None,
            ),
            (2500, -1, "info", "partition-stop", json!({ "kind": "one" }), None),
        ]
    };
    let n1_cut = json!({ "n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"] });
    let n3_cut = json!({ "n3": ["n1", "n2"], "n1": ["n3"], "n2": ["n3"] });
    let (me, _) = check(&session_holders(&cut(n1_cut), "ok", Value::Null), &LeaseOptions::default());
    assert_eq!(causes(&me), [Cause::SessionLost]);
    // n1 lost n3 only: still with the majority, but cut from a member all
    // the same, which can end a session that member was serving.
    let (me, _) = check(&session_holders(&cut(n3_cut), "ok", Value::Null), &LeaseOptions::default());
    assert_eq!(causes(&me), [Cause::SessionLost]);
    let (me, ls) = check(
        &session_holders(&cut(json!({ "n2": ["n3"], "n3": ["n2"] })), "ok", Value::Null),
        &LeaseOptions::default(),
    );
    assert_eq!((causes(&me), ls.validity), (vec![Cause::PromiseBroken], Verdict::Invalid));
}

#[test]
fn a_session_the_holder_found_lost_ends_its_window_there() {
    // Process 1's renewal at 1500 ms found its session gone: the window
    // ends at that invocation, before process 2's grant.
    let found = [
        invoke(1500, 1, "renew", Value::Null),
        (1510, 1, "info", "renew", json!({ "released_by": "session-lost" }), None),
    ];
    let mut events = session_holders(&found, "ok", Value::Null);
    // Process 1 retired after its `info`: drop its release.
    events.retain(|e| !(e.1 == 1 && e.3 == "release"));
    events.extend([invoke(2500, 2, "release", Value::Null), ok(2501, 2, "release", Value::Null)]);
    let (me, ls) = check(&events, &LeaseOptions::default());
    // The retired process never released: the client's view keeps its hold
    // open, but the service's promise ended where the session was found gone.
    assert_eq!(causes(&me), [Cause::SessionLost]);
    assert_eq!(ls.validity, Verdict::Valid);
}

#[test]
fn elections_split_believed_from_elected_leaders() {
    let campaign = |t: u64, p: i64, term: i64| {
        vec![
            invoke(t, p, "campaign", json!({ "id": format!("p{p}"), "ttl_ms": 1000 })),
            ok(t + 5, p, "campaign", json!({ "id": format!("p{p}"), "term": term, "ttl_ms": 1000 })),
        ]
    };
    let mut events = campaign(0, 1, 1);
    events.extend(campaign(1500, 2, 2));
    events.extend([invoke(3000, 1, "resign", json!({ "term": 1 })), ok(3001, 1, "resign", Value::Null)]);
    let h = history(&events);
    let e = analysis::election(&h, &LeaseOptions::default()).unwrap().unwrap();
    let Evidence::Election(ev) = &e.evidence else { unreachable!() };
    let causes: Vec<Option<Cause>> = ev
        .anomalies
        .iter()
        .filter_map(|a| match a {
            checker::evidence::ElectionAnomaly::OverlappingLeaders { cause, .. } => Some(*cause),
            _ => None,
        })
        .collect();
    assert_eq!(causes, [Some(Cause::LeaseExpired)]);
    assert_eq!(analysis::lease_safety(&h, &LeaseOptions::default()).unwrap().validity, Verdict::Valid);
    // Renewed at 1000 ms: process 1 was still guaranteed when 2 won.
    events.extend([invoke(1000, 1, "renew", json!({ "term": 1 })), ok(1001, 1, "renew", json!({ "ttl_ms": 1000 }))]);
    events.sort_by_key(|e| e.0);
    let h = history(&events);
    let ls = analysis::lease_safety(&h, &LeaseOptions::default()).unwrap();
    assert_eq!(ls.validity, Verdict::Invalid);
    assert!(ls.summary.contains("process 2 was elected in k0 at t=1.505 s"), "{}", ls.summary);
}

/// node-redlock's failure: an acquire whose answer comes after its lease
/// could have run out (the library retried inside one call) holds a grant
/// that guarantees nothing. Counted, with the worst, in lease-safety.
#[test]
fn a_grant_that_arrives_after_its_lease_ran_out_is_counted_as_spent() {
    let events = [
        invoke(0, 1, "acquire", json!({"ttl_ms": 100})),
        ok(300, 1, "acquire", json!({"ttl_ms": 100})),
        invoke(310, 1, "release", Value::Null),
        ok(311, 1, "release", Value::Null),
        invoke(400, 2, "acquire", json!({"ttl_ms": 1000})),
        ok(405, 2, "acquire", json!({"ttl_ms": 1000})),
        invoke(500, 2, "release", Value::Null),
        ok(501, 2, "release", Value::Null),
    ];
    let h = history(&events);
    let a = analysis::lease_safety(&h, &LeaseOptions { drift: 0.0 }).unwrap();
    let Evidence::LeaseSafety(e) = &a.evidence else { panic!("{a:?}") };
    assert_eq!(e.spent.len(), 1, "{a:?}");
    let spent = &e.spent[0];
    assert_eq!((spent.process, spent.lapsed, spent.granted, spent.late()), (1, 100 * MS, 300 * MS, 200 * MS));
    assert!(
        a.summary.contains("1 grant arrived already spent when it was")
            && a.summary.contains("worst: process 1's on k0, granted at t=0.300 s, 200 ms after its lease ran out"),
        "{}",
        a.summary
    );
    // A grant answered in time is not spent, and the verdict stands.
    assert_eq!(a.validity, Verdict::Valid);
}
