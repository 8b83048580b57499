//! `fencepost serve` over HTTP: every page and API route, and their errors
//! (unknown run → 404 page, oversize upload → 413, malformed history → 400
//! naming the line, path tricks refused, values escaped). The runs are made
//! by `fencepost import` of small lock histories, so the checkers are real
//! and no containers are needed. A run with many anomalies counts them the
//! same in its checkers, its list and its timeline.

mod common;

use std::path::Path;

use common::{import, temp_store, Server, CLEAN, OVERLAP, PAUSED};

#[test]
fn every_route_answers_and_every_error_is_clear() {
    let store = temp_store("web");
    let bad = import(&store, "overlap.jsonl", OVERLAP, "redis");
    let good = import(&store, "clean.jsonl", CLEAN, "<b>etcd</b>");
    let server = Server::start(&store);

    let (status, body) = server.get("/healthz");
    assert_eq!((status, body.as_str()), (200, "ok"));

    // Runs list, filters, escaping.
    let (status, page) = server.get("/");
    assert_eq!(status, 200);
    assert!(page.contains(&bad) && page.contains(&good), "{page}");
    let escaped = page.contains("&lt;b&gt;etcd&lt;/b&gt;") || page.contains("&#60;b&#62;etcd&#60;/b&#62;");
    assert!(escaped && !page.contains("<b>etcd</b>"), "values are escaped");
    let (_, invalid) = server.get("/?verdict=invalid");
    assert!(invalid.contains(&bad) && !invalid.contains(&good));
    let (_, redis) = server.get("/?system=redis&workload=lock");
    assert!(redis.contains(&bad) && !redis.contains(&good));

    // The report: verdicts, the anomaly in words, the timeline and charts.
    let (status, report) = server.get(&format!("/runs/{bad}"));
    assert_eq!(status, 200);
    assert!(report.contains("processes 1 and 2 both held lock k0 for 1.420 s from t=1.500 s"), "{report}");
    // 1.5 s without a grant while clients asked: an outage, in words.
    let slow = OVERLAP.replace("\"time\":1000000000,", "\"time\":2000000000,");
    let slow = import(&store, "slow.jsonl", &slow, "redis");
    let (_, page) = server.get(&format!("/runs/{slow}"));
    assert!(page.contains("id=\"outages\"") && page.contains("no grant from t=0.000 s to t=1.500 s"), "{page}");
    for id in ["id=\"timeline\"", "id=\"latency\"", "id=\"throughput\"", "history.jsonl", "history.edn"] {
        assert!(report.contains(id), "{id} missing");
    }
    // A run that moved a clock plots it; one that did not, does not.
    assert!(!report.contains("class=\"clock-plot\""));
    let rate = r#"{"index":8,"time":3100000000,"process":"nemesis","type":"invoke","f":"clock-rate-start","value":{"kind":"rate","rate":2.0,"targets":["n1"]}}
{"index":9,"time":3200000000,"process":"nemesis","type":"info","f":"clock-rate-start","value":{"kind":"rate","rate":2.0,"targets":["n1"]}}
{"index":10,"time":5200000000,"process":"nemesis","type":"invoke","f":"clock-rate-stop","value":{"targets":["n1"]}}
{"index":11,"time":5300000000,"process":"nemesis","type":"info","f":"clock-rate-stop","value":{"targets":["n1"]}}
"#;
    let moved = import(&store, "moved.jsonl", &format!("{OVERLAP}{rate}"), "redis");
    let (_, page) = server.get(&format!("/runs/{moved}"));
    assert!(page.contains("id=\"clocks\"") && page.contains("<polyline class=\"clock-line\""), "{page}");
    assert!(page.contains("clock-rate: "), "the fault window is shaded with its words: {page}");
    let (status, page) = server.get("/runs/no-such-run");
    assert_eq!(status, 404);
    assert!(page.contains("There is no run <code>no-such-run</code> in this store."), "{page}");
    assert!(!page.contains('`'), "no literal backticks: {page}");
    for path in ["/runs/..%2F..%2Fetc", "/runs/.hidden", "/nowhere", &format!("/runs/{bad}/nodes/..%2Ftest.json")] {
        assert_eq!(server.get(path).0, 404, "{path}");
    }

    // Downloads.
    let (status, jsonl) = server.get(&format!("/runs/{bad}/history.jsonl"));
    assert_eq!(status, 200);
    assert_eq!(jsonl.lines().count(), 8);
    let (status, edn) = server.get(&format!("/runs/{bad}/history.edn"));
    assert_eq!(status, 200);
    assert!(edn.starts_with("{:index 0"), "{edn}");

    // Compare and check pages.
    let (status, compare) = server.get("/compare");
    assert_eq!(status, 200);
    assert!(compare.contains("id=\"compare\"") && compare.contains("compare-data"));
    assert!(!compare.contains("<b>etcd</b>"), "chart data is escaped too");
    let (status, check) = server.get("/check");
    assert_eq!(status, 200);
    assert!(check.contains("check-form"));

    // The API.
    let (status, runs) = server.get("/api/v1/runs");
    assert_eq!(status, 200);
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 4);
    let (status, run) = server.get(&format!("/api/v1/runs/{bad}"));
    assert_eq!(status, 200);
    let run: serde_json::Value = serde_json::from_str(&run).unwrap();
    assert_eq!(run["results"]["verdict"], "invalid");
    assert_eq!(run["test"]["system"], "redis");
    let (status, missing) = server.get("/api/v1/runs/nope");
    assert_eq!(status, 404);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&missing).unwrap()["error"], "no run `nope`");
    assert_eq!(server.get(&format!("/api/v1/runs/{bad}/history")).1, jsonl);
    let (status, timeline) = server.get(&format!("/api/v1/runs/{bad}/timeline?charts=400"));
    assert_eq!(status, 200);
    let timeline: serde_json::Value = serde_json::from_str(&timeline).unwrap();
    assert_eq!(timeline["ops"]["start"].as_array().unwrap().len(), 4);
    assert_eq!(timeline["lanes"], serde_json::json!([1, 2]));
    assert_eq!(timeline["holds"]["lane"].as_array().unwrap().len(), 2);
    assert_eq!(timeline["anomalies"][0]["processes"], serde_json::json!([1, 2]));
    // A zoom step: only the window, and a bad field named.
    let (status, zoomed) = server.get(&format!("/api/v1/runs/{bad}/timeline?t0=0&t1=15&px=300"));
    assert_eq!(status, 200);
    let zoomed: serde_json::Value = serde_json::from_str(&zoomed).unwrap();
    assert!(zoomed.get("anomalies").is_none() && zoomed["visible"].as_u64() < Some(4), "{zoomed}");
    let (status, refused) = server.get(&format!("/api/v1/runs/{bad}/timeline?t0=9&t1=3"));
    assert_eq!(status, 400);
    assert!(refused.contains("`t1`"), "{refused}");
    // One operation in full, as a click on the timeline asks for it.
    let (status, op) = server.get(&format!("/api/v1/runs/{bad}/op?process=2&invoke=1100000000"));
    assert_eq!(status, 200, "{op}");
    let op: serde_json::Value = serde_json::from_str(&op).unwrap();
    assert_eq!((op["invoke"]["f"].as_str(), op["completion"]["value"]["token"].as_i64()), (Some("acquire"), Some(2)));
    let (status, none) = server.get(&format!("/api/v1/runs/{bad}/op?process=2&invoke=1"));
    assert_eq!(status, 404);
    assert!(none.contains("no operation of process 2 invoked at 1 ns"), "{none}");
    let (status, bad_field) = server.get(&format!("/api/v1/runs/{bad}/op?process=p2&invoke=1100000000"));
    assert_eq!(status, 400);
    assert!(bad_field.contains("`process`") && bad_field.contains("a process number"), "{bad_field}");

    // Upload and check.
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("checker/tests/data/porcupine/jepsen/etcd_000.log");
    let etcd = std::fs::read(&corpus).unwrap();
    let (status, _, body) = server.request("POST", "/api/v1/check?model=cas-register&initial=nil", &etcd);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, v["verdict"].as_str()), (200, Some("invalid")), "{v}");
    let partials = &v["result"]["partitions"][0]["partials"];
    assert!(!partials.as_array().unwrap().is_empty(), "a failure carries its partial linearizations");
    let (status, _, body) = server.request("POST", "/api/v1/check", CLEAN.as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, v["verdict"].as_str(), v["model"].as_str()), (200, Some("valid"), Some("fenced-mutex")));
    let malformed = CLEAN.replacen("\"type\":\"ok\"", "\"type\":\"okay\"", 1);
    let (status, _, body) = server.request("POST", "/api/v1/check?format=jsonl", malformed.as_bytes());
    let error = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"].as_str().unwrap().to_string();
    assert_eq!(status, 400);
    assert!(error.contains("upload:2"), "{error}");
    let (status, _, _) = server.request("POST", "/api/v1/check?format=yaml", CLEAN.as_bytes());
    assert_eq!(status, 400);
    let (status, _, body) = server.request("POST", "/api/v1/check?model=bogus", CLEAN.as_bytes());
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let huge = vec![b' '; 33 * 1024 * 1024];
    let (status, _, body) = server.request("POST", "/api/v1/check", &huge);
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("upload limit"));

    // Live events of a finished run: its operations, then `done`.
    let (status, events) = server.get(&format!("/runs/{bad}/events"));
    assert_eq!(status, 200);
    assert!(events.contains("event: ops") && events.contains("event: done"), "{events}");
    std::fs::remove_dir_all(&store).unwrap();
}

