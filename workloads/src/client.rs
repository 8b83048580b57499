//! What a lock client is, and how its calls end.
//!
//! Every call ends in one of three ways, as in Jepsen:
//! - `Ok`: it took effect;
//! - `Fail`: it definitely did not (lock busy, NX refused, lock timeout, the
//!   server refused the request before doing anything, the request never
//!   left, or a check proved the lock was never ours: etcd's and ZooKeeper's
//!   withdrawal while an older contender still queued ahead of us). Of
//!   these, a refusal because another client holds the lock or leads is
//!   `Busy`, recorded as `fail` with `{"busy": true}`: contention, which
//!   the charts show apart from errors;
//! - `Info`: unknown (timeout or connection lost after the request was sent,
//!   or an error that does not prove the request did nothing). The process
//!   that saw it is retired and a fresh client continues.
//!
//! Undoing a call is not proof that it had no effect: a campaign that won
//! while its answer was lost led until the lease was revoked, and an
//! observer may have seen it lead. Two kinds of `Info` say what else the
//! client knows, and the runner records each as `info` with `released_by`
//! in the completion's value: whatever the call did, the lock (or
//! leadership) it concerns is not held by this process from the completion
//! on, so the checkers may close its window there.
//! - `SessionLost`: the server ended the client's session, and with it every
//!   lock the session held (a PostgreSQL or MariaDB connection the server
//!   terminated, an expired ZooKeeper session): `"session-lost"`.
//! - `Undone`: the client undid whatever the call may have done before
//!   answering (etcd: the lease revoked, which deletes its lock or leader
//!   key; Redlock: every node that may have said yes answered the unlock):
//!   `"undone"`.
//!
//! A grant that more than one node gave (Redlock's majority) lists them in
//! the acquire's `ok` value as `{"granted_by": ["n1", "n3", "n4"]}` (the
//! history's `node` names one node, and Redlock's says how many agreed):
//! what a fault aimed at the `holder` hit can be checked against it.
//!
//! Errors are told apart by their types (zookeeper-client's `Error`
//! variants, sqlx's `Error::Database` with its SQLSTATE/error number and
//! severity, redis's `ErrorKind` and error code, tonic's `Code`), never by
//! their text. Anything not listed below as `fail` or `session-lost` is
//! `info`, so a new kind of error errs on the side of "unknown". A step
//! after one that may have taken the lock (waiting in a queue, reading the
//! token, filing a term) turns a refusal into `info` too: the lock may be
//! held by then.
//!
//! | system | `fail` (no effect) | `info` + `released_by: session-lost` / `undone` | `info` |
//! | --- | --- | --- | --- |
//! | Redis | lock busy / not our value (script answered 0); connection refused; error replies refused before running: `LOADING`, `NOSCRIPT`, `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `CROSSSLOT`, `MASTERDOWN`, `READONLY`, `NOPERM`, `EXECABORT`, `BUSY`, `OOM`, `NOAUTH`, `WRONGPASS`, `NOREPLICAS`, `MISCONF`; plain `ERR` for a command or a script with a single write; errors raised in the client before sending | — (a restarted Redis forgets its keys, but the client cannot tell a restart from a broken connection) | timeouts, I/O and dropped connections, unparsable or mistyped replies, `ERR` from a script that writes twice (fenced acquire, campaign: Redis does not roll scripts back), unknown error codes |
//! | Redlock | fewer than a majority of nodes granted or may have granted our value in the round (a majority never held it); release: no node held our value and every node answered | `undone`: a majority granted or may have granted it (the round ran out of validity, or unknown votes could complete a majority), and after the unlock round fewer than a majority may still hold it | a majority may still hold our value after the unlock round |
//! | etcd | lock/campaign refused (a code below) and its lease revoked; lock/campaign not answered, but our waiter key deleted in one transaction with the check that a key created before it still exists (so ours was never first in line); lease grant failed (no key exists yet); release/resign: the key was gone or replaced (a release/resign whose delete went unanswered is `ok` if the revoke that follows removed the live lease, and the key with it); codes `InvalidArgument`, `NotFound`, `AlreadyExists`, `PermissionDenied`, `FailedPrecondition`, `OutOfRange`, `Unimplemented`, `Unauthenticated`, `ResourceExhausted`; client-side argument errors | `undone`: lock/campaign not answered (or granted but its token unread) and its lease then revoked, which deletes its key; no `session-lost` (a lease outlives its client's connection) | `DeadlineExceeded`, `Unavailable`, `Cancelled`, `Unknown`, `Aborted`, `Internal`, `DataLoss`, transport and I/O errors; our deadline; any of these whose lease could not be revoked (left to the orphan revoker) |
//! | ZooKeeper | withdrawn from the queue before our turn (the node below ours checked and ours deleted in one multi: never first in line); release/resign found our node deleted in a live session; `NoNode`, `NodeExists`, `BadVersion`, `NotEmpty`, `NoAuth`, `InvalidAcl`, `AuthFailed`, `BadArguments`, `NoChildrenForEphemerals`, `SessionMoved`, `NotReadOnly`, `NoWatcher`, `QuotaExceeded`, `Throttled`, `MarshallingError`, `Unimplemented`, `ReconfigDisabled`, `UnexpectedErrorCode` | `SessionExpired`, or the client found its session expired (ephemeral nodes are gone) | `ConnectionLoss`, `Timeout`, `ClientClosed`, `NoHosts`, `Custom` (e.g. "no response from connection in 2000ms"), any other; our deadline |
//! | PostgreSQL | lock busy / not held (`false`); SQLSTATE class `42` (syntax, undefined object: refused at parse/plan time), `0A`, `25P02`, `55P03` (`lock_timeout` while waiting), `40P01` (deadlock while waiting); sqlx errors raised before sending (invalid argument, encode, pool) | severity `FATAL`/`PANIC` (e.g. `57P01` "terminating connection due to unexpected postmaster exit" / administrator command, `57P02` crash of another backend, `57P03`): the backend exits and its session locks go with it | every other SQLSTATE (an error after an advisory lock was taken does not give it back), I/O, protocol, decoding and missing rows (the statement ran); our deadline |
//! | MariaDB | lock busy (`GET_LOCK` 0 or NULL), not held (`RELEASE_LOCK` 0 or NULL); errors 1064 (syntax), 1054, 1146, 1044/1045/1142/1227 (access), 1205, 1213 (deadlock), 1290/1792 (read-only); sqlx errors raised before sending | errors 1053 (server shutdown), 1927 (connection killed): the connection ends and `GET_LOCK` locks with it | every other error, I/O, protocol; our deadline |
//!
//! Elections use the same mappings; `observe` (a read) too, though a read
//! has no effect to be unsure of: its `info` only retires the observer.

