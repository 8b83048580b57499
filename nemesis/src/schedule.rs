//! Seeded schedules: the same seed, nodes and options give the same plan.

use std::time::Duration;

use kit::Rng;
use ops::faults::FaultInfo;

use crate::fault::{planned_fault, Aimed, Fault, FaultOptions, FaultSpec};

/// One step of a schedule: at `at`, start `fault`; `duration` later, stop it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The fault the user named that this step plays.
    pub spec: FaultSpec,
    pub at: Duration,
    pub duration: Duration,
    /// How long a live target (the holder) may be waited for before the
    /// step is skipped: the interval, or less where the next step or the
    /// quiet period comes sooner, so a late fault never overlaps either.
    pub wait: Duration,
    /// For a live target, the fault with no nodes yet: the nemesis fills
    /// them in when it starts.
    pub fault: Fault,
    /// Seeds the choices made when the fault starts (which holder, which
    /// of its nodes), so they too follow from the run's seed.
    pub seed: u64,
}

impl Step {
    /// The fault as planned, with its rule (what `run --plan` prints).
    pub fn aimed(&self) -> Aimed {
        Aimed::new(self.fault.clone(), self.spec.target)
    }

    /// A step that plays again, at `at`, the fault a run recorded as
    /// `info` (on a cluster of `nodes`). A live target (the holder, the
    /// leader) is found again when it starts: the replay's holder holds
    /// where its own grant was made, which need not be where the
    /// original's was. The error names what the record lacks.
    pub fn replayed(
        spec: FaultSpec,
        (at, duration, wait): (Duration, Duration, Duration),
        seed: u64,
        info: &FaultInfo,
        nodes: &[String],
    ) -> Result<Step, String> {
        let mut fault = spec.kind.replayed(info)?;
        if spec.target.is_live() && !spec.kind.on_clients() {
            // Aimed at no node is unaimed: every kind's `aim` replaces
            // its nodes with the chosen ones.
            fault = fault.aimed_at(&[], nodes);
        }
        Ok(Step { spec, at, duration, wait, fault, seed })
    }
}

