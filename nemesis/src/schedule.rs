//! Seeded schedules: the same seed, nodes and options give the same plan.

use std::time::Duration;

use kit::Rng;

use crate::fault::{random_fault, Fault, FaultKind, FaultOptions};

/// One step of a schedule: at `at`, start `fault`; `duration` later, stop it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The kind the user named that this step plays.
    pub kind: FaultKind,
    pub at: Duration,
    pub duration: Duration,
    pub fault: Fault,
}

/// Waits `interval`, injects a fault for `interval` (client pauses: for
/// `options.client_pause`), heals, waits `interval` again, and so on while a
/// whole fault fits before `until`. Kinds are dealt in rounds, each a fresh
/// random order of every kind, so each named kind gets a turn before any
/// gets a second one; a kind too long for the time left is passed over for
/// one that fits. The caller heals everything at the end and keeps a quiet
/// period after `until` before its final reads; [`unplayed`] names the kinds
/// the plan has no room for.
pub fn schedule(
    kinds: &[FaultKind],
    nodes: &[String],
    seed: u64,
    interval: Duration,
    until: Duration,
    options: &FaultOptions,
) -> Vec<Step> {
    let mut rng = Rng::new(seed ^ 0x006e_656d_6573_6973);
    let mut steps = Vec::new();
    if kinds.is_empty() || nodes.is_empty() || interval.is_zero() {
        return steps;
    }
    let length = |kind: FaultKind| if kind == FaultKind::ClientPause { options.client_pause } else { interval };
    let mut round: Vec<FaultKind> = Vec::new();
    let mut at = interval;
    loop {
        if round.is_empty() {
            round = kinds.to_vec();
            for i in (1..round.len()).rev() {
                round.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        let Some(pick) = round.iter().position(|&k| at + length(k) <= until) else { break };
        let kind = round.remove(pick);
        let duration = length(kind);
        let fault = random_fault(kind, nodes, options, &mut rng);
        steps.push(Step { kind, at, duration, fault });
        at += duration + interval;
    }
    steps
}

/// The kinds of `kinds` that `steps` never plays (no room for them).
pub fn unplayed(kinds: &[FaultKind], steps: &[Step]) -> Vec<FaultKind> {
    kinds.iter().copied().filter(|k| !steps.iter().any(|s| s.kind == *k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let kinds = FaultKind::ALL;
        let o = FaultOptions::default();
        let s = Duration::from_secs;
        let a = schedule(kinds, &names(5), 42, s(2), s(120), &o);
        let b = schedule(kinds, &names(5), 42, s(2), s(120), &o);
        let c = schedule(kinds, &names(5), 43, s(2), s(120), &o);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.len() >= 8, "{}", a.len());
        assert!(a.windows(2).all(|w| w[0].at + w[0].duration < w[1].at), "faults do not overlap");
        assert!(a.iter().all(|st| st.at + st.duration <= s(120)), "every fault ends before `until`");
        let kinds_seen: std::collections::BTreeSet<_> = a.iter().map(|st| st.fault.name()).collect();
        assert!(kinds_seen.len() >= 4, "a mix of kinds: {kinds_seen:?}");
    }

    #[test]
    fn client_pauses_last_their_own_duration() {
        let o = FaultOptions { client_pause: Duration::from_secs(7), ..FaultOptions::default() };
        let plan =
            schedule(&[FaultKind::ClientPause], &names(1), 1, Duration::from_secs(2), Duration::from_secs(30), &o);
        assert_eq!(plan.len(), 3);
        assert!(plan.iter().all(|st| st.duration == Duration::from_secs(7)));
    }

    #[test]
    fn every_named_kind_gets_a_turn_when_time_allows() {
        let o = FaultOptions::default();
        let s = Duration::from_secs;
        // A 20 s run (15 s before the quiet period) that once injected two
        // partitions and no kill.
        for seed in 0..50 {
            let kinds = [FaultKind::Partition, FaultKind::Kill];
            let plan = schedule(&kinds, &names(3), seed, s(3), s(15), &o);
            assert_eq!(unplayed(&kinds, &plan), vec![], "seed {seed}: {plan:?}");
        }
        // A client pause too long for the room left is passed over, and named.
        let o = FaultOptions { client_pause: s(20), ..FaultOptions::default() };
        let kinds = [FaultKind::Kill, FaultKind::ClientPause];
        let plan = schedule(&kinds, &names(3), 1, s(2), s(10), &o);
        assert!(plan.iter().all(|st| st.kind == FaultKind::Kill) && !plan.is_empty());
        assert_eq!(unplayed(&kinds, &plan), vec![FaultKind::ClientPause]);
    }

    #[test]
    fn nothing_to_do_gives_an_empty_plan() {
        let o = FaultOptions::default();
        assert!(schedule(&[], &names(3), 1, Duration::from_secs(1), Duration::from_secs(9), &o).is_empty());
        assert!(
            schedule(&[FaultKind::Kill], &names(3), 1, Duration::from_secs(5), Duration::from_secs(9), &o).is_empty()
        );
    }
}
