//! Calls of unknown outcome that the client undid before answering
//! (`info` with `released_by: undone`, see docs/HISTORY.md): the shape of
//! issue 26's etcd election, where a campaign that came back cancelled was
//! recorded `fail` after its lease was revoked although an observer had
//! already seen it lead; and a lock acquire undone the same way.

use checker::analysis;
use checker::check::{check, CheckOptions};
use checker::formats::jsonl;
use checker::lease::{LeaseOptions, RELEASED_BY_UNDONE};
use checker::models::ModelSpec;
use checker::{OpName, Verdict};
use serde_json::{json, Value};

/// (time in ms, process, type, f, key, value).
type Event = (u64, u64, &'static str, &'static str, &'static str, Value);

fn history(events: &[Event]) -> checker::History {
    let mut text = String::new();
    for (i, (ms, p, ty, f, k, v)) in events.iter().enumerate() {
        let op = json!({ "index": i, "time": ms * 1_000_000, "process": p, "type": ty, "f": f, "key": k, "value": v });
        text.push_str(&op.to_string());
        text.push('\n');
    }
    jsonl::read("undone.jsonl", &text).unwrap()
}

/// An election in which p3 won term 600 and resigned; then p8 campaigned,
/// observer 15 saw p8 lead term 603 while p8's call was out, and p8's
/// campaign ended as `ending` (the value of its completion).
fn election(ending: (&'static str, Value), observed_at: (u64, u64)) -> checker::History {
    let (seen_from, seen_to) = observed_at;
    let mut events: Vec<Event> = vec![
        (0, 3, "invoke", "campaign", "e0", json!({ "id": "p3", "ttl_ms": 2000 })),
        (5, 3, "ok", "campaign", "e0", json!({ "id": "p3", "term": 600, "ttl_ms": 2000 })),
        (100, 3, "invoke", "resign", "e0", json!({ "term": 600 })),
        (105, 3, "ok", "resign", "e0", Value::Null),
        (1000, 8, "invoke", "campaign", "e0", json!({ "id": "p8", "ttl_ms": 2000 })),
    ];
    let observe = [
        (seen_from, 15, "invoke", "observe", "e0", Value::Null),
        (seen_to, 15, "ok", "observe", "e0", json!({ "leader": "p8", "term": 603 })),
    ];
    let end = (2114, 8, ending.0, "campaign", "e0", ending.1);
    events.extend(observe);
    events.push(end);
    events.sort_by_key(|e| e.0);
    history(&events)
}

fn election_verdict(h: &checker::History) -> (Verdict, String) {
    let a = analysis::election(h, &LeaseOptions::default()).unwrap().expect("campaigns");
    (a.validity, a.summary)
}

#[test]
fn a_campaign_undone_after_an_observer_saw_it_lead_is_a_valid_election() {
    // Seen at t+0 of the undo's 1.6 ms before it landed, as in the issue.
    let undone = ("info", json!({ "id": "p8", "released_by": RELEASED_BY_UNDONE }));
    let h = election(undone, (2110, 2112));
    let (verdict, summary) = election_verdict(&h);
    assert_eq!(verdict, Verdict::Valid, "{summary}");

    // What the recipe recorded before: `fail` says the campaign provably
    // did nothing, so the observation is a phantom leader.
    let failed = ("fail", json!({ "id": "p8" }));
    let (verdict, summary) = election_verdict(&election(failed, (2110, 2112)));
    assert_eq!(verdict, Verdict::Invalid);
    assert!(summary.contains("process 15 saw p8 lead in term 603, which no campaign won"), "{summary}");
}

#[test]
fn an_undone_campaign_cannot_be_seen_leading_after_its_undo() {
    // The observation began after the campaign's completion: the revoke had
    // deleted the leader key, so nothing could show p8 leading any more.
    let undone = ("info", json!({ "id": "p8", "released_by": RELEASED_BY_UNDONE }));
    let (verdict, summary) = election_verdict(&election(undone, (2200, 2205)));
    assert_eq!(verdict, Verdict::Invalid);
    assert!(summary.contains("saw p8 lead in term 603"), "{summary}");

    // A plain `info` was never undone: it may take effect at any time after
    // its invocation, so the same late observation is possible.
    let unknown = ("info", json!({ "id": "p8" }));
    let (verdict, summary) = election_verdict(&election(unknown, (2200, 2205)));
    assert_eq!(verdict, Verdict::Valid, "{summary}");
}

#[test]
fn an_observation_that_began_before_the_campaign_and_ended_inside_it_may_have_seen_it() {
    let undone = ("info", json!({ "id": "p8", "released_by": RELEASED_BY_UNDONE }));
    let (verdict, summary) = election_verdict(&election(undone, (900, 1500)));
    assert_eq!(verdict, Verdict::Valid, "{summary}");
    // Over before the campaign was invoked: a phantom.
    let undone = ("info", json!({ "id": "p8", "released_by": RELEASED_BY_UNDONE }));
    let (verdict, _) = election_verdict(&election(undone, (900, 950)));
    assert_eq!(verdict, Verdict::Invalid);
}

/// Process 1's acquire went unanswered and was undone (its etcd lease
/// revoked) while process 2 waited; process 2 then held the lock. Every
/// lock checker accepts it: the brief grant, if there was one, ended before
/// process 2's, and the client never relied on it.
#[test]
fn an_undone_acquire_leaves_the_lock_free_for_the_next_holder() {
    let h = history(&[
        (0, 1, "invoke", "acquire", "k0", json!({ "ttl_ms": 2000 })),
        (10, 2, "invoke", "acquire", "k0", json!({ "ttl_ms": 2000 })),
        (1500, 1, "info", "acquire", "k0", json!({ "released_by": RELEASED_BY_UNDONE })),
        (1502, 2, "ok", "acquire", "k0", json!({ "ttl_ms": 2000, "token": 9 })),
        (1600, 2, "invoke", "release", "k0", Value::Null),
        (1601, 2, "ok", "release", "k0", Value::Null),
        (1700, 6, "invoke", "acquire", "k0", json!({ "ttl_ms": 2000 })),
        (1701, 6, "ok", "acquire", "k0", json!({ "ttl_ms": 2000, "token": 12 })),
        (1800, 6, "invoke", "release", "k0", Value::Null),
        (1801, 6, "ok", "release", "k0", Value::Null),
    ]);
    const ONLY: &[OpName] = &[OpName::Acquire, OpName::Release, OpName::Renew];
    let opts = CheckOptions { only: Some(ONLY), ..Default::default() };
    for model in [ModelSpec::Mutex, ModelSpec::FencedMutex] {
        let result = check(&h, &model, &opts).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.model);
    }
    let leases = LeaseOptions::default();
    let me = analysis::mutual_exclusion(&h, &leases).unwrap();
    assert_eq!(me.validity, Verdict::Valid, "{}", me.summary);
    let ls = analysis::lease_safety(&h, &leases).unwrap();
    assert_eq!(ls.validity, Verdict::Valid, "{}", ls.summary);
}