use ops::values::{LeaseTerms, ReleasedBy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::systems::BoxFuture;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Ok(T),
    Fail(String),
    /// `Fail` because another client holds the lock (or leads): the
    /// refusal contention is expected to bring, recorded as `fail` with
    /// `{"busy": true}` so charts tell it from errors.
    Busy(String),
    Info(String),
    /// Unknown, and the server ended this client's session: recorded as
    /// `info` with `{"released_by": "session-lost"}`.
    SessionLost(String),
    /// Unknown, and undone by this client before it answered (see the
    /// module's doc): recorded as `info` with `{"released_by": "undone"}`.
    Undone(String),
}

impl<T> Outcome<T> {
    /// `Ok` as `Ok`; the others as their error text.
    pub fn into_result(self) -> Result<T, String> {
        match self {
            Outcome::Ok(v) => Ok(v),
            Outcome::Fail(e) | Outcome::Busy(e) | Outcome::Info(e) | Outcome::SessionLost(e) | Outcome::Undone(e) => {
                Err(e)
            }
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Ok(v) => Outcome::Ok(f(v)),
            Outcome::Fail(e) => Outcome::Fail(e),
            Outcome::Busy(e) => Outcome::Busy(e),
            Outcome::Info(e) => Outcome::Info(e),
            Outcome::SessionLost(e) => Outcome::SessionLost(e),
            Outcome::Undone(e) => Outcome::Undone(e),
        }
    }

