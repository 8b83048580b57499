//! Lock and election analyses: pure functions over a [`History`] that say
//! what went wrong in words and numbers a person can check against the
//! timeline, beside the linearizability verdicts of [`crate::check`].
//!
//! - [`mutual_exclusion`]: two processes holding one lock at once.
//! - [`fencing`]: tokens that repeat or go backwards, and writes the
//!   resource accepted with a token below one it had already accepted.
//! - [`lost_updates`]: a fenced counter that ends below its acknowledged
//!   increments.
//! - [`election`]: two leaders in one term, overlapping leaders, writes
//!   accepted from a deposed leader, observers seeing a leader never elected.
//! - [`availability`]: latency quantiles, throughput, failure rates, how
//!   long the system took to serve again after each fault, and its outages
//!   (clients asked, the lock was free, nothing was granted).
//!
//! Holding intervals are *definite*: from the acquire's `ok` (the client
//! surely holds it from then on) to the invocation of its release (the client
//! stops relying on it then). An interval that ends the history open stays
//! open to the end. Times are the history's nanoseconds.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ops::values::{Campaign, CounterWrite, Grant, KeepAlive, Leader, LeaderWrite, OpValue, ReleasedBy};
use ops::OpName;
use serde::Serialize;
use serde_json::Value;

pub use crate::evidence::Analysis;
use crate::evidence::{
    Anomaly, Availability, BrokenPromise, Counter, Election, ElectionAnomaly, Evidence, Fencing, FencingAnomaly,
    Latency, LeaseSafety, Locate, LostCounter, LostUpdates, MutualExclusion, OpCounts, Outage, Overlap, Recovery,
    RepeatedValue,
};
use crate::faults::{FaultEvent, FaultInfo, Step};
use crate::history::{Call, History, Op, Outcome, Process};
use crate::lease::{self, Cause, LeaseOptions, Promise, Window};
use crate::{InputError, Verdict};

/// A fault as the history recorded it. The nemesis reports each step twice
/// (an `invoke` when it begins touching anything, an `info` once verified),
/// so the window runs from the start's invoke to the stop's info (or a
/// `heal-all`, or the end of the history): every moment the fault could have
/// acted. Histories with `info` events only (older fencepost, Jepsen) give
/// the same window from those.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultWindow {
    pub name: String,
    pub start: u64,
    pub end: u64,
    /// When the fault was verified in effect.
    pub in_effect: Option<u64>,
    /// When healing began.
    pub healing: Option<u64>,
    pub info: FaultInfo,
}

/// `1 counter`, `2 counters`: a count with its noun in the right number.
pub fn counted<N: std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    let word = if n == N::from(1) { one } else { many };
    format!("{n} {word}")
}

impl FaultWindow {
    /// "n2 partitioned" style words for the anomaly texts.
    pub fn words(&self) -> String {
        let info = &self.info;
        // The rule that chose the nodes, where it was not chance.
        let aim = match info.target.as_deref() {
            Some("holder") if info.targets.len() == 1 => " (the holder's node)",
            Some("holder") => " (the holder's nodes)",
            Some("leader") if self.name != "partition-leader" => " (the leader)",
            Some("primary") => " (the primary)",
            Some("majority") => " (a majority)",
            Some("minority") => " (a minority)",
            Some("all") => " (every node)",
            _ => "",
        };
        let who = if info.targets.is_empty() { String::new() } else { format!(" on {}{aim}", info.targets.join(",")) };
        let kind = info.kind.as_deref().unwrap_or("");
        match self.name.as_str() {
            "partition" | "partition-leader" => {
                // Name the sides where the grudge has two: "n1 | n2,n3".
                let grudge = &info.grudge;
                let sides = match grudge.keys().next() {
                    Some(first)
                        if matches!(
                            kind,
                            "one" | "halves" | "leader" | "primary" | "majority" | "minority" | "holder"
                        ) =>
                    {
                        let (mine, theirs): (Vec<&String>, Vec<&String>) =
                            grudge.keys().partition(|n| *n == first || !grudge[first].contains(*n));
                        let list = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
                        format!(" ({} | {})", list(&mine), list(&theirs))
                    }
                    _ => who,
                };
                match kind {
                    "holder" => format!("a partition of the holder's nodes{sides}"),
                    _ => format!("a {kind} partition{sides}"),
                }
            }
            "client-pause" => {
                let procs: Vec<String> = info.processes.iter().map(|p| p.to_string()).collect();
                match procs.len() {
                    0 => "a client pause".to_string(),
                    1 => format!("a client pause of process {}", procs[0]),
                    _ => format!("a client pause of processes {}", procs.join(", ")),
                }
            }
            "clock" => format!("a clock {kind}{who}"),
            other => format!("{other}{who}"),
        }
    }
}

/// The faults of a history, in start order.
pub fn fault_windows(history: &History) -> Vec<FaultWindow> {
    let end = history.ops.last().map_or(0, |op| op.time);
    let mut windows: Vec<FaultWindow> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for op in &history.ops {
        let Some(event) = FaultEvent::of(op) else { continue };
        let begun = op.kind == crate::OpType::Invoke;
        let latest_open = |name: &str| open.iter().rposition(|&w| windows[w].name == name);
        match event {
            FaultEvent::Fault { fault, step: Step::Start } => {
                let pending = latest_open(&fault).filter(|&i| windows[open[i]].in_effect.is_none());
                match pending {
                    Some(i) if !begun => {
                        let w = &mut windows[open[i]];
                        w.in_effect = Some(op.time);
                        w.info = FaultInfo::of(op);
                    }
                    _ => {
                        open.push(windows.len());
                        windows.push(FaultWindow {
                            name: fault,
                            start: op.time,
                            end,
                            in_effect: (!begun).then_some(op.time),
                            healing: None,
                            info: FaultInfo::of(op),
                        });
                    }
                }
            }
            FaultEvent::Fault { fault, step: Step::Stop } => {
                if let Some(i) = latest_open(&fault) {
                    if begun {
                        windows[open[i]].healing = Some(op.time);
                    } else {
                        windows[open.remove(i)].end = op.time;
                    }
                }
            }
            FaultEvent::HealAll if !begun => {
                for w in open.drain(..) {
                    windows[w].end = op.time;
                }
            }
            // A skipped fault never acted.
            FaultEvent::HealAll | FaultEvent::Skipped { .. } => {}
        }
    }
    windows
}

/// The words for the faults active at any time in `[from, to]`.
fn faults_during(windows: &[FaultWindow], from: u64, to: u64) -> Vec<String> {
    windows.iter().filter(|w| w.start <= to && w.end >= from).map(|w| w.words()).collect()
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A paired client operation, flattened for the analyses.
#[derive(Clone, Debug)]
pub(crate) struct Done<'a> {
    pub process: u64,
    pub invoke: &'a Op,
    pub completion: Option<&'a Op>,
    pub outcome: Outcome,
}

