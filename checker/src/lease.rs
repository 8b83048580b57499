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

use crate::analysis::{Done, FaultWindow, Hold};
use crate::history::Outcome;

pub use ops::{RELEASED_BY_SESSION_LOST, RELEASED_BY_UNDONE};

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

pub use ops::values::LeaseTerms;
use ops::values::{self, OpValue};

/// Refuses a history whose lock values cannot be read (see
/// [`ops::values`]), naming the line and the field: a mistyped field of a
/// grant's, a renewal's or a keep-alive's value (a TTL in no unit, a token
/// that is not an integer), and every `released_by`. Fields those values
/// do not have are returned as one warning naming them, at the first line
/// that has one.
pub fn readable(history: &crate::History) -> Result<Option<crate::history::Warning>, crate::InputError> {
    let mut unknown: Vec<(String, &str)> = Vec::new();
    let mut first = None;
    for (i, op) in history.ops.iter().enumerate() {
        if op.process == crate::Process::Nemesis {
            continue;
        }
        match values::check(&op.f, &op.value) {
            Ok(fields) => {
                for field in fields {
                    if !unknown.iter().any(|(u, f)| *u == field && *f == op.f.as_str()) {
                        first.get_or_insert(i);
                        unknown.push((field, op.f.as_str()));
                    }
                }
            }
            Err(why) => {
                return Err(crate::InputError::at(
                    &history.file,
                    history.line_of(i),
                    format!("`{}` {}: {why}", op.f, op.kind.as_str()),
                ))
            }
        }
    }
    let Some(first) = first else { return Ok(None) };
    let named: Vec<String> = unknown.iter().map(|(field, f)| format!("`{field}` (in `{f}`)")).collect();
    Ok(Some(crate::history::Warning {
        line: Some(history.line_of(first)),
        message: format!(
            "fields {} are not part of the history contract (docs/HISTORY.md): no checker reads them",
            named.join(", ")
        ),
    }))
}

/// Whether the operation found the holder's session gone.
fn found_session_lost(d: &Done) -> bool {
    d.completion.is_some_and(|c| values::Release::of(&c.value).released_by == Some(values::ReleasedBy::SessionLost))
}

/// How a grant was promised: a completion's TTL (the lease the service
/// granted) or `session: true`; failing both, the invocation's TTL (the
/// lease asked for: older histories); failing that, nothing.
fn promise_of(grant: &Done) -> Promise {
    let granted = grant.completion.map(|c| LeaseTerms::of(&c.value)).unwrap_or_default();
    let from = grant.invoke.time;
    if let Some(ttl_ms) = granted.ttl_ms {
        return Promise::Lease { ttl_ms, from, renewals: 0 };
    }
    if granted.session {
        return Promise::Session;
    }
    match LeaseTerms::of(&grant.invoke.value).ttl_ms {
        Some(ttl_ms) => Promise::Lease { ttl_ms, from, renewals: 0 },
        None => Promise::Unbounded,
    }
}

