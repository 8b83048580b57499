//! What each checker found, as data: the typed form of a `results.json`
//! checker entry. The analyses in [`crate::analysis`] build these; the run
//! store, the comparison and the web report read them back through the same
//! types, so a field renamed here is renamed everywhere at compile time.
//!
//! Every anomaly carries a plain-words `text` for people and the numbers
//! (processes, key, times in the history's nanoseconds) for charts.
//!
//! Each result is tagged with its checker's [`CheckerId`] (the `checker`
//! field on disk, [`Analysis::id`] in memory); a checker that panicked has
//! [`Panicked`] evidence naming it instead of its own.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::check::CheckResult;
use crate::checkers::CheckerId;
use crate::lease::{Cause, Window};
use crate::Verdict;

/// One checker's result: its verdict, a line a person reads first, and its
/// evidence. On disk: `{"checker": "fencing", "validity": "valid",
/// "summary": "…", "evidence": {…}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    pub validity: Verdict,
    pub summary: String,
    #[serde(flatten)]
    pub evidence: Evidence,
}

/// The evidence of each checker, tagged with the checker's name: each
/// variant's tag is its [`CheckerId`]'s name ([`Evidence::checker`]; a test
/// holds the two together), except a panicked checker's, which names the
/// checker inside.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "checker", content = "evidence", rename_all = "kebab-case")]
pub enum Evidence {
    Linearizable(Box<CheckResult>),
    MutualExclusion(MutualExclusion),
    LeaseSafety(LeaseSafety),
    Fencing(Fencing),
    LostUpdates(LostUpdates),
    Election(Election),
    Availability(Box<Availability>),
    Panicked(Panicked),
}

impl Evidence {
    /// The checker it is the evidence of, as its result is stored (the
    /// lock models' linearizability is [`CheckerId::Linearizable`]).
    pub fn checker(&self) -> CheckerId {
        match self {
            Evidence::Linearizable(_) => CheckerId::Linearizable,
            Evidence::MutualExclusion(_) => CheckerId::MutualExclusion,
            Evidence::LeaseSafety(_) => CheckerId::LeaseSafety,
            Evidence::Fencing(_) => CheckerId::Fencing,
            Evidence::LostUpdates(_) => CheckerId::LostUpdates,
            Evidence::Election(_) => CheckerId::Election,
            Evidence::Availability(_) => CheckerId::Availability,
            Evidence::Panicked(p) => p.checker.reported(),
        }
    }
}

/// A checker that panicked instead of answering: its verdict is `unknown`
/// and the run goes on with the others (Jepsen's `check-safe`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panicked {
    pub checker: CheckerId,
    /// The panic's message.
    pub message: String,
}

impl Analysis {
    /// `checker`'s result when it panicked with `message`.
    pub fn panicked(checker: CheckerId, message: String) -> Analysis {
        Analysis {
            validity: Verdict::Unknown,
            summary: format!("{checker}: unknown (the checker failed: {message})"),
            evidence: Evidence::Panicked(Panicked { checker, message }),
        }
    }

    /// The checker, as its result is stored (see [`Evidence::checker`]).
    pub fn id(&self) -> CheckerId {
        self.evidence.checker()
    }

    /// The checker's name: `mutual-exclusion`, `fencing`, ….
    pub fn checker(&self) -> &'static str {
        self.id().name()
    }

    /// Whether it judges safety (availability only informs).
    pub fn judges(&self) -> bool {
        crate::checkers::checker(self.id()).judges()
    }

    /// Every anomaly it reports, in a form every checker shares.
    pub fn anomalies(&self) -> Vec<Anomaly<'_>> {
        match &self.evidence {
            Evidence::Linearizable(_) | Evidence::Availability(_) | Evidence::Panicked(_) => Vec::new(),
            Evidence::MutualExclusion(e) => e.anomalies.iter().map(Overlap::anomaly).collect(),
            Evidence::LeaseSafety(e) => e.anomalies.iter().map(BrokenPromise::anomaly).collect(),
            Evidence::Fencing(e) => e.anomalies.iter().map(FencingAnomaly::anomaly).collect(),
            Evidence::LostUpdates(e) => e.anomalies.iter().map(LostCounter::anomaly).collect(),
            Evidence::Election(e) => e.anomalies.iter().map(ElectionAnomaly::anomaly).collect(),
        }
    }

    /// Its overlapping holds or leaders by cause (empty for the others).
    pub fn overlap_causes(&self) -> BTreeMap<Cause, usize> {
        match &self.evidence {
            Evidence::MutualExclusion(e) => e.causes.clone(),
            Evidence::Election(e) => {
                let mut causes = BTreeMap::new();
                for a in &e.anomalies {
                    if let ElectionAnomaly::OverlappingLeaders { cause: Some(c), .. } = a {
                        *causes.entry(*c).or_default() += 1;
                    }
                }
                causes
            }
            _ => BTreeMap::new(),
        }
    }

    /// How many anomalies it found in all (the evidence may list fewer).
    pub fn anomaly_count(&self) -> usize {
        match &self.evidence {
            Evidence::MutualExclusion(e) => e.overlaps,
            Evidence::LeaseSafety(e) => e.broken,
            Evidence::Fencing(e) => e.anomalies_total,
            Evidence::Election(e) => e.anomalies_total,
            _ => self.anomalies().len(),
        }
    }
}