impl Done<'_> {
    fn f(&self) -> &OpName {
        &self.invoke.f
    }
    fn key(&self) -> &str {
        self.invoke.key.as_deref().unwrap_or("")
    }
    fn end(&self) -> Option<u64> {
        self.completion.map(|c| c.time)
    }
    /// The completion's value, else the invocation's.
    fn value(&self) -> &Value {
        match self.completion {
            Some(c) if !c.value.is_null() => &c.value,
            _ => &self.invoke.value,
        }
    }
    /// The fencing token of an acquire's grant, the term of a campaign's.
    fn token(&self) -> Option<i64> {
        match self.invoke.f {
            OpName::Acquire => Grant::of(self.value()).token,
            OpName::Campaign => Campaign::of(self.value()).term,
            _ => None,
        }
    }
}

pub(crate) fn done(history: &History) -> Result<Vec<Done<'_>>, InputError> {
    let calls: Vec<Call> = history.calls()?;
    Ok(calls
        .iter()
        .map(|c| {
            let invoke = &history.ops[c.invoke];
            let Process::Client(process) = invoke.process else { unreachable!("calls() pairs client ops only") };
            Done { process, invoke, completion: c.completion.map(|i| &history.ops[i]), outcome: c.outcome }
        })
        .collect())
}

/// One process's definite hold of a lock or leadership: the interval the
/// safety checkers judge, and the timeline draws.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hold {
    pub process: u64,
    pub key: String,
    pub start: u64,
    pub end: u64,
    /// Token or term, where the system gives one.
    pub token: Option<i64>,
}

/// Every definite lock hold (acquire `ok` → release invoked) and every
/// leadership (campaign `ok` → resign invoked, or a renewal that was not
/// `ok`), exactly as [`mutual_exclusion`] and [`election`] judge them.
pub fn holds_of(history: &History) -> Result<Vec<Hold>, InputError> {
    let ops = done(history)?;
    let end = history.ops.last().map_or(0, |op| op.time);
    let mut all = holds(&ops, OpName::Acquire, &[OpName::Release], end);
    all.extend(leaderships(&ops, end));
    Ok(all)
}

/// Leaderships: a leader stops relying on its leadership when it resigns,
/// or renews and is told it lost it; both end the hold at their invocation.
fn leaderships(ops: &[Done], end: u64) -> Vec<Hold> {
    led(ops, end).into_iter().map(|(h, _)| h).collect()
}

/// [`leaderships`], each with the campaign that won it.
fn led<'a>(ops: &'a [Done<'a>], end: u64) -> Vec<(Hold, &'a Done<'a>)> {
    let mut held = granted(ops, OpName::Campaign, &[OpName::Resign], end);
    for (h, _) in held.iter_mut() {
        if let Some(lost) = ops.iter().find(|d| {
            d.process == h.process
                && d.key() == h.key
                && *d.f() == OpName::Renew
                && d.outcome != Outcome::Ok
                && d.invoke.time >= h.start
                && d.invoke.time < h.end
        }) {
            h.end = lost.invoke.time;
        }
    }
    held
}

/// The guaranteed window of each of `held`, in the same order (see
/// [`crate::lease`]): what renewed each lease is the holder's own `renew`s
/// and the `keep-alive`s recorded on its behalf (`of_process`).
fn windows_of(ops: &[Done], held: &[(Hold, &Done)], cx: &lease::Context) -> Vec<Window> {
    let mut own: HashMap<u64, Vec<&Done>> = HashMap::new();
    let mut renewals: HashMap<(u64, &str), Vec<&Done>> = HashMap::new();
    for d in ops {
        own.entry(d.process).or_default().push(d);
        let renewed = match d.f() {
            OpName::Renew => Some(d.process),
            OpName::KeepAlive => KeepAlive::of(&d.invoke.value).of_process,
            _ => None,
        };
        if let Some(p) = renewed {
            renewals.entry((p, d.key())).or_default().push(d);
        }
    }
    held.iter()
        .map(|(h, grant)| {
            let renewed = renewals.get(&(h.process, h.key.as_str())).map_or(&[][..], Vec::as_slice);
            let own = own.get(&h.process).map_or(&[][..], Vec::as_slice);
            lease::window(h, grant, renewed, own, cx)
        })
        .collect()
}

/// The cause of the overlap of holds `a` and `b` (`a` granted first), and
/// its words: "lease-expired: process 1's lease ran out at …".
fn cause_words(a: &Window, b: &Window, options: &LeaseOptions) -> (Cause, String) {
    let cause = lease::cause(a, b);
    let closed = if a.end <= b.start { a } else { b };
    let words = match cause {
        Cause::PromiseBroken => format!("granted inside process {}'s guaranteed window ({})", a.process, a.promised()),
        _ => closed.words(options),
    };
    (cause, format!("{cause}: {words}"))
}

/// [`cause_words`], or no cause when the history has no times and either
/// hold was a lease: a lease's end is a duration, which positions cannot give.
fn timed_cause(history: &History, a: &Window, b: &Window, options: &LeaseOptions) -> (Option<Cause>, String) {
    let lease = |w: &Window| matches!(w.promise, Promise::Lease { .. });
    match history.untimed() {
        Some(why) if lease(a) || lease(b) => (None, format!("cause unknown: {why}")),
        _ => {
            let (cause, words) = cause_words(a, b, options);
            (Some(cause), words)
        }
    }
}

/// Where to mark each anomaly on the timeline: its own span where the
/// checker timed it; else the completions that show it (the grants with
/// its duplicate token, the campaigns won in its term, the counter's
/// writes and final read); failing those, its processes' ops on its key;
/// failing that, the whole history. The history is paired once, and only
/// if some anomaly is untimed.
pub fn locate(anomalies: &[Anomaly], history: &History) -> Vec<(u64, u64)> {
    let whole = (history.ops.first().map_or(0, |op| op.time), history.ops.last().map_or(0, |op| op.time));
    let ops = if anomalies.iter().all(|a| a.span.is_some()) { None } else { done(history).ok() };
    anomalies
        .iter()
        .map(|a| match (a.span, &ops) {
            (Some(span), _) => span,
            (None, Some(ops)) => locate_in(a, ops, whole),
            (None, None) => whole,
        })
        .collect()
}