    /// `Ok`'s value, or the other outcome (retyped) to return early.
    pub fn into_value<U>(self) -> Result<T, Outcome<U>> {
        match self {
            Outcome::Ok(v) => Ok(v),
            Outcome::Fail(e) => Err(Outcome::Fail(e)),
            Outcome::Busy(e) => Err(Outcome::Busy(e)),
            Outcome::Info(e) => Err(Outcome::Info(e)),
            Outcome::SessionLost(e) => Err(Outcome::SessionLost(e)),
            Outcome::Undone(e) => Err(Outcome::Undone(e)),
        }
    }

    /// The same error with its text prefixed by `what`.
    pub fn context(self, what: &str) -> Outcome<T> {
        match self {
            Outcome::Ok(v) => Outcome::Ok(v),
            Outcome::Fail(e) => Outcome::Fail(format!("{what}: {e}")),
            Outcome::Busy(e) => Outcome::Busy(format!("{what}: {e}")),
            Outcome::Info(e) => Outcome::Info(format!("{what}: {e}")),
            Outcome::SessionLost(e) => Outcome::SessionLost(format!("{what}: {e}")),
            Outcome::Undone(e) => Outcome::Undone(format!("{what}: {e}")),
        }
    }

    /// `Fail` and `Info` change to `Info`: for a step after one that may
    /// have taken effect. A lost session stays lost, an undone call undone.
    pub fn unknown_unless_ok(self) -> Outcome<T> {
        match self {
            Outcome::Fail(e) | Outcome::Busy(e) => Outcome::Info(e),
            other => other,
        }
    }

    /// What the completion's `released_by` says for this outcome: who ended
    /// whatever the call may have done, by the time it answered.
    pub fn released_by(&self) -> Option<ReleasedBy> {
        match self {
            Outcome::SessionLost(_) => Some(ReleasedBy::SessionLost),
            Outcome::Undone(_) => Some(ReleasedBy::Undone),
            Outcome::Ok(_) | Outcome::Fail(_) | Outcome::Busy(_) | Outcome::Info(_) => None,
        }
    }
}

/// What a completion's `released_by` says ended a hold: the process's
/// server session ended (connection terminated by the server, ZooKeeper
/// session expired), so the server released every lock the session held
/// (`lease-safety` ends the session lock's guaranteed window where an
/// operation found it so); or this client undid the call before answering
/// (the election checker closes a maybe-won campaign's window there).
pub use ops::{RELEASED_BY_SESSION_LOST, RELEASED_BY_UNDONE};

/// Something a retired client may leave in the system that keeps blocking
/// others until it expires on its own: an etcd lease whose waiter or lock
/// key sits in a lock or election queue. The runner hands these to a
/// revoker that removes them once the cluster answers again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The lock or election it blocks (`k0`, `e1`…), for the history.
    pub key: String,
    pub lease: i64,
}

/// A held lock.
#[derive(Debug, Clone)]
pub struct Grant {
    pub key: String,
    /// The fencing token, where the system gives one.
    pub token: Option<i64>,
    /// The node that granted it, where one did (the history's `node`).
    pub node: Option<String>,
    /// Every node that granted it: `node`'s one member, or for Redlock
    /// each node of the majority that said yes (which the history keeps in
    /// the acquire's value as `granted_by`). What `holder` faults aim at.
    pub nodes: Vec<String>,
    /// What the recipe needs to release it (a random value, a node path, a
    /// lock key…). Opaque to everyone else.
    pub handle: String,
    /// What the service promised: see [`Promised`].
    pub promised: Promised,
}

/// How long the service promised a grant or a leadership: recorded in the
/// completion (`ttl_ms`, or `session: true`) for the lease-aware checkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promised {
    /// A lease of this long from the request's invocation (Redis `PX`,
    /// Redlock's TTL, etcd's lease as granted).
    Lease(Duration),
    /// As long as the client's session lives (ZooKeeper's ephemeral nodes,
    /// PostgreSQL's and MariaDB's connection-bound locks).
    Session,
}

impl Promised {
    /// What the completion's value says about it.
    pub fn terms(self) -> LeaseTerms {
        match self {
            Promised::Lease(ttl) => LeaseTerms::lease(ttl.as_millis() as u64),
            Promised::Session => LeaseTerms::session(),
        }
    }
}