/// An anomaly of any checker, as the report and the timeline show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly<'a> {
    pub text: &'a str,
    pub key: Option<&'a str>,
    /// The processes it involves (for lost increments: the writers of a
    /// value written twice).
    pub processes: Vec<u64>,
    /// When it happened, where the checker timed it: `(start, end)`.
    pub span: Option<(u64, u64)>,
    /// Where it is not timed, what locates it in the history.
    pub locate: Locate,
}

/// How to find an untimed anomaly's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locate {
    Timed,
    /// The grants that carried this token.
    Token(i64),
    /// The campaigns won in this term.
    Term(i64),
    /// The counter's accepted writes and final read.
    Counter,
}

/// A stretch of time both processes held one lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    pub key: String,
    pub processes: [u64; 2],
    pub start: u64,
    pub duration: u64,
    /// The faults active during it, in words.
    pub faults: Vec<String>,
    pub text: String,
    /// Whose fault it is, from the holds' guaranteed windows (absent in
    /// results written before causes were judged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

impl Overlap {
    fn anomaly(&self) -> Anomaly<'_> {
        timed(&self.key, &self.processes, Some((self.start, self.start + self.duration)), &self.text)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MutualExclusion {
    /// Definite holds seen.
    pub holds: usize,
    pub overlaps: usize,
    /// Overlaps by cause.
    #[serde(default)]
    pub causes: BTreeMap<Cause, usize>,
    pub anomalies: Vec<Overlap>,
}

/// The service's view: grants inside another client's guaranteed window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaseSafety {
    /// Guaranteed windows seen, and how many were leases and session locks
    /// (the rest were promised without a recorded bound).
    pub windows: usize,
    pub leases: usize,
    pub sessions: usize,
    pub broken: usize,
    pub anomalies: Vec<BrokenPromise>,
    /// Grants whose answer came after their lease could have run out (the
    /// library retried inside one call, or the answer was slow): their
    /// guaranteed window is empty. The latest (longest after its lapse)
    /// first; absent in results stored
    /// before they were counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spent: Vec<SpentGrant>,
}

/// A grant that arrived already spent: its lease (less drift) had run out
/// at `lapsed` before its acquire's answer at `granted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpentGrant {
    pub process: u64,
    pub key: String,
    /// When the acquire was invoked, when the lease (less drift) lapsed and
    /// when the grant was seen, ns.
    pub invoked: u64,
    pub lapsed: u64,
    pub granted: u64,
}

impl SpentGrant {
    /// How late the grant was: from the lapse to the answer, ns.
    pub fn late(&self) -> u64 {
        self.granted.saturating_sub(self.lapsed)
    }
}

/// A grant (`windows[1]`) inside another process's guaranteed window
/// (`windows[0]`) for the same lock or election.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokenPromise {
    pub key: String,
    pub processes: [u64; 2],
    /// When the second grant was seen, and how long both were guaranteed.
    pub start: u64,
    pub duration: u64,
    pub faults: Vec<String>,
    pub windows: [Window; 2],
    pub text: String,
}

