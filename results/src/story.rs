//! The vendor story of a run or of a comparison cell, in three layers,
//! each with its own verdict: did the **service** keep its promise
//! (`lease-safety`, and `linearizable` against a lease lock), did the
//! **clients** hold one lock (or lead) at once and why (`mutual-exclusion`,
//! `election`, with the overlaps' causes), and did the **data** stay safe
//! (`fencing`, `lost-updates`)? A comparison that cannot tell a lock that
//! broke its promise from a client that outlived its lease tells the user
//! nothing; these layers keep the two apart, and [`overall`] is the one
//! rule that turns them into a run's verdict (and so its exit code).

use std::collections::BTreeMap;

use checker::analysis::Analysis;
use checker::checkers::CheckerId;
use checker::lease::Cause;
use checker::sufficiency::Sufficiency;
use checker::Verdict;
use serde::{Deserialize, Serialize};

/// The three layers of a verdict; which a checker answers for is its
/// registry entry's ([`checker::checkers::checker`]).
pub use checker::checkers::Layer;

/// Each layer's verdict over a run (or the worst over a cell's runs);
/// `None` where no checker of the layer judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layers {
    pub service: Option<Verdict>,
    pub clients: Option<Verdict>,
    pub data: Option<Verdict>,
}

impl Layers {
    pub fn get(&self, layer: Layer) -> Option<Verdict> {
        match layer {
            Layer::Service => self.service,
            Layer::Clients => self.clients,
            Layer::Data => self.data,
        }
    }
}

/// Whether every anomaly of a clients' checker is an overlap the service
/// is not to blame for: the holder's lease ran out (`lease-expired`) or a
/// fault could have ended its session (`session-lost`) before the next
/// grant. A `promise-broken` overlap, an overlap without a cause, or any
/// other anomaly (two leaders of one term, a leader no campaign won) is not.
fn explained(c: &Analysis) -> bool {
    let causes = c.overlap_causes();
    let excused: usize = [Cause::LeaseExpired, Cause::SessionLost].iter().filter_map(|k| causes.get(k)).sum();
    let all = c.anomaly_count();
    all > 0 && excused == all
}

/// The run's verdict, the one rule every command, the index, the compare
/// page and the exit code use: the worst of
/// - the **service** layer (`lease-safety`, `linearizable`),
/// - the **data** layer (`fencing`, `lost-updates`),
/// - the **clients** layer (`mutual-exclusion`, `election`), except that a
///   clients' checker whose every anomaly is explained by the clients' own
///   leases or sessions ending (`lease-expired`, `session-lost`) counts as
///   valid here: the layer stays red, but the vendor did what it promised.
///
/// `availability` informs only. Nothing judged is `valid` (no anomaly
/// found); a run whose nemesis failed is at best `unknown` (the harness
/// adds that).
pub fn overall(checkers: &[Analysis]) -> Verdict {
    checkers
        .iter()
        .filter(|c| c.judges())
        .map(|c| match Layer::of(c.id()) {
            Some(Layer::Clients) if c.validity == Verdict::Invalid && explained(c) => Verdict::Valid,
            _ => c.validity,
        })
        .fold(Verdict::Valid, Verdict::combine)
}

/// Why the overall verdict is what it is, naming the layer that decided
/// it: "the service broke its promise", "the service kept its promise and
/// the data is safe; the clients overlapped only after …".
pub fn overall_words(verdict: Verdict, layers: &Layers) -> String {
    let red = |l: Layer| layers.get(l) == Some(Verdict::Invalid);
    match verdict {
        Verdict::Invalid => {
            let mut why = Vec::new();
            if red(Layer::Service) {
                why.push("the service broke its promise");
            }
            if red(Layer::Data) {
                why.push("the data was not safe");
            }
            if why.is_empty() {
                why.push("clients acted at once for a reason their own leases do not explain");
            }
            why.join("; ")
        }
        Verdict::Unknown => "some layer could not be judged (see its checkers)".into(),
        Verdict::Valid if red(Layer::Clients) => {
            let data = if layers.data.is_some() { " and the data is safe" } else { "" };
            format!(
                "the service kept its promise{data}; the clients overlapped only after their own leases or sessions ended"
            )
        }
        Verdict::Valid => "no layer found a violation".into(),
    }
}

