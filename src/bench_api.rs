//! `fencepost bench-api`: the check API under a burst of uploads.
//!
//! It serves an empty store on a loopback port in this process, sends
//! `uploads` concurrent `POST /api/v1/check` requests each carrying the same
//! generated mutex history of about `size` bytes, and meanwhile asks for the
//! runs page every 20 ms. It reports how every upload was answered (a
//! verdict, or 503 with `Retry-After`), how long the page took at worst,
//! and the process's peak resident memory — server and clients together,
//! the clients sharing one copy of the body.

use anyhow::Context;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP answer, read whole: its status, its head (status line and
/// headers) and its body (de-chunked).
pub(crate) struct Answer {
    pub status: u16,
    head: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value by name, in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`, so the
/// answer ends with the connection). A plain socket rather than an HTTP
/// client: the binary needs no client library for two commands that only
/// measure our own server.
pub(crate) async fn request(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> anyhow::Result<Answer> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").context("an answer without the end of its head")?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).context("an answer without a status line")?;
    let mut answer = Answer { status, head, body: answer.split_off(split + 4) };
    if answer.header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        answer.body = dechunk(&answer.body).context("a malformed chunked body")?;
    }
    Ok(answer)
}

/// The data of a chunked body (`SIZE\r\nDATA\r\n` … `0\r\n\r\n`).
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::with_capacity(raw.len());
    loop {
        let line = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..line]).ok()?.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        raw = &raw[line + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

pub async fn bench_api(uploads: usize, size: usize) -> anyhow::Result<()> {
    let store = std::env::temp_dir().join(format!("fencepost-bench-api-{}", std::process::id()));
    let result = measure(&store, uploads, size).await;
    let _ = std::fs::remove_dir_all(&store);
    result
}

async fn measure(store: &std::path::Path, uploads: usize, size: usize) -> anyhow::Result<()> {
    // About 100 bytes a JSONL line, two lines an operation.
    let history = checker::gen::mutex_history((size / 200).max(1), 10, 10, 0.0, 7);
    let mut body = Vec::new();
    checker::formats::jsonl::write(&mut body, &history.ops)?;
    let body = Arc::new(body);

    let app = web::app(store.to_path_buf()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(web::serve_on(listener, app));
    let before = crate::bench::peak_mib();

    let done = Arc::new(AtomicBool::new(false));
    let pages = {
        let done = done.clone();
        tokio::spawn(async move {
            let head = "GET / HTTP/1.1\r\nHost: fencepost\r\nConnection: close\r\n\r\n";
            let mut times = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let start = Instant::now();
                let answer = request(addr, head, b"").await;
                times.push((start.elapsed(), answer.map(|a| a.status).unwrap_or(0)));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            times
        })
    };

    let start = Instant::now();
    let head = format!(
        "POST /api/v1/check?model=mutex HTTP/1.1\r\nHost: fencepost\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let tasks: Vec<_> = (0..uploads)
        .map(|_| {
            let (head, body) = (head.clone(), body.clone());
            tokio::spawn(async move {
                let start = Instant::now();
                (request(addr, &head, &body).await, start.elapsed())
            })
        })
        .collect();
    let (mut verdicts, mut busy, mut busy_with_retry, mut other) = (0, 0, 0, Vec::new());
    let mut slowest = Duration::ZERO;
    for task in tasks {
        let (answer, took) = task.await?;
        slowest = slowest.max(took);
        match answer {
            Ok(answer) if answer.status == 200 => verdicts += 1,
            Ok(answer) if answer.status == 503 => {
                busy += 1;
                busy_with_retry += usize::from(answer.header("retry-after").is_some());
            }
            Ok(answer) => other.push(format!("HTTP {}", answer.status)),
            Err(e) => other.push(e.to_string()),
        }
    }
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let mut pages = pages.await?;
    server.abort();

    out!(
        "{uploads} concurrent uploads of a {:.2} MB history ({} ops) to POST /api/v1/check, in {:.2} s",
        body.len() as f64 / 1e6,
        history.ops.len(),
        elapsed.as_secs_f64()
    );
    out!("  answered with a verdict:        {verdicts}");
    out!("  answered 503 (queue full):      {busy}, of which with Retry-After: {busy_with_retry}");
    out!(
        "  not answered / other answers:   {}{}",
        other.len(),
        if other.is_empty() { String::new() } else { format!(" ({})", other[0]) }
    );
    out!("  slowest upload answered after:  {:.0} ms", slowest.as_secs_f64() * 1e3);
    pages.sort_by_key(|p| p.0);
    let failed = pages.iter().filter(|p| p.1 != 200).count();
    if let Some(worst) = pages.last() {
        out!(
            "  the runs page meanwhile:        {} requests, median {:.1} ms, worst {:.1} ms, {} not 200",
            pages.len(),
            pages[pages.len() / 2].0.as_secs_f64() * 1e3,
            worst.0.as_secs_f64() * 1e3,
            failed
        );
    }
    out!(
        "  peak resident memory:           {:.0} MiB (server and clients; {:.0} MiB before the burst)",
        crate::bench::peak_mib(),
        before
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(super::dechunk(b"5\r\nhello\r\n7;x=1\r\n, world\r\n0\r\n\r\n").unwrap(), b"hello, world");
        assert!(super::dechunk(b"5\r\nhel").is_none(), "a body cut short is refused");
    }
}
