//! `fencepost margin` against a real Redis (issue 28's acceptance case):
//! TTL 2 s, holds of 200–400 ms, the holder paused. By arithmetic, a pause
//! that with the longest hold ends within the lease (≤ 1.6 s) cannot let a
//! second client in, and one no shorter than the lease (≥ 2 s) outlasts
//! every hold's lease; Redis itself keeps its promise throughout. Needs a
//! Docker engine; the redis image is built on first use.

mod common;

use common::{fencepost, progress::Progress, temp_store};
use serde_json::Value;

#[test]
fn a_redis_lease_under_client_pauses_breaks_between_ttl_less_the_longest_hold_and_ttl() {
    let _progress = Progress::test();
    let store = temp_store("margin");
    let out = fencepost()
        .args(["margin", "redis", "--fault", "client-pause:holder", "--ttl", "2s", "--hold-min", "200ms"])
        .args(["--hold-max", "400ms", "--from", "1s", "--to", "2.6s", "--time-limit", "10s", "--json", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let study: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    let view = |name: &str| study["margins"].as_array().unwrap().iter().find(|m| m["view"] == name).unwrap().clone();
    let clients = view("clients");
    assert_eq!(clients["checker"], "mutual-exclusion", "{study:#}");
    let (safe, broken) = (clients["safe_up_to_ms"].as_u64().unwrap(), clients["unsafe_from_ms"].as_u64().unwrap());
    assert!(broken >= 1600, "no pause within TTL − the longest hold can break it: {study:#}");
    assert!(safe < 2000, "a pause as long as the lease outlasts every hold's: {study:#}");
    assert!(safe < broken && broken - safe <= 100, "narrowed to the range / 16: {study:#}");
    let service = view("service");
    assert_eq!(
        (service["safe_up_to_ms"].as_u64(), &service["unsafe_from_ms"]),
        (Some(2600), &Value::Null),
        "{study:#}"
    );
    assert!(service["words"].as_str().unwrap().contains("no break found up to 2.6s"), "{study:#}");
    // Each probe is a stored run tagged with the study.
    let probes = study["probes"].as_array().unwrap();
    assert_eq!(study["runs_spent"].as_u64(), Some(probes.len() as u64));
    let run = probes[0]["runs"][0]["run"].as_str().unwrap();
    let test: Value = serde_json::from_slice(&std::fs::read(store.join(run).join("test.json")).unwrap()).unwrap();
    assert_eq!(test["study"]["study"], study["study"], "{test:#}");
    assert_eq!(test["study"]["flag"], "--client-pause");
    assert_eq!(test["study"]["size_ms"], probes[0]["size_ms"]);
    // The study is kept: `fencepost margins` lists it, as JSON too.
    let listed = fencepost().args(["margins", "--json", "--store"]).arg(&store).output().unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0], study, "the stored study is the one printed");
    let table = fencepost().args(["margins", "--store"]).arg(&store).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains(clients["words"].as_str().unwrap()), "{table}");
    let _ = std::fs::remove_dir_all(store);
}

/// PostgreSQL's advisory locks last the holder's session, not a lease: no
/// client pause up to 8 s lets a second client in, and there is no lease
/// for a pause to outlast (no blind spot is claimed either).
#[test]
fn postgres_advisory_locks_survive_every_client_pause_up_to_8s() {
    let _progress = Progress::test();
    let store = temp_store("margin-postgres");
    let out = fencepost()
        .args(["margin", "postgres", "--fault", "client-pause:holder", "--from", "1s", "--to", "8s", "--json"])
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("blind spot"), "{err}");
    let study: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    for m in study["margins"].as_array().unwrap() {
        assert_eq!((m["safe_up_to_ms"].as_u64(), &m["unsafe_from_ms"]), (Some(8000), &Value::Null), "{study:#}");
        assert_eq!(m["words"], "no break found up to 8s", "{study:#}");
    }
    // The pause was played: the probe is evidence, not an empty run.
    let probe = &study["probes"][0]["runs"][0];
    assert_eq!((&probe["clients"], &probe["service"]), (&Value::from("valid"), &Value::from("valid")), "{study:#}");
    let _ = std::fs::remove_dir_all(store);
}
