//! A lock client that is another program: the user's own lock library (or
//! a shipped adapter over one, `clients/`), spoken to in JSON lines on its
//! stdin and stdout, as Maelstrom's nodes are (`docs/CLIENTS.md`).
//!
//! fencepost records the history itself: the invocation when a request is
//! written, the completion when its answer is read, so an adapter keeps no
//! clock and writes no history. An answer is `ok`, `fail` (provably no
//! effect; `busy` when another client held the lock) or `info` (unknown);
//! no answer within the deadline is `info`, and the process is retired:
//! its program is killed with it. The program is started with its argv as
//! given, never through a shell.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::client::{ClientOptions, Grant, LockClient, Outcome};
use crate::systems::{BoxFuture, Error, Seat};

/// Which program plays the clients, and under what name it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    /// A shipped adapter's name (`redis-py`), or `custom` for `--client-cmd`.
    pub name: String,
    /// The program and its arguments.
    pub argv: Vec<String>,
}

/// The first line fencepost writes: who the adapter plays and where the
/// service is.
#[derive(Debug, Serialize)]
struct Init<'a> {
    init: InitBody<'a>,
}

#[derive(Debug, Serialize)]
struct InitBody<'a> {
    /// The history's process number this program plays.
    process: u64,
    /// The system under test (`redis`), for adapters that speak to several.
    system: &'a str,
    /// `host:port` of each node's client port, in node order.
    endpoints: Vec<String>,
    /// The lease asked for, ms.
    ttl_ms: u64,
    /// How long one request may take before fencepost calls it unknown.
    timeout_ms: u64,
    /// How long an acquire may wait for a busy lock (0: try once).
    acquire_wait_ms: u64,
}

/// A request: `acquire` (`key`, `ttl_ms`), `release` and `renew` (`key`,
/// the `handle` the acquire answered, `ttl_ms` for a renewal).
#[derive(Debug, Serialize)]
struct Request<'a> {
    id: u64,
    op: &'a str,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handle: Option<&'a str>,
}

/// How a request ended.
#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Ok,
    Fail,
    Info,
}

/// An answer line: `{"id": 1, "type": "ok", …}`. Unknown fields are
/// refused, so a misspelt `tokn` is an error naming it, not a missing token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    id: u64,
    #[serde(rename = "type")]
    kind: Kind,
    /// An acquire's fencing token, where the library gives one.
    #[serde(default)]
    token: Option<i64>,
    /// The lease granted (or renewed), ms from the request's invocation.
    #[serde(default)]
    ttl_ms: Option<u64>,
    /// Held while the library's session lives, with no lease.
    #[serde(default)]
    session: bool,
    /// What the adapter needs to release it (its lock object's id).
    #[serde(default)]
    handle: Option<String>,
    /// The node that answered, where the library says.
    #[serde(default)]
    node: Option<String>,
    /// A `fail` because another client held the lock.
    #[serde(default)]
    busy: bool,
    #[serde(default)]
    error: Option<String>,
}

/// The init's answer: `{"ok": true}`, or `{"ok": false, "error": …}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ready {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

pub struct ExternalClient {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next: u64,
    options: ClientOptions,
    /// The last lines the program wrote to stderr, for saying why it failed.
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The server of a one-node system: the node every grant came from
    /// when the program does not say (what `holder` faults aim at).
    only_node: Option<String>,
}

/// Lines of the program's stderr kept for an error message.
const STDERR_LINES: usize = 5;

/// How long a program may take to start and answer its `init`: a Python
/// interpreter importing its library, several starting at once on two cores.
pub fn init_limit(options: &ClientOptions) -> Duration {
    (options.timeout * 5).max(Duration::from_secs(5))
}