fn locate_in(anomaly: &Anomaly, ops: &[Done], whole: (u64, u64)) -> (u64, u64) {
    let on_key = |d: &&Done| {
        Some(d.key()) == anomaly.key && (anomaly.processes.is_empty() || anomaly.processes.contains(&d.process))
    };
    let shows = |d: &&Done| {
        d.outcome == Outcome::Ok
            && match anomaly.locate {
                Locate::Token(t) => *d.f() == OpName::Acquire && d.token() == Some(t),
                Locate::Term(t) => *d.f() == OpName::Campaign && d.token() == Some(t),
                Locate::Counter => matches!(d.f(), OpName::Write | OpName::FinalRead),
                Locate::Timed => false,
            }
    };
    let span = |found: Vec<&Done>| -> Option<(u64, u64)> {
        let times: Vec<u64> = found.iter().filter_map(|d| d.end()).collect();
        Some((*times.iter().min()?, *times.iter().max()?))
    };
    // Lost increments were acknowledged to any writer of the counter.
    let direct: Vec<&Done> = if anomaly.locate == Locate::Counter {
        ops.iter().filter(|d| Some(d.key()) == anomaly.key).filter(shows).collect()
    } else {
        ops.iter().filter(on_key).filter(shows).collect()
    };
    span(direct).or_else(|| span(ops.iter().filter(on_key).collect())).unwrap_or(whole)
}

/// Definite holds: from an `ok` of `grant` to the next invocation of one of
/// `ends` by the same process on the same key (or the end of the history),
/// each with the operation that granted it.
pub(crate) fn granted<'a>(
    ops: &'a [Done<'a>],
    grant: OpName,
    ends: &[OpName],
    history_end: u64,
) -> Vec<(Hold, &'a Done<'a>)> {
    // Only grants and what ends them matter: a lock history's leaderships
    // (none) then cost one pass, not a map of every op.
    let mut by_process: BTreeMap<u64, Vec<&Done>> = BTreeMap::new();
    for d in ops.iter().filter(|d| *d.f() == grant || ends.contains(d.f())) {
        by_process.entry(d.process).or_default().push(d);
    }
    let mut holds = Vec::new();
    for (process, mine) in by_process {
        for (i, d) in mine.iter().enumerate() {
            if *d.f() != grant || d.outcome != Outcome::Ok {
                continue;
            }
            let Some(start) = d.end() else { continue };
            let end = mine[i + 1..]
                .iter()
                .find(|e| e.key() == d.key() && (ends.contains(e.f()) || *e.f() == grant))
                .map_or(history_end, |e| e.invoke.time);
            let token = d.token();
            holds.push((Hold { process, key: d.key().to_string(), start, end, token }, *d));
        }
    }
    // By key, then start; the process breaks ties as the map's order did.
    holds.sort_unstable_by(|(a, _), (b, _)| (&a.key, a.start, a.process).cmp(&(&b.key, b.start, b.process)));
    holds
}

fn holds(ops: &[Done], grant: OpName, ends: &[OpName], history_end: u64) -> Vec<Hold> {
    granted(ops, grant, ends, history_end).into_iter().map(|(h, _)| h).collect()
}

/// Pairs of holds of one key by different processes that overlap in time,
/// as indices into `holds` (sorted by key, then start), earlier first.
fn overlaps(holds: &[Hold]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, h) in holds.iter().enumerate() {
        by_key.entry(&h.key).or_default().push(i);
    }
    for list in by_key.values() {
        // Sorted by start: each hold only meets later ones that start before
        // it ends.
        for (n, &i) in list.iter().enumerate() {
            let a = &holds[i];
            for &j in &list[n + 1..] {
                let b = &holds[j];
                if b.start >= a.end {
                    break;
                }
                if a.process != b.process && b.end > b.start.max(a.start) {
                    found.push((i, j));
                }
            }
        }
    }
    found
}

/// No two processes hold the same lock during overlapping definite
/// intervals; each overlap with its [`Cause`] from the holds' guaranteed
/// windows.
pub fn mutual_exclusion(history: &History, options: &LeaseOptions) -> Result<Analysis, InputError> {
    let ops = done(history)?;
    let end = history.ops.last().map_or(0, |op| op.time);
    let faults = fault_windows(history);
    let held = granted(&ops, OpName::Acquire, &[OpName::Release], end);
    let windows = windows_of(&ops, &held, &lease::Context { history_end: end, faults: &faults, options });
    let holds: Vec<Hold> = held.into_iter().map(|(h, _)| h).collect();
    let found = overlaps(&holds);
    let mut causes: BTreeMap<Cause, usize> = BTreeMap::new();
    let evidence: Vec<Overlap> = found
        .iter()
        .map(|&(i, j)| {
            let (a, b) = (&holds[i], &holds[j]);
            let start = a.start.max(b.start);
            let stop = a.end.min(b.end);
            let during = faults_during(&faults, start, stop);
            let when = if during.is_empty() { String::new() } else { format!(", during {}", during.join(" and ")) };
            let (cause, why) = timed_cause(history, &windows[i], &windows[j], options);
            if let Some(cause) = cause {
                *causes.entry(cause).or_default() += 1;
            }
            Overlap {
                key: a.key.clone(),
                processes: [a.process, b.process],
                start,
                duration: stop - start,
                text: format!(
                    "processes {} and {} both held lock {} {}{when} — {why}",
                    a.process,
                    b.process,
                    a.key,
                    match history.untimed() {
                        None => format!("for {:.3} s from t={:.3} s", secs(stop - start), secs(start)),
                        // A position is no time: the lines say where instead.
                        Some(_) => format!(
                            "at once, from line {} to line {}",
                            history.line_of(start as usize),
                            history.line_of(stop as usize)
                        ),
                    }
                ),
                faults: during,
                cause,
            }
        })
        .collect();
    let summary = if found.is_empty() {
        format!("{}, none overlapping", counted(holds.len(), "hold", "holds"))
    } else {
        let causes = if causes.is_empty() { "cause unknown".to_string() } else { causes_words(&causes) };
        format!(
            "{} among {} ({causes}; first: {})",
            counted(found.len(), "overlapping hold", "overlapping holds"),
            holds.len(),
            evidence[0].text
        )
    };
    Ok(Analysis {
        validity: if found.is_empty() { Verdict::Valid } else { Verdict::Invalid },
        summary,
        evidence: Evidence::MutualExclusion(MutualExclusion {
            holds: holds.len(),
            overlaps: found.len(),
            causes,
            anomalies: evidence,
        }),
    })
}

/// "2 lease-expired, 1 promise-broken".
pub fn causes_words(causes: &BTreeMap<Cause, usize>) -> String {
    causes.iter().map(|(c, n)| format!("{n} {c}")).collect::<Vec<_>>().join(", ")
}