/// The check API chooses the model and initial value by the CLI's rule
/// (given, else stated in the file, else inferred or the model's default),
/// and says which it used and where each came from.
#[test]
fn the_check_api_takes_an_initial_value_without_a_model_and_says_what_it_used() {
    let store = temp_store("web-initial");
    let server = Server::start(&store);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("checker/tests/data/fencepost/concurrent-ok.edn");
    let stated = std::fs::read_to_string(&example).unwrap();
    assert!(stated.contains("; fencepost: initial 0"), "the shipped example states its initial value");
    // The same history with nothing stated: Knossos's default, nil.
    let bare: String = stated.lines().filter(|l| !l.starts_with("; fencepost:")).map(|l| format!("{l}\n")).collect();
    let post = |query: &str, body: &str| {
        let (status, _, answer) = server.request("POST", &format!("/api/v1/check{query}"), body.as_bytes());
        let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        (status, v)
    };
    let used = |v: &serde_json::Value| {
        (
            v["verdict"].as_str().map(String::from),
            v["model"].as_str().map(String::from),
            v["model_from"].as_str().map(String::from),
            v["initial"].clone(),
            v["initial_from"].as_str().map(String::from),
        )
    };
    let s = |t: &str| Some(t.to_string());
    let zero = serde_json::json!(0);
    for (query, body, expect) in [
        ("", &bare, (s("invalid"), s("cas-register"), s("inferred"), serde_json::Value::Null, s("default"))),
        ("?initial=0", &bare, (s("valid"), s("cas-register"), s("inferred"), zero.clone(), s("given"))),
        ("?initial=0&model=cas-register", &bare, (s("valid"), s("cas-register"), s("given"), zero.clone(), s("given"))),
        ("", &stated, (s("valid"), s("cas-register"), s("inferred"), zero.clone(), s("stated"))),
        // Given beats stated: from 1, the read of 0 cannot be placed.
        ("?initial=1", &stated, (s("invalid"), s("cas-register"), s("inferred"), serde_json::json!(1), s("given"))),
        // An empty field is no value: the file's stands.
        (
            "?model=cas-register&initial=",
            &stated,
            (s("valid"), s("cas-register"), s("given"), zero.clone(), s("stated")),
        ),
    ] {
        let (status, v) = post(query, body);
        assert_eq!(status, 200, "{query}: {v}");
        assert_eq!(used(&v), expect, "{query}: {v}");
        assert_eq!(v["result"]["initial"], v["initial"], "{query}: the result was checked from it");
    }
    // A lock model has no initial value: refused, not dropped.
    let (status, v) = post("?initial=0", CLEAN);
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("fenced-mutex` (inferred from the ops) has no initial value"), "{v}");
    std::fs::remove_dir_all(&store).unwrap();
}