impl ExternalClient {
    /// Starts `external` for the worker's seat and sends it `init`; `port`
    /// is the system's client port on each node.
    pub fn connect<'a>(
        seat: Seat<'a>,
        external: &'a External,
        system: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn LockClient>, Error>> {
        Box::pin(async move {
            let (program, args) = external
                .argv
                .split_first()
                .ok_or_else(|| Error::Adapter { name: external.name.clone(), why: "no command to run".into() })?;
            let failed = |why: String| Error::Adapter { name: external.name.clone(), why };
            // A group of its own: a wrapper (`uv run`, a shell script) and
            // the client it starts are stopped and killed together.
            let mut child = Command::new(program)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| failed(format!("starting `{program}`: {e}")))?;
            let stderr = Arc::new(Mutex::new(VecDeque::new()));
            if let Some(err) = child.stderr.take() {
                let kept = stderr.clone();
                tokio::spawn(async move {
                    // Line by line, the last few kept: a library may log on
                    // every busy acquire for the whole run.
                    let mut lines = BufReader::new(err).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                        if kept.len() == STDERR_LINES {
                            kept.pop_front();
                        }
                        kept.push_back(line);
                    }
                });
            }
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err(failed("its stdin or stdout could not be opened".into()));
            };
            let mut client = ExternalClient {
                child,
                stdin,
                stdout: BufReader::new(stdout).lines(),
                next: 0,
                options: seat.options.clone(),
                stderr,
                only_node: (seat.nodes.len() == 1).then(|| seat.nodes[0].name().to_string()),
            };
            let init = Init {
                init: InitBody {
                    process: seat.process,
                    system,
                    endpoints: seat.nodes.iter().filter_map(|n| n.address(port)).collect(),
                    // The runner sets the session timeout to the run's TTL.
                    ttl_ms: seat.options.session_timeout.as_millis() as u64,
                    timeout_ms: seat.options.timeout.as_millis() as u64,
                    acquire_wait_ms: seat.options.acquire_wait.as_millis() as u64,
                },
            };
            let limit = init_limit(seat.options);
            let answer = tokio::time::timeout(limit, client.exchange(&init)).await;
            let line = match answer {
                Ok(Ok(line)) => line,
                Ok(Err(why)) => return Err(failed(client.with_stderr(why).await)),
                Err(_) => return Err(failed(client.with_stderr(format!("no answer to init in {limit:?}")).await)),
            };
            match serde_json::from_str::<Ready>(&line) {
                Ok(Ready { ok: true, .. }) => Ok(Box::new(client) as Box<dyn LockClient>),
                Ok(Ready { error, .. }) => Err(failed(format!("init refused: {}", error.unwrap_or_default()))),
                Err(e) => Err(failed(format!("init answered `{line}`: {e}"))),
            }
        })
    }

    /// The program's process id, for faults that stop or kill it.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Writes one line and reads the next answer line; what went wrong in
    /// words (the program exited, wrote something else).
    async fn exchange<T: Serialize>(&mut self, message: &T) -> Result<String, String> {
        let mut line = serde_json::to_vec(message).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.stdin.write_all(&line).await.map_err(|e| format!("writing to it: {e}"))?;
        self.stdin.flush().await.map_err(|e| format!("writing to it: {e}"))?;
        match self.stdout.next_line().await {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err("it closed its stdout (exited?)".into()),
            Err(e) => Err(format!("reading from it: {e}")),
        }
    }

    /// `why`, and what the program last wrote to stderr.
    async fn with_stderr(&mut self, why: String) -> String {
        // Give its stderr a moment to arrive after an exit.
        let _ = tokio::time::timeout(Duration::from_millis(500), self.child.wait()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let tail =
            self.stderr.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect::<Vec<_>>().join(" | ");
        if tail.is_empty() {
            why
        } else {
            format!("{why}; its stderr: {tail}")
        }
    }

    /// One request: its answer, or `Info` when none came in time or the
    /// answer does not read (either way the request may have taken effect).
    async fn call(
        &mut self,
        op: &str,
        key: &str,
        ttl: Option<Duration>,
        handle: Option<&str>,
    ) -> Result<Answer, String> {
        self.next += 1;
        let id = self.next;
        let request = Request { id, op, key, ttl_ms: ttl.map(|t| t.as_millis() as u64), handle };
        let limit = self.options.timeout + self.options.acquire_wait;
        let line = match tokio::time::timeout(limit, self.exchange(&request)).await {
            Ok(Ok(line)) => line,
            Ok(Err(why)) => return Err(why),
            Err(_) => return Err(format!("timed out after {} ms", limit.as_millis())),
        };
        let answer: Answer = serde_json::from_str(&line).map_err(|e| format!("answered `{line}`: {e}"))?;
        if answer.id != id {
            return Err(format!("answered request {} to request {id}", answer.id));
        }
        Ok(answer)
    }
}

/// An answer as an outcome; `ok` needs `ok`'s own fields read by the caller.
fn outcome<T>(answer: Result<Answer, String>, ok: impl FnOnce(Answer) -> Outcome<T>) -> Outcome<T> {
    match answer {
        Err(why) => Outcome::Info(why),
        Ok(a) => match a.kind {
            Kind::Ok => ok(a),
            Kind::Fail if a.busy => Outcome::Busy(a.error.unwrap_or_else(|| "busy".into())),
            Kind::Fail => Outcome::Fail(a.error.unwrap_or_else(|| "failed".into())),
            Kind::Info => Outcome::Info(a.error.unwrap_or_else(|| "unknown".into())),
        },
    }
}