/// The service's view: no grant inside another process's guaranteed
/// window for the same lock or election (see [`crate::lease`]).
pub fn lease_safety(history: &History, options: &LeaseOptions) -> Result<Analysis, InputError> {
    let ops = done(history)?;
    let end = history.ops.last().map_or(0, |op| op.time);
    let faults = fault_windows(history);
    let mut held = granted(&ops, OpName::Acquire, &[OpName::Release], end);
    held.extend(led(&ops, end));
    held.sort_by(|(a, _), (b, _)| (&a.key, a.start).cmp(&(&b.key, b.start)));
    let windows = windows_of(&ops, &held, &lease::Context { history_end: end, faults: &faults, options });
    let spans: Vec<Hold> = windows
        .iter()
        .map(|w| Hold { process: w.process, key: w.key.clone(), start: w.start, end: w.end, token: None })
        .collect();
    let anomalies: Vec<BrokenPromise> = overlaps(&spans)
        .into_iter()
        .map(|(i, j)| {
            let (a, b) = (&windows[i], &windows[j]);
            let stop = a.end.min(b.end);
            let during = faults_during(&faults, b.start, stop);
            let when = if during.is_empty() { String::new() } else { format!(", during {}", during.join(" and ")) };
            let what = if *held[i].1.f() == OpName::Campaign { "elected in" } else { "granted lock" };
            BrokenPromise {
                key: a.key.clone(),
                processes: [a.process, b.process],
                start: b.start,
                duration: stop - b.start,
                text: format!(
                    "process {} was {what} {} at t={:.3} s, inside process {}'s guaranteed window ({}){when}",
                    b.process,
                    a.key,
                    secs(b.start),
                    a.process,
                    a.promised()
                ),
                faults: during,
                windows: [a.clone(), b.clone()],
            }
        })
        .collect();
    let count = |f: fn(&Promise) -> bool| windows.iter().filter(|w| f(&w.promise)).count();
    let leases = count(|p| matches!(p, Promise::Lease { .. }));
    let sessions = count(|p| matches!(p, Promise::Session));
    let kinds = match (leases, sessions) {
        (_, 0) => counted(leases, "lease", "leases"),
        (0, _) => counted(sessions, "session lock", "session locks"),
        _ => format!("{}, {}", counted(leases, "lease", "leases"), counted(sessions, "session lock", "session locks")),
    };
    // Positions order the ops but measure nothing: a lease's end cannot be
    // placed among them. Session locks and unbounded grants end by events.
    if let (Some(why), true) = (history.untimed(), leases > 0) {
        return Ok(Analysis {
            validity: Verdict::Unknown,
            summary: format!("unknown: {why}, so where {} ran out cannot be told", counted(leases, "lease", "leases")),
            evidence: Evidence::LeaseSafety(LeaseSafety {
                windows: windows.len(),
                leases,
                sessions,
                broken: 0,
                anomalies: Vec::new(),
                spent: Vec::new(),
            }),
        });
    }
    let spent = spent_grants(&windows, options);
    let mut summary = match anomalies.first() {
        None => format!(
            "{} ({kinds}), none granted inside another's",
            counted(windows.len(), "guaranteed window", "guaranteed windows")
        ),
        Some(first) => format!(
            "{} inside another client's guaranteed window (first: {})",
            counted(anomalies.len(), "grant", "grants"),
            first.text
        ),
    };
    if let Some(worst) = spent.first() {
        summary.push_str(&format!(
            "; {} already spent when {} (the acquire answered after its lease could have run out; worst: process \
             {}'s on {}, granted at t={:.3} s, {:.0} ms after its lease ran out)",
            counted(spent.len(), "grant arrived", "grants arrived"),
            if spent.len() == 1 { "it was" } else { "they were" },
            worst.process,
            worst.key,
            secs(worst.granted),
            worst.late() as f64 / 1e6
        ));
    }
    Ok(Analysis {
        validity: if anomalies.is_empty() { Verdict::Valid } else { Verdict::Invalid },
        summary,
        evidence: Evidence::LeaseSafety(LeaseSafety {
            windows: windows.len(),
            leases,
            sessions,
            broken: anomalies.len(),
            anomalies,
            spent,
        }),
    })
}

/// The grants whose lease (less drift) had run out before their answer
/// came: an empty guaranteed window, however the client then acts on it.
/// The latest first.
fn spent_grants(windows: &[lease::Window], options: &lease::LeaseOptions) -> Vec<crate::evidence::SpentGrant> {
    let mut spent: Vec<crate::evidence::SpentGrant> = windows
        .iter()
        .filter_map(|w| match &w.promise {
            Promise::Lease { ttl_ms, from, renewals: 0 } => {
                let lapsed = from + (*ttl_ms as f64 * 1e6 * (1.0 - options.drift)) as u64;
                (lapsed < w.start).then(|| crate::evidence::SpentGrant {
                    process: w.process,
                    key: w.key.clone(),
                    invoked: *from,
                    lapsed,
                    granted: w.start,
                })
            }
            _ => None,
        })
        .collect();
    spent.sort_by_key(|s| std::cmp::Reverse(s.late()));
    spent
}

/// Tokens are unique per lock and grow in real-time order of acquisition;
/// the resource never accepts a write whose token is below one it accepted.
/// `None` when the history's grants carry no tokens (nothing to check).
pub fn fencing(history: &History) -> Result<Option<Analysis>, InputError> {
    let ops = done(history)?;
    let grants: Vec<&Done> = ops.iter().filter(|d| *d.f() == OpName::Acquire && d.outcome == Outcome::Ok).collect();
    if grants.is_empty() || grants.iter().any(|d| d.token().is_none()) {
        return Ok(None);
    }
    let mut by_key: BTreeMap<&str, Vec<&Done>> = BTreeMap::new();
    for g in &grants {
        by_key.entry(g.key()).or_default().push(g);
    }
    let mut anomalies = Vec::new();
    for (key, list) in &by_key {
        anomalies.extend(duplicate_tokens(key, list));
        anomalies.extend(token_regressions(key, list));
    }
    anomalies.extend(stale_writes(&ops));
    let rejected = ops.iter().filter(|d| *d.f() == OpName::Write && d.outcome == Outcome::Fail).count();
    let count = anomalies.len();
    let summary = if count == 0 {
        format!(
            "{} with unique, increasing tokens; {} rejected by the resource",
            counted(grants.len(), "grant", "grants"),
            counted(rejected, "stale write", "stale writes")
        )
    } else {
        format!("{} (first: {})", counted(count, "fencing anomaly", "fencing anomalies"), anomaly_text(&anomalies[0]))
    };
    Ok(Some(Analysis {
        validity: if count == 0 { Verdict::Valid } else { Verdict::Invalid },
        summary,
        evidence: Evidence::Fencing(Fencing {
            grants: grants.len(),
            rejected_writes: rejected,
            anomalies_total: count,
            anomalies,
        }),
    }))
}

