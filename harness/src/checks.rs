//! Which checkers judge a history, and running them into a run's results.
//!
//! The checkers that apply are decided by the workload the history declares
//! (a run's `test.json`; for a history from another tool, the workload
//! [`declared_workload`] recognises once, at import), not by which op names
//! happen to appear: a lock history in which no acquire succeeded is still
//! judged for mutual exclusion (and found valid with no holds).

use std::collections::BTreeSet;
use std::time::Duration;

use checker::analysis::{self, Analysis};
use checker::checkers::{self, CheckerId, Inputs};
use checker::evidence::Evidence;
use checker::faults::{FaultEvent, Step};
use checker::lease::LeaseOptions;
use checker::models::ModelSpec;
use checker::{History, OpName, OpType, Process, Verdict};
use results::Stats;
use workloads::Workload;

use crate::Error;

/// The checkers for a workload, by its stored name: a fencepost workload's
/// own list ([`Workload::checkers`]); any other (an imported register, kv,
/// or unknown history) is judged for linearizability with the model its
/// ops imply ([`CheckerId::Linearizable`]).
pub fn checks_for(workload: &str) -> Vec<CheckerId> {
    match workload.parse::<Workload>() {
        Ok(w) => w.checkers().to_vec(),
        Err(_) => vec![CheckerId::Linearizable, CheckerId::Availability],
    }
}

/// The workload that would have recorded these ops, for a history that
/// does not say (another tool's, or a bare file given to `check`).
pub fn declared_workload(history: &History) -> String {
    let has = |f: OpName| history.ops.iter().any(|op| op.process != Process::Nemesis && op.f == f);
    // Writes beside the lock are a fenced counter's, final read or not: its
    // lost-update checker applies.
    if has(OpName::Acquire) && has(OpName::Write) {
        "fenced-counter".into()
    } else if has(OpName::Campaign) {
        "election".into()
    } else if has(OpName::Acquire) {
        "lock".into()
    } else {
        match ModelSpec::infer(history) {
            // Releases without acquires: still a lock history.
            ModelSpec::Mutex | ModelSpec::KnossosMutex | ModelSpec::FencedMutex => "lock".into(),
            model => model.name().into(),
        }
    }
}

/// The fault kinds a history's nemesis started, in the order `run` names
/// them (fencepost's kinds first, another tool's after, by name), or `none`.
pub fn declared_faults(history: &History) -> String {
    let started: BTreeSet<String> = history
        .ops
        .iter()
        .filter_map(FaultEvent::of)
        .filter_map(|e| match e {
            FaultEvent::Fault { fault, step: Step::Start } => Some(fault),
            _ => None,
        })
        .collect();
    if started.is_empty() {
        return "none".into();
    }
    let known = nemesis::FaultKind::ALL.iter().map(|k| k.name()).filter(|k| started.contains(*k));
    let other = started.iter().map(String::as_str).filter(|s| !nemesis::FaultKind::ALL.iter().any(|k| k.name() == *s));
    known.chain(other).collect::<Vec<_>>().join(",")
}

/// Every checker's result, the overall verdict ([`results::story::overall`]),
/// and the key figures.
#[derive(Clone, Debug)]
pub struct Analyzed {
    pub verdict: Verdict,
    pub checkers: Vec<Analysis>,
    pub stats: Stats,
}

/// Runs the checkers of `workload` over `history`, each through the
/// registry ([`checkers::judge`]). The linearizability search stops at
/// `timeout` with `unknown`; the lease arithmetic of `mutual-exclusion`,
/// `lease-safety` and `election` uses `leases`. A checker that panics is
/// `unknown` for itself alone ([`checkers::safely`]); a history a checker
/// refuses is an error.
pub fn analyze(history: &History, workload: &str, timeout: Duration, leases: &LeaseOptions) -> Result<Analyzed, Error> {
    analyze_with(history, workload, timeout, leases, &checkers::judge)
}

/// [`analyze`] with `judge` standing for the registry (a test's checker
/// that panics).
fn analyze_with(
    history: &History,
    workload: &str,
    timeout: Duration,
    leases: &LeaseOptions,
    judge: &dyn Fn(CheckerId, &Inputs) -> checkers::Judged,
) -> Result<Analyzed, Error> {
    let inputs = Inputs::new(history, leases, timeout);
    let mut checkers = Vec::new();
    for id in checks_for(workload) {
        checkers.extend(checkers::safely(id, || judge(id, &inputs))?);
    }
    // The one rule (service, data, and the clients' overlaps their own
    // leases do not explain), stated in `results::story::overall`.
    let verdict = results::story::overall(&checkers);
    let stats = stats(history, &checkers);
    Ok(Analyzed { verdict, checkers, stats })
}

/// A history judged whole: its checkers, whether it held enough to judge,
/// and the overall verdict (the checkers' bounded by thin evidence).
pub struct Judged {
    pub analyzed: Analyzed,
    pub sufficiency: checker::sufficiency::Sufficiency,
    pub verdict: Verdict,
}

/// [`analyze`], the evidence ([`crate::run::sufficiency`]) and the overall
/// verdict ([`crate::run::overall`]): what `check`, `import` and a stored
/// run's check share.
pub fn judge(history: &History, workload: &str, timeout: Duration, leases: &LeaseOptions) -> Result<Judged, Error> {
    let analyzed = analyze(history, workload, timeout, leases)?;
    let sufficiency = crate::run::sufficiency(history, workload)?;
    let verdict = crate::run::overall(analyzed.verdict, &sufficiency);
    Ok(Judged { analyzed, sufficiency, verdict })
}