/// Whether `fault` could end a session that `process` holds through `node`
/// (`None`: unknown, so any node's fault could).
/// The rule is the fault kind's ([`crate::faults::Reach`]): recorded in
/// the fault's value by the nemesis for kinds newer than the field, else
/// read from its name, so old stored runs and Jepsen histories are judged
/// as they always were.
fn ends_session(fault: &FaultWindow, node: Option<&str>, process: u64) -> bool {
    crate::faults::Reach::of(&fault.name, &fault.info).ends_session(&fault.info, node, process)
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
                let Some(ttl) = r.completion.and_then(|c| LeaseTerms::of(&c.value).ttl_ms) else {
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
    /// How the window ended, in words whose figures add up: "process 1's
    /// lease ran out at t=6.930 s (2000 ms from t=4.950 s, its last
    /// acknowledged renewal, less 1 % drift)". A lease that had run out
    /// before the grant was even seen (the acquire waited longer than the
    /// TTL) guaranteed nothing, and says so: the window's end is then the
    /// grant, not the lease's.
    pub fn words(&self, options: &LeaseOptions) -> String {
        let (p, at) = (self.process, secs(self.end));
        match (&self.ended, &self.promise) {
            (Ended::LeaseRanOut, Promise::Lease { ttl_ms, from, renewals }) => {
                let since = match renewals {
                    0 => "its acquire's invocation".to_string(),
                    n => format!(
                        "the invocation that promised the most of its acquire and {}",
                        crate::analysis::counted(*n, "acknowledged renewal", "acknowledged renewals")
                    ),
                };
                let drift = options.drift * 100.0;
                let lapsed = *from as f64 + *ttl_ms as f64 * 1e6 * (1.0 - options.drift);
                if lapsed < self.start as f64 {
                    format!(
                        "process {p}'s lease had run out at t={:.3} s ({ttl_ms} ms from t={:.3} s, {since}, less \
                         {drift} % drift), before its grant was seen at t={:.3} s: the acquire took longer than \
                         the lease, so nothing was guaranteed",
                        lapsed / 1e9,
                        secs(*from),
                        secs(self.start)
                    )
                } else {
                    format!(
                        "process {p}'s lease ran out at t={at:.3} s ({ttl_ms} ms from t={:.3} s, {since}, less \
                         {drift} % drift)",
                        secs(*from),
                    )
                }
            }
            (Ended::LeaseRanOut, _) => format!("process {p}'s lease ran out at t={at:.3} s"),
            (Ended::Fault { fault }, _) if self.end == self.start => {
                format!("process {p}'s session could have ended by the time its grant was seen at t={at:.3} s: {fault} was under way")
            }
            (Ended::Fault { fault }, _) => {
                format!("process {p}'s session could have ended at t={at:.3} s, when {fault} began")
            }
            (Ended::SessionLost, _) => {
                format!("process {p}'s operation invoked at t={at:.3} s found its session lost")
            }
            (Ended::Released, _) => format!("process {p} invoked its release at t={at:.3} s"),
            (Ended::Open, _) => format!("process {p} still held when the history ended"),
        }
    }

    /// What was promised, and until when the window ran: "a 10000 ms lease
    /// from t=0.900 s, guaranteed to t=10.800 s".
    pub fn promised(&self) -> String {
        let (start, end) = (secs(self.start), secs(self.end));
        match (&self.promise, &self.ended) {
            (Promise::Lease { ttl_ms, from, .. }, Ended::LeaseRanOut) if self.end == self.start => format!(
                "a {ttl_ms} ms lease from t={:.3} s that had run out by the time the grant was seen at t={start:.3} s",
                secs(*from)
            ),
            (Promise::Lease { ttl_ms, from, .. }, Ended::LeaseRanOut) => {
                format!("a {ttl_ms} ms lease from t={:.3} s, guaranteed to t={end:.3} s", secs(*from))
            }
            (Promise::Lease { ttl_ms, from, .. }, Ended::Open) => {
                format!("a {ttl_ms} ms lease from t={:.3} s, still guaranteed when the history ended", secs(*from))
            }
            (Promise::Lease { ttl_ms, from, .. }, _) => {
                format!("a {ttl_ms} ms lease from t={:.3} s, held until its release at t={end:.3} s", secs(*from))
            }
            (Promise::Session, Ended::Released) => {
                format!("a session lock, held until its release at t={end:.3} s")
            }
            (Promise::Session, Ended::Open) => "a session lock, still held when the history ended".to_string(),
            (Promise::Session, _) => format!("a session lock, its session surely alive to t={end:.3} s"),
            (Promise::Unbounded, Ended::Open) => {
                "no lease recorded, so held until released; still held when the history ended".to_string()
            }
            (Promise::Unbounded, _) => format!("no lease recorded, so held until its release at t={end:.3} s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::formats::jsonl;

    fn grant(value: &str) -> String {
        format!(
            r#"{{"time":1,"process":1,"type":"invoke","f":"acquire","key":"k0","value":{{"ttl_ms":1000}}}}
{{"time":2,"process":1,"type":"ok","f":"acquire","key":"k0","value":{value}}}"#
        )
    }

    #[test]
    fn a_mistyped_lock_field_is_refused_naming_it_and_its_line() {
        for (value, field) in [
            (r#"{"token":"7","ttl_ms":1000}"#, "`token`"),
            (r#"{"token":7,"granted_by":"n1"}"#, "`granted_by`"),
            (r#"{"token":7,"ttl":1000}"#, "`ttl`"),
        ] {
            let e = jsonl::read("h.jsonl", &grant(value)).unwrap_err();
            assert_eq!(e.line, Some(2), "{value}: {e}");
            assert!(e.message.contains(field) && e.message.contains("`acquire` ok"), "{value}: {e}");
        }
        let term = r#"{"time":1,"process":1,"type":"invoke","f":"campaign","key":"e0","value":{"id":"p1","term":"x"}}"#;
        let e = jsonl::read("h.jsonl", term).unwrap_err();
        assert!(e.line == Some(1) && e.message.contains("`term`"), "{e}");
    }

    #[test]
    fn an_unknown_lock_field_is_a_warning_naming_it() {
        let h = jsonl::read("h.jsonl", &grant(r#"{"tokn":7,"ttl_ms":1000}"#)).unwrap();
        let w: Vec<String> = h.warnings.iter().map(ToString::to_string).collect();
        assert!(w.iter().any(|w| w.starts_with("line 2:") && w.contains("`tokn` (in `acquire`)")), "{w:?}");
        let h = jsonl::read("h.jsonl", &grant(r#"{"token":7,"ttl_ms":1000}"#)).unwrap();
        assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    }
}
