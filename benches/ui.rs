//! The report of a big run in headless Chromium (`cargo bench --bench ui`;
//! needs chromium and chromedriver, which `scripts/setup.sh` installs).
//!
//! For a generated lock history of 100,000 and of 1,000,000 events, imported
//! into a fresh store and served by `fencepost serve`, it prints: the time
//! from asking for the report to its timeline and charts drawn (cold: the
//! server builds the timeline; warm: cached), the first timeline answer's
//! size, each zoom step (wheel-sized, 0.8×, waited until the new window's
//! own view is drawn) and pan step, and the server's peak memory. The
//! anchors are the issue's: a 100,000-event run sent 2 MB of JSON and
//! redrew in ~97 ms per zoom step; the targets for 1,000,000 events are
//! interactive in < 1.5 s, < 8 MB, and zoom steps < 50 ms.

#[path = "../tests/common/chrome.rs"]
mod chrome;
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrome::{browser, eval};
use common::{import, temp_store, Server};
use fantoccini::Client;
use serde_json::Value;

/// The anchor's figures for a 100,000-event run.
const ANCHOR_BYTES: f64 = 2.0e6;
const ANCHOR_ZOOM_MS: f64 = 97.0;

async fn wait_ready(client: &Client) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v =
            eval(client, "return document.body.dataset.ready === '1' ? Number(document.body.dataset.readyAt) : null")
                .await;
        if let Some(ms) = v.as_f64() {
            return ms;
        }
        assert!(Instant::now() < deadline, "the report never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// Zooms by `k` around the window's middle, `steps` times; each step's ms
/// (asked to drawn) and the mode it ended in.
async fn zoom_steps(client: &Client, k: f64, steps: usize) -> (Vec<f64>, Vec<String>) {
    let mut times = Vec::new();
    let mut modes = Vec::new();
    for _ in 0..steps {
        let v = eval(
            client,
            &format!(
                "const tl = window.__timeline, t = (tl.view.t0 + tl.view.t1) / 2, s = performance.now(); \
                 return tl.zoom({k}, t).then(() => [performance.now() - s, document.getElementById('timeline').dataset.mode]);"
            ),
        )
        .await;
        times.push(v[0].as_f64().unwrap());
        modes.push(v[1].as_str().unwrap_or("?").to_string());
    }
    (times, modes)
}

async fn pan_steps(client: &Client, steps: usize) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..steps {
        let v = eval(
            client,
            "const tl = window.__timeline, d = (tl.view.t1 - tl.view.t0) / 10, s = performance.now(); \
             tl.view.t0 += d; tl.view.t1 += d; tl.draw(); return tl.refresh().then(() => performance.now() - s);",
        )
        .await;
        times.push(v.as_f64().unwrap());
    }
    times
}

async fn one(client: &Client, events: usize) {
    let store = temp_store(&format!("bench-ui-{events}"));
    let started = Instant::now();
    let history = checker::gen::mutex_history(events / 2, 1000, 20, 0.0002, 42);
    let mut text = Vec::new();
    checker::formats::jsonl::write(&mut text, &history.ops).unwrap();
    let recorded = history.ops.len();
    drop(history);
    let id = import(&store, "big.jsonl", std::str::from_utf8(&text).unwrap(), "redis");
    println!(
        "{recorded} events ({:.0} MB JSONL) generated and imported in {:.1} s",
        text.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    drop(text);
    // The server alone: building the timeline (a fresh process has none
    // cached), then a view of the built one.
    let server = Server::start(&store);
    let view = format!("/api/v1/runs/{id}/timeline?px=1300&charts=600");
    let timed = |server: &Server| {
        let t = Instant::now();
        let (status, body) = server.get(&view);
        assert_eq!(status, 200, "{body}");
        t.elapsed().as_secs_f64() * 1e3
    };
    let (cold, warm) = (timed(&server), timed(&server));
    println!("  server: the first view {cold:.0} ms (reads the history, builds the timeline), then {warm:.1} ms");
    drop(server);
    let server = Server::start(&store);
    let url = format!("http://127.0.0.1:{}/runs/{id}", server.port);
    let mut loads = Vec::new();
    for _ in 0..3 {
        client.goto(&url).await.unwrap();
        loads.push(wait_ready(client).await);
    }
    let first: Value = eval(
        client,
        "const e = performance.getEntriesByType('resource').find((e) => e.name.includes('/timeline')); \
         return [e.transferSize, e.decodedBodySize, e.duration, Number(document.body.dataset.drawMs)];",
    )
    .await;
    let (wire, body, fetch_ms, draw_ms) = (
        first[0].as_f64().unwrap(),
        first[1].as_f64().unwrap(),
        first[2].as_f64().unwrap(),
        first[3].as_f64().unwrap(),
    );
    let (zin, modes_in) = zoom_steps(client, 0.8, 30).await;
    let pan = pan_steps(client, 10).await;
    let (zout, _) = zoom_steps(client, 1.25, 30).await;
    let errors = eval(client, "return window.__errors").await;
    let detailed = modes_in.iter().position(|m| m == "ops");
    println!(
        "  report interactive (asked → timeline and charts drawn): cold {:.0} ms, warm {:.0} / {:.0} ms",
        loads[0], loads[1], loads[2]
    );
    println!(
        "  first timeline answer: {:.2} MB on the wire, {:.2} MB of JSON; fetched in {:.0} ms, drawn in {draw_ms:.0} ms",
        wire / 1e6,
        body / 1e6,
        fetch_ms
    );
    if events <= 100_000 {
        println!("    vs the anchor's 2 MB for a 100,000-event run: {:.1}× smaller", ANCHOR_BYTES / body.max(1.0));
    }
    let worst = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    println!(
        "  zoom in, 30 steps of 0.8×: median {:.1} ms, worst {:.1} ms (per pixel until step {}, then the ops themselves)",
        median(zin.clone()),
        worst(&zin),
        detailed.map_or("never".to_string(), |d| (d + 1).to_string())
    );
    if std::env::var_os("FENCEPOST_BENCH_STEPS").is_some() {
        println!(
            "    in: {:?}\n    modes: {:?}\n    out: {:?}",
            zin.iter().map(|t| t.round()).collect::<Vec<_>>(),
            modes_in,
            zout.iter().map(|t| t.round()).collect::<Vec<_>>()
        );
    }
    println!("  pan, 10 steps of a tenth: median {:.1} ms, worst {:.1} ms", median(pan.clone()), worst(&pan));
    println!("  zoom out, 30 steps of 1.25×: median {:.1} ms, worst {:.1} ms", median(zout.clone()), worst(&zout));
    println!(
        "    vs the anchor's ~97 ms per zoom step: {:.1}× faster (median of all zoom steps)",
        ANCHOR_ZOOM_MS / median([zin, zout].concat())
    );
    println!("  server peak resident memory: {:.0} MiB; script errors: {errors}", peak_mib(server.pid()));
    drop(server);
    let _ = std::fs::remove_dir_all(&store);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; a name filter narrows to one size.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    const SIZES: [usize; 2] = [100_000, 1_000_000];
    if let Some(f) = filter.iter().find(|f| !SIZES.iter().any(|n| n.to_string() == **f)) {
        eprintln!("error: no size `{f}`; the sizes are 100000 and 1000000");
        std::process::exit(3);
    }
    let (_driver, client) = browser().await;
    for events in SIZES {
        if filter.is_empty() || filter.iter().any(|f| events.to_string() == *f) {
            println!("\n{events} events:");
            one(&client, events).await;
        }
    }
    let _ = client.close().await;
}
