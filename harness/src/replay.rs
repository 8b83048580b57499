//! `run --replay RUN`: a stored run's system, options and seed, with the
//! faults it injected played again at the moments they began, and whether
//! its failure came back. [`crate::shrink`] replays subsets of them.
//!
//! The run's options come back from the command line `test.json` records
//! ([`RunArgs::command`]), its faults from `schedule.json`
//! ([`results::replay::Schedule`]). A fault aimed at a live target (the
//! holder, the leader) finds its target again when it starts.

use std::time::Duration;

use results::replay::{Failure, ReplayTag, ScheduledFault};
use results::{RunResults, Store};

use crate::{Error, RunArgs};

/// The faults a replay plays: which of the original's, by their index in
/// its schedule.
#[derive(Clone, Debug)]
pub struct Replay {
    pub of: String,
    pub faults: Vec<(usize, ScheduledFault)>,
}

impl Replay {
    pub fn tag(&self) -> ReplayTag {
        ReplayTag { of: self.of.clone(), faults: self.faults.iter().map(|(i, _)| *i).collect() }
    }

    /// The plan's steps, on a cluster of `nodes`.
    pub fn steps(&self, nodes: &[String]) -> Result<Vec<nemesis::Step>, Error> {
        let ms = Duration::from_millis;
        self.faults
            .iter()
            .map(|(i, f)| {
                let bad = |why: String| Error::Refused(format!("{}'s schedule.json, fault {i}: {why}", self.of));
                let spec = nemesis::FaultSpec::parse(&f.fault).map_err(|e| bad(e.to_string()))?;
                let times = (ms(f.at_ms), ms(f.duration_ms), ms(f.wait_ms));
                nemesis::Step::replayed(spec, times, f.seed, &f.value, nodes).map_err(bad)
            })
            .collect()
    }
}

/// What a stored run was: its arguments (stored in the same store) and
/// every fault it injected, ready to run again.
pub fn args(store: &Store, of: &str) -> Result<RunArgs, Error> {
    let dir = store.existing_run_dir(of)?;
    let test = results::read_test(&dir)?;
    let refuse = |why: &str| Error::Refused(format!("run {of} cannot be replayed: {why}"));
    let recorded = test.recorded.ok_or_else(|| refuse("it is an imported history, not a run fencepost made"))?;
    if recorded.command.is_empty() {
        return Err(refuse(
            "it was recorded before fencepost kept each run's command line (fencepost 0.1 of December 2026)",
        ));
    }
    // A run without faults has nothing to schedule; one whose faults were
    // all skipped has an empty schedule, and replays as such.
    let schedule = match results::replay::read_schedule(&dir)? {
        Some(schedule) => schedule,
        None if test.nemesis == "none" => Default::default(),
        None => return Err(refuse("it has no schedule.json of the faults it injected (its nemesis failed)")),
    };
    let mut args = crate::options::command_args(&recorded.command, store.dir())?;
    args.replay = Some(Replay { of: of.to_string(), faults: schedule.faults.into_iter().enumerate().collect() });
    Ok(args)
}

/// Whether a replay failed the way the run it replays did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The original did not fail: nothing to come back.
    OriginalPassed,
    CameBack(Failure),
    DidNotComeBack(Failure),
}

impl Outcome {
    pub fn words(&self, of: &str) -> String {
        match self {
            Outcome::OriginalPassed => format!("run {of} found nothing invalid, so there was no failure to come back"),
            Outcome::CameBack(f) => format!("the failure of {of} came back: {}", f.words()),
            Outcome::DidNotComeBack(f) => format!("the failure of {of} did NOT come back ({} there)", f.words()),
        }
    }
}

/// How `again` compares with the stored run `of`.
pub fn outcome(store: &Store, of: &str, again: &RunResults) -> Result<Outcome, Error> {
    let original = results::read_results(&store.existing_run_dir(of)?)?;
    Ok(match Failure::of(&original) {
        None => Outcome::OriginalPassed,
        Some(f) if f.came_back(again) => Outcome::CameBack(f),
        Some(f) => Outcome::DidNotComeBack(f),
    })
}