/// A run in progress is live: its page says so and its events stream the
/// operations as they are recorded, then `done`; afterwards the page shows
/// the verdict.
#[test]
fn a_running_test_is_followed_live() {
    let store = temp_store("live");
    let server = Server::start(&store);
    let mut run = common::fencepost()
        .args(["run", "redis", "--time-limit", "6s", "--store"])
        .arg(&store)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let id = loop {
        let dir =
            std::fs::read_dir(&store).unwrap().flatten().map(|e| e.path()).find(|p| p.join("test.json").is_file());
        if let Some(dir) = dir {
            if std::fs::metadata(dir.join("history.jsonl")).is_ok_and(|m| m.len() > 0) {
                break dir.file_name().unwrap().to_string_lossy().into_owned();
            }
        }
        assert!(std::time::Instant::now() < deadline, "the run never started recording");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let (status, page) = server.get(&format!("/runs/{id}"));
    assert_eq!(status, 200);
    assert!(page.contains("id=\"live\"") && page.contains("running"), "{page}");
    // The stream ends once the results are stored.
    let (status, events) = server.get(&format!("/runs/{id}/events"));
    assert_eq!(status, 200);
    assert!(events.contains("event: ops") && events.contains("\"acquire\""), "{events}");
    assert!(events.trim_end().ends_with("data: done"), "{}", &events[events.len().saturating_sub(200)..]);
    assert_eq!(run.wait().unwrap().code(), Some(0));
    let (_, page) = server.get(&format!("/runs/{id}"));
    assert!(!page.contains("id=\"live\"") && page.contains("mutual-exclusion"), "{page}");
    let (_, list) = server.get("/");
    assert!(list.contains(&id));
    std::fs::remove_dir_all(&store).unwrap();
}

/// `keys` locks, each held by two processes at once with the same token:
/// one overlap (mutual exclusion, `lease-expired`) and one duplicate token
/// (fencing) per key.
fn many_overlaps(keys: u64) -> String {
    let mut lines = Vec::new();
    let mut op = |time: u64, process: u64, kind: &str, f: &str, key: u64, value: serde_json::Value| {
        lines.push(
            serde_json::json!({ "index": lines.len(), "time": time, "process": process, "type": kind, "f": f, "key": format!("k{key}"), "value": value })
                .to_string(),
        );
    };
    for k in 0..keys {
        let (a, b, t) = (2 * k + 1, 2 * k + 2, k * 1_000_000_000);
        let token = serde_json::json!({ "token": 1 });
        // 150 ms leases: the first has run out when the second is granted,
        // so the service kept its promise (lease-safety adds no anomaly).
        let lease = serde_json::json!({ "ttl_ms": 150 });
        op(t + 1, a, "invoke", "acquire", k, lease.clone());
        op(t + 100_000_000, a, "ok", "acquire", k, token.clone());
        op(t + 200_000_000, b, "invoke", "acquire", k, lease);
        op(t + 300_000_000, b, "ok", "acquire", k, token);
        op(t + 600_000_000, a, "invoke", "release", k, serde_json::Value::Null);
        op(t + 610_000_000, a, "ok", "release", k, serde_json::Value::Null);
        op(t + 700_000_000, b, "invoke", "release", k, serde_json::Value::Null);
        op(t + 710_000_000, b, "ok", "release", k, serde_json::Value::Null);
    }
    lines.join("\n") + "\n"
}

fn list_items(page: &str) -> usize {
    let list = &page[page.find("<ol class=\"anomalies\">").expect("the anomaly list")..];
    list[..list.find("</ol>").unwrap()].matches("<li ").count()
}

#[test]
fn a_run_with_many_anomalies_counts_them_alike_everywhere() {
    let store = temp_store("counts");
    let id = import(&store, "many.jsonl", &many_overlaps(30), "redis");
    let server = Server::start(&store);

    // Stored: every anomaly, as many as the summaries say.
    let (_, run) = server.get(&format!("/api/v1/runs/{id}"));
    let run: serde_json::Value = serde_json::from_str(&run).unwrap();
    let stored = |name: &str| {
        let c = run["results"]["checkers"].as_array().unwrap().iter().find(|c| c["checker"] == name).unwrap().clone();
        (c["evidence"]["anomalies"].as_array().unwrap().len(), c["summary"].as_str().unwrap().to_string())
    };
    let (overlaps, summary) = stored("mutual-exclusion");
    assert_eq!(overlaps, 30);
    assert!(summary.starts_with("30 overlapping holds"), "{summary}");
    let (duplicates, summary) = stored("fencing");
    assert_eq!(duplicates, 30);
    assert!(summary.starts_with("30 fencing anomalies"), "{summary}");

    // The page: a first few, how many of how many, and a way to the rest.
    let (status, page) = server.get(&format!("/runs/{id}"));
    assert_eq!(status, 200);
    assert!(page.contains("30 overlapping holds") && page.contains("30 fencing anomalies"));
    assert!(page.contains("Showing 20 of 60 anomalies"), "{page}");
    assert!(page.contains("mutual-exclusion: 30, fencing: 30"), "{page}");
    assert!(page.contains("href=\"?anomalies=all#anomalies\""), "a way to see them all");
    assert!(!page.contains("more in results.json"));
    assert_eq!(list_items(&page), 20);
    let (status, all) = server.get(&format!("/runs/{id}?anomalies=all"));
    assert_eq!(status, 200);
    assert!(all.contains("All 60 anomalies") && !all.contains("Show all"), "{all}");
    assert_eq!(list_items(&all), 60);
    for k in [0, 29] {
        assert!(all.contains(&format!("both held lock k{k} ")), "k{k} listed");
        assert!(all.contains(&format!("both granted lock k{k} with token 1")), "k{k}'s duplicate listed");
    }

    // The timeline marks every one, the untimed duplicates at their grants.
    let (_, timeline) = server.get(&format!("/api/v1/runs/{id}/timeline?charts=100"));
    let timeline: serde_json::Value = serde_json::from_str(&timeline).unwrap();
    let marked = timeline["anomalies"].as_array().unwrap();
    assert_eq!(marked.len(), 60);
    for a in marked {
        let (start, end) = (a["start"].as_u64().unwrap(), a["end"].as_u64().unwrap());
        assert!(start <= end && end <= timeline["end"].as_u64().unwrap(), "{a}");
        assert_eq!(a["processes"].as_array().unwrap().len(), 2, "{a}");
    }
    let duplicate = marked.iter().find(|a| a["checker"] == "fencing").unwrap();
    assert_eq!((duplicate["start"].as_u64(), duplicate["end"].as_u64()), (Some(100_000_000), Some(300_000_000)));
    std::fs::remove_dir_all(&store).unwrap();
}

fn lin_data(page: &str) -> serde_json::Value {
    let at = page.find("<script type=\"application/json\" id=\"lin-data\">").expect("evidence for the script");
    let json = &page[at..];
    serde_json::from_str(&json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()]).unwrap()
}

