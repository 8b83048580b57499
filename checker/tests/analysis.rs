//! The lock and election analyses on small hand-made histories, each anomaly
//! kind found and described, and the clean cases valid.

use checker::analysis::{self, Analysis};
use checker::lease::LeaseOptions;
use checker::Verdict;

mod common;
use common::history;
use serde_json::{json, Value};

/// The evidence as `results.json` holds it (the on-disk shape is part of
/// the contract), after checking it reads back into the same typed value.
fn ev(a: &Analysis) -> Value {
    let value = serde_json::to_value(a).unwrap();
    let back: Analysis = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(&back, a, "{value}");
    value["evidence"].clone()
}

fn null() -> Value {
    Value::Null
}

#[test]
fn overlapping_holds_are_reported_with_the_faults_active() {
    let h = history(&[
        (0, -1, "info", "partition-start", "", json!({ "kind": "one", "targets": ["n2"] })),
        (10, 1, "invoke", "acquire", "k0", null()),
        (1_000_000_000, 1, "ok", "acquire", "k0", null()),
        (1_100_000_000, 2, "invoke", "acquire", "k0", null()),
        (1_500_000_000, 2, "ok", "acquire", "k0", null()),
        (2_920_000_000, 1, "invoke", "release", "k0", null()),
        (2_930_000_000, 1, "ok", "release", "k0", null()),
        (3_000_000_000, 2, "invoke", "release", "k0", null()),
        (3_000_000_001, 2, "ok", "release", "k0", null()),
        (4_000_000_000, -1, "info", "partition-stop", "", json!({ "kind": "one", "targets": ["n2"] })),
    ]);
    let a = analysis::mutual_exclusion(&h, &LeaseOptions::default()).unwrap();
    assert_eq!(a.validity, Verdict::Invalid);
    let overlap = &ev(&a)["anomalies"][0];
    assert_eq!(overlap["processes"], json!([1, 2]));
    assert_eq!(overlap["duration"], json!(1_420_000_000u64));
    assert_eq!(
        overlap["text"],
        "processes 1 and 2 both held lock k0 for 1.420 s from t=1.500 s, during a one partition on n2 — promise-broken: granted inside process 1's guaranteed window (no lease recorded, so held until its release at t=2.920 s)"
    );
}

#[test]
fn holds_one_after_another_are_fine_and_different_keys_never_clash() {
    let h = history(&[
        (1, 1, "invoke", "acquire", "k0", null()),
        (2, 1, "ok", "acquire", "k0", null()),
        (3, 2, "invoke", "acquire", "k1", null()),
        (4, 2, "ok", "acquire", "k1", null()),
        (5, 1, "invoke", "release", "k0", null()),
        (6, 1, "ok", "release", "k0", null()),
        // Process 3 is granted k0 after process 1 began releasing it.
        (5, 3, "invoke", "acquire", "k0", null()),
        (7, 3, "ok", "acquire", "k0", null()),
        (8, 3, "invoke", "release", "k0", null()),
        (9, 3, "ok", "release", "k0", null()),
        (10, 2, "invoke", "release", "k1", null()),
        (11, 2, "ok", "release", "k1", null()),
    ]);
    let a = analysis::mutual_exclusion(&h, &LeaseOptions::default()).unwrap();
    assert_eq!(a.validity, Verdict::Valid, "{}", a.summary);
    assert_eq!(ev(&a)["holds"], 3);
}

#[test]
fn fencing_finds_regressions_duplicates_and_stale_writes() {
    let grant = |t: i64| json!({ "token": t });
    let h = history(&[
        (1, 1, "invoke", "acquire", "k0", null()),
        (2, 1, "ok", "acquire", "k0", grant(5)),
        (3, 1, "invoke", "release", "k0", null()),
        (4, 1, "ok", "release", "k0", null()),
        // After 1's grant completed, 2 gets a smaller token: a regression.
        (5, 2, "invoke", "acquire", "k0", null()),
        (6, 2, "ok", "acquire", "k0", grant(3)),
        (7, 2, "invoke", "write", "k0", json!({ "value": 1, "token": 3 })),
        (8, 2, "ok", "write", "k0", json!({ "value": 1, "token": 3 })),
        (9, 2, "invoke", "release", "k0", null()),
        (10, 2, "ok", "release", "k0", null()),
        (11, 3, "invoke", "acquire", "k0", null()),
        (12, 3, "ok", "acquire", "k0", grant(3)),
        (13, 3, "invoke", "write", "k0", json!({ "value": 2, "token": 7 })),
        (14, 3, "ok", "write", "k0", json!({ "value": 2, "token": 7 })),
        // Accepted with token 3 after token 7 was: a stale write.
        (15, 3, "invoke", "write", "k0", json!({ "value": 3, "token": 3 })),
        (16, 3, "ok", "write", "k0", json!({ "value": 3, "token": 3 })),
    ]);
    let a = analysis::fencing(&h).unwrap().expect("tokens present");
    assert_eq!(a.validity, Verdict::Invalid);
    let kinds: Vec<String> =
        ev(&a)["anomalies"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap().to_string()).collect();
    assert!(["regression", "duplicate", "stale-write"].iter().all(|k| kinds.iter().any(|x| x == k)), "{kinds:?}");
}

