//! Lease lapses: what makes the lock models lease locks.
//!
//! A plain mutex is held until released. A lease lock may also end by
//! itself: once a grant's lease has run out (or a fault could have ended
//! its session) the service may free it without a word to the holder, whose
//! release then finds nothing (`LockNotOwnedError`), and another client may
//! be granted the lock. Judged against a plain mutex, that correct history
//! is not linearizable; judged against a lease lock it is.
//!
//! Time is not part of a model's state, so a lapse is expressed the way
//! Wing–Gong–Lowe expresses anything that happens at an unknown moment: as
//! an operation. For each grant whose promise could end without a release,
//! [`lapses`] derives one `lapse` op of the holder's grant, called when the
//! promise ended — the same instant `lease-safety` computes
//! ([`crate::lease`]: the acquire's invocation, or the last acknowledged
//! renewal's, plus TTL × (1 − ρ); for a session lock, the start of a fault
//! that could end the session, or the holder's own op that found it gone) —
//! and returning when the holder invoked its next acquire of that lock, by
//! which time it had let go of the grant one way or another (or never
//! returning, when it had no next acquire). The models step a `lapse` of
//! process `p` as "free the lock if `p` holds it, else nothing": legal in
//! every state, so the search may place it anywhere in that interval —
//! after the holder's release (it changes nothing), or before another
//! client's grant (it frees the lock). Bounding it by the next acquire
//! keeps a lapse from ending a later grant of the same process.
//!
//! A release acknowledged after the promise ended may have found the lock
//! already gone: some services answer `ok` to releasing what expired
//! (etcd deletes a key that is no longer there), and the lock may meanwhile
//! have gone to another client. Such a release and the lapse are one op:
//! the grant ended at one moment between the promise's end and the
//! release's acknowledgement, by the lapse or by the release, whichever the
//! service did first. (A release invoked while the promise held is an
//! ordinary release; one that failed did nothing and constrains nothing.)
//!
//! Exactness: a lapse is never placed before its promise ended (a grant
//! inside a guaranteed window stays illegal, as `lease-safety` says), and
//! may be placed at any later moment the service could have chosen, so a
//! history is linearizable against the lease lock exactly when some choice
//! of lapse moments makes it linearizable as a mutex. Grants with no lease
//! and no session recorded (`Promise::Unbounded`) get no lapse: held until
//! released, as before.

use ops::values::{self, KeepAlive, OpValue};
use ops::OpName;
use std::collections::HashMap;

use crate::analysis::{self, Hold};
use crate::error::InputError;
use crate::history::{History, Op, OpType, Outcome, Process};
use crate::lease::{self, Ended, LeaseOptions, Promise};

/// One grant's lapse: from `at` the service may free the lock `key` held by
/// `process`; by `by` (the holder's next acquire of it) it has let go.
#[derive(Clone, Debug, PartialEq)]
pub struct Lapse {
    pub process: u64,
    pub key: Option<String>,
    pub at: u64,
    pub by: Option<u64>,
    /// The history index of the grant's acquire invocation.
    pub grant: usize,
    /// The holder's release acknowledged after the promise ended (its
    /// invocation's and completion's history indices): the lapse takes its
    /// place, and returns when it did.
    pub release: Option<(usize, usize)>,
}