impl Grant {
    /// A session lock; leases say so with [`Grant::leased`].
    pub fn new(key: &str, token: Option<i64>, node: Option<&str>, handle: String) -> Grant {
        Grant {
            key: key.to_string(),
            token,
            node: node.map(str::to_string),
            nodes: node.map(str::to_string).into_iter().collect(),
            handle,
            promised: Promised::Session,
        }
    }

    /// The grant as a lease of `ttl` from the acquire's invocation.
    pub fn leased(mut self, ttl: Duration) -> Grant {
        self.promised = Promised::Lease(ttl);
        self
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
    /// ZooKeeper session timeout: the session is a ZooKeeper client's
    /// lease, so the runner sets it to the run's TTL.
    pub session_timeout: Duration,
    /// Client pauses: a stalled process's background work (etcd's lease
    /// keep-alive) stalls with it, as in a real process-wide pause.
    pub stall: std::sync::Arc<kit::Stall>,
    /// Where that background work is recorded: the keep-alives a lease's
    /// guaranteed window is extended by.
    pub background: crate::recorder::Background,
    /// A program that plays the lock clients instead of fencepost's own
    /// recipe (`--client`, `--client-cmd`).
    pub external: Option<std::sync::Arc<crate::external::External>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(1),
            acquire_wait: Duration::ZERO,
            fenced: false,
            stall: Default::default(),
            session_timeout: Duration::from_secs(4),
            background: Default::default(),
            external: None,
        }
    }
}

/// One process's lock client (one connection or session).
pub trait LockClient: Send {
    /// Takes `key` for at most `ttl` where the recipe has leases.
    fn acquire<'a>(&'a mut self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Grant>>;
    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>>;
    /// Extends the lease by `ttl` from now: `Some(ttl)` as the server
    /// acknowledged it; recipes without leases answer `Fail`.
    fn renew<'a>(&'a mut self, grant: &'a Grant, ttl: Duration) -> BoxFuture<'a, Outcome<Option<Duration>>> {
        let _ = (grant, ttl);
        Box::pin(async { Outcome::Fail("this recipe has no lease to renew".into()) })
    }
    /// What this client leaves behind if it is retired now (see [`Orphan`]).
    fn orphans(&mut self) -> Vec<Orphan> {
        Vec::new()
    }
    /// The process the client runs in, when it is a program of its own
    /// (`--client`): what a client pause stops with SIGSTOP.
    fn pid(&self) -> Option<u32> {
        None
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
    pub promised: Promised,
}

impl Leadership {
    /// A session's leadership; leases say so with [`Leadership::leased`].
    pub fn new(name: &str, term: i64, node: Option<&str>, handle: String) -> Leadership {
        Leadership {
            name: name.to_string(),
            term,
            node: node.map(str::to_string),
            handle,
            lost: Arc::new(AtomicBool::new(false)),
            promised: Promised::Session,
        }
    }

    /// The leadership as a lease of `ttl` from the campaign's invocation.
    pub fn leased(mut self, ttl: Duration) -> Leadership {
        self.promised = Promised::Lease(ttl);
        self
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
    /// Extends a leader's lease: `Some(ttl)` when the server acknowledged a
    /// lease extended by `ttl` from now; `None` when nothing was extended —
    /// recipes whose leases renew themselves (sessions, keep-alives) answer
    /// `Ok(None)` while leadership is not lost, and only a server's
    /// acknowledgement may lengthen what the lease guarantees.
    fn renew<'a>(&'a mut self, leadership: &'a Leadership, ttl: Duration) -> BoxFuture<'a, Outcome<Option<Duration>>> {
        let _ = ttl;
        let lost = leadership.lost.load(Ordering::Relaxed);
        Box::pin(async move {
            if lost {
                Outcome::Fail("leadership lost".into())
            } else {
                Outcome::Ok(None)
            }
        })
    }
    /// What this client leaves behind if it is retired now (see [`Orphan`]).
    fn orphans(&mut self) -> Vec<Orphan> {
        Vec::new()
    }
}
