//! `fencepost serve` over HTTP: every page and API route, and their errors
//! (unknown run → 404 page, oversize upload → 413, malformed history → 400
//! naming the line, path tricks refused, values escaped). The runs are made
//! by `fencepost import` of small lock histories, so the checkers are real
//! and no containers are needed.

mod common;

use std::path::Path;

use common::{import, temp_store, Server, CLEAN, OVERLAP};

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
    for id in ["id=\"timeline\"", "id=\"latency\"", "id=\"throughput\"", "history.jsonl", "history.edn"] {
        assert!(report.contains(id), "{id} missing");
    }
    let (status, page) = server.get("/runs/no-such-run");
    assert_eq!(status, 404);
    assert!(page.contains("no run `no-such-run`"), "{page}");
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
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let (status, run) = server.get(&format!("/api/v1/runs/{bad}"));
    assert_eq!(status, 200);
    let run: serde_json::Value = serde_json::from_str(&run).unwrap();
    assert_eq!(run["results"]["verdict"], "invalid");
    assert_eq!(run["test"]["system"], "redis");
    let (status, missing) = server.get("/api/v1/runs/nope");
    assert_eq!(status, 404);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&missing).unwrap()["error"], "no run `nope`");
    assert_eq!(server.get(&format!("/api/v1/runs/{bad}/history")).1, jsonl);
    let (status, timeline) = server.get(&format!("/api/v1/runs/{bad}/timeline"));
    assert_eq!(status, 200);
    let timeline: serde_json::Value = serde_json::from_str(&timeline).unwrap();
    assert_eq!(timeline["ops"].as_array().unwrap().len(), 4);
    assert_eq!(timeline["lanes"], serde_json::json!([1, 2]));
    assert_eq!(timeline["holds"].as_array().unwrap().len(), 2);
    assert_eq!(timeline["anomalies"][0]["processes"], serde_json::json!([1, 2]));

    // Upload and check.
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("checker/tests/data/porcupine/jepsen/etcd_000.log");
    let etcd = std::fs::read(&corpus).unwrap();
    let (status, _, body) = server.request("POST", "/api/v1/check?model=cas-register&initial=nil", &etcd);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, v["verdict"].as_str()), (200, Some("not-linearizable")), "{v}");
    let partials = &v["result"]["partitions"][0]["partials"];
    assert!(!partials.as_array().unwrap().is_empty(), "a failure carries its partial linearizations");
    let (status, _, body) = server.request("POST", "/api/v1/check", CLEAN.as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, v["verdict"].as_str(), v["model"].as_str()), (200, Some("linearizable"), Some("fenced-mutex")));
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
    assert!(events.contains("event: ops") && events.contains("\"f\":\"acquire\""), "{events}");
    assert!(events.trim_end().ends_with("data: done"), "{}", &events[events.len().saturating_sub(200)..]);
    assert_eq!(run.wait().unwrap().code(), Some(0));
    let (_, page) = server.get(&format!("/runs/{id}"));
    assert!(!page.contains("id=\"live\"") && page.contains("mutual-exclusion"), "{page}");
    let (_, list) = server.get("/");
    assert!(list.contains(&id));
    std::fs::remove_dir_all(&store).unwrap();
}