#[test]
fn fencing_is_valid_when_the_resource_rejects_stale_tokens_and_absent_without_tokens() {
    let h = history(&[
        (1, 1, "invoke", "acquire", "k0", null()),
        (2, 1, "ok", "acquire", "k0", json!({ "token": 1 })),
        (3, 2, "invoke", "acquire", "k0", null()),
        (4, 2, "ok", "acquire", "k0", json!({ "token": 2 })),
        (5, 2, "invoke", "write", "k0", json!({ "value": 1, "token": 2 })),
        (6, 2, "ok", "write", "k0", json!({ "value": 1, "token": 2 })),
        (7, 1, "invoke", "write", "k0", json!({ "value": 1, "token": 1 })),
        (8, 1, "fail", "write", "k0", json!({ "value": 1, "token": 1 })),
    ]);
    let a = analysis::fencing(&h).unwrap().unwrap();
    assert_eq!(a.validity, Verdict::Valid, "{}", a.summary);
    assert_eq!(ev(&a)["rejected_writes"], 1);
    let no_tokens = history(&[(1, 1, "invoke", "acquire", "k0", null()), (2, 1, "ok", "acquire", "k0", null())]);
    assert!(analysis::fencing(&no_tokens).unwrap().is_none());
}

#[test]
fn lost_updates_count_increments_the_final_read_lacks() {
    let w = |v: i64| json!({ "value": v, "token": null });
    let mut events = vec![
        (1, 1, "invoke", "write", "k0", w(1)),
        (2, 1, "ok", "write", "k0", w(1)),
        // Process 2 read 0 before 1's write and writes 1 again: one lost.
        (3, 2, "invoke", "write", "k0", w(1)),
        (4, 2, "ok", "write", "k0", w(1)),
        (5, 3, "invoke", "write", "k0", w(2)),
        (6, 3, "ok", "write", "k0", w(2)),
    ];
    events.push((7, 9, "invoke", "final-read", "k0", null()));
    events.push((8, 9, "ok", "final-read", "k0", json!(2)));
    let a = analysis::lost_updates(&history(&events)).unwrap().unwrap();
    assert_eq!(a.validity, Verdict::Invalid);
    assert_eq!(ev(&a)["anomalies"][0]["lost"], 1);
    assert_eq!(ev(&a)["anomalies"][0]["repeated_values"][0]["processes"], json!([1, 2]));
    assert_eq!(ev(&a)["anomalies"][0]["text"], "counter k0 ends at 2 after 3 acknowledged increments: 1 lost");

    let clean = history(&[
        (1, 1, "invoke", "write", "k0", w(1)),
        (2, 1, "ok", "write", "k0", w(1)),
        (3, 2, "invoke", "write", "k0", w(1)),
        (4, 2, "fail", "write", "k0", w(1)),
        (5, 3, "invoke", "write", "k0", w(2)),
        (6, 3, "ok", "write", "k0", w(2)),
    ]);
    assert_eq!(analysis::lost_updates(&clean).unwrap().unwrap().validity, Verdict::Valid);
}

#[test]
fn election_anomalies_each_have_their_kind() {
    let camp = |id: &str, term: i64| json!({ "id": id, "term": term });
    let h = history(&[
        (1, 1, "invoke", "campaign", "e0", json!({ "id": "p1" })),
        (2, 1, "ok", "campaign", "e0", camp("p1", 1)),
        // p2 elected in the same term while p1 still leads.
        (3, 2, "invoke", "campaign", "e0", json!({ "id": "p2" })),
        (4, 2, "ok", "campaign", "e0", camp("p2", 1)),
        (5, 2, "invoke", "resign", "e0", json!({ "term": 1 })),
        (6, 2, "ok", "resign", "e0", null()),
        (7, 3, "invoke", "campaign", "e0", json!({ "id": "p3" })),
        (8, 3, "ok", "campaign", "e0", camp("p3", 2)),
        // p1, deposed by term 2, still gets a write accepted.
        (9, 1, "invoke", "write", "e0", json!({ "value": 1, "term": 1, "id": "p1" })),
        (10, 1, "ok", "write", "e0", json!({ "value": 1, "term": 1, "id": "p1" })),
        (11, 0, "invoke", "observe", "e0", null()),
        (12, 0, "ok", "observe", "e0", json!({ "leader": "p7", "term": 2 })),
    ]);
    let a = analysis::election(&h, &LeaseOptions::default()).unwrap().unwrap();
    assert_eq!(a.validity, Verdict::Invalid);
    let kinds: std::collections::BTreeSet<String> =
        ev(&a)["anomalies"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap().to_string()).collect();
    let want = ["overlapping-leaders", "phantom-leader", "stale-leader-write", "two-leaders-one-term"];
    assert_eq!(kinds, want.into_iter().map(String::from).collect());
}