/// `cycles` clean acquire/release pairs on k0 by processes 1 and 2 in
/// turn, then both holding it at once: 4 × cycles + 4 calls.
fn long_then_overlap(cycles: u64) -> String {
    let mut lines = Vec::new();
    let mut op = |process: u64, kind: &str, f: &str, value: serde_json::Value| {
        let n = lines.len() as u64;
        lines.push(
            serde_json::json!({ "index": n, "time": (n + 1) * 10_000_000, "process": process, "type": kind, "f": f, "key": "k0", "value": value })
                .to_string(),
        );
    };
    let null = serde_json::Value::Null;
    for c in 0..cycles {
        let p = 1 + c % 2;
        op(p, "invoke", "acquire", null.clone());
        op(p, "ok", "acquire", serde_json::json!({ "token": c + 1 }));
        op(p, "invoke", "release", null.clone());
        op(p, "ok", "release", null.clone());
    }
    op(1, "invoke", "acquire", null.clone());
    op(1, "ok", "acquire", serde_json::json!({ "token": cycles + 1 }));
    op(2, "invoke", "acquire", null.clone());
    op(2, "ok", "acquire", serde_json::json!({ "token": cycles + 2 }));
    op(1, "invoke", "release", null.clone());
    op(1, "ok", "release", null.clone());
    op(2, "invoke", "release", null.clone());
    op(2, "ok", "release", null);
    lines.join("\n") + "\n"
}