/// A grant's token; [`fencing`] judges only histories whose grants all
/// carry one.
fn token_of(d: &Done) -> i64 {
    d.token().unwrap_or(0)
}

/// Unique: each grant of lock `key` whose token an earlier grant of it
/// (in `grants`' order) already carried.
fn duplicate_tokens(key: &str, grants: &[&Done]) -> Vec<FencingAnomaly> {
    let mut anomalies = Vec::new();
    let mut seen: HashMap<i64, &Done> = HashMap::new();
    for g in grants {
        if let Some(prev) = seen.insert(token_of(g), g) {
            anomalies.push(FencingAnomaly::Duplicate {
                key: key.to_string(),
                token: token_of(g),
                processes: [prev.process, g.process],
                text: format!(
                    "processes {} and {} were both granted lock {key} with token {}",
                    prev.process,
                    g.process,
                    token_of(g)
                ),
            });
        }
    }
    anomalies
}

/// Monotonic in real time: a grant of lock `key` that completed before
/// another was invoked must carry the smaller token.
fn token_regressions(key: &str, grants: &[&Done]) -> Vec<FencingAnomaly> {
    let mut anomalies = Vec::new();
    let mut by_invoke = grants.to_vec();
    by_invoke.sort_by_key(|g| g.invoke.time);
    let mut by_ok = grants.to_vec();
    by_ok.sort_by_key(|g| g.end());
    let mut best: Option<&Done> = None;
    let mut next = 0;
    for b in &by_invoke {
        while next < by_ok.len() && by_ok[next].end().unwrap_or(u64::MAX) < b.invoke.time {
            if best.is_none_or(|x| token_of(by_ok[next]) > token_of(x)) {
                best = Some(by_ok[next]);
            }
            next += 1;
        }
        if let Some(a) = best {
            // Equal tokens are reported once, as duplicates.
            if token_of(a) > token_of(b) {
                anomalies.push(FencingAnomaly::Regression {
                    key: key.to_string(),
                    tokens: [token_of(a), token_of(b)],
                    processes: [a.process, b.process],
                    at: b.end(),
                    text: format!(
                        "lock {key}: process {} got token {} at t={:.3} s, after process {} had already got token {} at t={:.3} s",
                        b.process, token_of(b), secs(b.end().unwrap_or(0)), a.process, token_of(a), secs(a.end().unwrap_or(0))
                    ),
                });
            }
        }
    }
    anomalies
}

/// The resource's side: each write it accepted, in the order they
/// completed, with a token below one it had already accepted for the key.
fn stale_writes(ops: &[Done]) -> Vec<FencingAnomaly> {
    let mut writes: Vec<&Done> = ops
        .iter()
        .filter(|d| *d.f() == OpName::Write && d.outcome == Outcome::Ok && CounterWrite::of(d.value()).token.is_some())
        .collect();
    writes.sort_by_key(|d| d.end());
    let mut anomalies = Vec::new();
    let mut highest: HashMap<&str, (i64, u64)> = HashMap::new();
    for w in writes {
        let Some(t) = CounterWrite::of(w.value()).token else { continue };
        let key = w.key();
        match highest.get(key) {
            Some(&(h, p)) if t < h => {
                anomalies.push(FencingAnomaly::StaleWrite {
                    key: key.to_string(),
                    tokens: [h, t],
                    processes: [p, w.process],
                    at: w.end(),
                    text: format!(
                        "the resource accepted process {}'s write to {key} with token {t} at t={:.3} s after accepting token {h} from process {p}",
                        w.process, secs(w.end().unwrap_or(0))
                    ),
                });
            }
            Some(&(h, _)) if t <= h => {}
            _ => {
                highest.insert(key, (t, w.process));
            }
        }
    }
    anomalies
}

/// For a fenced counter: the final value of each counter equals the
/// increments the resource acknowledged. The final value is the run's
/// `final-read`, else the last accepted write. `None` without writes.
pub fn lost_updates(history: &History) -> Result<Option<Analysis>, InputError> {
    let ops = done(history)?;
    let mut acked: BTreeMap<&str, Vec<&Done>> = BTreeMap::new();
    for d in ops.iter().filter(|d| *d.f() == OpName::Write && d.outcome == Outcome::Ok) {
        acked.entry(d.key()).or_default().push(d);
    }
    if acked.is_empty() {
        return Ok(None);
    }
    let finals: HashMap<&str, i64> = ops
        .iter()
        .filter(|d| *d.f() == OpName::FinalRead && d.outcome == Outcome::Ok)
        .filter_map(|d| Some((d.key(), d.completion?.value.as_i64()?)))
        .collect();
    let mut anomalies = Vec::new();
    let mut lost_total = 0i64;
    let mut counters = Vec::new();
    for (key, writes) in &acked {
        let mut by_end = writes.clone();
        by_end.sort_by_key(|d| d.end());
        let last = by_end.last().and_then(|d| CounterWrite::of(d.value()).value).unwrap_or(0);
        let final_value = finals.get(key).copied().unwrap_or(last);
        let lost = writes.len() as i64 - final_value;
        counters.push(Counter { key: key.to_string(), acknowledged: writes.len(), final_value, lost: lost.max(0) });
        if lost > 0 {
            lost_total += lost;
            // Which increments were overwritten: values written more than once.
            let mut by_value: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
            for w in writes {
                by_value.entry(CounterWrite::of(w.value()).value.unwrap_or(-1)).or_default().push(w.process);
            }
            let repeated_values: Vec<RepeatedValue> = by_value
                .iter()
                .filter(|(_, ps)| ps.len() > 1)
                .map(|(v, ps)| RepeatedValue { value: *v, processes: ps.clone() })
                .collect();
            anomalies.push(LostCounter {
                key: key.to_string(),
                lost,
                acknowledged: writes.len(),
                final_value,
                repeated_values,
                text: format!(
                    "counter {key} ends at {final_value} after {}: {lost} lost",
                    counted(writes.len(), "acknowledged increment", "acknowledged increments")
                ),
            });
        }
    }
    let summary = if lost_total == 0 {
        format!("{}, every acknowledged increment kept", counted(counters.len(), "counter", "counters"))
    } else {
        format!(
            "{} lost ({})",
            counted(lost_total, "acknowledged increment", "acknowledged increments"),
            anomalies[0].text
        )
    };
    Ok(Some(Analysis {
        validity: if lost_total == 0 { Verdict::Valid } else { Verdict::Invalid },
        summary,
        evidence: Evidence::LostUpdates(LostUpdates { counters, anomalies }),
    }))
}

