//! The web UI in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver with fantoccini): the runs list,
//! the report of a real Redis run whose client pause broke mutual exclusion
//! (timeline and charts drawn, the anomaly in words), the compare page, and
//! the check page finding a non-linearizable upload with its partial
//! linearization — with no script error on any page. Screenshots go to
//! `target/screenshots/`.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fencepost, import, temp_store, Server, OVERLAP};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

async fn browser() -> (Driver, Client) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt-get install chromium chromium-driver; scripts/setup.sh does)");
    let driver = Driver(driver);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
            Ok(client) => return (driver, client),
            Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn eval(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

/// Waits until the page's script says it has drawn (`data-ready`).
async fn wait_ready(client: &Client, attr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let script = format!("return document.body.dataset.{attr} || null");
    while eval(client, &script).await != json!("1") {
        assert!(Instant::now() < deadline, "the page never set data-{attr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn no_errors(client: &Client, page: &str) {
    let errors = eval(client, "return window.__errors || ['fencepost.js did not load']").await;
    assert_eq!(errors, json!([]), "script errors on {page}");
}

async fn screenshot(client: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), client.screenshot().await.unwrap()).unwrap();
}

/// A canvas that was drawn on: sized, and not every pixel blank.
async fn drawn(client: &Client, id: &str) -> bool {
    let script = format!(
        "const c = document.getElementById('{id}'); if (!c || c.width === 0 || c.height === 0) return false; \
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
         for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false;"
    );
    eval(client, &script).await == json!(true)
}

/// A real run on Redis in which a client pause breaks mutual exclusion.
fn real_run(store: &Path) -> String {
    let out = fencepost()
        .args(["run", "redis", "--ttl", "1s", "--nemesis", "client-pause", "--client-pause", "2s"])
        .args(["--nemesis-interval", "1s", "--time-limit", "6s", "--store"])
        .arg(store)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(store).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs[0].file_name().unwrap().to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_shows_runs_reports_comparison_and_checks_in_a_real_browser() {
    let store = temp_store("browser");
    let run = real_run(&store);
    let imported = import(&store, "overlap.jsonl", OVERLAP, "imported-redis");
    let server = Server::start(&store);
    let base = format!("http://127.0.0.1:{}", server.port);
    let (_driver, client) = browser().await;

    // Runs list.
    client.goto(&format!("{base}/")).await.unwrap();
    let rows = client.find_all(Locator::Css("#runs tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2);
    let text = client.find(Locator::Css("#runs")).await.unwrap().text().await.unwrap();
    assert!(text.contains(&run) && text.contains(&imported) && text.contains("invalid"), "{text}");
    no_errors(&client, "/").await;
    screenshot(&client, "runs").await;

    // The real run's report: the anomaly in words, the timeline and charts.
    client.goto(&format!("{base}/runs/{run}")).await.unwrap();
    wait_ready(&client, "ready").await;
    let body = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(body.contains("mutual-exclusion") && body.contains("both held lock k0"), "{body}");
    assert!(body.contains("client pause"), "the anomaly names the fault active then");
    for canvas in ["timeline", "latency", "throughput"] {
        assert!(drawn(&client, canvas).await, "#{canvas} was not drawn");
    }
    let status = client.find(Locator::Id("timeline-status")).await.unwrap().text().await.unwrap();
    assert!(status.contains("anomalies marked") && !status.contains(" 0 anomalies"), "{status}");
    no_errors(&client, "the report").await;
    screenshot(&client, "report").await;
    eval(&client, "document.getElementById('timeline').scrollIntoView(); return null;").await;
    screenshot(&client, "report-timeline").await;

    // Compare.
    client.goto(&format!("{base}/compare")).await.unwrap();
    wait_ready(&client, "ready").await;
    assert!(drawn(&client, "compare-chart").await);
    let table = client.find(Locator::Id("compare")).await.unwrap().text().await.unwrap();
    assert!(table.contains("redis") && table.contains("client-pause"), "{table}");
    no_errors(&client, "/compare").await;
    screenshot(&client, "compare").await;

    // Check: a non-linearizable Porcupine etcd log, pasted.
    client.goto(&format!("{base}/check")).await.unwrap();
    wait_ready(&client, "ready").await;
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("checker/tests/data/porcupine/jepsen/etcd_000.log");
    let history = std::fs::read_to_string(corpus).unwrap();
    client.execute("document.getElementById('check-text').value = arguments[0];", vec![json!(history)]).await.unwrap();
    let model = client.find(Locator::Id("check-model")).await.unwrap();
    model.select_by_value("cas-register").await.unwrap();
    client.find(Locator::Id("check-initial")).await.unwrap().send_keys("nil").await.unwrap();
    client.find(Locator::Css("#check-form button")).await.unwrap().click().await.unwrap();
    wait_ready(&client, "checked").await;
    let verdict = client.find(Locator::Id("check-verdict")).await.unwrap().text().await.unwrap();
    assert_eq!(verdict, "not-linearizable");
    let stuck = client.find(Locator::Id("check-stuck")).await.unwrap().text().await.unwrap();
    assert!(stuck.contains("cannot place"), "{stuck}");
    assert!(drawn(&client, "check-timeline").await);
    no_errors(&client, "/check").await;
    screenshot(&client, "check").await;

    client.close().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&store).unwrap();
}