/// A failing `linearizable` checker's evidence is on the page for the
/// script to draw; the test parameters nest (`recorded.fault_options.loss`);
/// a test.json in an older layout (`fault_options` at the top, as a Rust
/// `Debug` string) is not read silently: the page names the file and the field.
#[test]
fn a_run_page_carries_linearizability_evidence_and_readable_parameters() {
    let store = temp_store("evidence");
    let bad = import(&store, "overlap.jsonl", OVERLAP, "redis");
    let good = import(&store, "clean.jsonl", CLEAN, "etcd");
    let edit_test = |id: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let path = store.join(id).join("test.json");
        let mut test: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut test);
        std::fs::write(&path, serde_json::to_string_pretty(&test).unwrap()).unwrap();
    };
    // As `fencepost run` records it.
    edit_test(&bad, &|test| {
        test["started_ms"] = serde_json::json!(1_700_000_000_000i64);
        test["recorded"] = serde_json::json!({
            "description": "redis, one node",
            "image": null,
            "endpoints": [],
            "nodes": ["n1"],
            "fencing_enforced": true,
            "concurrency": 2,
            "keys": 1,
            "rate": null,
            "hold_ms": [100, 200],
            "ttl_ms": 1000,
            "time_limit_ms": 10000,
            "timeout_ms": 1000,
            "acquire_wait_ms": 500,
            "seed": 7,
            "nemesis_interval_ms": 2000,
            "quiet_ms": 1000,
            "fault_options": { "loss": 0.3, "clock_offset_ms": 60000.0 },
        });
    });
    // As older runs wrote it.
    edit_test(&good, &|test| {
        test["fault_options"] = serde_json::json!("FaultOptions { loss: 0.3, clock_offset: 60s }");
    });
    let long = import(&store, "long.jsonl", &long_then_overlap(80), "redis");
    let server = Server::start(&store);

    let (_, page) = server.get(&format!("/runs/{bad}"));
    assert!(page.contains("id=\"lin-0\"") && page.contains("id=\"lin-data\""), "{page}");
    assert!(!page.contains("run-error"), "{page}");
    let evidence = lin_data(&page);
    let first = &evidence[0];
    assert_eq!(first["verdict"], "invalid", "{first}");
    assert_eq!(first["model"], "mutex");
    let partition = &first["partition"];
    assert_eq!(partition["operations"].as_array().unwrap().len(), 4, "{partition}");
    let partial = &partition["partials"][0];
    assert!(partial["stuck"].is_u64() && partial["prefix"].is_array(), "{partial}");
    let row = |key: &str, depth: usize, value: &str| format!("<th class=\"depth{depth}\">{key}</th><td>{value}</td>");
    for (key, depth, value) in [
        ("system", 0, "redis"),
        ("started", 0, "2023-11-14 22:13:20 UTC"),
        ("recorded", 0, ""),
        ("hold_ms", 1, "100, 200"),
        ("fault_options", 1, ""),
        ("loss", 2, "0.3"),
        ("clock_offset_ms", 2, "60000.0"),
    ] {
        assert!(page.contains(&row(key, depth, value)), "{key}: {page}");
    }

    // A long history is cut to the operations around the stuck one, each
    // placed op keeping its number in the whole linearization.
    let (_, page) = server.get(&format!("/runs/{long}"));
    let evidence = lin_data(&page);
    let partial = &evidence[0]["partition"]["partials"][0];
    let drawn = evidence[0]["partition"]["operations"].as_array().unwrap().len();
    let placed = partial["placed"].as_u64().unwrap() as usize;
    assert!(placed >= 160 && drawn < 40, "{partial}");
    assert_eq!(partial["omitted"].as_u64().unwrap() as usize + drawn, 164, "{partial}");
    let numbers: Vec<usize> =
        partial["numbers"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap() as usize).collect();
    assert_eq!(numbers.last(), Some(&placed), "the last placed op keeps its number");
    assert_eq!(numbers.len(), partial["prefix"].as_array().unwrap().len());
    assert!(partial["stuck"].as_u64().unwrap() < drawn as u64);

    // The older layout: the page says which file and which field, and
    // still shows the results; the API refuses it the same way.
    let (status, page) = server.get(&format!("/runs/{good}"));
    assert_eq!(status, 200);
    assert!(!page.contains("id=\"lin-data\""), "a linearizable run has no evidence to draw");
    assert!(page.contains("class=\"error run-error\">The test.json of this run does not read"), "{page}");
    assert!(page.contains("unknown field `fault_options`"), "{page}");
    assert!(page.contains("<th>mutual-exclusion</th>"), "the results still show: {page}");
    let (status, body) = server.get(&format!("/api/v1/runs/{good}"));
    assert_eq!(status, 500, "{body}");
    let error = serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].as_str().unwrap().to_string();
    assert!(error.contains("test.json") && error.contains("fault_options"), "{error}");
    std::fs::remove_dir_all(&store).unwrap();
}

