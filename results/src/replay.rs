//! Replays and their evidence: `schedule.json` (the faults a run injected,
//! as they happened), the tag a replay's `test.json` carries, a failure's
//! signature (which checkers failed, and how), and `shrunk.json` (what
//! `fencepost shrink` reduced a run to).
//!
//! A seed gives the same plan, but when each fault begins depends on the
//! run (a holder fault waits for a holder): a replay plays the moments the
//! original recorded, not the plan again.

use std::collections::BTreeMap;
use std::path::Path;

use checker::checkers::CheckerId;
use checker::lease::Cause;
use checker::Verdict;
use ops::faults::FaultInfo;
use serde::{Deserialize, Serialize};

use crate::record::RunResults;
use crate::Error;

/// `schedule.json`: the injected faults in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub faults: Vec<ScheduledFault>,
}

/// One fault as it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    /// As `--nemesis` spells it (`kill:holder`).
    pub fault: String,
    /// When it began, from the workload's start.
    pub at_ms: u64,
    pub duration_ms: u64,
    /// How long a live target may be waited for.
    pub wait_ms: u64,
    /// Seeds the choices made when it starts (which holder's node).
    pub seed: u64,
    /// What it acted on and its parameters, as the history records it.
    pub value: FaultInfo,
}

/// A replay's tag in `test.json`: the run it replays, and which of its
/// faults (their indexes in its schedule; all of them unless shrinking).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayTag {
    pub of: String,
    pub faults: Vec<usize>,
}

/// How a run failed: each safety checker that found it invalid, with the
/// cause most of its overlaps had (mutual exclusion and elections).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub checkers: BTreeMap<CheckerId, Option<Cause>>,
}

impl Failure {
    /// `None` when no checker found the run invalid.
    pub fn of(results: &RunResults) -> Option<Failure> {
        let checkers: BTreeMap<CheckerId, Option<Cause>> = results
            .checkers
            .iter()
            .filter(|a| a.validity == Verdict::Invalid)
            .map(|a| {
                let causes = a.overlap_causes();
                let main = causes.iter().max_by_key(|(cause, n)| (**n, std::cmp::Reverse(**cause))).map(|(c, _)| *c);
                (a.id(), main)
            })
            .collect();
        (!checkers.is_empty()).then_some(Failure { checkers })
    }

    /// Whether `again` failed the same way: every checker that failed here
    /// failed there, each with this failure's main cause among its own.
    pub fn came_back(&self, again: &RunResults) -> bool {
        self.checkers.iter().all(|(id, cause)| {
            again.checkers.iter().any(|a| {
                a.id() == *id
                    && a.validity == Verdict::Invalid
                    && cause.is_none_or(|c| a.overlap_causes().contains_key(&c))
            })
        })
    }

    /// `lease-safety, mutual-exclusion (promise-broken)`.
    pub fn words(&self) -> String {
        let words: Vec<String> = self
            .checkers
            .iter()
            .map(|(id, cause)| match cause {
                Some(c) => format!("{} ({c})", id.name()),
                None => id.name().to_string(),
            })
            .collect();
        words.join(", ")
    }
}

/// `shrunk.json` beside a run that `fencepost shrink` reduced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shrunk {
    /// The smallest run that still failed the same way.
    pub minimal: String,
    /// Its faults, time limit and clients, against the original's.
    pub faults: [usize; 2],
    pub time_limit_ms: [u64; 2],
    pub concurrency: [usize; 2],
    /// Every attempt, in order, and whether it failed the same way.
    pub attempts: Vec<Attempt>,
    pub failure: Failure,
}

/// One run a shrink tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    pub run: String,
    pub faults: usize,
    pub time_limit_ms: u64,
    pub concurrency: usize,
    pub failed_the_same_way: bool,
}

/// A run's `schedule.json` (`None` for a run recorded before schedules
/// were kept, or an import).
pub fn read_schedule(dir: &Path) -> Result<Option<Schedule>, Error> {
    read_if_there(&dir.join("schedule.json"))
}

/// A run's `shrunk.json`, if it was shrunk.
pub fn read_shrunk(dir: &Path) -> Result<Option<Shrunk>, Error> {
    read_if_there(&dir.join("shrunk.json"))
}

fn read_if_there<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    crate::read_json(path).map(Some)
}