/// At most one leader per term; no two leaders at once; no accepted write
/// from a deposed leader; no observed leader that was never elected.
/// `None` when the history has no campaigns.
pub fn election(history: &History, options: &LeaseOptions) -> Result<Option<Analysis>, InputError> {
    let ops = done(history)?;
    if !ops.iter().any(|d| *d.f() == OpName::Campaign) {
        return Ok(None);
    }
    let end = history.ops.last().map_or(0, |op| op.time);
    let windows = fault_windows(history);
    let held = led(&ops, end);
    let guaranteed = windows_of(&ops, &held, &lease::Context { history_end: end, faults: &windows, options });
    let holds: Vec<Hold> = held.into_iter().map(|(h, _)| h).collect();
    let terms = leaders_by_term(&holds);
    let mut anomalies = two_leaders_in_one_term(&terms);
    anomalies.extend(overlapping_leaders(history, &holds, &guaranteed, &windows, options));
    anomalies.extend(stale_leader_writes(&ops, &holds));
    anomalies.extend(phantom_leaders(&ops));
    let count = anomalies.len();
    let summary = if count == 0 {
        format!(
            "{} in {}, one leader at a time",
            counted(holds.len(), "leadership", "leaderships"),
            counted(terms.len(), "term", "terms")
        )
    } else {
        format!(
            "{} (first: {})",
            counted(count, "election anomaly", "election anomalies"),
            election_text(&anomalies[0])
        )
    };
    Ok(Some(Analysis {
        validity: if count == 0 { Verdict::Valid } else { Verdict::Invalid },
        summary,
        evidence: Evidence::Election(Election {
            leaderships: holds.len(),
            terms: terms.len(),
            anomalies_total: count,
            anomalies,
        }),
    }))
}

/// The processes that led each election in each term, by (key, term).
fn leaders_by_term(holds: &[Hold]) -> BTreeMap<(&str, i64), BTreeSet<u64>> {
    let mut terms: BTreeMap<(&str, i64), BTreeSet<u64>> = BTreeMap::new();
    for h in holds {
        if let Some(t) = h.token {
            terms.entry((&h.key, t)).or_default().insert(h.process);
        }
    }
    terms
}

/// One leader per term: every term more than one process led.
fn two_leaders_in_one_term(terms: &BTreeMap<(&str, i64), BTreeSet<u64>>) -> Vec<ElectionAnomaly> {
    terms
        .iter()
        .filter(|(_, procs)| procs.len() > 1)
        .map(|((key, term), procs)| ElectionAnomaly::TwoLeadersOneTerm {
            key: key.to_string(),
            term: *term,
            processes: procs.iter().copied().collect(),
            text: format!("election {key}: processes {procs:?} were all elected in term {term}"),
        })
        .collect()
}

/// Two processes leading one election at once, each with the cause its
/// guaranteed windows give.
fn overlapping_leaders(
    history: &History,
    holds: &[Hold],
    guaranteed: &[Window],
    windows: &[FaultWindow],
    options: &LeaseOptions,
) -> Vec<ElectionAnomaly> {
    overlaps(holds)
        .into_iter()
        .map(|(i, j)| {
            let (a, b) = (&holds[i], &holds[j]);
            let start = a.start.max(b.start);
            let stop = a.end.min(b.end);
            let faults = faults_during(windows, start, stop);
            let during = if faults.is_empty() { String::new() } else { format!(", during {}", faults.join(" and ")) };
            let (cause, why) = timed_cause(history, &guaranteed[i], &guaranteed[j], options);
            ElectionAnomaly::OverlappingLeaders {
                key: a.key.clone(),
                processes: [a.process, b.process],
                terms: [a.token, b.token],
                start,
                duration: stop - start,
                text: format!(
                    "processes {} (term {}) and {} (term {}) both led {} for {:.3} s from t={:.3} s{during} — {why}",
                    a.process,
                    a.token.unwrap_or(-1),
                    b.process,
                    b.token.unwrap_or(-1),
                    a.key,
                    secs(stop - start),
                    secs(start)
                ),
                faults,
                cause,
            }
        })
        .collect()
}

/// Writes accepted from a deposed leader: a higher term had been granted
/// before the write was invoked.
fn stale_leader_writes(ops: &[Done], holds: &[Hold]) -> Vec<ElectionAnomaly> {
    let mut anomalies = Vec::new();
    for w in ops.iter().filter(|d| *d.f() == OpName::Write && d.outcome == Outcome::Ok) {
        let Some(term) = LeaderWrite::of(w.value()).term else { continue };
        if let Some(newer) = holds
            .iter()
            .filter(|h| h.key == w.key() && h.token.is_some_and(|t| t > term) && h.start < w.invoke.time)
            .max_by_key(|h| h.token)
        {
            anomalies.push(ElectionAnomaly::StaleLeaderWrite {
                key: w.key().to_string(),
                term,
                newer_term: newer.token,
                processes: [w.process, newer.process],
                at: w.end(),
                text: format!(
                    "election {}: process {}'s write in term {term} was accepted at t={:.3} s, after process {} had been elected in term {}",
                    w.key(), w.process, secs(w.end().unwrap_or(0)), newer.process, newer.token.unwrap_or(-1)
                ),
            });
        }
    }
    anomalies
}

/// Observers see only leaders that were elected in that term, or that a
/// campaign of unknown outcome may have made leader while they looked.
fn phantom_leaders(ops: &[Done]) -> Vec<ElectionAnomaly> {
    let elected = elected_by_term(ops);
    let maybe_elected = maybe_elected(ops);
    // Without terms in the campaigns there is nothing to hold a seen term to.
    let campaigned_terms = ops.iter().any(|d| *d.f() == OpName::Campaign && Campaign::of(d.value()).term.is_some());
    let mut anomalies = Vec::new();
    for o in ops.iter().filter(|d| *d.f() == OpName::Observe && d.outcome == Outcome::Ok) {
        let Leader { leader: Some(id), term: Some(term), .. } = Leader::of(o.value()) else { continue };
        // The observation and the maybe-leadership could have met.
        let (seen_from, seen_to) = (o.invoke.time, o.end().unwrap_or(u64::MAX));
        let possible = maybe_elected
            .get(&(o.key(), id.clone()))
            .is_some_and(|spans| spans.iter().any(|&(since, until)| since <= seen_to && seen_from <= until));
        if campaigned_terms && !possible && !elected.get(&(o.key(), term)).is_some_and(|ids| ids.contains(&id)) {
            anomalies.push(ElectionAnomaly::PhantomLeader {
                key: o.key().to_string(),
                term,
                leader: id.to_string(),
                processes: [o.process],
                at: o.end(),
                text: format!(
                    "election {}: process {} saw {id} lead in term {term}, which no campaign won",
                    o.key(),
                    o.process
                ),
            });
        }
    }
    anomalies
}

