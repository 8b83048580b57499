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
use checker::check::{check, CheckOptions};
use checker::evidence::Evidence;
use checker::faults::{FaultEvent, Step};
use checker::lease::LeaseOptions;
use checker::models::{lapse, ModelSpec};
use checker::{History, OpType, Process, Verdict};
use results::Stats;
use workloads::{CheckerId, Workload};

use crate::Error;

/// One checker: those a workload declares ([`CheckerId`]), and for
/// histories of other tools' workloads, linearizability with the model
/// inferred from the ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Declared(CheckerId),
    LinearizableInferred,
}

/// The checkers for a workload, by its stored name: a fencepost workload's
/// own list ([`Workload::checkers`]); any other (an imported register, kv,
/// or unknown history) is judged for linearizability with the model its
/// ops imply.
pub fn checks_for(workload: &str) -> Vec<Check> {
    match workload.parse::<Workload>() {
        Ok(w) => w.checkers().iter().map(|&c| Check::Declared(c)).collect(),
        Err(_) => vec![Check::LinearizableInferred, Check::Declared(CheckerId::Availability)],
    }
}

/// The workload that would have recorded these ops, for a history that
/// does not say (another tool's, or a bare file given to `check`).
pub fn declared_workload(history: &History) -> String {
    let has = |f: &str| history.ops.iter().any(|op| op.process != Process::Nemesis && op.f == f);
    // Writes beside the lock are a fenced counter's, final read or not: its
    // lost-update checker applies.
    if has("acquire") && has("write") {
        "fenced-counter".into()
    } else if has("campaign") {
        "election".into()
    } else if has("acquire") {
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

/// Runs the checkers of `workload` over `history`. The linearizability
/// search stops at `timeout` with `unknown`; the lease arithmetic of
/// `mutual-exclusion`, `lease-safety` and `election` uses `leases`.
pub fn analyze(history: &History, workload: &str, timeout: Duration, leases: &LeaseOptions) -> Result<Analyzed, Error> {
    let opts = CheckOptions { timeout: Some(timeout), ..Default::default() };
    let lock_ops = CheckOptions { only: Some(&["acquire", "release", "renew", lapse::LAPSE]), ..opts.clone() };
    // Grants without tokens (Redlock) have nothing to fence: no fencing
    // checker and no fenced-mutex model either.
    let checks = checks_for(workload);
    let fencing =
        if checks.contains(&Check::Declared(CheckerId::Fencing)) { analysis::fencing(history)? } else { None };
    // A lock's linearizability is judged as a lease lock's: a grant may
    // lapse once its promise ended (see `checker::models::lapse`).
    let lock_models = checks
        .iter()
        .any(|c| matches!(c, Check::Declared(CheckerId::LinearizableMutex | CheckerId::LinearizableFencedMutex)));
    let lapses = if lock_models { lapse::lapses(history, leases)? } else { Vec::new() };
    let leased = (!lapses.is_empty()).then(|| lapse::with_lapses(history, &lapses));
    let counted = Lapses {
        all: lapses.len(),
        // Lapses that took a late release's place add no op to the count.
        added: lapses.iter().filter(|l| l.release.is_none()).count(),
    };
    let lock_model = |model: ModelSpec| -> Result<Analysis, Error> {
        match &leased {
            Some(leased) => linearizable(leased, &model, &lock_ops, counted),
            None => linearizable(history, &model, &lock_ops, Lapses::default()),
        }
    };
    let mut checkers = Vec::new();
    for c in checks {
        let Check::Declared(id) = c else {
            // The model and initial value as `check` chooses them (a file may state its initial value).
            let (model, _) = ModelSpec::choose(history, None, None).map_err(|e| e.in_file(&history.file))?;
            checkers.push(linearizable(history, &model, &opts, Lapses::default())?);
            continue;
        };
        match id {
            CheckerId::LinearizableMutex => checkers.push(lock_model(ModelSpec::Mutex)?),
            CheckerId::LinearizableFencedMutex if fencing.is_some() => {
                checkers.push(lock_model(ModelSpec::FencedMutex)?)
            }
            CheckerId::LinearizableFencedMutex => {}
            CheckerId::MutualExclusion => checkers.push(analysis::mutual_exclusion(history, leases)?),
            CheckerId::LeaseSafety => checkers.push(analysis::lease_safety(history, leases)?),
            CheckerId::Fencing => checkers.extend(fencing.clone()),
            CheckerId::LostUpdates => checkers.extend(analysis::lost_updates(history)?),
            CheckerId::Election => checkers.extend(analysis::election(history, leases)?),
            CheckerId::Availability => checkers.push(analysis::availability(history)?),
        }
    }
    // The one rule (service, data, and the clients' overlaps their own
    // leases do not explain), stated in `results::story::overall`.
    let verdict = results::story::overall(&checkers);
    let stats = stats(history, &checkers);
    Ok(Analyzed { verdict, checkers, stats })
}

/// The lapses a lease lock's check derived: in all, and how many of them
/// are ops of their own (the others took a late release's place).
#[derive(Clone, Copy, Default)]
struct Lapses {
    all: usize,
    added: usize,
}

/// Linearizability against `model`, with the `lapses` of a lease lock named
/// in the summary.
fn linearizable(history: &History, model: &ModelSpec, opts: &CheckOptions, lapses: Lapses) -> Result<Analysis, Error> {
    let result = check(history, model, opts)?;
    let failing = result.failing().count();
    let leases = match lapses.all {
        0 => String::new(),
        n => format!(
            "; as a lease lock: {} after its promise ended",
            analysis::counted(n, "grant may lapse", "grants may lapse")
        ),
    };
    let summary = match result.verdict {
        Verdict::Valid => format!("{}: linearizable ({} ops{leases})", result.model, result.checked_ops - lapses.added),
        Verdict::Invalid => {
            let n = result.partitions.len();
            let keys = if n == 1 { "key" } else { "keys" };
            let fail = if failing == 1 { "fails" } else { "fail" };
            format!("{}: NOT linearizable ({failing} of {n} {keys} {fail}{leases})", result.model)
        }
        Verdict::Unknown => format!("{}: unknown (search stopped: deadline or memory)", result.model),
    };
    Ok(Analysis { validity: result.verdict, summary, evidence: Evidence::Linearizable(Box::new(result)) })
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
