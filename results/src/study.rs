//! A margin study (`fencepost margin`) as stored: `store/studies/<id>.json`,
//! written by the harness when the study ends and read by `fencepost
//! margins` and the web's margins page. Its probes are ordinary runs whose
//! `test.json` carries a [`crate::StudyTag`].

use checker::checkers::CheckerId;
use checker::Verdict;
use serde::{Deserialize, Serialize};

/// Which promise a margin measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum View {
    /// The clients never held one lock at once (or led one election).
    Clients,
    /// The service never granted inside another client's guaranteed lease.
    Service,
}

impl View {
    pub const ALL: [View; 2] = [View::Clients, View::Service];

    pub fn name(self) -> &'static str {
        match self {
            View::Clients => "clients",
            View::Service => "service",
        }
    }

    /// The checker that decides this view among a workload's `checkers`.
    pub fn checker(self, checkers: &[CheckerId]) -> Option<CheckerId> {
        let wanted: &[CheckerId] = match self {
            View::Clients => &[CheckerId::MutualExclusion, CheckerId::Election],
            View::Service => &[CheckerId::LeaseSafety],
        };
        wanted.iter().copied().find(|c| checkers.contains(c))
    }
}

/// One run of a probe: the run's id and each view's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeRun {
    pub run: String,
    pub clients: Verdict,
    pub service: Verdict,
}

impl ProbeRun {
    pub fn verdict(&self, view: View) -> Verdict {
        match view {
            View::Clients => self.clients,
            View::Service => self.service,
        }
    }
}

/// The runs at one size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub size_ms: u64,
    pub runs: Vec<ProbeRun>,
}

impl Probe {
    /// Invalid if a run is, valid if all are, else unknown.
    pub fn verdict(&self, view: View) -> Verdict {
        self.runs.iter().map(|r| r.verdict(view)).fold(Verdict::Valid, Verdict::combine)
    }

    pub fn broken(&self, view: View) -> usize {
        self.runs.iter().filter(|r| r.verdict(view) == Verdict::Invalid).count()
    }
}

/// One view's margin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Margin {
    pub view: View,
    /// The checker that decided it (`None`: the workload has none).
    pub checker: Option<CheckerId>,
    /// The largest size at which every run was valid.
    pub safe_up_to_ms: Option<u64>,
    /// The smallest size at which a run was invalid.
    pub unsafe_from_ms: Option<u64>,
    /// Of the runs at `unsafe_from_ms`, how many broke.
    pub broken_runs: usize,
    /// A size whose verdict was unknown, where the search stopped.
    pub unknown_at_ms: Option<u64>,
    pub words: String,
}

/// A finished (or stopped) study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub study: String,
    pub system: String,
    pub workload: String,
    pub fault: String,
    /// The option the size sets.
    pub flag: String,
    pub ttl_ms: u64,
    pub hold_ms: (u64, u64),
    pub runs_per_probe: usize,
    pub from_ms: u64,
    pub to_ms: u64,
    pub margins: Vec<Margin>,
    /// Every probe, by size.
    pub probes: Vec<Probe>,
    pub runs_spent: usize,
    pub wall_ms: u64,
    /// Why the search ended before each margin was narrowed: the budget.
    pub stopped: Option<String>,
}