/// The candidates each campaign that did not fail says won each term, by
/// (key, term).
fn elected_by_term<'a>(ops: &'a [Done]) -> HashMap<(&'a str, i64), BTreeSet<String>> {
    ops.iter()
        .filter(|d| *d.f() == OpName::Campaign && d.outcome != Outcome::Fail)
        .filter_map(|d| {
            let won = Campaign::of(d.value());
            Some(((d.key(), won.term?), won.id?))
        })
        .fold(HashMap::new(), |mut m, (k, id)| {
            m.entry(k).or_insert_with(BTreeSet::new).insert(id);
            m
        })
}

/// When each candidate may have led, by (key, candidate): a campaign that
/// ended `info` (timed out, connection lost) may have won some term at any
/// time after its invocation, and it never learnt which, so seeing that
/// candidate lead is a possible leadership, not a phantom. One the client
/// undid before answering (`released_by: undone`, e.g. its lease revoked)
/// may have led only until its completion.
fn maybe_elected<'a>(ops: &'a [Done]) -> HashMap<(&'a str, String), Vec<(u64, u64)>> {
    let mut maybe: HashMap<(&str, String), Vec<(u64, u64)>> = HashMap::new();
    for d in ops.iter().filter(|d| *d.f() == OpName::Campaign && d.outcome == Outcome::Info) {
        if let Some(id) = Campaign::of(d.value()).id {
            let undone = d.completion.and_then(|c| Campaign::of(&c.value).released_by) == Some(ReleasedBy::Undone);
            let until = d.end().filter(|_| undone).unwrap_or(u64::MAX);
            maybe.entry((d.key(), id)).or_default().push((d.invoke.time, until));
        }
    }
    maybe
}

/// A stretch at least this long in which clients asked, nobody held the
/// lock and nothing was granted is an outage worth explaining. One
/// client's attempts less than this apart count as asking throughout: a
/// try-lock that is refused and retried is still asking.
const OUTAGE: u64 = 1_000_000_000;

/// The earliest and latest time in a history, whatever order its lines are
/// in (concatenated per-process logs are not in time order).
pub(crate) fn time_span(history: &History) -> (u64, u64) {
    let mut times = history.ops.iter().map(|op| op.time);
    let first = times.next().unwrap_or(0);
    times.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t)))
}

/// Latency and availability figures (no verdict: it informs, it does not
/// judge). Outages and the served share come from one definition: per key,
/// a stretch of at least [`OUTAGE`] in which some client was asking for the
/// lock (or leadership), no client definitely held it ([`holds_of`]'s
/// holds) and nothing was granted. A lock held by a live holder is the lock
/// working, not an outage; the served share is the history's time outside
/// every outage.
pub fn availability(history: &History) -> Result<Analysis, InputError> {
    let ops = done(history)?;
    let (start, end) = time_span(history);
    let figures = op_figures(&ops, start, end);
    let windows = fault_windows(history);
    let recoveries = recoveries(&ops, &windows);
    let counts: Vec<OpCounts> =
        figures.counts.iter().map(|(f, c)| OpCounts { f: f.clone(), ok: c[0], fail: c[1], info: c[2] }).collect();
    let total: u64 = figures.counts.values().map(|c| c[0] + c[1] + c[2]).sum();
    if let Some(why) = history.untimed() {
        return Ok(Analysis {
            validity: Verdict::Unknown,
            summary: format!(
                "{} counted; no latency, throughput or outage figures: {why}",
                counted(total, "operation", "operations")
            ),
            evidence: Evidence::Availability(Box::new(Availability {
                counts,
                latency: Vec::new(),
                grant_latency: None,
                throughput_per_second: Vec::new(),
                progress_share: 0.0,
                recoveries: Vec::new(),
                outages: Vec::new(),
            })),
        });
    }
    let mut held = holds(&ops, OpName::Acquire, &[OpName::Release], end);
    held.extend(leaderships(&ops, end));
    let outages = outages(&ops, &held, end, &windows);
    let out_ns: u64 = merged(outages.iter().map(|o| (o.start, o.end)).collect(), 0).iter().map(|(a, b)| b - a).sum();
    let share = if end > start { 1.0 - out_ns.min(end - start) as f64 / (end - start) as f64 } else { 1.0 };
    let granting = [OpName::Acquire, OpName::Campaign];
    let acquire =
        figures.latency.iter().find(|q| q.outcome == "ok" && granting.iter().any(|g| q.f == g.as_str())).cloned();
    let out_words = match outages.len() {
        0 => "no outage".to_string(),
        n => format!("{}, {:.1} s in all", counted(n, "outage", "outages"), secs(out_ns)),
    };
    let summary = format!(
        "{} in {:.1} s; grants p50 {} ms, p99 {} ms; {out_words}: served {:.0} % of the time",
        counted(total, "operation", "operations"),
        secs(end - start),
        acquire.as_ref().map_or("-".into(), |q| format!("{:.1}", q.p50_ms)),
        acquire.as_ref().map_or("-".into(), |q| format!("{:.1}", q.p99_ms)),
        share * 100.0
    );
    Ok(Analysis {
        validity: Verdict::Valid,
        summary,
        evidence: Evidence::Availability(Box::new(Availability {
            counts,
            latency: figures.latency,
            grant_latency: acquire,
            throughput_per_second: figures.per_second,
            progress_share: share,
            recoveries,
            outages,
        })),
    })
}

/// What the client ops of a history add up to, for [`availability`].
struct OpFigures {
    /// Per op name: ok, fail, info.
    counts: BTreeMap<String, [u64; 3]>,
    /// Per op name and outcome, of the completed ops.
    latency: Vec<Latency>,
    /// Completions per second from the history's start: ok, fail, info.
    per_second: Vec<[u64; 3]>,
}

