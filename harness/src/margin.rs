//! `fencepost margin`: how large a fault a configuration survives. One
//! fault kind's size (its [`nemesis::Magnitude`]: a pause's length, a
//! kill's downtime, a clock jump) is searched between `from` and `to` for
//! the largest size at which every run of a probe is valid and the smallest
//! at which one is not, for two views that answer different questions:
//! the clients' (`mutual-exclusion`, or `election`: when do two holders
//! first appear) and the service's (`lease-safety`: when does the service
//! break its promise). Each probe is an ordinary stored run tagged with the
//! study ([`results::StudyTag`]), so every number links to its evidence.
//!
//! The search bisects and assumes a larger fault is no safer; a probe whose
//! checker is `unknown` stops that view's search there, since neither side
//! of it is established. A budget stops the search between probes, and the
//! margins say how far it got.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use checker::checkers::CheckerId;
use checker::Verdict;
use nemesis::{FaultSpec, Magnitude};
use results::study::{Margin, Probe, ProbeRun, Study, View};
use results::{Store, StudyTag};
use workloads::CancellationToken;

use crate::run::{prepare, show, Event, RunArgs};
use crate::Error;

/// A study's question.
pub struct MarginArgs {
    /// The run every probe is, but for the fault and its size.
    pub template: RunArgs,
    pub fault: FaultSpec,
    pub from: Duration,
    pub to: Duration,
    /// Runs per probe (seeds `seed`, `seed + 1`, …): a size is safe when
    /// all of them are valid.
    pub runs: usize,
    pub budget: Duration,
}