#[test]
fn a_clean_succession_of_leaders_is_valid() {
    let h = history(&[
        (1, 1, "invoke", "campaign", "e0", json!({ "id": "p1" })),
        (2, 1, "ok", "campaign", "e0", json!({ "id": "p1", "term": 1 })),
        (3, 1, "invoke", "write", "e0", json!({ "value": 1, "term": 1 })),
        (4, 1, "ok", "write", "e0", json!({ "value": 1, "term": 1 })),
        (5, 1, "invoke", "resign", "e0", null()),
        (6, 1, "ok", "resign", "e0", null()),
        (7, 2, "invoke", "campaign", "e0", json!({ "id": "p2" })),
        (8, 2, "ok", "campaign", "e0", json!({ "id": "p2", "term": 2 })),
        (9, 0, "invoke", "observe", "e0", null()),
        (10, 0, "ok", "observe", "e0", json!({ "leader": "p2", "term": 2 })),
    ]);
    let a = analysis::election(&h, &LeaseOptions::default()).unwrap().unwrap();
    assert_eq!(a.validity, Verdict::Valid, "{}", a.summary);
}

#[test]
fn availability_gives_quantiles_throughput_and_recovery() {
    let s = 1_000_000_000u64;
    let h = history(&[
        (0, 1, "invoke", "acquire", "k0", null()),
        (10_000_000, 1, "ok", "acquire", "k0", null()),
        (20_000_000, 1, "invoke", "release", "k0", null()),
        (30_000_000, 1, "ok", "release", "k0", null()),
        (s, -1, "info", "kill-start", "", json!({ "kind": "kill", "targets": ["n1"] })),
        (s + 1, 1, "invoke", "acquire", "k0", null()),
        (s + 2, 1, "info", "acquire", "k0", null()),
        (2 * s, -1, "info", "kill-stop", "", json!({ "kind": "kill", "targets": ["n1"] })),
        (2 * s + 100_000_000, 2, "invoke", "acquire", "k0", null()),
        (2 * s + 250_000_000, 2, "ok", "acquire", "k0", null()),
    ]);
    let a = analysis::availability(&h).unwrap();
    assert_eq!(a.validity, Verdict::Valid);
    let rec = &ev(&a)["recoveries"][0];
    assert_eq!(rec["fault"], "kill");
    assert_eq!(rec["recovery_ns"], 250_000_000);
    assert_eq!(ev(&a)["throughput_per_second"].as_array().unwrap().len(), 3);
    let acq = &ev(&a)["grant_latency"];
    assert_eq!(acq["count"], 2);
    assert_eq!(acq["max_ms"], 150.0);
}

/// The etcd seed-1 case: p1's campaign timed out (`info`), yet it had won;
/// an observer then saw p1 lead. That is a possible leadership, not a
/// phantom — while a candidate that never campaigned still is one.
#[test]
fn an_info_campaign_seen_leading_is_no_phantom() {
    let s = 1_000_000_000u64;
    let h = history(&[
        (4_300_000_000, 1, "invoke", "campaign", "e0", json!({ "id": "p1" })),
        (4_400_000_000, 0, "invoke", "observe", "e0", null()),
        (4_410_000_000, 0, "ok", "observe", "e0", json!({ "leader": "p1", "term": 257 })),
        (6_310_000_000, 1, "info", "campaign", "e0", json!({ "id": "p1" })),
        (10 * s, 0, "invoke", "observe", "e0", null()),
        (10 * s + 80_000_000, 0, "ok", "observe", "e0", json!({ "leader": "p1", "term": 257 })),
        (11 * s, 2, "invoke", "campaign", "e0", json!({ "id": "p2" })),
        (11 * s + 1, 2, "ok", "campaign", "e0", json!({ "id": "p2", "term": 300 })),
    ]);
    let a = analysis::election(&h, &LeaseOptions::default()).unwrap().unwrap();
    assert_eq!(a.validity, Verdict::Valid, "{}", a.summary);

    // Seen before its campaign began: that one is a phantom.
    let early = history(&[
        (1, 0, "invoke", "observe", "e0", null()),
        (2, 0, "ok", "observe", "e0", json!({ "leader": "p1", "term": 5 })),
        (3, 1, "invoke", "campaign", "e0", json!({ "id": "p1" })),
        (4, 1, "info", "campaign", "e0", json!({ "id": "p1" })),
        (5, 2, "invoke", "campaign", "e0", json!({ "id": "p2" })),
        (6, 2, "ok", "campaign", "e0", json!({ "id": "p2", "term": 6 })),
    ]);
    let a = analysis::election(&early, &LeaseOptions::default()).unwrap().unwrap();
    assert_eq!(a.validity, Verdict::Invalid, "{}", a.summary);
    assert_eq!(ev(&a)["anomalies"][0]["kind"], "phantom-leader");
}

