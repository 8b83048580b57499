//! Headless Chromium over WebDriver (Debian's `chromium` and
//! `chromium-driver`, driven with fantoccini), for the browser test and the
//! UI benchmark.
#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

/// chromedriver and the Chromium it starts, in a process group of their own
/// led by a `sh`, all killed when this is dropped: on success, on an early
/// return, and on a failed assertion, whose panic unwinds through the test
/// and drops it. A test killed outright never drops it, so the `sh` also
/// kills its group when its stdin (held here) closes, as it does when this
/// process dies however it dies. (Its own group keeps a Ctrl-C from
/// reaching chromedriver directly; the closed stdin covers that too.)
pub struct Driver {
    group: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.group.id())]).status();
        drop(self.stdin.take());
        let _ = self.group.wait();
    }
}

impl Driver {
    fn start(port: u16) -> Driver {
        let installed = Command::new("chromedriver").arg("--version").stdout(Stdio::null()).status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "chromedriver (apt-get install chromium chromium-driver; scripts/setup.sh does)"
        );
        let mut group = Command::new("sh")
            .arg("-c")
            .arg("chromedriver --port=\"$1\" >/dev/null 2>&1 & cat >/dev/null; kill -KILL 0")
            .arg("sh")
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("sh for chromedriver");
        // Nothing is ever written: the open pipe only says this process lives.
        let stdin = group.stdin.take();
        Driver { group, stdin }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

pub async fn browser() -> (Driver, Client) {
    let port = free_port();
    let driver = Driver::start(port);
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

pub async fn eval(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}
