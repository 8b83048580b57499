//! The lease-aware view: how long the service promised each grant, and so
//! whose fault an overlap is.
//!
//! [`crate::analysis::mutual_exclusion`] judges what clients believed: two
//! processes held one lock between acquire `ok` and release. Under a long
//! client pause every lease-based lock lets a second client in — the lease
//! ran out while the holder slept, as designed (Jepsen's etcd analysis,
//! Kleppmann's GC-pause argument), and fencing is the remedy. A service that
//! grants a lock inside a lease it had acknowledged to someone else (a Redis
//! restarted without persistence, a Redlock whose nodes' clocks jumped)
//! broke its own promise. This module tells the two apart.
//!
//! Each grant has a *guaranteed window* ([`Window`]): from its acquire's
//! completion to the earliest of
//! - the invocation of its release (or resign, or a renewal that failed);
//! - for a lease: the invocation of the acquire, or of the last renewal or
//!   keep-alive the client saw acknowledged with the TTL it renewed for
//!   (`ttl_ms` in the completion), plus TTL × (1 − ρ). The
//!   server's lease starts no earlier than the request that asked for it,
//!   and ρ ([`LeaseOptions::drift`]) bounds how much faster the server's
//!   clock may run than the harness's;
//! - for a session lock (ZooKeeper, PostgreSQL, MariaDB): the start of a
//!   fault that could end the holder's session (a kill, pause, loss or
//!   cut of the node it was granted by, a partition that cuts that node, a
//!   pause of the holder itself), or the invocation of the holder's own
//!   operation that found its session gone.
//!
//! Two processes' windows for one key overlapping is a broken promise
//! (`lease-safety` invalid). An overlap of holds whose windows do not
//! overlap was caused by whichever window had ended first: by its TTL
//! ([`Cause::LeaseExpired`]) or with its session ([`Cause::SessionLost`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analysis::{Done, FaultWindow, Hold};
use crate::history::Outcome;

/// Where a completion says the server ended the client's session (and every
/// lock it held): `{"released_by": "session-lost"}`.
pub const RELEASED_BY_SESSION_LOST: &str = "session-lost";

/// Where a completion of unknown outcome says the client itself undid
/// whatever the call may have done before answering (etcd revoked the
/// lease, Redlock unlocked every node that may have said yes):
/// `{"released_by": "undone"}`. The call may have taken effect between its
/// invocation and its completion, but not after.
pub const RELEASED_BY_UNDONE: &str = "undone";

/// The clock-rate bound of the lease arithmetic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeaseOptions {
    /// ρ: how much faster a server's clock may run than the harness's, as a
    /// share (0.01 is 1 %). A lease of TTL is counted as TTL × (1 − ρ).
    pub drift: f64,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions { drift: 0.01 }
    }
}

/// How the service promised a grant, as the history recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Promise {
    /// A lease of `ttl_ms`, counted from `from` (the acquire's invocation
    /// or the last acknowledged renewal's); `renewals` acknowledged in all.
    Lease { ttl_ms: u64, from: u64, renewals: usize },
    /// Held while the client's session lives.
    Session,
    /// Nothing recorded says for how long: held until released.
    Unbounded,
}

/// Why a guaranteed window ended when it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Ended {
    /// The holder invoked its release (or resign, or a failed renewal).
    Released,
    /// The lease ran out by its TTL.
    LeaseRanOut,
    /// A fault that could end the session began: `fault` in words.
    Fault { fault: String },
    /// The holder's own operation found its session gone.
    SessionLost,
    /// Still guaranteed when the history ended.
    Open,
}

/// One grant's guaranteed window: `[start, end)` in the history's
/// nanoseconds, empty (`end == start`) when the promise had run out before
/// the grant was even seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub process: u64,
    pub key: String,
    pub start: u64,
    pub end: u64,
    pub promise: Promise,
    pub ended: Ended,
}