impl LockClient for ExternalClient {
    fn acquire<'a>(&'a mut self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let answer = self.call("acquire", key, Some(ttl), None).await;
            let only = self.only_node.clone();
            outcome(answer, |a| {
                let node = a.node.or(only);
                let grant = Grant::new(key, a.token, node.as_deref(), a.handle.unwrap_or_default());
                match (a.ttl_ms, a.session) {
                    (Some(ms), _) => Outcome::Ok(grant.leased(Duration::from_millis(ms))),
                    (None, true) => Outcome::Ok(grant),
                    // Neither: the history could not say how long it was
                    // promised, and a lease checker would guess.
                    (None, false) => Outcome::Info("granted, but the answer says neither ttl_ms nor session".into()),
                }
            })
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let answer = self.call("release", &grant.key, None, Some(&grant.handle)).await;
            outcome(answer, |_| Outcome::Ok(()))
        })
    }

    fn renew<'a>(&'a mut self, grant: &'a Grant, ttl: Duration) -> BoxFuture<'a, Outcome<Option<Duration>>> {
        Box::pin(async move {
            let answer = self.call("renew", &grant.key, Some(ttl), Some(&grant.handle)).await;
            outcome(answer, |a| Outcome::Ok(a.ttl_ms.map(Duration::from_millis)))
        })
    }

    fn pid(&self) -> Option<u32> {
        ExternalClient::pid(self)
    }
}

impl Drop for ExternalClient {
    /// The whole group goes with the client (`kill_on_drop` reaches only
    /// the program fencepost started, not what a wrapper started).
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: kill(2) on the group this client's child leads; the
            // child is not yet reaped, so its id names that group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

/// Sends `signal` (SIGSTOP, SIGCONT) to the client program `pid` and its
/// group, and waits, up to a second, until it is in effect as `/proc`
/// shows it (a signal lands asynchronously: a many-threaded program stops
/// thread by thread). `None` when it could not be sent; `Some(seen)`.
pub async fn signal(pid: u32, signal: libc::c_int) -> Option<bool> {
    let pid_t = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: kill(2) on the group a child of ours leads (the child is
    // killed on drop, so it cannot have been reaped and its id reused
    // while its client exists).
    if unsafe { libc::kill(-pid_t, signal) } != 0 {
        return None;
    }
    let want_stopped = signal == libc::SIGSTOP;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let status = tokio::fs::read_to_string(format!("/proc/{pid}/status")).await.unwrap_or_default();
        let state = status.lines().find_map(|l| l.strip_prefix("State:")).map(str::trim).unwrap_or("");
        if state.starts_with('T') == want_stopped {
            return Some(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Some(false);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A shipped adapter: a lock library under test, at a pinned version, in
/// its own folder of `clients/` (its program and its pinned requirements),
/// installed by `scripts/setup.sh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adapter {
    /// What `--client` takes.
    pub name: &'static str,
    /// The library and the lock it offers.
    pub library: &'static str,
    /// The version pinned in its folder's requirements.
    pub version: &'static str,
    pub language: &'static str,
    /// The systems it speaks to.
    pub systems: &'static [&'static str],
    /// Its program, from the checkout's root, run by the adapters'
    /// Python environment (`.venv-clients`, made by `scripts/setup.sh`).
    pub script: &'static str,
}

/// The shipped adapters, as `fencepost clients` lists them.
pub const ADAPTERS: &[Adapter] = &[
    Adapter {
        name: "redis-py",
        library: "redis-py, redis.lock.Lock",
        version: "8.2.0",
        language: "Python 3",
        systems: &["redis"],
        script: "clients/redis-py/adapter.py",
    },
    Adapter {
        name: "python-redis-lock",
        library: "python-redis-lock, auto-renewal",
        version: "4.0.1",
        language: "Python 3",
        systems: &["redis"],
        script: "clients/python-redis-lock/adapter.py",
    },
    Adapter {
        name: "pottery",
        library: "pottery, Redlock",
        version: "3.0.1",
        language: "Python 3",
        systems: &["redlock"],
        script: "clients/pottery/adapter.py",
    },
];

/// The checkout this fencepost was built from: where `clients/` and the
/// adapters' environment are.
pub fn checkout() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

impl Adapter {
    pub fn by_name(name: &str) -> Option<&'static Adapter> {
        ADAPTERS.iter().find(|a| a.name == name)
    }

    /// The program to start, or why it cannot be (not installed).
    pub fn external(&self) -> Result<External, String> {
        let root = checkout();
        let python = root.join(".venv-clients/bin/python");
        let script = root.join(self.script);
        if !python.is_file() {
            return Err(format!(
                "client {} is not installed (no {}): `bash scripts/setup.sh` installs the adapters",
                self.name,
                python.display()
            ));
        }
        if !script.is_file() {
            return Err(format!("client {}: its program {} is missing", self.name, script.display()));
        }
        Ok(External {
            name: self.name.to_string(),
            argv: vec![python.display().to_string(), script.display().to_string()],
        })
    }
}