/// Waits `interval`, injects a fault for `interval` (client pauses: for
/// `options.client_pause`), heals, waits `interval` again, and so on while a
/// whole fault fits before `until`. Kinds are dealt in rounds, each a fresh
/// random order of every kind, so each named kind gets a turn before any
/// gets a second one; a kind too long for the time left is passed over for
/// one that fits. The caller heals everything at the end and keeps a quiet
/// period after `until` before its final reads; [`unplayed`] names the kinds
/// the plan has no room for. Targets the plan can decide (`majority`,
/// `minority`, `all`) are chosen here; live ones when each fault starts.
pub fn schedule(
    kinds: &[FaultSpec],
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
    let length = |spec: FaultSpec| spec.kind.length(options, interval);
    let mut round: Vec<FaultSpec> = Vec::new();
    let mut at = interval;
    loop {
        if round.is_empty() {
            round = kinds.to_vec();
            for i in (1..round.len()).rev() {
                round.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        let Some(pick) = round.iter().position(|&k| at + length(k) <= until) else { break };
        let spec = round.remove(pick);
        let duration = length(spec);
        let fault = planned_fault(spec, nodes, options, &mut rng);
        // Derived, not drawn: the plan's other choices stay what they were.
        let step_seed = seed ^ (steps.len() as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        steps.push(Step { spec, at, duration, wait: interval, fault, seed: step_seed });
        at += duration + interval;
    }
    // Each step's wait ends where the next step (or the room) would begin.
    let starts: Vec<Duration> = steps.iter().skip(1).map(|s| s.at).chain([until]).collect();
    for (step, next) in steps.iter_mut().zip(starts) {
        step.wait = step.wait.min(next.saturating_sub(step.at + step.duration));
    }
    steps
}

/// The faults of `kinds` that `steps` never plays (no room for them).
pub fn unplayed(kinds: &[FaultSpec], steps: &[Step]) -> Vec<FaultSpec> {
    kinds.iter().copied().filter(|k| !steps.iter().any(|s| s.spec == *k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FaultKind;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn plain(kinds: &[FaultKind]) -> Vec<FaultSpec> {
        kinds.iter().map(|&k| FaultSpec::plain(k)).collect()
    }

    /// Every kind's recorded value gives back the fault it describes, at
    /// every target; a live target's replay is unaimed, found again live.
    #[test]
    fn a_recorded_fault_replays_as_itself() {
        let nodes = names(5);
        let o = FaultOptions::default();
        let s = Duration::from_secs;
        let mut seen = std::collections::BTreeSet::new();
        for (i, &target) in crate::Target::ALL.iter().enumerate() {
            let specs: Vec<FaultSpec> = FaultKind::ALL
                .iter()
                .filter(|k| k.cannot_aim(target).is_none())
                .map(|&kind| FaultSpec { kind, target })
                .collect();
            for step in schedule(&specs, &nodes, i as u64, s(2), s(200), &o) {
                let aimed =
                    if target.is_live() { step.fault.aimed_at(&nodes[1..3], &nodes) } else { step.fault.clone() };
                let info = aimed.describe();
                let times = (step.at, step.duration, step.wait);
                let again = Step::replayed(step.spec, times, step.seed, &info, &nodes).unwrap();
                assert_eq!(again.fault, if target.is_live() { step.fault.clone() } else { aimed }, "{info:?}");
                seen.insert(step.spec.kind);
            }
        }
        assert_eq!(seen.len(), FaultKind::ALL.len(), "{seen:?}");
        let lacking = FaultKind::Clock.replayed(&ops::faults::FaultInfo::default()).unwrap_err();
        assert_eq!(lacking, "the recorded fault has no `offset_ms`");
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let kinds = &plain(FaultKind::ALL);
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
        let plan = schedule(
            &plain(&[FaultKind::ClientPause]),
            &names(1),
            1,
            Duration::from_secs(2),
            Duration::from_secs(30),
            &o,
        );
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
            let kinds = plain(&[FaultKind::Partition, FaultKind::Kill]);
            let plan = schedule(&kinds, &names(3), seed, s(3), s(15), &o);
            assert_eq!(unplayed(&kinds, &plan), vec![], "seed {seed}: {plan:?}");
        }
        // A client pause too long for the room left is passed over, and named.
        let o = FaultOptions { client_pause: s(20), ..FaultOptions::default() };
        let kinds = plain(&[FaultKind::Kill, FaultKind::ClientPause]);
        let plan = schedule(&kinds, &names(3), 1, s(2), s(10), &o);
        assert!(plan.iter().all(|st| st.spec.kind == FaultKind::Kill) && !plan.is_empty());
        assert_eq!(unplayed(&kinds, &plan), plain(&[FaultKind::ClientPause]));
    }

    #[test]
    fn aimed_steps_wait_at_most_until_the_next_step_or_the_end() {
        let o = FaultOptions::default();
        let s = Duration::from_secs;
        let specs = FaultSpec::parse_list("kill:holder,clock:majority,pause").unwrap();
        let plan = schedule(&specs, &names(5), 7, s(2), s(17), &o);
        assert_eq!(unplayed(&specs, &plan), vec![]);
        for (i, step) in plan.iter().enumerate() {
            let next = plan.get(i + 1).map_or(s(17), |n| n.at);
            assert!(step.wait <= s(2) && step.at + step.duration + step.wait <= next, "{step:?}");
            match step.spec.target {
                // Live: no nodes until it starts.
                crate::Target::Holder => assert!(step.fault.targets().is_empty(), "{step:?}"),
                crate::Target::Majority => assert_eq!(step.fault.targets().len(), 3, "{step:?}"),
                _ => assert_eq!(step.fault.targets().len(), 1, "{step:?}"),
            }
        }
        // The last fault ends 1 s before the room does: it may wait 1 s.
        let plan = schedule(&specs[..1], &names(1), 7, s(2), s(9), &o);
        assert_eq!(plan.iter().map(|st| (st.at, st.wait)).collect::<Vec<_>>(), [(s(2), s(2)), (s(6), s(1))]);
        // Steps draw their own seeds, the same each time.
        assert_eq!(plan, schedule(&specs[..1], &names(1), 7, s(2), s(9), &o));
        assert_ne!(plan[0].seed, plan[1].seed);
    }

    #[test]
    fn clock_modes_pick_the_direction_and_change_nothing_else() {
        use crate::{ClockMode, Fault};
        let s = Duration::from_secs;
        let clock = |f: &Fault| match f {
            Fault::Clock(crate::Clock { offset_ms, strobe_ms, .. }) => Some((*offset_ms, *strobe_ms)),
            _ => None,
        };
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..40 {
            for mix in ["clock,kill", "clock:holder", "clock:majority,pause"] {
                let specs = FaultSpec::parse_list(mix).unwrap();
                let plan = |clock_mode| {
                    let o = FaultOptions { clock_offset: s(20), clock_mode, ..FaultOptions::default() };
                    schedule(&specs, &names(5), seed, s(2), s(30), &o)
                };
                let random = plan(ClockMode::Random);
                for mode in [ClockMode::Forward, ClockMode::Backward, ClockMode::Strobe] {
                    let moded = plan(mode);
                    assert_eq!(moded.len(), random.len(), "{mode} {mix} seed {seed}");
                    for (a, b) in random.iter().zip(&moded) {
                        assert_eq!(
                            (a.at, a.duration, a.spec, a.fault.targets()),
                            (b.at, b.duration, b.spec, b.fault.targets())
                        );
                        match (clock(&b.fault), mode) {
                            (None, _) => assert_eq!(a.fault, b.fault, "{mode}: other faults as in random"),
                            (Some((offset, strobe)), ClockMode::Forward) => {
                                assert_eq!((offset, strobe), (20_000, 0), "{mode} {mix} seed {seed}")
                            }
                            (Some((offset, strobe)), ClockMode::Backward) => assert_eq!((offset, strobe), (-20_000, 0)),
                            (Some((offset, strobe)), _) => assert!(offset == 0 && strobe.abs() == 20_000),
                        }
                    }
                }
                seen.extend(random.iter().filter_map(|st| clock(&st.fault)));
            }
        }
        // Random still draws all four: jumps and strobes, either way.
        assert_eq!(seen, [(-20_000, 0), (0, -20_000), (0, 20_000), (20_000, 0)].into_iter().collect());
    }

    #[test]
    fn clock_modes_are_named_as_users_type_them() {
        use crate::ClockMode;
        assert_eq!(ClockMode::default(), ClockMode::Random);
        for (name, mode) in
            [("random", ClockMode::Random), ("forward", ClockMode::Forward), ("strobe", ClockMode::Strobe)]
        {
            assert_eq!((ClockMode::parse(name).unwrap(), mode.name()), (mode, name));
        }
        let e = ClockMode::parse("ahead").unwrap_err().to_string();
        assert_eq!(e, "unknown clock mode `ahead` (known: random, forward, backward, strobe)");
    }

    #[test]
    fn nothing_to_do_gives_an_empty_plan() {
        let o = FaultOptions::default();
        assert!(schedule(&[], &names(3), 1, Duration::from_secs(1), Duration::from_secs(9), &o).is_empty());
        let kill = plain(&[FaultKind::Kill]);
        assert!(schedule(&kill, &names(3), 1, Duration::from_secs(5), Duration::from_secs(9), &o).is_empty());
    }
}