/// Runs by one verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub valid: usize,
    pub invalid: usize,
    pub unknown: usize,
}

impl Tally {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Valid => self.valid += 1,
            Verdict::Invalid => self.invalid += 1,
            Verdict::Unknown => self.unknown += 1,
        }
    }

    fn judged(&self) -> usize {
        self.valid + self.invalid + self.unknown
    }

    /// The worst verdict counted, `None` when none was.
    pub fn worst(&self) -> Option<Verdict> {
        if self.invalid > 0 {
            Some(Verdict::Invalid)
        } else if self.unknown > 0 {
            Some(Verdict::Unknown)
        } else if self.valid > 0 {
            Some(Verdict::Valid)
        } else {
            None
        }
    }
}

/// The three answers over one or more runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Story {
    pub runs: usize,
    /// `lease-safety` over the runs that judged it.
    pub promise: Tally,
    /// The service layer (`lease-safety` and `linearizable` together) over
    /// the runs that judged either.
    #[serde(default)]
    pub service: Tally,
    /// The clients layer (`mutual-exclusion` and `election` together) over
    /// the runs that judged either.
    #[serde(default)]
    pub clients: Tally,
    /// Overlapping holds and leaders by cause, over all runs, and how many
    /// runs had any.
    pub overlaps: BTreeMap<Cause, usize>,
    pub overlap_runs: usize,
    /// Runs whose clients overlapped but whose causes were not judged
    /// (indexed by a fencepost before causes; `runs --reindex` adds them).
    #[serde(default)]
    pub uncaused_runs: usize,
    /// `fencing` and `lost-updates` together (a run's data is safe when
    /// both that judged it are valid), over the runs that judged either.
    pub data: Tally,
    /// Of `fencing` and `lost-updates`, how many runs each found invalid:
    /// which checker says the data was not safe.
    #[serde(default)]
    pub data_broken_by: BTreeMap<CheckerId, usize>,
    /// Runs the election checker judged: their clients are leaders, not
    /// lock holders, and the words say so.
    #[serde(default)]
    pub election_runs: usize,
}

impl Story {
    /// Adds one run, from its checkers' verdicts and its overlaps' causes.
    pub fn add(&mut self, checkers: &BTreeMap<CheckerId, Verdict>, causes: &BTreeMap<Cause, usize>) {
        self.runs += 1;
        if let Some(&v) = checkers.get(&CheckerId::LeaseSafety) {
            self.promise.add(v);
        }
        let layer = |l: Layer| {
            checkers.iter().filter(|(&id, _)| Layer::of(id) == Some(l)).map(|(_, v)| *v).reduce(Verdict::combine)
        };
        if let Some(v) = layer(Layer::Service) {
            self.service.add(v);
        }
        if let Some(v) = layer(Layer::Clients) {
            self.clients.add(v);
        }
        for (cause, n) in causes {
            *self.overlaps.entry(*cause).or_default() += n;
        }
        let caused = causes.values().any(|&n| n > 0);
        self.overlap_runs += usize::from(caused);
        let overlapped = checkers.get(&CheckerId::MutualExclusion) == Some(&Verdict::Invalid);
        self.uncaused_runs += usize::from(overlapped && !caused);
        let data = [CheckerId::Fencing, CheckerId::LostUpdates]
            .iter()
            .filter_map(|c| checkers.get(c))
            .copied()
            .reduce(Verdict::combine);
        if let Some(v) = data {
            self.data.add(v);
        }
        self.election_runs += usize::from(checkers.contains_key(&CheckerId::Election));
        for c in [CheckerId::Fencing, CheckerId::LostUpdates] {
            if checkers.get(&c) == Some(&Verdict::Invalid) {
                *self.data_broken_by.entry(c).or_default() += 1;
            }
        }
    }

    /// One run's story from its checkers' verdicts and overlaps' causes
    /// (an index row).
    pub fn of_verdicts(checkers: &BTreeMap<CheckerId, Verdict>, causes: &BTreeMap<Cause, usize>) -> Story {
        let mut story = Story::default();
        story.add(checkers, causes);
        story
    }

