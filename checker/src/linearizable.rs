//! `linearizable` as a checker's result: the search ([`crate::check`])
//! against a model, its verdict in one line, and for a lock the lapses its
//! lease-lock reading added ([`crate::models::lapse`]).

use std::time::Duration;

use crate::analysis::{self, Analysis};
use crate::check::{check, CheckOptions};
use crate::evidence::Evidence;
use crate::models::lapse::Lapse;
use crate::models::ModelSpec;
use crate::{History, InputError, OpName, Verdict};

/// The ops a lock model judges (a fenced-counter run's reads and writes of
/// the resource are not the lock's).
const LOCK_OPS: &[OpName] = &[OpName::Acquire, OpName::Release, OpName::Renew, OpName::Lapse];

/// The lapses a lease lock's check derived: in all, and how many of them
/// are ops of their own (the others took a late release's place).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lapses {
    pub all: usize,
    pub added: usize,
}

impl Lapses {
    pub fn of(lapses: &[Lapse]) -> Lapses {
        Lapses {
            all: lapses.len(),
            // Lapses that took a late release's place add no op to the count.
            added: lapses.iter().filter(|l| l.release.is_none()).count(),
        }
    }
}

/// Linearizability against the model the history's ops imply, with the
/// initial value as `check` chooses it (a file may state its own).
pub fn inferred(history: &History, timeout: Duration) -> Result<Analysis, InputError> {
    let (model, _) = ModelSpec::choose(history, None, None).map_err(|e| e.in_file(&history.file))?;
    let opts = CheckOptions { timeout: Some(timeout), ..Default::default() };
    judge(history, &model, &opts, Lapses::default())
}

/// A lock's linearizability, judged as a lease lock's: `history` already
/// holds the `lapses` derived from it (see [`crate::models::lapse`]), and
/// only the lock ops are checked.
pub fn lease_lock(
    history: &History,
    model: &ModelSpec,
    timeout: Duration,
    lapses: Lapses,
) -> Result<Analysis, InputError> {
    let opts = CheckOptions { timeout: Some(timeout), only: Some(LOCK_OPS), ..Default::default() };
    judge(history, model, &opts, lapses)
}

/// Linearizability against `model`, with the `lapses` of a lease lock named
/// in the summary.
pub fn judge(
    history: &History,
    model: &ModelSpec,
    opts: &CheckOptions,
    lapses: Lapses,
) -> Result<Analysis, InputError> {
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