/// The nemesis's invoke/info pairs bracket the fault: the window opens when
/// injection began and closes when the heal was verified.
#[test]
fn fault_windows_run_from_injection_to_verified_heal() {
    let v = json!({ "kind": "one", "targets": ["n1"] });
    let h = history(&[
        (100, -1, "invoke", "partition-start", "", v.clone()),
        (150, -1, "info", "partition-start", "", v.clone()),
        (200, 1, "invoke", "acquire", "k0", null()),
        (300, 1, "ok", "acquire", "k0", null()),
        (4_100, -1, "invoke", "partition-stop", "", v.clone()),
        (4_400, -1, "info", "partition-stop", "", v.clone()),
        (5_000, -1, "invoke", "kill-start", "", json!({ "kind": "kill", "targets": ["n2"] })),
        (6_000, -1, "invoke", "heal-all", "", null()),
        (6_500, -1, "info", "heal-all", "", null()),
    ]);
    let w = analysis::fault_windows(&h);
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!((w[0].start, w[0].in_effect, w[0].healing, w[0].end), (100, Some(150), Some(4_100), 4_400));
    // Begun but never verified (an injection that failed): open from its
    // invoke until the final heal.
    assert_eq!((w[1].name.as_str(), w[1].start, w[1].in_effect, w[1].end), ("kill", 5_000, None, 6_500));
}

/// `CheckOptions::only` checks the same operations as a filtered copy of
/// the history would, with the same verdict and lines, without the copy.
#[test]
fn only_checks_what_a_filtered_copy_would() {
    use checker::check::{check, CheckOptions};
    use checker::models::ModelSpec;
    use checker::OpName;
    // p1 and p2 both hold k0 (the second grant while p1 still holds it),
    // each writing the fenced counter in between.
    let text = r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":1,"time":20,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":2,"time":30,"process":1,"type":"invoke","f":"write","key":"counter","value":1}
{"index":3,"time":40,"process":2,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":4,"time":50,"process":2,"type":"ok","f":"acquire","key":"k0","value":{"token":2}}
{"index":5,"time":60,"process":1,"type":"ok","f":"write","key":"counter","value":1}
{"index":6,"time":70,"process":2,"type":"invoke","f":"read","key":"counter","value":null}
{"index":7,"time":80,"process":2,"type":"ok","f":"read","key":"counter","value":1}
{"index":8,"time":90,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":9,"time":100,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":10,"time":110,"process":2,"type":"invoke","f":"release","key":"k0","value":null}
{"index":11,"time":120,"process":2,"type":"ok","f":"release","key":"k0","value":null}
"#;
    let history = checker::formats::jsonl::read("fenced.jsonl", text).unwrap();
    const LOCKS: &[OpName] = &[OpName::Acquire, OpName::Release, OpName::Renew];
    let names: Vec<&str> = LOCKS.iter().map(OpName::as_str).collect();
    let copied = check(&history.only(&names), &ModelSpec::Mutex, &CheckOptions::default()).unwrap();
    let filtered =
        check(&history, &ModelSpec::Mutex, &CheckOptions { only: Some(LOCKS), ..Default::default() }).unwrap();
    assert_eq!(copied.verdict, checker::Verdict::Invalid);
    assert_eq!((filtered.verdict, filtered.checked_ops), (copied.verdict, copied.checked_ops));
    assert!(filtered.ignored.is_empty(), "{:?}", filtered.ignored);
    let lines = |r: &checker::check::CheckResult| -> Vec<usize> {
        r.partitions.iter().flat_map(|p| p.operations.iter().map(|o| o.line)).collect()
    };
    assert_eq!(lines(&filtered), lines(&copied));
    assert!(!lines(&filtered).is_empty());
}
