//! Whether a history holds enough to judge. A safety checker that finds no
//! anomaly says `valid`, but a run in which one lock was granted once, or
//! whose outcomes were mostly unknown, or whose faults struck while no
//! client was doing anything, could not have shown an anomaly: its `valid`
//! says nothing about the service. [`judge`] counts what the history holds
//! (grants per key, definite and unknown outcomes, client operations and
//! holds overlapping each fault) and names each [`Shortfall`]; a run whose
//! evidence is thin is `unknown` overall ([`Sufficiency::bound`]), never
//! `invalid`: an anomaly found is evidence by itself.
//!
//! The thresholds (README, "Verdicts"):
//! - no client operation at all: thin;
//! - a lock or election history in which no key was granted twice: thin
//!   (no two holders could overlap, no token order could be seen);
//! - more than [`MOSTLY_UNKNOWN`] of the client outcomes `info`: thin (an
//!   `info` op may take effect at any time, so the checkers must allow
//!   almost any order);
//! - a fault during which no client operation was in flight and no lock or
//!   leadership was held: thin (nothing could show what it did);
//! - fewer than [`FEW_GRANTS`] grants: said, not held against the run.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::analysis::{self, counted, FaultWindow, Hold};
use crate::history::{Call, History, OpName, Outcome, Process};
use crate::{InputError, Verdict};

/// More than this share of client outcomes `info` is too little to judge.
pub const MOSTLY_UNKNOWN: f64 = 0.5;
/// Fewer grants than this is worth saying, though a key granted twice can
/// already show an overlap.
pub const FEW_GRANTS: u64 = 10;

/// What a history holds for its checkers to judge. In `results.json` as
/// `sufficiency`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sufficiency {
    /// No shortfall that makes a `valid` meaningless: `false` bounds the
    /// overall verdict at `unknown`.
    pub enough: bool,
    /// Client operations (pending ones at the end count as `info`).
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Successful acquires and campaigns, where the history is judged as a
    /// lock or election; `None` for other histories (registers, kv).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
    /// Each fault and what met it.
    pub faults: Vec<FaultCoverage>,
    pub shortfalls: Vec<Shortfall>,
    /// One line: what was enough, or what was missing.
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grants {
    pub total: u64,
    /// Keys granted at least once.
    pub keys: u64,
    /// The most grants of one key.
    pub most_on_one_key: u64,
}

/// A fault window and the client activity during it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultCoverage {
    pub fault: String,
    pub start: u64,
    pub end: u64,
    /// Client operations in flight at some moment of it.
    pub ops: u64,
    /// Definite holds (locks or leaderships) at some moment of it.
    pub holds: u64,
}

/// Something the history lacks, in numbers and words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Shortfall {
    NoClientOps {
        text: String,
    },
    NoKeyGrantedTwice {
        grants: u64,
        text: String,
    },
    MostlyUnknown {
        info: u64,
        completions: u64,
        text: String,
    },
    FaultUnwitnessed {
        fault: String,
        start: u64,
        end: u64,
        text: String,
    },
    /// A warning only.
    FewGrants {
        grants: u64,
        minimum: u64,
        text: String,
    },
}

impl Shortfall {
    /// Whether it makes a `valid` meaningless (else it is a warning).
    pub fn thins(&self) -> bool {
        !matches!(self, Shortfall::FewGrants { .. })
    }

    pub fn text(&self) -> &str {
        match self {
            Shortfall::NoClientOps { text }
            | Shortfall::NoKeyGrantedTwice { text, .. }
            | Shortfall::MostlyUnknown { text, .. }
            | Shortfall::FaultUnwitnessed { text, .. }
            | Shortfall::FewGrants { text, .. } => text,
        }
    }
}

impl Sufficiency {
    /// The overall verdict the checkers' `verdict` may stand as: a `valid`
    /// on thin evidence is `unknown`; `invalid` and `unknown` stand.
    pub fn bound(&self, verdict: Verdict) -> Verdict {
        match verdict {
            Verdict::Valid if !self.enough => Verdict::Unknown,
            v => v,
        }
    }

