//! The store commands end to end, on runs made by `fencepost import` (no
//! containers): `runs` filters and their errors, `compare`, `export`, `rm`,
//! what an import infers, and tables that line up.

mod common;

use std::path::Path;
use std::process::Output;

use common::{fencepost, import, temp_store, CLEAN, LAPSED, OVERLAP, PAUSED};

/// A fenced counter under a client pause: acquire, read, write with the
/// token, release, and the final read after the heal.
const FENCED_COUNTER: &str = r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":1,"time":20,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":2,"time":25,"process":"nemesis","type":"info","f":"client-pause-start","value":{"processes":[1]}}
{"index":3,"time":30,"process":1,"type":"invoke","f":"read","key":"k0","value":null}
{"index":4,"time":40,"process":1,"type":"ok","f":"read","key":"k0","value":0}
{"index":5,"time":50,"process":1,"type":"invoke","f":"write","key":"k0","value":{"value":1,"token":1}}
{"index":6,"time":60,"process":1,"type":"ok","f":"write","key":"k0","value":{"value":1,"token":1}}
{"index":7,"time":65,"process":"nemesis","type":"info","f":"client-pause-stop","value":null}
{"index":8,"time":66,"process":"nemesis","type":"info","f":"partition-start","value":{"kind":"halves"}}
{"index":9,"time":67,"process":"nemesis","type":"info","f":"partition-stop","value":null}
{"index":10,"time":70,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":11,"time":80,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":12,"time":90,"process":1000000,"type":"invoke","f":"final-read","key":"k0","value":null}
{"index":13,"time":100,"process":1000000,"type":"ok","f":"final-read","key":"k0","value":1}
"#;

const ELECTION: &str = r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"campaign","key":"e0","value":{"id":"a"}}
{"index":1,"time":20,"process":1,"type":"ok","f":"campaign","key":"e0","value":{"id":"a","term":1}}
"#;

const REGISTER: &str = r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"write","value":1}
{"index":1,"time":20,"process":1,"type":"ok","f":"write","value":1}
{"index":2,"time":30,"process":2,"type":"invoke","f":"read","value":null}
{"index":3,"time":40,"process":2,"type":"ok","f":"read","value":1}
"#;