/// Why two clients held one lock (or led one election) at once.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, strum::Display, strum::EnumString,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Cause {
    /// The earlier holder's lease had run out by its TTL: the client
    /// overran it. Fencing is the remedy.
    LeaseExpired,
    /// A fault could have ended the holder's session before it noticed.
    SessionLost,
    /// Inside a window the service had guaranteed: the service is at fault.
    PromiseBroken,
}

impl Cause {
    /// What it means, in a few words for reports.
    pub fn meaning(self) -> &'static str {
        match self {
            Cause::LeaseExpired => "the holder overran its lease (fencing is the remedy)",
            Cause::SessionLost => "a fault ended the holder's session before it noticed",
            Cause::PromiseBroken => "the service granted a lock it had promised to another client",
        }
    }
}

/// Whether the operation found the holder's session gone.
fn found_session_lost(d: &Done) -> bool {
    d.completion.and_then(|c| c.value.get("released_by")).and_then(Value::as_str) == Some(RELEASED_BY_SESSION_LOST)
}

/// How a grant was promised: a completion's `ttl_ms` (the lease the
/// service granted) or `session: true`; failing both, the invocation's
/// `ttl_ms` (the lease asked for: older histories); failing that, nothing.
fn promise_of(grant: &Done) -> Promise {
    let completion = |name: &str| grant.completion.and_then(|c| c.value.get(name));
    let from = grant.invoke.time;
    if let Some(ttl_ms) = completion("ttl_ms").and_then(Value::as_u64) {
        return Promise::Lease { ttl_ms, from, renewals: 0 };
    }
    if completion("session").and_then(Value::as_bool) == Some(true) {
        return Promise::Session;
    }
    match grant.invoke.value.get("ttl_ms").and_then(Value::as_u64) {
        Some(ttl_ms) => Promise::Lease { ttl_ms, from, renewals: 0 },
        None => Promise::Unbounded,
    }
}

/// Whether `fault` could end a session that `process` holds through `node`
/// (`None`: unknown, so any node's fault could).
fn ends_session(fault: &FaultWindow, node: Option<&str>, process: u64) -> bool {
    let info = &fault.info;
    let mine = |n: &String| node.is_none_or(|m| m == n);
    match fault.name.as_str() {
        // A process-wide pause stops a client's heartbeats too.
        "client-pause" => info.processes.is_empty() || info.processes.contains(&process),
        // A server clock does not end sessions: they run on monotonic time.
        "clock" => false,
        "partition" | "partition-leader" if !info.grudge.is_empty() => {
            info.grudge.iter().any(|(n, drops)| !drops.is_empty() && (mine(n) || drops.iter().any(mine)))
        }
        _ => info.targets.is_empty() || info.targets.iter().any(mine),
    }
}

/// What a window is computed from besides its hold: the history's end,
/// its faults, and the options.
pub(crate) struct Context<'a> {
    pub history_end: u64,
    pub faults: &'a [FaultWindow],
    pub options: &'a LeaseOptions,
}