impl BrokenPromise {
    fn anomaly(&self) -> Anomaly<'_> {
        timed(&self.key, &self.processes, Some((self.start, self.start + self.duration)), &self.text)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fencing {
    pub grants: usize,
    pub rejected_writes: usize,
    pub anomalies_total: usize,
    pub anomalies: Vec<FencingAnomaly>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FencingAnomaly {
    /// Two grants of one lock with the same token.
    Duplicate { key: String, token: i64, processes: [u64; 2], text: String },
    /// A grant with a smaller token than one completed before it was asked.
    Regression { key: String, tokens: [i64; 2], processes: [u64; 2], at: Option<u64>, text: String },
    /// The resource accepted a write below a token it had accepted.
    StaleWrite { key: String, tokens: [i64; 2], processes: [u64; 2], at: Option<u64>, text: String },
}

impl FencingAnomaly {
    fn anomaly(&self) -> Anomaly<'_> {
        match self {
            FencingAnomaly::Duplicate { key, token, processes, text } => Anomaly {
                text,
                key: Some(key),
                processes: processes.to_vec(),
                span: None,
                locate: Locate::Token(*token),
            },
            FencingAnomaly::Regression { key, processes, at, text, .. }
            | FencingAnomaly::StaleWrite { key, processes, at, text, .. } => Anomaly {
                text,
                key: Some(key),
                processes: processes.to_vec(),
                span: at.map(|t| (t, t)),
                locate: Locate::Timed,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LostUpdates {
    pub counters: Vec<Counter>,
    pub anomalies: Vec<LostCounter>,
}

/// A counter's end: increments acknowledged, the final value, how many lost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    pub key: String,
    pub acknowledged: usize,
    #[serde(rename = "final")]
    pub final_value: i64,
    pub lost: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LostCounter {
    pub key: String,
    pub lost: i64,
    pub acknowledged: usize,
    #[serde(rename = "final")]
    pub final_value: i64,
    /// Values written more than once, and by whom: the colliding increments.
    pub repeated_values: Vec<RepeatedValue>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepeatedValue {
    pub value: i64,
    pub processes: Vec<u64>,
}

impl LostCounter {
    fn anomaly(&self) -> Anomaly<'_> {
        let mut processes: Vec<u64> = self.repeated_values.iter().flat_map(|r| r.processes.iter().copied()).collect();
        processes.sort_unstable();
        processes.dedup();
        Anomaly { text: &self.text, key: Some(&self.key), processes, span: None, locate: Locate::Counter }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Election {
    pub leaderships: usize,
    pub terms: usize,
    pub anomalies_total: usize,
    pub anomalies: Vec<ElectionAnomaly>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ElectionAnomaly {
    TwoLeadersOneTerm {
        key: String,
        term: i64,
        processes: Vec<u64>,
        text: String,
    },
    OverlappingLeaders {
        key: String,
        processes: [u64; 2],
        terms: [Option<i64>; 2],
        start: u64,
        duration: u64,
        faults: Vec<String>,
        text: String,
        /// Two leaders believed (a lease or session ran out first) or two
        /// elected while the first was guaranteed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
    },
    StaleLeaderWrite {
        key: String,
        term: i64,
        newer_term: Option<i64>,
        processes: [u64; 2],
        at: Option<u64>,
        text: String,
    },
    PhantomLeader {
        key: String,
        term: i64,
        leader: String,
        processes: [u64; 1],
        at: Option<u64>,
        text: String,
    },
}

fn timed<'a>(key: &'a str, processes: &[u64], span: Option<(u64, u64)>, text: &'a str) -> Anomaly<'a> {
    Anomaly { text, key: Some(key), processes: processes.to_vec(), span, locate: Locate::Timed }
}

impl ElectionAnomaly {
    fn anomaly(&self) -> Anomaly<'_> {
        match self {
            ElectionAnomaly::TwoLeadersOneTerm { key, term, processes, text } => {
                Anomaly { text, key: Some(key), processes: processes.clone(), span: None, locate: Locate::Term(*term) }
            }
            ElectionAnomaly::OverlappingLeaders { key, processes, start, duration, text, .. } => {
                timed(key, processes, Some((*start, start + duration)), text)
            }
            ElectionAnomaly::StaleLeaderWrite { key, processes, at, text, .. } => {
                timed(key, processes, at.map(|t| (t, t)), text)
            }
            ElectionAnomaly::PhantomLeader { key, processes, at, text, .. } => {
                timed(key, processes, at.map(|t| (t, t)), text)
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    /// Completions per operation name, by outcome.
    pub counts: Vec<OpCounts>,
    pub latency: Vec<Latency>,
    /// The latency of successful grants (acquire or campaign).
    pub grant_latency: Option<Latency>,
    /// Completions per second since the start: `[ok, fail, info]`.
    pub throughput_per_second: Vec<[u64; 3]>,
    /// Share of the history's time outside every outage (runs recorded
    /// before outages were judged per key: share of seconds with a grant).
    pub progress_share: f64,
    pub recoveries: Vec<Recovery>,
    pub outages: Vec<Outage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpCounts {
    pub f: String,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub f: String,
    /// `ok`, `fail` or `info`.
    pub outcome: String,
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// How long after a fault ended the next grant came.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub fault: String,
    pub start: u64,
    pub end: u64,
    pub recovery_ns: Option<u64>,
    pub text: String,
}

/// A second or more in which clients asked for a lock (or leadership), no
/// one held it, and nothing was granted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    /// The lock or election (absent in results written before outages were
    /// judged per key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub start: u64,
    pub end: u64,
    pub faults: Vec<String>,
    pub text: String,
    /// What the nodes' logs said during it (added by the harness).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_events: Vec<ClusterEvent>,
}

/// A node log line placed on the history's clock (ns since its start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterEvent {
    pub node: String,
    pub time: u64,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Evidence> {
        let linearizable = CheckResult {
            file: "h.jsonl".into(),
            format: "jsonl".into(),
            model: "mutex".into(),
            initial: serde_json::Value::Null,
            verdict: Verdict::Valid,
            ops: 0,
            checked_ops: 0,
            partitions: Vec::new(),
            elapsed_ms: 0.0,
            ignored: BTreeMap::new(),
        };
        let availability = Availability {
            counts: Vec::new(),
            latency: Vec::new(),
            grant_latency: None,
            throughput_per_second: Vec::new(),
            progress_share: 1.0,
            recoveries: Vec::new(),
            outages: Vec::new(),
        };
        vec![
            Evidence::Linearizable(Box::new(linearizable)),
            Evidence::MutualExclusion(MutualExclusion {
                holds: 0,
                overlaps: 0,
                causes: BTreeMap::new(),
                anomalies: Vec::new(),
            }),
            Evidence::LeaseSafety(LeaseSafety {
                windows: 0,
                leases: 0,
                sessions: 0,
                broken: 0,
                anomalies: Vec::new(),
                spent: Vec::new(),
            }),
            Evidence::Fencing(Fencing { grants: 0, rejected_writes: 0, anomalies_total: 0, anomalies: Vec::new() }),
            Evidence::LostUpdates(LostUpdates { counters: Vec::new(), anomalies: Vec::new() }),
            Evidence::Election(Election { leaderships: 0, terms: 0, anomalies_total: 0, anomalies: Vec::new() }),
            Evidence::Availability(Box::new(availability)),
        ]
    }

    /// The tag on disk is the checker's id, so the store, the index and the
    /// scenario library can name a result by [`CheckerId`] alone.
    #[test]
    fn each_result_is_stored_under_its_checker_id() {
        let kinds = every_kind();
        for evidence in kinds {
            let id = evidence.checker();
            assert_eq!(id.reported(), id, "{id} is stored under its own name");
            let analysis = Analysis { validity: Verdict::Valid, summary: "s".into(), evidence };
            let json = serde_json::to_value(&analysis).unwrap();
            assert_eq!(json["checker"], id.name(), "{json}");
            let back: Analysis = serde_json::from_value(json).unwrap();
            assert_eq!(back.id(), id);
            assert_eq!(back, analysis);
        }
    }

    #[test]
    fn a_panicked_checker_is_unknown_and_named() {
        let a = Analysis::panicked(CheckerId::LinearizableFencedMutex, "index out of bounds".into());
        assert_eq!(a.validity, Verdict::Unknown);
        assert_eq!(a.id(), CheckerId::Linearizable);
        assert!(a.judges() && a.anomalies().is_empty() && a.anomaly_count() == 0);
        assert_eq!(a.summary, "linearizable-fenced-mutex: unknown (the checker failed: index out of bounds)");
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains(r#""checker":"panicked""#) && text.contains("linearizable-fenced-mutex"), "{text}");
        assert_eq!(serde_json::from_str::<Analysis>(&text).unwrap(), a);
        assert!(!Analysis::panicked(CheckerId::Availability, "x".into()).judges(), "availability still only informs");
    }
}