fn run(store: &Path, args: &[&str]) -> (i32, String, String) {
    let out: Output = fencepost().args(args).arg("--store").arg(store).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn runs_json(store: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["runs", "--json"];
    all.extend_from_slice(args);
    let (code, out, err) = run(store, &all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().unwrap().clone()
}

#[test]
fn runs_filters_refuse_unknown_values_and_say_when_none_match() {
    let store = temp_store("store-filters");
    let (code, out, _) = run(&store, &["runs"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("no runs in store"), "{out}");

    let bad = import(&store, "overlap.jsonl", OVERLAP, "redis");
    import(&store, "clean.jsonl", CLEAN, "my-own-lock");

    for (args, says) in [
        (&["runs", "--verdict", "bogus"][..], "`bogus` is not a verdict (valid, invalid, unknown)"),
        (&["runs", "--system", "redsi"], "--system: `redsi` is not a system fencepost knows"),
        (&["runs", "--workload", "locks"], "--workload: `locks` is not a workload fencepost knows"),
        (&["runs", "--nemesis", "partitoin"], "--nemesis: unknown fault `partitoin`"),
        (&["compare", "--system", "redsi"], "--system: `redsi` is not a system fencepost knows"),
    ] {
        let (code, out, err) = run(&store, args);
        assert_eq!(code, 3, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let known = format!("known: {}, imported", workloads::systems::names().join(", "));
    assert!(run(&store, &["runs", "--system", "nosuch"]).2.contains(&known));

    // Known values, or values a stored run has, are fine.
    let (code, out, _) = run(&store, &["runs", "--verdict", "invalid"]);
    assert_eq!(code, 0);
    assert!(out.contains(&bad) && out.lines().count() == 2, "{out}");
    assert_eq!(runs_json(&store, &["--system", "my-own-lock"]).len(), 1);
    for args in
        [&["runs", "--system", "etcd"][..], &["runs", "--workload", "election"], &["runs", "--verdict", "unknown"]]
    {
        let (code, out, err) = run(&store, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(out.trim(), "no runs match (2 runs in store ".to_string() + &store.display().to_string() + ")");
    }
    let (code, out, _) = run(&store, &["compare", "--system", "etcd"]);
    assert_eq!((code, out.starts_with("no runs match")), (0, true), "{out}");
}

#[test]
fn import_keeps_the_workload_and_faults() {
    let store = temp_store("store-import");
    let counter = import(&store, "counter.jsonl", FENCED_COUNTER, "redis");
    let election = import(&store, "election.jsonl", ELECTION, "etcd");
    let register = import(&store, "register.jsonl", REGISTER, "imported");
    let lock = import(&store, "lock.jsonl", CLEAN, "imported");

    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join(&counter).join("test.json")).unwrap()).unwrap();
    assert_eq!(
        (test["workload"].as_str(), test["nemesis"].as_str()),
        (Some("fenced-counter"), Some("partition,client-pause"))
    );

    let rows = runs_json(&store, &[]);
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(
        (row(&counter)["workload"].clone(), row(&counter)["nemesis"].clone()),
        ("fenced-counter".into(), "partition,client-pause".into())
    );
    assert_eq!(
        (row(&election)["workload"].clone(), row(&election)["nemesis"].clone()),
        ("election".into(), "none".into())
    );
    assert_eq!(row(&register)["workload"], "register");
    assert_eq!(row(&lock)["workload"], "lock");

    // Filters find them by what was inferred, in any order of fault kinds.
    let found = runs_json(&store, &["--workload", "fenced-counter", "--nemesis", "client-pause,partition"]);
    assert_eq!(found.len(), 1);
    let (_, table, _) = run(&store, &["compare"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("redis") && l.contains("fenced-counter") && l.contains("partition,client-pause")),
        "{table}"
    );

    // The import's own output counts in the right number.
    let file = store.join("again.jsonl");
    std::fs::write(&file, FENCED_COUNTER).unwrap();
    let (code, out, err) = run(&store, &["import", file.to_str().unwrap()]);
    // One grant: every checker valid, but too few grants to call it valid.
    assert_eq!(code, 2, "{err}");
    assert!(out.contains("evidence: too little to judge") && out.contains("verdict: unknown"), "{out}");
    assert!(out.contains("fenced-counter, faults: partition,client-pause"), "{out}");
    for right in ["1 counter,", "1 hold,", "1 grant ", "0 stale writes"] {
        assert!(out.contains(right), "{right}: {out}");
    }
    for wrong in ["1 counters", "1 holds", "1 grants", "(s)"] {
        assert!(!out.contains(wrong), "{wrong}: {out}");
    }
}

#[test]
fn export_and_rm_name_unknown_runs_and_refuse_paths() {
    let store = temp_store("store-rm");
    let a = import(&store, "a.jsonl", CLEAN, "redis");
    let b = import(&store, "b.jsonl", OVERLAP, "redis");
    let outside = store.join("outside");
    std::fs::create_dir_all(outside.join("x")).unwrap();

    let (code, _, err) = run(&store, &["export", "nosuchrun", "--edn"]);
    assert_eq!(code, 3);
    assert!(err.contains("no run nosuchrun in store"), "{err}");
    let (code, out, _) = run(&store, &["export", &a, "--edn"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("{:index 0"), "{out}");

    // Any bad id deletes nothing.
    for (ids, says) in [
        (vec![a.as_str(), "nosuchrun"], "no run nosuchrun in store"),
        (vec!["../outside"], "`../outside` is not a run id"),
        (vec!["outside/x"], "`outside/x` is not a run id"),
        (vec![".."], "`..` is not a run id"),
        (vec!["index.sqlite"], "no run index.sqlite in store"),
    ] {
        let mut args = vec!["rm"];
        args.extend(ids.iter());
        let (code, _, err) = run(&store, &args);
        assert_eq!(code, 3, "{ids:?}: {err}");
        assert!(err.contains(says) && err.contains("nothing removed"), "{ids:?}: {err}");
    }
    assert!(store.join(&a).join("test.json").is_file() && store.join("index.sqlite").is_file());
    assert!(outside.join("x").is_dir());
    assert_eq!(runs_json(&store, &[]).len(), 2);

    let (code, out, err) = run(&store, &["rm", &a]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("removed run {a}"));
    assert!(!store.join(&a).exists());
    let rows = runs_json(&store, &[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], b.as_str());
    // And it stays gone when the index is rebuilt from the directories.
    let (code, _, err) = run(&store, &["runs", "--reindex"]);
    assert_eq!(code, 0);
    assert!(err.contains("reindexed 1 run from"), "{err}");
    let (code, _, err) = run(&store, &["rm", &a]);
    assert_eq!(code, 3);
    assert!(err.contains(&format!("no run {a} in store")), "{err}");
}

/// Each column starts (left-aligned) or ends (right-aligned) at the same
/// character on every line, whatever the widths of the values.
fn assert_aligned(text: &str, left: &[&str], right: &[&str]) {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let head: String = lines[0].iter().collect();
    let at = |name: &str| head[..head.find(name).unwrap_or_else(|| panic!("{name} in {head}"))].chars().count();
    for line in &lines[1..] {
        let shown: String = line.iter().collect();
        for name in left {
            let start = at(name);
            if start > 0 {
                assert_eq!(line.get(start - 1), Some(&' '), "{name} starts at {start}:\n{text}\n{shown}");
            }
            assert!(line.get(start).is_some_and(|c| *c != ' '), "{name} starts at {start}:\n{text}\n{shown}");
        }
        for name in right {
            let end = at(name) + name.chars().count();
            assert!(line.get(end - 1).is_some_and(|c| *c != ' '), "{name} ends at {end}:\n{text}\n{shown}");
            assert!(line.get(end).is_none_or(|c| *c == ' '), "{name} ends at {end}:\n{text}\n{shown}");
        }
    }
}

#[test]
fn tables_line_up_with_long_values_and_multibyte_verdicts() {
    let store = temp_store("store-align");
    import(&store, "a.jsonl", OVERLAP, "a-system-with-a-rather-long-name");
    import(&store, "b.jsonl", OVERLAP, "a-system-with-a-rather-long-name");
    import(&store, "c.jsonl", CLEAN, "etcd");
    import(&store, "d.jsonl", FENCED_COUNTER, "redis");

    let (code, runs, _) = run(&store, &["runs"]);
    assert_eq!(code, 0);
    assert_eq!(runs.lines().count(), 5, "{runs}");
    assert_aligned(&runs, &["run", "system", "workload", "faults", "verdict"], &["secs", "ops", "p50 ms", "p99 ms"]);

    let (code, compare, _) = run(&store, &["compare"]);
    assert_eq!(code, 0);
    assert!(compare.contains("invalid in 2 of 2"), "{compare}");
    // The table, then each cell's vendor story below it.
    let (table, stories) = compare.split_once("\n\n").unwrap_or((&compare, ""));
    assert!(
        stories.contains(
            "a-system-with-a-rather-long-name · lock · none · not recorded (2 runs):\n  service: BROKE its promise in 2 of \
             2 runs"
        ),
        "{compare}"
    );
    assert_aligned(
        table,
        &["system", "workload", "faults", "configuration", "verdict", "service", "clients", "data"],
        &["runs", "ops/s", "p50 ms", "p99 ms", "progress", "recovery"],
    );
}

/// Every anomaly is stored, however many: 60 overlapping holds give 60
/// anomalies in results.json, and the counts agree.
#[test]
fn every_anomaly_is_stored() {
    let store = temp_store("store-all-anomalies");
    let mut text = String::new();
    let mut i = 0;
    let mut push = |t: u64, p: u64, ty: &str, f: &str, v: &str| {
        text.push_str(&format!(
            "{{\"index\":{i},\"time\":{t},\"process\":{p},\"type\":\"{ty}\",\"f\":\"{f}\",\"key\":\"k0\",\"value\":{v}}}\n"
        ));
        i += 1;
    };
    // Process 0 holds k0 throughout; 60 others each take it too, one after
    // another: 60 overlaps with process 0's hold.
    push(1, 0, "invoke", "acquire", "null");
    push(2, 0, "ok", "acquire", "null");
    for n in 1..=60u64 {
        let t = n * 100;
        push(t, n, "invoke", "acquire", "null");
        push(t + 10, n, "ok", "acquire", "null");
        push(t + 20, n, "invoke", "release", "null");
        push(t + 30, n, "ok", "release", "null");
    }
    push(10_000, 0, "invoke", "release", "null");
    push(10_010, 0, "ok", "release", "null");
    let id = import(&store, "many.jsonl", &text, "redis");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join(&id).join("results.json")).unwrap()).unwrap();
    let me = results["checkers"].as_array().unwrap().iter().find(|c| c["checker"] == "mutual-exclusion").unwrap();
    assert_eq!(me["evidence"]["overlaps"], 60);
    assert_eq!(me["evidence"]["anomalies"].as_array().unwrap().len(), 60);
    assert!(me["summary"].as_str().unwrap().starts_with("60 overlapping holds"), "{}", me["summary"]);
}

/// A lease lock that behaved as specified is valid end to end: a lease
/// that lapsed before the next grant (its release failing), and a client
/// pause whose overlap the holder's own expired lease explains (the clients
/// layer red, the vendor's verdict not). The last line, the exit code,
/// results.json, the index and `compare` agree.
#[test]
fn a_lease_lock_that_kept_its_promise_is_valid_end_to_end() {
    let store = temp_store("store-lapsed");
    for (name, history, clients) in [("lapsed.jsonl", LAPSED, "valid  "), ("paused.jsonl", PAUSED, "INVALID")] {
        let file = store.join(name);
        std::fs::write(&file, history).unwrap();
        let (code, out, err) = run(&store, &["import", file.to_str().unwrap(), "--system", "etcd"]);
        assert_eq!(code, 0, "{name}: {out}{err}");
        let rows: Vec<&str> = out.lines().filter(|l| l.contains(" linearizable ")).collect();
        assert_eq!(rows.len(), 2, "mutex and fenced-mutex: {out}");
        assert!(rows.iter().all(|l| l.trim_start().starts_with("valid ")), "{out}");
        assert!(rows[0].contains("as a lease lock: 1 grant may lapse"), "{out}");
        assert!(out.contains("valid    service: kept its promise"), "{out}");
        assert!(out.contains(&format!("{clients}  clients: ")), "{out}");
        assert!(out.contains("valid    data: safe"), "{out}");
        let last = out.lines().find(|l| l.starts_with("verdict: ")).unwrap();
        assert!(last.starts_with("verdict: valid — "), "{out}");
        let at = out.find(" as run ").unwrap() + " as run ".len();
        let id = out[at..].lines().next().unwrap().trim();
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(store.join(id).join("results.json")).unwrap()).unwrap();
        assert_eq!(results["verdict"], "valid", "{name}");
    }
    let paused = runs_json(&store, &["--system", "etcd"]);
    let layers: Vec<(&str, &str)> =
        paused.iter().map(|r| (r["verdict"].as_str().unwrap(), r["layers"]["clients"].as_str().unwrap())).collect();
    assert!(layers.contains(&("valid", "invalid")) && layers.contains(&("valid", "valid")), "{layers:?}");
    let (code, compare, _) = run(&store, &["compare", "--json"]);
    assert_eq!(code, 0);
    let cells: serde_json::Value = serde_json::from_str(&compare).unwrap();
    let cell = &cells[0];
    assert_eq!((cell["verdict"].as_str(), cell["invalid"].as_u64()), (Some("valid"), Some(0)), "{cell}");
    assert_eq!(cell["layers"], serde_json::json!({ "service": "valid", "clients": "invalid", "data": "valid" }));
}
