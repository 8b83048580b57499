//! What a lock client is, and how its calls end.
//!
//! Every call ends in one of three ways, as in Jepsen:
//! - `Ok`: it took effect;
//! - `Fail`: it definitely did not (lock busy, NX refused, lock timeout, the
//!   request never left), or whatever it did was undone before it returned;
//! - `Info`: unknown (timeout or connection lost after the request was sent).
//!   The process that saw it is retired and a fresh client continues.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::systems::BoxFuture;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Ok(T),
    Fail(String),
    Info(String),
}

impl<T> Outcome<T> {
    /// `Ok` as `Ok`; `Fail` and `Info` as their error text.
    pub fn into_result(self) -> Result<T, String> {
        match self {
            Outcome::Ok(v) => Ok(v),
            Outcome::Fail(e) | Outcome::Info(e) => Err(e),
        }
    }
}

/// A held lock.
#[derive(Debug, Clone)]
pub struct Grant {
    pub key: String,
    /// The fencing token, where the system gives one.
    pub token: Option<i64>,
    /// The node that granted it, where one did.
    pub node: Option<String>,
    /// What the recipe needs to release it (a random value, a node path, a
    /// lock key…). Opaque to everyone else.
    pub handle: String,
    /// Set when the client learns the lock is gone (lease or session expired).
    pub lost: Arc<AtomicBool>,
}

impl Grant {
    pub fn new(key: &str, token: Option<i64>, node: Option<&str>, handle: String) -> Grant {
        Grant {
            key: key.to_string(),
            token,
            node: node.map(str::to_string),
            handle,
            lost: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

/// Per-client settings; every timeout is explicit.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// One request's deadline; past it the outcome is `info`.
    pub timeout: Duration,
    /// How long an acquire may wait for a busy lock (0: try once).
    pub acquire_wait: Duration,
    /// Ask for fencing tokens where the recipe has a fenced variant (Redis).
    pub fenced: bool,
    /// ZooKeeper session timeout.
    pub session_timeout: Duration,
    /// Client pauses: a stalled process's background work (etcd's lease
    /// keep-alive) stalls with it, as in a real process-wide pause.
    pub stall: std::sync::Arc<crate::stall::Stall>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(1),
            acquire_wait: Duration::ZERO,
            fenced: false,
            stall: Default::default(),
            session_timeout: Duration::from_secs(4),
        }
    }
}

/// One process's lock client (one connection or session).
pub trait LockClient: Send {
    /// Takes `key` for at most `ttl` where the recipe has leases.
    fn acquire<'a>(&'a mut self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Grant>>;
    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>>;
    /// Extends the lease; recipes without leases answer `Fail`.
    fn renew<'a>(&'a mut self, grant: &'a Grant, ttl: Duration) -> BoxFuture<'a, Outcome<()>> {
        let _ = (grant, ttl);
        Box::pin(async { Outcome::Fail("this recipe has no lease to renew".into()) })
    }
}

/// Runs `f` with a deadline: past it the outcome is unknown.
pub(crate) async fn deadline<T>(timeout: Duration, f: impl std::future::Future<Output = Outcome<T>>) -> Outcome<T> {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or_else(|_| Outcome::Info(format!("timed out after {} ms", timeout.as_millis())))
}

/// A value no other client will hold: the process number and a counter.
pub(crate) fn unique_value(process: u64, counter: &mut u64) -> String {
    *counter += 1;
    format!("p{process}-{}-{}", *counter, std::process::id())
}

/// Leadership won by a campaign.
#[derive(Debug, Clone)]
pub struct Leadership {
    pub name: String,
    /// The term: a number every later leadership of `name` exceeds.
    pub term: i64,
    pub node: Option<String>,
    /// What the recipe needs to resign or renew. Opaque to everyone else.
    pub handle: String,
    /// Set when the client learns leadership is gone (lease, session).
    pub lost: Arc<AtomicBool>,
}

impl Leadership {
    pub fn new(name: &str, term: i64, node: Option<&str>, handle: String) -> Leadership {
        Leadership {
            name: name.to_string(),
            term,
            node: node.map(str::to_string),
            handle,
            lost: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Who leads, as an observer saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leader {
    /// The candidate's id (`p<process>`).
    pub id: String,
    pub term: Option<i64>,
}

/// One process's election client.
pub trait ElectionClient: Send {
    /// Campaigns for `name` as candidate `id`, waiting up to the client's
    /// `acquire_wait`; `Fail` when not elected by then (and withdrawn).
    fn campaign<'a>(&'a mut self, name: &'a str, id: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Leadership>>;
    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>>;
    /// Who leads `name` now (`None`: nobody).
    fn leader<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, Outcome<Option<Leader>>>;
    /// Extends a leader's lease; recipes whose leases renew themselves
    /// (sessions, keep-alives) answer `Ok` while leadership is not lost.
    fn renew<'a>(&'a mut self, leadership: &'a Leadership, ttl: Duration) -> BoxFuture<'a, Outcome<()>> {
        let _ = ttl;
        let lost = leadership.lost.load(Ordering::Relaxed);
        Box::pin(async move {
            if lost {
                Outcome::Fail("leadership lost".into())
            } else {
                Outcome::Ok(())
            }
        })
    }
}
