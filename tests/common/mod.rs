//! Helpers shared by the web and browser tests: runs made with
//! `fencepost import`, and `fencepost serve` on a free port with a tiny
//! HTTP/1.1 client.
#![allow(dead_code)]

pub mod progress;

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

/// A lease lock behaving as specified (issue 26): process 1's 1000 ms lease
/// runs out, its release finds the lock gone (`LockNotOwnedError`), and
/// process 2 is granted it afterwards. No two holders ever.
pub const LAPSED: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"index":1,"time":10000000,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":1,"ttl_ms":1000}}
{"index":2,"time":1500000000,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":3,"time":1502000000,"process":1,"type":"fail","f":"release","key":"k0","value":null,"error":"LockNotOwnedError"}
{"index":4,"time":1600000000,"process":2,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"index":5,"time":1610000000,"process":2,"type":"ok","f":"acquire","key":"k0","value":{"token":2,"ttl_ms":1000}}
{"index":6,"time":2100000000,"process":2,"type":"invoke","f":"release","key":"k0","value":null}
{"index":7,"time":2101000000,"process":2,"type":"ok","f":"release","key":"k0","value":null}
"#;

/// A client pause on a lease lock: process 1 sleeps past its lease, process
/// 2 is granted the lock, process 1 wakes and its release comes back `ok`
/// (the key was already gone). The clients overlapped (lease-expired); the
/// service kept its promise; fencing held.
pub const PAUSED: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"index":1,"time":10000000,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":1,"ttl_ms":1000}}
{"index":2,"time":100000000,"process":"nemesis","type":"info","f":"client-pause-start","value":{"processes":[1]}}
{"index":3,"time":1200000000,"process":2,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"index":4,"time":1210000000,"process":2,"type":"ok","f":"acquire","key":"k0","value":{"token":2,"ttl_ms":1000}}
{"index":5,"time":1400000000,"process":"nemesis","type":"info","f":"client-pause-stop","value":null}
{"index":6,"time":1500000000,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":7,"time":1502000000,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":8,"time":2000000000,"process":2,"type":"invoke","f":"release","key":"k0","value":null}
{"index":9,"time":2001000000,"process":2,"type":"ok","f":"release","key":"k0","value":null}
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
    // 2: judged, but too little evidence to call it valid (the small
    // fixtures here have a grant or two).
    assert!(matches!(out.status.code(), Some(0..=2)), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
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

    /// The server's process id (the UI benchmark reads its memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
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