/// The guaranteed window of `hold`, granted by `grant`. `renewals` are the
/// operations that may extend its lease (the holder's own `renew`s and its
/// keep-alives), `own` every operation of the holder.
pub(crate) fn window(hold: &Hold, grant: &Done, renewals: &[&Done], own: &[&Done], cx: &Context) -> Window {
    let mut promise = promise_of(grant);
    let node = grant.completion.and_then(|c| c.node.as_deref());
    let (mut end, mut ended) = (hold.end, Ended::Released);
    if hold.end >= cx.history_end {
        ended = Ended::Open;
    }
    let mut cut = |at: u64, why: Ended| {
        if at < end {
            end = at;
            ended = why;
        }
    };
    match &mut promise {
        Promise::Lease { ttl_ms, from, renewals: count } => {
            let drift = cx.options.drift;
            let guaranteed = |from: u64, ttl_ms: u64| from + (ttl_ms as f64 * 1e6 * (1.0 - drift)) as u64;
            let mut until = guaranteed(*from, *ttl_ms);
            for r in renewals {
                let at = r.invoke.time;
                if r.outcome != Outcome::Ok || at < grant.invoke.time || at >= hold.end {
                    continue;
                }
                // Only an acknowledgement that names the TTL it renewed for
                // extends the promise: a recipe's local "still held" does not.
                let Some(ttl) = r.completion.and_then(|c| c.value.get("ttl_ms")).and_then(Value::as_u64) else {
                    continue;
                };
                *count += 1;
                if guaranteed(at, ttl) > until {
                    until = guaranteed(at, ttl);
                    (*from, *ttl_ms) = (at, ttl);
                }
            }
            cut(until, Ended::LeaseRanOut);
        }
        Promise::Session => {
            if let Some(f) = cx
                .faults
                .iter()
                .filter(|f| f.end >= hold.start && f.start < hold.end && ends_session(f, node, hold.process))
                .min_by_key(|f| f.start)
            {
                cut(f.start.max(hold.start), Ended::Fault { fault: f.words() });
            }
            let during = |o: &&&Done| o.invoke.time >= hold.start && o.invoke.time <= hold.end;
            if let Some(o) = own.iter().filter(during).find(|o| found_session_lost(o)) {
                cut(o.invoke.time, Ended::SessionLost);
            }
        }
        Promise::Unbounded => {}
    }
    Window { process: hold.process, key: hold.key.clone(), start: hold.start, end: end.max(hold.start), promise, ended }
}

/// Whose fault the overlap of two holds is, from their windows (`a` the
/// earlier grant): a broken promise if the windows overlap too; otherwise
/// the end of whichever window had closed by the time the other began.
pub fn cause(a: &Window, b: &Window) -> Cause {
    if a.start.max(b.start) < a.end.min(b.end) {
        return Cause::PromiseBroken;
    }
    let closed = if a.end <= b.start { a } else { b };
    match closed.ended {
        Ended::LeaseRanOut => Cause::LeaseExpired,
        Ended::Fault { .. } | Ended::SessionLost => Cause::SessionLost,
        // A window ends before its hold only by a lease or a session; an
        // empty one at the hold's own end cannot meet another hold.
        Ended::Released | Ended::Open => Cause::PromiseBroken,
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

impl Window {
    /// How the window ended, in words: "process 1's lease ran out at
    /// t=6.930 s (2000 ms from t=4.950 s, its last acknowledged renewal,
    /// less 1 % drift)".
    pub fn words(&self, options: &LeaseOptions) -> String {
        let (p, at) = (self.process, secs(self.end));
        match (&self.ended, &self.promise) {
            (Ended::LeaseRanOut, Promise::Lease { ttl_ms, from, renewals }) => {
                let since = if *renewals == 0 { "its acquire" } else { "its last acknowledged renewal" };
                format!(
                    "process {p}'s lease ran out at t={at:.3} s ({ttl_ms} ms from t={:.3} s, {since}, less {} % drift)",
                    secs(*from),
                    options.drift * 100.0
                )
            }
            (Ended::LeaseRanOut, _) => format!("process {p}'s lease ran out at t={at:.3} s"),
            (Ended::Fault { fault }, _) => {
                format!("process {p}'s session could have ended at t={at:.3} s with {fault}")
            }
            (Ended::SessionLost, _) => format!("process {p} found its session lost at t={at:.3} s"),
            (Ended::Released, _) => format!("process {p} released at t={at:.3} s"),
            (Ended::Open, _) => format!("process {p} still held when the history ended"),
        }
    }

    /// What was promised: "a 10000 ms lease to t=10.900 s".
    pub fn promised(&self) -> String {
        match &self.promise {
            Promise::Lease { ttl_ms, .. } => format!("a {ttl_ms} ms lease, guaranteed to t={:.3} s", secs(self.end)),
            Promise::Session => format!("a session lock, its session alive to t={:.3} s", secs(self.end)),
            Promise::Unbounded => format!("no lease recorded, held to t={:.3} s", secs(self.end)),
        }
    }
}