/// The Scenarios page over runs tagged with a scenario: each row counts its
/// runs and matches, links every run, says why one did not match; the
/// report says which scenario a run was made for. (The runs are imports
/// given a scenario tag by hand, and the index rebuilt from the files: the
/// judgement is the store's own.)
#[test]
fn the_scenarios_page_counts_matches_and_says_why_not() {
    let store = temp_store("web-scenarios");
    let bad = import(&store, "overlap.jsonl", OVERLAP, "redis");
    let good = import(&store, "clean.jsonl", CLEAN, "redis");
    for id in [&bad, &good] {
        let path = store.join(id).join("test.json");
        let mut test: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        test["scenario"] = serde_json::json!({"name": "redis-pause-fenced", "expect": {"mutual-exclusion": "invalid"}});
        std::fs::write(&path, test.to_string()).unwrap();
    }
    let out = common::fencepost()
        .args(["runs", "--reindex", "--scenario", "redis-pause-fenced", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("redis-pause-fenced (matched)") && listed.contains("redis-pause-fenced (NOT matched)"),
        "{listed}"
    );

    let server = Server::start(&store);
    let (status, page) = server.get("/scenarios");
    assert_eq!(status, 200);
    let row = page.split("<tr id=\"redis-pause-fenced\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.starts_with(" class=\"scenario missed\""), "a row with a miss is marked: {row}");
    assert!(row.contains(">1/2<"), "{row}");
    assert!(row.contains(&format!("href=\"/runs/{bad}\"")) && row.contains(&format!("href=\"/runs/{good}\"")), "{row}");
    assert!(row.contains("mutual-exclusion: expected invalid, got valid"), "{row}");
    assert!(row.contains("Kleppmann"), "the source is shown: {row}");
    // The overlap starts 1.5 s into the history: the median of the one run
    // that had an anomaly.
    assert!(row.contains(">1.5 s<"), "{row}");
    // A measured scenario never run says so, not "invalid in 0 of 0".
    let at = page.find("sentinel-min-replicas-split-brain").expect("the scenario is listed");
    let measured = &page[at..at + page[at..].find("</tr>").unwrap()];
    assert!(measured.contains("lease-safety: not run") && !measured.contains("0 of 0"), "{measured}");
    let (_, report) = server.get(&format!("/runs/{good}"));
    assert!(report.contains("Scenario <a href=\"/scenarios#redis-pause-fenced\">redis-pause-fenced</a>"), "{report}");
    assert!(report.contains("not matched"), "{report}");
    let (status, api) = server.get("/api/v1/scenarios");
    assert_eq!(status, 200);
    let api: Vec<serde_json::Value> = serde_json::from_str(&api).unwrap();
    let entry = api.iter().find(|e| e["name"] == "redis-pause-fenced").unwrap();
    assert_eq!((entry["summary"]["runs"].as_u64(), entry["summary"]["matched"].as_u64()), (Some(2), Some(1)));
    std::fs::remove_dir_all(&store).unwrap();
}