    /// The shortfalls that are warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Shortfall> {
        self.shortfalls.iter().filter(|s| !s.thins())
    }
}

/// Counts what `history` holds. `grants_judged`: whether its checkers judge
/// grants (a lock or election workload), so too few of them thin it.
pub fn judge(history: &History, grants_judged: bool) -> Result<Sufficiency, InputError> {
    // An empty history holds nothing, which is a shortfall, not bad input.
    let empty = history.ops.is_empty();
    let calls: Vec<Call> = if empty { Vec::new() } else { history.calls()? };
    let tally = Tally::of(history, &calls);
    let holds = if empty { Vec::new() } else { analysis::holds_of(history)? };
    let windows = analysis::fault_windows(history);
    let faults = fault_coverage(&windows, &tally, &holds);
    let grants = grants_judged.then(|| Grants {
        total: tally.per_key.values().sum(),
        keys: tally.per_key.len() as u64,
        most_on_one_key: tally.per_key.values().copied().max().unwrap_or(0),
    });
    let shortfalls = shortfalls(&tally, grants.as_ref(), &windows, &faults);
    let enough = !shortfalls.iter().any(Shortfall::thins);
    let summary = summary(enough, &tally, grants.as_ref(), &faults, &shortfalls);
    let Tally { ok, fail, info, .. } = tally;
    Ok(Sufficiency { enough, ok, fail, info, grants, faults, shortfalls, summary })
}

/// The client calls of a history, counted.
struct Tally<'a> {
    ok: u64,
    fail: u64,
    info: u64,
    /// Successful acquires and campaigns per key.
    per_key: HashMap<&'a str, u64>,
    /// Each client call's span; a pending one runs to the end of time.
    spans: Overlapping,
}