/// What a study reports as it goes.
pub enum MarginEvent<'a> {
    /// A probe's run is starting.
    Running { size: Duration, seed: u64 },
    /// A probe's run finished.
    Ran { size: Duration, run: &'a ProbeRun },
    /// Something a probe's run said (a note, a blind spot, a warning).
    Run(Event<'a>),
}

/// The sizes are searched to this fraction of the range (and never finer
/// than 50 ms): a margin is a number to compare vendors by, not a bit.
const STEPS: u32 = 16;

/// Runs the study. Every size is checked up front, so that a range the
/// run cannot fit is refused before any cluster starts.
pub async fn margin(
    args: MarginArgs,
    stop: CancellationToken,
    on_event: &(dyn Fn(MarginEvent) + Sync),
) -> Result<Study, Error> {
    if args.from >= args.to {
        return Err(Error::Options(format!("--from {} is not below --to {}", show(args.from), show(args.to))));
    }
    if args.from.is_zero() {
        return Err(Error::Options("--from 0s: a fault of no size is no fault; start above 0".into()));
    }
    // An unknown system is the command line's error, not a size's.
    let system = workloads::systems::lookup(&args.template.system)?;
    if args.runs == 0 {
        return Err(Error::Options("--runs 0: a probe needs at least one run".into()));
    }
    let study = format!("margin-{}", docker::new_run_id());
    let mut search = Search { args: &args, study: &study, probes: BTreeMap::new(), spent: 0, started: Instant::now() };
    check_sizes(&search)?;
    let checkers = args.template.workload.checkers();
    let resolution = ((args.to - args.from) / STEPS).max(Duration::from_millis(50));
    let mut stopped = None;
    let mut failed = None;
    let mut margins = Vec::new();
    for view in View::ALL {
        let Some(checker) = view.checker(checkers) else {
            margins.push(Margin {
                view,
                checker: None,
                safe_up_to_ms: None,
                unsafe_from_ms: None,
                broken_runs: 0,
                unknown_at_ms: None,
                words: format!("the {} workload has no checker for it", args.template.workload.name()),
            });
            continue;
        };
        // A probe that fails ends the study, but what it found is kept.
        let bounds = match search.bisect(view, resolution, &stop, on_event).await {
            Ok(b) => b,
            Err(e) => {
                let b = Bounds { stopped: Some(format!("a probe failed ({e})")), ..Bounds::default() };
                failed = Some(e);
                b
            }
        };
        if bounds.stopped.is_some() {
            stopped = bounds.stopped.clone();
        }
        margins.push(search.margin(view, checker, &bounds));
        if failed.is_some() {
            break;
        }
    }
    let o = &args.template.options;
    let study = Study {
        study: study.clone(),
        system: args.template.system.clone(),
        workload: args.template.workload.name().to_string(),
        fault: args.fault.to_string(),
        flag: args.fault.kind.magnitude().flag().to_string(),
        // The lease as the system keeps it (etcd's whole seconds, ZooKeeper's
        // bounded sessions), not as asked.
        ttl_ms: system.lease(o.ttl).map_or(o.ttl, |l| l.ttl).as_millis() as u64,
        hold_ms: (o.hold.0.as_millis() as u64, o.hold.1.as_millis() as u64),
        runs_per_probe: args.runs,
        from_ms: ms(args.from),
        to_ms: ms(args.to),
        margins,
        probes: search.probes.into_values().collect(),
        runs_spent: search.spent,
        wall_ms: ms(search.started.elapsed()),
        stopped,
    };
    Store::open(&args.template.store).await?.save_study(&study)?;
    match failed {
        Some(e) => Err(e),
        None => Ok(study),
    }
}

/// Refuses, before any cluster starts, a range whose ends the run cannot
/// play as asked: a plan that shortened the fault to fit the run would
/// measure another size than the one it is reported at.
fn check_sizes(search: &Search) -> Result<(), Error> {
    let args = search.args;
    let magnitude = args.fault.kind.magnitude();
    for size in [args.from, args.to] {
        let refused =
            |why: String| Error::Options(format!("{} {} ({}): {why}", magnitude.flag(), show(size), args.fault));
        let prepared =
            prepare(search.probe_args(size, args.template.options.seed)).map_err(|e| refused(e.to_string()))?;
        let sized = matches!(magnitude, Magnitude::Length | Magnitude::ClientPause);
        if let Some(step) = prepared.plan.steps.iter().find(|s| sized && s.duration != size) {
            return Err(refused(format!(
                "a {} run fits it only as {}; give a longer --time-limit or a smaller --to",
                show(args.template.options.time_limit),
                show(step.duration)
            )));
        }
        if prepared.plan.steps.is_empty() {
            return Err(refused(format!("no fault fits a {} run", show(args.template.options.time_limit))));
        }
    }
    Ok(())
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Where one view's search ended.
#[derive(Default)]
struct Bounds {
    safe: Option<Duration>,
    broken: Option<Duration>,
    unknown: Option<Duration>,
    stopped: Option<String>,
}

struct Search<'a> {
    args: &'a MarginArgs,
    study: &'a str,
    /// Every probe so far by size: the views share them.
    probes: BTreeMap<u64, Probe>,
    spent: usize,
    started: Instant,
}

impl Search<'_> {
    fn probe_args(&self, size: Duration, seed: u64) -> RunArgs {
        let mut args = self.args.template.clone();
        args.nemesis = vec![self.args.fault];
        args.options.seed = seed;
        let magnitude = self.args.fault.kind.magnitude();
        magnitude.set(size, &mut args.fault_options, &mut args.nemesis_interval);
        args.study = Some(StudyTag {
            study: self.study.to_string(),
            fault: self.args.fault.to_string(),
            flag: magnitude.flag().to_string(),
            size_ms: ms(size),
        });
        args
    }

    /// The probe at `size`, run now unless it already was.
    async fn probe(
        &mut self,
        size: Duration,
        stop: &CancellationToken,
        on_event: &(dyn Fn(MarginEvent) + Sync),
    ) -> Result<Probe, Error> {
        if let Some(p) = self.probes.get(&ms(size)) {
            return Ok(p.clone());
        }
        let mut runs = Vec::new();
        for i in 0..self.args.runs {
            // A run cut short by the user is no evidence either way.
            if stop.is_cancelled() {
                return Err(Error::Options("stopped by the user".into()));
            }
            let seed = self.args.template.options.seed.wrapping_add(i as u64);
            on_event(MarginEvent::Running { size, seed });
            let relay = |e: Event| on_event(MarginEvent::Run(e));
            let finished = crate::run::run(self.probe_args(size, seed), stop.clone(), &relay).await?;
            self.spent += 1;
            let results = &finished.results;
            // A run the user stopped, or in which no fault of the size was
            // injected (a holder fault that found no holder), says nothing
            // about the size: unknown, never safe.
            let injected = results.sufficiency.as_ref().is_some_and(|s| !s.faults.is_empty());
            let verdict = |view: View| {
                let checker = view.checker(self.args.template.workload.checkers());
                match results.checkers.iter().find(|a| Some(a.id()) == checker) {
                    Some(_) if results.interrupted || !injected => Verdict::Unknown,
                    Some(a) => a.validity,
                    None => Verdict::Unknown,
                }
            };
            let run =
                ProbeRun { run: finished.id.clone(), clients: verdict(View::Clients), service: verdict(View::Service) };
            on_event(MarginEvent::Ran { size, run: &run });
            runs.push(run);
        }
        let probe = Probe { size_ms: ms(size), runs };
        self.probes.insert(ms(size), probe.clone());
        Ok(probe)
    }

    /// Whether the budget leaves room for one more probe, judged by the
    /// probes so far.
    fn affordable(&self) -> bool {
        let elapsed = self.started.elapsed();
        let per_run = if self.spent == 0 { Duration::ZERO } else { elapsed / self.spent as u32 };
        elapsed + per_run * self.args.runs as u32 <= self.args.budget
    }

    async fn bisect(
        &mut self,
        view: View,
        resolution: Duration,
        stop: &CancellationToken,
        on_event: &(dyn Fn(MarginEvent) + Sync),
    ) -> Result<Bounds, Error> {
        let mut b = Bounds::default();
        // The ends first: no break at `to` ends the search, and neither
        // does one already at `from`.
        for size in [self.args.to, self.args.from] {
            let cached = self.probes.contains_key(&ms(size));
            if !cached && (stop.is_cancelled() || !self.affordable()) {
                b.stopped = Some(self.stop_reason(stop));
                return Ok(b);
            }
            match self.probe(size, stop, on_event).await?.verdict(view) {
                Verdict::Valid if size == self.args.to => {
                    b.safe = Some(size);
                    return Ok(b);
                }
                Verdict::Valid => b.safe = Some(size),
                Verdict::Invalid => {
                    b.broken = Some(size);
                    if size == self.args.from {
                        return Ok(b);
                    }
                }
                Verdict::Unknown => {
                    b.unknown = Some(size);
                    return Ok(b);
                }
            }
        }
        while let (Some(lo), Some(hi)) = (b.safe, b.broken) {
            if hi - lo <= resolution {
                break;
            }
            let mid = Duration::from_millis(ms(lo + (hi - lo) / 2));
            // A size the other view probed costs nothing.
            if !self.probes.contains_key(&ms(mid)) && (stop.is_cancelled() || !self.affordable()) {
                b.stopped = Some(self.stop_reason(stop));
                break;
            }
            match self.probe(mid, stop, on_event).await?.verdict(view) {
                Verdict::Valid => b.safe = Some(mid),
                Verdict::Invalid => b.broken = Some(mid),
                Verdict::Unknown => {
                    b.unknown = Some(mid);
                    break;
                }
            }
        }
        Ok(b)
    }

    fn stop_reason(&self, stop: &CancellationToken) -> String {
        if stop.is_cancelled() {
            "stopped by the user".into()
        } else {
            format!("the budget ({}) ran out", show(self.args.budget))
        }
    }

    fn margin(&self, view: View, checker: CheckerId, b: &Bounds) -> Margin {
        // Every probe counts, the other view's too: the smallest size that
        // broke, and the largest below it that held. Sizes that held above
        // a break are said, not hidden: either safety is not ordered by
        // size here or one run per size was too few.
        let verdicts: Vec<(u64, Verdict)> = self.probes.values().map(|p| (p.size_ms, p.verdict(view))).collect();
        let broken = verdicts.iter().find(|(_, v)| *v == Verdict::Invalid).map(|(s, _)| *s);
        let held = |below: Option<u64>| {
            verdicts.iter().filter(|(s, v)| *v == Verdict::Valid && below.is_none_or(|b| *s < b)).map(|(s, _)| *s).max()
        };
        let safe = held(broken);
        let again: Vec<u64> = verdicts
            .iter()
            .filter(|(s, v)| *v == Verdict::Valid && broken.is_some_and(|b| *s > b))
            .map(|(s, _)| *s)
            .collect();
        let at = |size: u64| show(Duration::from_millis(size));
        let broken_runs = broken.and_then(|s| self.probes.get(&s)).map_or(0, |p| p.broken(view));
        let n = self.args.runs;
        let mut words = match (safe, broken) {
            (Some(safe), None) if safe == ms(self.args.to) => format!("no break found up to {}", at(safe)),
            (Some(safe), None) => format!("safe up to {}", at(safe)),
            (None, Some(broken)) if broken == ms(self.args.from) => {
                format!("unsafe already at {} ({broken_runs}/{n} runs)", at(broken))
            }
            (None, Some(broken)) => {
                format!("unsafe at {} ({broken_runs}/{n} runs); nothing smaller probed", at(broken))
            }
            (Some(safe), Some(broken)) => {
                format!("safe up to {}, unsafe from {} ({broken_runs}/{n} runs)", at(safe), at(broken))
            }
            (None, None) => "not measured".into(),
        };
        if !again.is_empty() {
            let sizes: Vec<String> = again.iter().map(|s| at(*s)).collect();
            words.push_str(&format!(
                "; yet valid again at {} (larger is not always worse here, or {} per size too few: raise --runs)",
                sizes.join(", "),
                checker::analysis::counted(n, "run", "runs")
            ));
        }
        if let Some(u) = b.unknown {
            words.push_str(&format!(
                "; unknown at {} (a run's {checker} could not judge), so the search stopped",
                show(u)
            ));
        }
        if let Some(why) = &b.stopped {
            words.push_str(&format!("; {why} before it narrowed further"));
        }
        Margin {
            view,
            checker: Some(checker),
            safe_up_to_ms: safe,
            unsafe_from_ms: broken,
            broken_runs,
            unknown_at_ms: b.unknown.map(ms),
            words,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(from: u64, to: u64) -> MarginArgs {
        MarginArgs {
            template: RunArgs {
                system: "redis".into(),
                workload: workloads::Workload::Lock,
                options: Default::default(),
                store: std::env::temp_dir(),
                nemesis: Vec::new(),
                nemesis_interval: None,
                quiet: Duration::from_secs(1),
                fault_options: nemesis::FaultOptions::default(),
                endpoints: Vec::new(),
                leases: Default::default(),
                scenario: None,
                study: None,
                ssh: None,
                replay: None,
            },
            fault: FaultSpec::parse("client-pause").unwrap(),
            from: Duration::from_millis(from),
            to: Duration::from_millis(to),
            runs: 1,
            budget: Duration::from_secs(60),
        }
    }

    /// The margin a view reads off `probes` (size in ms, clients' verdict).
    fn margin_of(args: &MarginArgs, probes: &[(u64, Verdict)]) -> Margin {
        let mut search = Search { args, study: "s", probes: BTreeMap::new(), spent: 0, started: Instant::now() };
        for &(size_ms, clients) in probes {
            let run = ProbeRun { run: format!("r{size_ms}"), clients, service: Verdict::Valid };
            search.probes.insert(size_ms, Probe { size_ms, runs: vec![run] });
        }
        search.margin(View::Clients, CheckerId::MutualExclusion, &Bounds::default())
    }

    #[test]
    fn a_margin_is_the_smallest_break_and_the_largest_hold_below_it() {
        let a = args(1000, 3000);
        let m = margin_of(&a, &[(1000, Verdict::Valid), (2000, Verdict::Invalid), (1500, Verdict::Valid)]);
        assert_eq!((m.safe_up_to_ms, m.unsafe_from_ms, m.broken_runs), (Some(1500), Some(2000), 1));
        assert_eq!(m.words, "safe up to 1.5s, unsafe from 2s (1/1 runs)");
        let m = margin_of(&a, &[(3000, Verdict::Valid)]);
        assert_eq!((m.safe_up_to_ms, m.unsafe_from_ms), (Some(3000), None));
        assert_eq!(m.words, "no break found up to 3s");
    }

    #[test]
    fn a_hold_above_a_break_is_said_and_a_break_without_smaller_probes_is_not_called_already() {
        let a = args(1000, 3000);
        let m = margin_of(&a, &[(1000, Verdict::Invalid), (3000, Verdict::Valid)]);
        assert_eq!((m.safe_up_to_ms, m.unsafe_from_ms), (None, Some(1000)));
        assert!(m.words.starts_with("unsafe already at 1s (1/1 runs); yet valid again at 3s"), "{}", m.words);
        let m = margin_of(&a, &[(3000, Verdict::Invalid)]);
        assert_eq!(m.words, "unsafe at 3s (1/1 runs); nothing smaller probed");
        // An unknown probe is neither side.
        let m = margin_of(&a, &[(1000, Verdict::Valid), (2000, Verdict::Unknown), (3000, Verdict::Invalid)]);
        assert_eq!((m.safe_up_to_ms, m.unsafe_from_ms), (Some(1000), Some(3000)));
    }
}