    /// One run's story from its checkers.
    pub fn of(checkers: &[Analysis]) -> Story {
        let verdicts = verdicts(checkers);
        let mut causes = BTreeMap::new();
        for c in checkers {
            for (cause, n) in c.overlap_causes() {
                *causes.entry(cause).or_default() += n;
            }
        }
        let mut story = Story::default();
        story.add(&verdicts, &causes);
        story
    }

    /// Which data checkers found the data not safe: `fencing invalid`,
    /// `fencing and lost-updates invalid`, or over several runs where both
    /// did, `fencing invalid in 2 runs, lost-updates in 1`.
    fn data_breakers(&self) -> String {
        let by: Vec<(&str, usize)> = self.data_broken_by.iter().map(|(c, n)| (c.name(), *n)).collect();
        match by.as_slice() {
            [] => "fencing or lost-updates invalid".into(),
            [(one, _)] => format!("{one} invalid"),
            [(a, _), (b, _)] if self.runs == 1 => format!("{a} and {b} invalid"),
            [(a, n), rest @ ..] => {
                let rest: Vec<String> = rest.iter().map(|(c, n)| format!("{c} in {n}")).collect();
                format!("{a} invalid in {}, {}", checker::analysis::counted(*n, "run", "runs"), rest.join(", "))
            }
        }
    }

    /// Each layer's verdict: the worst over the runs.
    pub fn layers(&self) -> Layers {
        Layers { service: self.service.worst(), clients: self.clients.worst(), data: self.data.worst() }
    }

    /// The answers in words, one line each (`service: …`, `clients: …`,
    /// `data: …`); a question nothing judged is left out.
    pub fn lines(&self) -> Vec<String> {
        self.layer_lines().into_iter().map(|l| l.text).collect()
    }

    /// The answers by layer, each with the layer's verdict; a layer nothing
    /// judged is left out.
    pub fn layer_lines(&self) -> Vec<LayerLine> {
        let layers = self.layers();
        let mut lines: Vec<LayerLine> = Vec::new();
        let mut push = |layer: Layer, text: String| {
            let verdict = layers.get(layer).unwrap_or(Verdict::Unknown);
            lines.push(LayerLine { layer, verdict, text });
        };
        let of_runs =
            |n: usize, judged: usize| if self.runs <= 1 { String::new() } else { format!(" in {n} of {judged} runs") };
        let p = &self.promise;
        let service = &self.service;
        if p.judged() > 0 && (p.invalid > 0 || service.invalid == 0) {
            push(
                Layer::Service,
                if p.invalid > 0 {
                    format!(
                    "service: BROKE its promise{} (lease-safety: a lock granted inside another client's guaranteed window)",
                    of_runs(p.invalid, p.judged())
                )
                } else if p.unknown > 0 {
                    format!("service: unknown{}", of_runs(p.unknown, p.judged()))
                } else {
                    "service: kept its promise (lease-safety: no grant inside another client's guaranteed window)"
                        .into()
                },
            );
        } else if service.judged() > 0 {
            push(
                Layer::Service,
                if service.invalid > 0 {
                    format!(
                    "service: BROKE its promise{} (linearizable: its operations fit no legal order of a lease lock)",
                    of_runs(service.invalid, service.judged())
                )
                } else if service.unknown > 0 {
                    format!("service: unknown{}", of_runs(service.unknown, service.judged()))
                } else {
                    "service: kept its promise (linearizable)".into()
                },
            );
        }
        let total: usize = self.overlaps.values().sum();
        if self.uncaused_runs > 0 {
            push(
                Layer::Clients,
                format!(
                "clients: overlapped{} with causes not recorded in the index (`fencepost runs --reindex` judges them)",
                of_runs(self.uncaused_runs, self.runs)
            ),
            );
        }
        let c = &self.clients;
        if total == 0 {
            if c.invalid > self.uncaused_runs {
                push(
                    Layer::Clients,
                    format!(
                        "clients: INVALID{} (election: leaders no campaign could have won, or two in one term)",
                        of_runs(c.invalid, c.judged())
                    ),
                );
            } else if c.unknown > 0 {
                push(Layer::Clients, format!("clients: unknown{}", of_runs(c.unknown, c.judged())));
            } else if c.judged() > 0 && self.uncaused_runs == 0 {
                let words = if self.election_runs == self.runs {
                    "clients: never two leaders in one term, nor one no campaign won"
                } else {
                    "clients: never held one lock at once"
                };
                push(Layer::Clients, words.into());
            }
        } else {
            let causes: Vec<String> = self.overlaps.iter().map(|(c, n)| format!("{n} {c}")).collect();
            let main = self.overlaps.iter().max_by_key(|(_, n)| **n).map(|(c, _)| *c).expect("some overlap");
            push(
                Layer::Clients,
                format!(
                    "clients: {total} overlapping {}{} — {} (mostly {main}: {})",
                    if total == 1 { "hold" } else { "holds" },
                    of_runs(self.overlap_runs, self.runs),
                    causes.join(", "),
                    main.meaning()
                ),
            );
        }
        let d = &self.data;
        if d.judged() > 0 {
            push(
                Layer::Data,
                if d.invalid > 0 {
                    format!("data: NOT safe{} ({})", of_runs(d.invalid, d.judged()), self.data_breakers())
                } else if d.unknown > 0 {
                    format!("data: unknown{}", of_runs(d.unknown, d.judged()))
                } else if total > 0 {
                    "data: safe — fencing held despite the overlaps".into()
                } else {
                    "data: safe (fencing and lost-updates valid)".into()
                },
            );
        }
        lines
    }
}