/// The headline is three layers, each with its own verdict, on the report,
/// in the API and on the compare page: a client pause on a lease lock (the
/// clients overlapped after their own lease ran out; the service kept its
/// promise) is valid overall with its clients layer red, and is not given
/// the badge of a lock that granted inside a promised lease.
#[test]
fn the_headline_is_three_layers_on_every_page_and_in_the_api() {
    let store = temp_store("web-headline");
    let paused = import(&store, "paused.jsonl", PAUSED, "etcd");
    let broken = import(&store, "overlap.jsonl", OVERLAP, "redis");
    let server = Server::start(&store);

    let layer = |page: &str, layer: &str| -> String {
        let at = page.find(&format!("<tr data-layer=\"{layer}\">")).unwrap_or_else(|| panic!("{layer}: {page}"));
        let from = page[at..].find("class=\"verdict ").unwrap() + at + "class=\"verdict ".len();
        page[from..].split('"').next().unwrap().to_string()
    };
    let (status, report) = server.get(&format!("/runs/{paused}"));
    assert_eq!(status, 200);
    assert!(report.contains("id=\"headline\""), "{report}");
    let headline = &report[report.find("id=\"headline\"").unwrap()..report.find("<h2>Checkers</h2>").unwrap()];
    assert!(headline.contains("Overall <span class=\"verdict valid\">valid</span>"), "{headline}");
    assert_eq!(
        (layer(headline, "service"), layer(headline, "clients"), layer(headline, "data")),
        ("valid".into(), "invalid".into(), "valid".into())
    );
    assert!(headline.contains("lease-expired"), "the clients' cause is named: {headline}");
    let (_, report) = server.get(&format!("/runs/{broken}"));
    let headline = &report[report.find("id=\"headline\"").unwrap()..report.find("<h2>Checkers</h2>").unwrap()];
    assert!(
        headline.contains("Overall <span class=\"verdict invalid\">invalid</span> the service broke its promise"),
        "{headline}"
    );
    assert_eq!(layer(headline, "service"), "invalid");

    let (status, run) = server.get(&format!("/api/v1/runs/{paused}"));
    assert_eq!(status, 200);
    let run: serde_json::Value = serde_json::from_str(&run).unwrap();
    let h = &run["headline"];
    assert_eq!(h["verdict"], run["results"]["verdict"]);
    assert_eq!(h["verdict"], "valid");
    assert_eq!(h["layers"], serde_json::json!({ "service": "valid", "clients": "invalid", "data": "valid" }));
    let lines: Vec<&str> = h["lines"].as_array().unwrap().iter().map(|l| l["layer"].as_str().unwrap()).collect();
    assert_eq!(lines, ["service", "clients", "data"]);
    let (_, runs) = server.get("/api/v1/runs");
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    let by_id = |id: &str| runs.as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(by_id(&paused)["layers"]["clients"], "invalid");
    assert_eq!(by_id(&broken)["layers"]["service"], "invalid");

    let (status, cells) = server.get("/api/v1/compare");
    assert_eq!(status, 200);
    let cells: serde_json::Value = serde_json::from_str(&cells).unwrap();
    let cell = |system: &str| cells.as_array().unwrap().iter().find(|c| c["system"] == system).unwrap().clone();
    assert_eq!(
        (cell("etcd")["verdict"].as_str(), cell("etcd")["layers"]["clients"].as_str()),
        (Some("valid"), Some("invalid"))
    );
    assert_eq!(
        (cell("redis")["verdict"].as_str(), cell("redis")["layers"]["service"].as_str()),
        (Some("invalid"), Some("invalid"))
    );

    let (status, compare) = server.get("/compare");
    assert_eq!(status, 200);
    let row = |system: &str| -> String {
        let at = compare.find(&format!("<tr><td>{system}</td>")).unwrap_or_else(|| panic!("{system}: {compare}"));
        compare[at..at + compare[at..].find("</tr>").unwrap()].to_string()
    };
    let badges = |row: &str| -> Vec<String> {
        ["service", "clients", "data"]
            .iter()
            .map(|l| {
                let at = row.find(&format!("data-layer=\"{l}\"")).unwrap();
                let from = row[at..].find("class=\"verdict ").unwrap() + at + "class=\"verdict ".len();
                row[from..].split('"').next().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(badges(&row("etcd")), ["valid", "invalid", "valid"]);
    assert_eq!(badges(&row("redis"))[0], "invalid");
    assert!(
        row("etcd").contains("<span class=\"verdict valid\">valid</span></td>"),
        "the overall badge: {}",
        row("etcd")
    );
}