/// Counts, latency quantiles and throughput of `ops`, a history's client
/// ops from `start` to `end`.
fn op_figures(ops: &[Done], start: u64, end: u64) -> OpFigures {
    let mut latencies: BTreeMap<(String, &'static str), Vec<u64>> = BTreeMap::new();
    let mut counts: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    let outcome_name = |o: Outcome| match o {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    };
    let buckets = ((end - start) / 1_000_000_000 + 1) as usize;
    let mut per_second = vec![[0u64; 3]; buckets];
    for d in ops {
        let slot = match d.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        };
        counts.entry(d.f().to_string()).or_insert([0; 3])[slot] += 1;
        if let Some(t) = d.end() {
            let latency = t.saturating_sub(d.invoke.time);
            latencies.entry((d.f().to_string(), outcome_name(d.outcome))).or_default().push(latency);
            if let Some(second) = per_second.get_mut((t.saturating_sub(start) / 1_000_000_000) as usize) {
                second[slot] += 1;
            }
        }
    }
    let latency = latencies
        .iter_mut()
        .map(|((f, outcome), l)| {
            l.sort_unstable();
            let q = |p: f64| l[((l.len() - 1) as f64 * p).round() as usize] as f64 / 1e6;
            Latency {
                f: f.clone(),
                outcome: outcome.to_string(),
                count: l.len(),
                p50_ms: q(0.5),
                p90_ms: q(0.9),
                p99_ms: q(0.99),
                max_ms: q(1.0),
            }
        })
        .collect();
    OpFigures { counts, latency, per_second }
}

/// The first successful grant (acquire or campaign) after each fault
/// ends says how long the system took to serve again.
fn recoveries(ops: &[Done], windows: &[FaultWindow]) -> Vec<Recovery> {
    let mut grants: Vec<u64> = ops
        .iter()
        .filter(|d| matches!(d.f(), OpName::Acquire | OpName::Campaign) && d.outcome == Outcome::Ok)
        .filter_map(|d| d.end())
        .collect();
    grants.sort_unstable();
    windows
        .iter()
        .map(|w| {
            let first = grants.get(grants.partition_point(|&t| t < w.end)).map(|t| t - w.end);
            Recovery {
                fault: w.name.clone(),
                start: w.start,
                end: w.end,
                recovery_ns: first,
                text: match first {
                    Some(ns) => {
                        format!(
                            "{} ended at t={:.3} s; the next grant came {:.3} s later",
                            w.words(),
                            secs(w.end),
                            secs(ns)
                        )
                    }
                    None => format!("{} ended at t={:.3} s; no grant after it", w.words(), secs(w.end)),
                },
            }
        })
        .collect()
}

/// Per key, the stretches of at least [`OUTAGE`] in which clients asked
/// for the lock or leadership (acquire or campaign invoked and not yet
/// answered, attempts less than [`OUTAGE`] apart joined), no hold of
/// `held` covered, and so nothing was granted either: a grant starts a
/// hold. In start order.
fn outages(ops: &[Done], held: &[Hold], end: u64, faults: &[FaultWindow]) -> Vec<Outage> {
    // Per key: what was asked for (acquire or campaign) and when.
    type Asked<'a> = BTreeMap<&'a str, (&'a OpName, Vec<(u64, u64)>)>;
    let mut asked: Asked = BTreeMap::new();
    for d in ops.iter().filter(|d| matches!(d.f(), OpName::Acquire | OpName::Campaign)) {
        let from = d.invoke.time;
        let to = d.end().unwrap_or(end).max(from);
        asked.entry(d.key()).or_insert_with(|| (d.f(), Vec::new())).1.push((from, to));
    }
    let mut busy: HashMap<&str, Vec<(u64, u64)>> = HashMap::new();
    for h in held {
        busy.entry(h.key.as_str()).or_default().push((h.start, h.end.max(h.start)));
    }
    let mut found = Vec::new();
    for (key, (f, mut asks)) in asked {
        asks.sort_unstable();
        let mut holds = busy.remove(key).unwrap_or_default();
        holds.sort_unstable();
        let holds = merged(holds, 0);
        let what = if *f == OpName::Campaign {
            format!("candidates campaigned in election {key} and no one led it")
        } else {
            format!("clients asked for lock {key} and no one held it")
        };
        let pending = merged(asks.clone(), 0);
        for (from, to) in merged(asks, OUTAGE) {
            for (a, b) in free_within(from, to, &holds) {
                // From the first moment someone asked in the free stretch to
                // the last: a lock released and then asked for only later
                // was not out meanwhile.
                let Some((a, b)) = asking_within(a, b, &pending) else { continue };
                if b - a < OUTAGE {
                    continue;
                }
                let during = faults_during(faults, a, b);
                let when = if during.is_empty() { String::new() } else { format!(", during {}", during.join(" and ")) };
                found.push(Outage {
                    key: Some(key.to_string()),
                    start: a,
                    end: b,
                    text: format!(
                        "no grant from t={:.3} s to t={:.3} s ({:.1} s) while {what}{when}",
                        secs(a),
                        secs(b),
                        secs(b - a)
                    ),
                    faults: during,
                    cluster_events: Vec::new(),
                });
            }
        }
    }
    found.sort_by(|a, b| (a.start, &a.key).cmp(&(b.start, &b.key)));
    found
}

/// Intervals sorted by start, joined where they overlap or lie at most
/// `bridge` apart.
fn merged(sorted: Vec<(u64, u64)>, bridge: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(sorted.len());
    for (a, b) in sorted {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(bridge) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The first and last moment in `[from, to]` covered by `pending`
/// (sorted, disjoint), if any.
fn asking_within(from: u64, to: u64, pending: &[(u64, u64)]) -> Option<(u64, u64)> {
    let first = pending.get(pending.partition_point(|&(_, e)| e <= from))?;
    let last = pending[..pending.partition_point(|&(s, _)| s < to)].last()?;
    let (a, b) = (first.0.max(from), last.1.min(to));
    (a < b).then_some((a, b))
}

/// The parts of `[from, to]` outside `busy` (sorted, disjoint). The search
/// starts at the first busy interval that ends after `from`, so calls over
/// disjoint stretches cost the busy intervals once in all.
fn free_within(from: u64, to: u64, busy: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut free = Vec::new();
    let mut at = from;
    for &(a, b) in &busy[busy.partition_point(|&(_, e)| e <= from)..] {
        if a >= to {
            break;
        }
        if a > at {
            free.push((at, a));
        }
        at = at.max(b);
    }
    if at < to {
        free.push((at, to));
    }
    free
}

fn anomaly_text(a: &FencingAnomaly) -> &str {
    match a {
        FencingAnomaly::Duplicate { text, .. }
        | FencingAnomaly::Regression { text, .. }
        | FencingAnomaly::StaleWrite { text, .. } => text,
    }
}

fn election_text(a: &ElectionAnomaly) -> &str {
    match a {
        ElectionAnomaly::TwoLeadersOneTerm { text, .. }
        | ElectionAnomaly::OverlappingLeaders { text, .. }
        | ElectionAnomaly::StaleLeaderWrite { text, .. }
        | ElectionAnomaly::PhantomLeader { text, .. } => text,
    }
}
