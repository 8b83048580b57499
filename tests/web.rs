//! `fencepost serve` over HTTP: every page and API route, and their errors
//! (unknown run → 404 page, oversize upload → 413, malformed history → 400
//! naming the line, path tricks refused, values escaped). The runs are made
//! by `fencepost import` of small lock histories, so the checkers are real
//! and no containers are needed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A lock history where processes 1 and 2 both hold k0 for 1.42 s.
pub const OVERLAP: &str = r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":1,"time":1000000000,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":2,"time":1100000000,"process":2,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":3,"time":1500000000,"process":2,"type":"ok","f":"acquire","key":"k0","value":{"token":2}}
{"index":4,"time":2920000000,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":5,"time":2930000000,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":6,"time":3000000000,"process":2,"type":"invoke","f":"release","key":"k0","value":null}
{"index":7,"time":3000000001,"process":2,"type":"ok","f":"release","key":"k0","value":null}
"#;

/// The same locks, one after the other.
pub const CLEAN: &str = r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":1,"time":20,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":2,"time":30,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":3,"time":40,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":4,"time":50,"process":2,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":5,"time":60,"process":2,"type":"ok","f":"acquire","key":"k0","value":{"token":2}}
{"index":6,"time":70,"process":2,"type":"invoke","f":"release","key":"k0","value":null}
{"index":7,"time":80,"process":2,"type":"ok","f":"release","key":"k0","value":null}
"#;

pub fn fencepost() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fencepost"))
}

pub fn temp_store(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fencepost-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Imports `history` as a run of `system`; returns its id.
pub fn import(store: &Path, name: &str, history: &str, system: &str) -> String {
    let file = store.join(name);
    std::fs::write(&file, history).unwrap();
    let out = fencepost().arg("import").arg(&file).args(["--system", system, "--store"]).arg(store).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let at = stdout.find(" as run ").expect("the run id") + " as run ".len();
    stdout[at..].lines().next().unwrap().trim().to_string()
}

/// `fencepost serve` on a free port; killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(store: &Path) -> Server {
        let mut child = fencepost()
            .args(["serve", "--bind", "127.0.0.1:0", "--store"])
            .arg(store)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let at = line.find("127.0.0.1:").expect("serve prints its address") + "127.0.0.1:".len();
        let port = line[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
        Server { child, port }
    }

    /// One HTTP/1.1 request: (status, headers, body).
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        // A refused upload may be answered before all of it is sent.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut body = raw[split + 4..].to_vec();
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        (status, head, body)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = self.request("GET", path, b"");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

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
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/porcupine/jepsen/etcd_000.log");
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