/// The figures the index keeps for listing and comparison.
fn stats(history: &History, checkers: &[Analysis]) -> Stats {
    let first = history.ops.first().map_or(0, |op| op.time);
    let last = history.ops.last().map_or(0, |op| op.time);
    // Positions standing in for times measure no duration (a rate from
    // them would be ops per nanosecond).
    let timed = history.untimed().is_none();
    let duration = if timed { Duration::from_nanos(last.saturating_sub(first)) } else { Duration::ZERO };
    let ops = history.ops.iter().filter(|op| op.process != Process::Nemesis && op.kind != OpType::Invoke).count();
    let availability = checkers.iter().find_map(|c| match &c.evidence {
        Evidence::Availability(a) => Some(a),
        _ => None,
    });
    let recoveries: Vec<f64> = availability
        .map(|a| a.recoveries.iter().filter_map(|r| r.recovery_ns).map(|ns| ns as f64).collect())
        .unwrap_or_default();
    let grant = availability.and_then(|a| a.grant_latency.as_ref());
    Stats {
        ops: ops as u64,
        duration_ms: duration.as_millis() as u64,
        ops_per_s: if duration.is_zero() { 0.0 } else { ops as f64 / duration.as_secs_f64() },
        grant_p50_ms: grant.map(|g| g.p50_ms),
        grant_p99_ms: grant.map(|g| g.p99_ms),
        progress_share: availability.filter(|_| timed).map(|a| a.progress_share),
        recovery_ms: (!recoveries.is_empty()).then(|| recoveries.iter().sum::<f64>() / recoveries.len() as f64 / 1e6),
        faults: analysis::fault_windows(history).len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(text: &str) -> History {
        checker::formats::jsonl::read("test.jsonl", text).unwrap()
    }

    const LOCK: &str = r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":1,"time":2,"process":0,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":2,"time":3,"process":"nemesis","type":"info","f":"kill-start","value":{"kind":"kill","targets":["n1"]}}
{"index":3,"time":4,"process":"nemesis","type":"info","f":"nap-start","value":null}
{"index":4,"time":5,"process":0,"type":"invoke","f":"release","key":"k0","value":null}
{"index":5,"time":6,"process":0,"type":"ok","f":"release","key":"k0","value":null}
"#;

    #[test]
    fn the_declared_workload_decides_the_checkers() {
        let h = history(LOCK);
        let names = |workload: &str| -> Vec<&'static str> {
            analyze(&h, workload, Duration::from_secs(5), &LeaseOptions::default())
                .unwrap()
                .checkers
                .iter()
                .map(|c| c.checker())
                .collect()
        };
        assert_eq!(
            names("lock"),
            ["linearizable", "linearizable", "mutual-exclusion", "lease-safety", "fencing", "availability"]
        );
        // The same ops declared an election are judged as one: no lock checkers.
        assert_eq!(names("election"), ["lease-safety", "availability"]);
        // Another tool's workload: linearizability with the inferred model.
        assert_eq!(names("register"), ["linearizable", "availability"]);
        assert_eq!(checks_for("no-such-workload"), checks_for("kv"));
    }

    /// Jepsen's `check-safe`: a checker that panics answers `unknown` with
    /// the panic's message; the others still judge, and the run is unknown
    /// rather than lost.
    #[test]
    fn a_checker_that_panics_is_unknown_alone() {
        let h = history(LOCK);
        let judge = |id: CheckerId, inputs: &Inputs| {
            if id == CheckerId::MutualExclusion {
                panic!("a test's broken checker");
            }
            checkers::judge(id, inputs)
        };
        let a = analyze_with(&h, "lock", Duration::from_secs(5), &LeaseOptions::default(), &judge).unwrap();
        let judged: Vec<(&str, Verdict)> = a.checkers.iter().map(|c| (c.checker(), c.validity)).collect();
        assert_eq!(
            judged,
            [
                ("linearizable", Verdict::Valid),
                ("linearizable", Verdict::Valid),
                ("mutual-exclusion", Verdict::Unknown),
                ("lease-safety", Verdict::Valid),
                ("fencing", Verdict::Valid),
                ("availability", Verdict::Valid),
            ]
        );
        assert_eq!(a.checkers[2].summary, "mutual-exclusion: unknown (the checker failed: a test's broken checker)");
        assert_eq!(a.verdict, Verdict::Unknown);
        // Without the panic, the same history is valid.
        let clean = analyze(&h, "lock", Duration::from_secs(5), &LeaseOptions::default()).unwrap();
        assert_eq!(clean.verdict, Verdict::Valid);
    }

    #[test]
    fn an_undeclared_history_is_recognised_once() {
        let h = history(LOCK);
        assert_eq!(declared_workload(&h), "lock");
        // fencepost's kinds by name, another tool's after them.
        assert_eq!(declared_faults(&h), "kill,nap");
        assert_eq!(declared_faults(&history("")), "none");
    }

    #[test]
    fn availability_informs_and_never_decides() {
        let a = analyze(&history(LOCK), "lock", Duration::from_secs(5), &LeaseOptions::default()).unwrap();
        assert_eq!(a.verdict, Verdict::Valid);
        assert_eq!(a.stats.faults, 2);
        assert_eq!(a.stats.ops, 2);
    }
}