/// The lapse of every grant in `history` whose promise could end before
/// the holder let go of it, in the order of the grants.
pub fn lapses(history: &History, options: &LeaseOptions) -> Result<Vec<Lapse>, InputError> {
    let ops = analysis::done(history)?;
    let end = history.ops.iter().map(|op| op.time).max().unwrap_or(0);
    let faults = analysis::fault_windows(history);
    let cx = lease::Context { history_end: end, faults: &faults, options };
    let held = analysis::granted(&ops, OpName::Acquire, &[OpName::Release], end);
    let mut own: HashMap<u64, Vec<&analysis::Done>> = HashMap::new();
    let mut renewals: HashMap<(u64, &str), Vec<&analysis::Done>> = HashMap::new();
    for d in &ops {
        own.entry(d.process).or_default().push(d);
        let key = d.invoke.key.as_deref().unwrap_or("");
        let renewed = match d.invoke.f {
            OpName::Renew => Some(d.process),
            OpName::KeepAlive => KeepAlive::of(&d.invoke.value).of_process,
            _ => None,
        };
        if let Some(p) = renewed {
            renewals.entry((p, key)).or_default().push(d);
        }
    }
    // An op's place in `history.ops`, whatever its `index` field says: the
    // ops borrowed here are elements of that slice.
    let place = |op: &Op| (op as *const Op as usize - history.ops.as_ptr() as usize) / std::mem::size_of::<Op>();
    let mut found = Vec::new();
    for (hold, grant) in &held {
        let key = grant.invoke.key.as_deref();
        let mine = own.get(&hold.process).map_or(&[][..], Vec::as_slice);
        // The holder lets go of a grant, at the latest, when it asks for
        // the lock again.
        let next = mine
            .iter()
            .filter(|d| {
                d.invoke.f == OpName::Acquire && d.invoke.key.as_deref() == key && d.invoke.time > grant.invoke.time
            })
            .map(|d| d.invoke.time)
            .min();
        // The promise as if the holder never released: a release that
        // found the lock gone does not end what the service promised.
        let extent = Hold { end: next.unwrap_or(end), ..hold.clone() };
        let renewed = renewals.get(&(hold.process, key.unwrap_or(""))).map_or(&[][..], Vec::as_slice);
        let w = lease::window(&extent, grant, renewed, mine, &cx);
        let at = match (&w.ended, &w.promise) {
            // Counted from the lease's own start, not from when the client
            // saw the grant: a lease may run out before its grant arrives.
            (Ended::LeaseRanOut, Promise::Lease { ttl_ms, from, .. }) => {
                from + (*ttl_ms as f64 * 1e6 * (1.0 - options.drift)) as u64
            }
            // A session a fault could have ended before its grant was even
            // seen guaranteed nothing, as `lease-safety` counts it.
            (Ended::Fault { .. } | Ended::SessionLost, _) if w.end <= w.start => grant.invoke.time,
            (Ended::Fault { .. } | Ended::SessionLost | Ended::LeaseRanOut, _) => w.end,
            (Ended::Released | Ended::Open, _) => continue,
        };
        if next.is_some_and(|by| at >= by) {
            continue;
        }
        let release = mine
            .iter()
            .find(|d| {
                d.invoke.f == OpName::Release
                    && d.invoke.key.as_deref() == key
                    && d.invoke.time > grant.invoke.time
                    && next.is_none_or(|by| d.invoke.time < by)
            })
            .filter(|d| d.outcome == Outcome::Ok && d.invoke.time >= at)
            .and_then(|d| Some((place(d.invoke), place(d.completion?), d.completion?.time)));
        let by = release.map_or(next, |(_, _, done)| Some(done));
        let release = release.map(|(invoke, done, _)| (invoke, done));
        let grant = place(grant.invoke);
        found.push(Lapse { process: hold.process, key: key.map(str::to_string), at, by, grant, release });
    }
    Ok(found)
}

/// `history` with a `lapse` op per lapse: the holder's late release
/// rewritten into it, or else one by a process of its own (numbered after
/// the history's) appended after its ops, so that every op keeps its index
/// (the evidence names them).
pub fn with_lapses(history: &History, lapses: &[Lapse]) -> History {
    let mut out = history.clone();
    let first = history
        .ops
        .iter()
        .filter_map(|op| match op.process {
            Process::Client(p) => Some(p + 1),
            Process::Nemesis => None,
        })
        .max()
        .unwrap_or(0);
    for (n, lapse) in lapses.iter().enumerate() {
        if let Some((invoke, done)) = lapse.release {
            for i in [invoke, done] {
                let op = &mut out.ops[i];
                op.f = OpName::Lapse;
                op.value = values::Lapse { of_process: Some(lapse.process) }.to_value();
            }
            out.ops[invoke].time = lapse.at;
            continue;
        }
        let op = |kind: OpType, time: u64| Op {
            index: 0,
            time,
            process: Process::Client(first + n as u64),
            kind,
            f: OpName::Lapse,
            key: lapse.key.clone(),
            value: values::Lapse { of_process: Some(lapse.process) }.to_value(),
            node: None,
            error: None,
        };
        let line = history.line_of(lapse.grant);
        out.push(op(OpType::Invoke, lapse.at), line);
        if let Some(by) = lapse.by {
            out.push(op(OpType::Ok, by), line);
        }
    }
    out
}