impl<'a> Tally<'a> {
    fn of(history: &'a History, calls: &[Call]) -> Tally<'a> {
        let (mut ok, mut fail, mut info) = (0u64, 0u64, 0u64);
        let mut per_key: HashMap<&str, u64> = HashMap::new();
        let mut invoked: Vec<u64> = Vec::with_capacity(calls.len());
        let mut answered: Vec<u64> = Vec::with_capacity(calls.len());
        for c in calls {
            let invoke = &history.ops[c.invoke];
            if invoke.process == Process::Nemesis {
                continue;
            }
            match c.outcome {
                Outcome::Ok => ok += 1,
                Outcome::Fail => fail += 1,
                Outcome::Info => info += 1,
            }
            if c.outcome == Outcome::Ok && matches!(invoke.f, OpName::Acquire | OpName::Campaign) {
                *per_key.entry(invoke.key.as_deref().unwrap_or("")).or_default() += 1;
            }
            invoked.push(invoke.time);
            answered.push(c.completion.map_or(u64::MAX, |i| history.ops[i].time));
        }
        Tally { ok, fail, info, per_key, spans: Overlapping::new(invoked, answered) }
    }

    fn completions(&self) -> u64 {
        self.ok + self.fail + self.info
    }
}

/// Each fault window with the client calls in flight and the holds held
/// at some moment of it.
fn fault_coverage(windows: &[FaultWindow], tally: &Tally, holds: &[Hold]) -> Vec<FaultCoverage> {
    let holds_during = Overlapping::new(holds.iter().map(|h| h.start).collect(), holds.iter().map(|h| h.end).collect());
    windows
        .iter()
        .map(|w| FaultCoverage {
            fault: w.name.clone(),
            start: w.start,
            end: w.end,
            ops: tally.spans.count(w.start, w.end),
            holds: holds_during.count(w.start, w.end),
        })
        .collect()
}

/// What the history lacks, by the thresholds of this module's opening doc.
fn shortfalls(
    tally: &Tally,
    grants: Option<&Grants>,
    windows: &[FaultWindow],
    faults: &[FaultCoverage],
) -> Vec<Shortfall> {
    let (completions, info) = (tally.completions(), tally.info);
    let mut shortfalls = Vec::new();
    if completions == 0 {
        shortfalls.push(Shortfall::NoClientOps { text: "no client operation was recorded".into() });
    }
    if let Some(g) = grants.filter(|_| completions > 0) {
        if g.most_on_one_key < 2 {
            shortfalls.push(Shortfall::NoKeyGrantedTwice {
                grants: g.total,
                text: format!(
                    "{} and no lock or election granted twice: no two holders could overlap and no token order could show",
                    counted(g.total, "grant", "grants")
                ),
            });
        } else if g.total < FEW_GRANTS {
            shortfalls.push(Shortfall::FewGrants {
                grants: g.total,
                minimum: FEW_GRANTS,
                text: format!("only {}: few chances for an anomaly to show", counted(g.total, "grant", "grants")),
            });
        }
    }
    if completions > 0 && info as f64 > MOSTLY_UNKNOWN * completions as f64 {
        shortfalls.push(Shortfall::MostlyUnknown {
            info,
            completions,
            text: format!(
                "{info} of {completions} client outcomes unknown (info, {:.0} %): an unknown outcome may take effect at any time, so the checkers must allow almost any order",
                info as f64 * 100.0 / completions as f64
            ),
        });
    }
    for (w, f) in windows.iter().zip(faults) {
        if completions > 0 && f.ops == 0 && f.holds == 0 {
            shortfalls.push(Shortfall::FaultUnwitnessed {
                fault: w.name.clone(),
                start: w.start,
                end: w.end,
                text: format!(
                    "no client operation in flight and no lock held during {} (t={:.3} s to t={:.3} s): nothing could show what it did",
                    w.words(),
                    w.start as f64 / 1e9,
                    w.end as f64 / 1e9
                ),
            });
        }
    }
    shortfalls
}

/// One line: what was enough (and the warnings), or what was missing.
fn summary(
    enough: bool,
    tally: &Tally,
    grants: Option<&Grants>,
    faults: &[FaultCoverage],
    shortfalls: &[Shortfall],
) -> String {
    if enough {
        let (completions, info) = (tally.completions(), tally.info);
        let mut said = vec![format!(
            "{} ({:.0} % unknown)",
            counted(completions, "client outcome", "client outcomes"),
            if completions == 0 { 0.0 } else { info as f64 * 100.0 / completions as f64 }
        )];
        if let Some(g) = grants {
            said.push(format!("{} on {}", counted(g.total, "grant", "grants"), counted(g.keys, "key", "keys")));
        }
        if !faults.is_empty() {
            said.push(format!("client operations during each of {}", counted(faults.len(), "fault", "faults")));
        }
        let warned: Vec<&str> = shortfalls.iter().map(Shortfall::text).collect();
        let warned = if warned.is_empty() { String::new() } else { format!("; but {}", warned.join("; ")) };
        format!("enough to judge: {}{warned}", said.join(", "))
    } else {
        let missing: Vec<&str> = shortfalls.iter().filter(|s| s.thins()).map(Shortfall::text).collect();
        format!("too little to judge, so valid means nothing: {}", missing.join("; "))
    }
}

/// Spans `[start, end]` counted against windows in O(log n) each: those
/// that started by a window's end, less those that ended before it began.
struct Overlapping {
    starts: Vec<u64>,
    ends: Vec<u64>,
}

impl Overlapping {
    fn new(mut starts: Vec<u64>, mut ends: Vec<u64>) -> Self {
        starts.sort_unstable();
        ends.sort_unstable();
        Overlapping { starts, ends }
    }

    fn count(&self, from: u64, to: u64) -> u64 {
        let started = self.starts.partition_point(|&t| t <= to);
        let over = self.ends.partition_point(|&t| t < from);
        started.saturating_sub(over) as u64
    }
}
