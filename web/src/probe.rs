//! Asking a fencepost server over loopback, as `bench-api` and `soak` do to
//! measure our own server: one HTTP/1.1 request on its own connection
//! (`Connection: close`, so the answer ends with the connection). A plain
//! socket rather than an HTTP client library: two measuring commands of our
//! own server need nothing more, and the binary carries no client stack.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Malformed(&'static str),
    #[error("the web app would not start: {0}")]
    App(String),
}

/// An HTTP answer, read whole: its status, its head (status line and
/// headers) and its body (de-chunked).
pub struct Answer {
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

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Result<Answer, ProbeError> {
    request(addr, &format!("GET {path} HTTP/1.1\r\nHost: fencepost\r\nConnection: close\r\n\r\n"), b"").await
}

async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Result<Answer, ProbeError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(ProbeError::Malformed("an answer without the end of its head"))?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(ProbeError::Malformed("an answer without a status line"))?;
    let mut answer = Answer { status, head, body: answer.split_off(split + 4) };
    if answer.header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        answer.body = dechunk(&answer.body).ok_or(ProbeError::Malformed("a malformed chunked body"))?;
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

/// How a burst of uploads to `POST /api/v1/check` was answered, and how
/// the runs page fared meanwhile.
pub struct Burst {
    pub uploads: usize,
    pub body_bytes: usize,
    pub history_ops: usize,
    pub elapsed: Duration,
    pub verdicts: usize,
    pub busy: usize,
    pub busy_with_retry: usize,
    /// Answers neither a verdict nor 503, and requests not answered.
    pub other: Vec<String>,
    pub slowest: Duration,
    /// Each runs-page request's time and status (0: no answer), fastest first.
    pub pages: Vec<(Duration, u16)>,
}

/// Serves an empty store at `store` on a loopback port in this process,
/// sends `uploads` concurrent checks each carrying the same generated mutex
/// history of about `size` bytes, and meanwhile asks for the runs page
/// every 20 ms. `before_burst` runs once the server is up (a caller's
/// memory sample).
pub async fn burst(
    store: &std::path::Path,
    uploads: usize,
    size: usize,
    before_burst: impl FnOnce(),
) -> Result<Burst, ProbeError> {
    // About 100 bytes a JSONL line, two lines an operation.
    let history = checker::gen::mutex_history((size / 200).max(1), 10, 10, 0.0, 7);
    let mut body = Vec::new();
    checker::formats::jsonl::write(&mut body, &history.ops)?;
    let body = Arc::new(body);

    let app = crate::app(store.to_path_buf()).await.map_err(|e| ProbeError::App(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(crate::serve_on(listener, app));
    before_burst();

    let done = Arc::new(AtomicBool::new(false));
    let pages = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut times = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let start = Instant::now();
                let answer = get(addr, "/").await;
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
    let mut burst = Burst {
        uploads,
        body_bytes: body.len(),
        history_ops: history.ops.len(),
        elapsed: Duration::ZERO,
        verdicts: 0,
        busy: 0,
        busy_with_retry: 0,
        other: Vec::new(),
        slowest: Duration::ZERO,
        pages: Vec::new(),
    };
    for task in tasks {
        let Ok((answer, took)) = task.await else {
            burst.other.push("an upload's task panicked".into());
            continue;
        };
        burst.slowest = burst.slowest.max(took);
        match answer {
            Ok(answer) if answer.status == 200 => burst.verdicts += 1,
            Ok(answer) if answer.status == 503 => {
                burst.busy += 1;
                burst.busy_with_retry += usize::from(answer.header("retry-after").is_some());
            }
            Ok(answer) => burst.other.push(format!("HTTP {}", answer.status)),
            Err(e) => burst.other.push(e.to_string()),
        }
    }
    burst.elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    burst.pages = pages.await.unwrap_or_default();
    burst.pages.sort_by_key(|p| p.0);
    server.abort();
    Ok(burst)
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(super::dechunk(b"5\r\nhello\r\n7;x=1\r\n, world\r\n0\r\n\r\n").unwrap(), b"hello, world");
        assert!(super::dechunk(b"5\r\nhel").is_none(), "a body cut short is refused");
    }
}