/// One layer's answer: its verdict and the words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerLine {
    pub layer: Layer,
    pub verdict: Verdict,
    pub text: String,
}

/// Each checker's verdict; two results under one id (the two
/// `linearizable` models of a lock run) give the worse of their verdicts.
pub fn verdicts(checkers: &[Analysis]) -> BTreeMap<CheckerId, Verdict> {
    let mut all: BTreeMap<CheckerId, Verdict> = BTreeMap::new();
    for c in checkers {
        all.entry(c.id()).and_modify(|v| *v = v.combine(c.validity)).or_insert(c.validity);
    }
    all
}

/// A run's headline: its overall verdict in words and each layer's answer
/// — what `run` prints last, the report shows first and the API returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    pub verdict: Verdict,
    pub words: String,
    pub layers: Layers,
    pub lines: Vec<LayerLine>,
}

impl Headline {
    /// From a run's checkers, its stored overall verdict and what its
    /// history held: a `valid` the evidence bounded at `unknown` says what
    /// was missing rather than blaming a layer.
    pub fn of(verdict: Verdict, checkers: &[Analysis], sufficiency: Option<&Sufficiency>) -> Headline {
        let story = Story::of(checkers);
        let layers = story.layers();
        let words = match sufficiency {
            Some(s) if verdict == Verdict::Unknown && s.bound(overall(checkers)) != overall(checkers) => {
                s.summary.clone()
            }
            _ => overall_words(verdict, &layers),
        };
        let mut lines = story.layer_lines();
        // Grants that arrived already spent are the clients' risk, whatever
        // the verdict: a client acting on one holds nothing.
        let spent = checkers.iter().find_map(|c| match &c.evidence {
            checker::evidence::Evidence::LeaseSafety(e) if !e.spent.is_empty() => Some(&e.spent),
            _ => None,
        });
        if let (Some(spent), Some(line)) = (spent, lines.iter_mut().find(|l| l.layer == Layer::Clients)) {
            let worst = &spent[0];
            line.text.push_str(&format!(
                "; {} already spent (answered after the lease could have run out; worst: process {}, {:.0} ms late)",
                checker::analysis::counted(spent.len(), "grant arrived", "grants arrived"),
                worst.process,
                worst.late() as f64 / 1e6
            ));
        }
        Headline { verdict, words, layers, lines }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use CheckerId::{Fencing, LeaseSafety, MutualExclusion};

    fn run(
        verdicts: &[(CheckerId, Verdict)],
        causes: &[(Cause, usize)],
    ) -> (BTreeMap<CheckerId, Verdict>, BTreeMap<Cause, usize>) {
        (verdicts.iter().copied().collect(), causes.iter().copied().collect())
    }

    #[test]
    fn a_cell_tells_a_broken_promise_from_an_overrun_lease() {
        let mut story = Story::default();
        let (v, c) = run(
            &[(MutualExclusion, Verdict::Invalid), (LeaseSafety, Verdict::Valid), (Fencing, Verdict::Valid)],
            &[(Cause::LeaseExpired, 3)],
        );
        story.add(&v, &c);
        let (v, c) = run(
            &[(MutualExclusion, Verdict::Invalid), (LeaseSafety, Verdict::Invalid), (Fencing, Verdict::Invalid)],
            &[(Cause::PromiseBroken, 1), (Cause::LeaseExpired, 1)],
        );
        story.add(&v, &c);
        story.add(&BTreeMap::new(), &BTreeMap::new());
        assert_eq!(story.lines(), [
            "service: BROKE its promise in 1 of 2 runs (lease-safety: a lock granted inside another client's guaranteed window)",
            "clients: 5 overlapping holds in 2 of 3 runs — 4 lease-expired, 1 promise-broken (mostly lease-expired: the holder overran its lease (fencing is the remedy))",
            "data: NOT safe in 1 of 2 runs (fencing invalid)",
        ]);
    }

    #[test]
    fn nothing_judged_says_nothing_and_a_clean_run_says_so() {
        assert!(Story::default().lines().is_empty());
        let mut story = Story::default();
        let (v, c) = run(&[(MutualExclusion, Verdict::Valid), (LeaseSafety, Verdict::Valid)], &[]);
        story.add(&v, &c);
        assert_eq!(
            story.lines(),
            [
                "service: kept its promise (lease-safety: no grant inside another client's guaranteed window)",
                "clients: never held one lock at once",
            ]
        );
    }

    fn me(validity: Verdict, causes: &[(Cause, usize)]) -> Analysis {
        use checker::evidence::{Evidence, MutualExclusion};
        let causes: BTreeMap<Cause, usize> = causes.iter().copied().collect();
        let overlaps = causes.values().sum();
        Analysis {
            validity,
            summary: String::new(),
            evidence: Evidence::MutualExclusion(MutualExclusion { holds: 4, overlaps, causes, anomalies: Vec::new() }),
        }
    }

    fn ls(validity: Verdict) -> Analysis {
        use checker::evidence::{Evidence, LeaseSafety};
        let broken = usize::from(validity == Verdict::Invalid);
        Analysis {
            validity,
            summary: String::new(),
            evidence: Evidence::LeaseSafety(LeaseSafety {
                windows: 4,
                leases: 4,
                sessions: 0,
                broken,
                anomalies: Vec::new(),
                spent: Vec::new(),
            }),
        }
    }

    /// A grant answered after its lease ran out is said on the clients'
    /// line, with the worst, whatever the verdict.
    #[test]
    fn grants_that_arrived_spent_are_told_on_the_clients_line() {
        use checker::evidence::{Evidence, SpentGrant};
        let mut lease = ls(Verdict::Valid);
        if let Evidence::LeaseSafety(e) = &mut lease.evidence {
            let grant = |process, late_ms: u64| SpentGrant {
                process,
                key: "k0".into(),
                invoked: 0,
                lapsed: 100_000_000,
                granted: 100_000_000 + late_ms * 1_000_000,
            };
            e.spent = vec![grant(3, 250), grant(1, 20)];
        }
        let checkers = [me(Verdict::Valid, &[]), lease];
        let h = Headline::of(overall(&checkers), &checkers, None);
        let clients = h.lines.iter().find(|l| l.layer == Layer::Clients).unwrap();
        assert!(
            clients.text.ends_with("; 2 grants arrived already spent (answered after the lease could have run out; worst: process 3, 250 ms late)"),
            "{}",
            clients.text
        );
    }

    #[test]
    fn overlaps_the_clients_own_leases_explain_do_not_blame_the_vendor() {
        // Client pause: the clients layer is red, the service kept its
        // promise: valid overall.
        let paused = [me(Verdict::Invalid, &[(Cause::LeaseExpired, 2), (Cause::SessionLost, 1)]), ls(Verdict::Valid)];
        assert_eq!(overall(&paused), Verdict::Valid);
        let h = Headline::of(overall(&paused), &paused, None);
        assert_eq!(h.layers, Layers { service: Some(Verdict::Valid), clients: Some(Verdict::Invalid), data: None });
        assert!(h.words.starts_with("the service kept its promise; the clients overlapped"), "{}", h.words);
        assert_eq!(
            h.lines.iter().map(|l| (l.layer, l.verdict)).collect::<Vec<_>>(),
            [(Layer::Service, Verdict::Valid), (Layer::Clients, Verdict::Invalid)]
        );
        // One promise-broken overlap among them: the vendor's.
        let broken =
            [me(Verdict::Invalid, &[(Cause::LeaseExpired, 2), (Cause::PromiseBroken, 1)]), ls(Verdict::Invalid)];
        assert_eq!(overall(&broken), Verdict::Invalid);
        assert_eq!(overall_words(Verdict::Invalid, &Story::of(&broken).layers()), "the service broke its promise");
        // An overlap without a recorded cause (older results): not excused.
        let uncaused = [me(Verdict::Invalid, &[]), ls(Verdict::Valid)];
        assert_eq!(overall(&uncaused), Verdict::Invalid);
        // Unknown anywhere and nothing invalid: unknown.
        assert_eq!(overall(&[me(Verdict::Valid, &[]), ls(Verdict::Unknown)]), Verdict::Unknown);
        assert_eq!(overall(&[]), Verdict::Valid);
        // A checker that panicked: unknown in its layer, unless it only informs.
        let panicked = |id| Analysis::panicked(id, "a bug".into());
        assert_eq!(overall(&[me(Verdict::Valid, &[]), panicked(CheckerId::LeaseSafety)]), Verdict::Unknown);
        assert_eq!(overall(&[me(Verdict::Valid, &[]), panicked(CheckerId::Availability)]), Verdict::Valid);
        let layers = Story::of(&[me(Verdict::Valid, &[]), panicked(CheckerId::LinearizableMutex)]).layers();
        assert_eq!(layers.service, Some(Verdict::Unknown));
    }

    #[test]
    fn two_checkers_of_one_name_give_the_worse_verdict() {
        let lin = |validity| Analysis {
            validity,
            summary: String::new(),
            evidence: checker::evidence::Evidence::LeaseSafety(checker::evidence::LeaseSafety {
                windows: 0,
                leases: 0,
                sessions: 0,
                broken: 0,
                anomalies: Vec::new(),
                spent: Vec::new(),
            }),
        };
        let v = verdicts(&[lin(Verdict::Invalid), lin(Verdict::Valid)]);
        assert_eq!(v.get(&LeaseSafety), Some(&Verdict::Invalid));
        assert_eq!(Layer::of(CheckerId::Linearizable), Some(Layer::Service));
        assert_eq!(Layer::of(CheckerId::LinearizableFencedMutex), Some(Layer::Service));
        assert_eq!(Layer::of(CheckerId::Election), Some(Layer::Clients));
        assert_eq!(Layer::of(CheckerId::LostUpdates), Some(Layer::Data));
        assert_eq!(Layer::of(CheckerId::Availability), None);
    }

    #[test]
    fn an_election_speaks_of_leaders_and_unsafe_data_names_its_checker() {
        let (v, c) = run(&[(CheckerId::Election, Verdict::Valid)], &[]);
        let lines = Story::of_verdicts(&v, &c).lines();
        assert!(
            lines.iter().any(|l| l == "clients: never two leaders in one term, nor one no campaign won"),
            "{lines:?}"
        );
        let (v, c) = run(&[(Fencing, Verdict::Invalid), (CheckerId::LostUpdates, Verdict::Invalid)], &[]);
        let lines = Story::of_verdicts(&v, &c).lines();
        assert!(lines.iter().any(|l| l == "data: NOT safe (fencing and lost-updates invalid)"), "{lines:?}");
        let mut story = Story::default();
        story.add(&v, &c);
        let (v, c) = run(&[(Fencing, Verdict::Invalid), (CheckerId::LostUpdates, Verdict::Valid)], &[]);
        story.add(&v, &c);
        let lines = story.lines();
        assert!(
            lines.iter().any(|l| l == "data: NOT safe in 2 of 2 runs (fencing invalid in 2 runs, lost-updates in 1)"),
            "{lines:?}"
        );
    }
}
