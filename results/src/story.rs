//! The vendor story of a run or of a comparison cell, in three answers:
//! did the service keep its promise (`lease-safety`), did clients hold one
//! lock (or lead) at once and why (the overlaps' causes), and did fencing
//! save the data (`fencing` and `lost-updates`)? A comparison that cannot
//! tell a lock that broke its promise from a client that outlived its lease
//! tells the user nothing; these answers keep the two apart.

use std::collections::BTreeMap;

use checker::analysis::Analysis;
use checker::lease::Cause;
use checker::Verdict;
use serde::{Deserialize, Serialize};

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
}

/// The three answers over one or more runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Story {
    pub runs: usize,
    /// `lease-safety` over the runs that judged it.
    pub promise: Tally,
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
}

impl Story {
    /// Adds one run, from its checkers' verdicts (by name) and its
    /// overlaps' causes.
    pub fn add(&mut self, checkers: &BTreeMap<String, Verdict>, causes: &BTreeMap<Cause, usize>) {
        self.runs += 1;
        if let Some(&v) = checkers.get("lease-safety") {
            self.promise.add(v);
        }
        for (cause, n) in causes {
            *self.overlaps.entry(*cause).or_default() += n;
        }
        let caused = causes.values().any(|&n| n > 0);
        self.overlap_runs += usize::from(caused);
        let overlapped = checkers.get("mutual-exclusion") == Some(&Verdict::Invalid);
        self.uncaused_runs += usize::from(overlapped && !caused);
        let data =
            ["fencing", "lost-updates"].iter().filter_map(|c| checkers.get(*c)).copied().reduce(Verdict::combine);
        if let Some(v) = data {
            self.data.add(v);
        }
    }

    /// One run's story from its checkers.
    pub fn of(checkers: &[Analysis]) -> Story {
        let verdicts = checkers.iter().map(|c| (c.checker().to_string(), c.validity)).collect();
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

    /// The answers in words, one line each (`service: …`, `clients: …`,
    /// `data: …`); a question nothing judged is left out.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let of_runs =
            |n: usize, judged: usize| if self.runs <= 1 { String::new() } else { format!(" in {n} of {judged} runs") };
        let p = &self.promise;
        if p.judged() > 0 {
            lines.push(if p.invalid > 0 {
                format!(
                    "service: BROKE its promise{} (lease-safety: a lock granted inside another client's guaranteed window)",
                    of_runs(p.invalid, p.judged())
                )
            } else if p.unknown > 0 {
                format!("service: unknown{}", of_runs(p.unknown, p.judged()))
            } else {
                "service: kept its promise (lease-safety: no grant inside another client's guaranteed window)".into()
            });
        }
        let total: usize = self.overlaps.values().sum();
        if self.uncaused_runs > 0 {
            lines.push(format!(
                "clients: overlapped{} with causes not recorded in the index (`fencepost runs --reindex` judges them)",
                of_runs(self.uncaused_runs, self.runs)
            ));
        }
        if total == 0 {
            if p.judged() > 0 && self.uncaused_runs == 0 {
                lines.push("clients: never held one lock at once".into());
            }
        } else {
            let causes: Vec<String> = self.overlaps.iter().map(|(c, n)| format!("{n} {c}")).collect();
            let main = self.overlaps.iter().max_by_key(|(_, n)| **n).map(|(c, _)| *c).expect("some overlap");
            lines.push(format!(
                "clients: {total} overlapping holds{} — {} (mostly {main}: {})",
                of_runs(self.overlap_runs, self.runs),
                causes.join(", "),
                main.meaning()
            ));
        }
        let d = &self.data;
        if d.judged() > 0 {
            lines.push(if d.invalid > 0 {
                format!("data: NOT safe{} (fencing or lost-updates invalid)", of_runs(d.invalid, d.judged()))
            } else if d.unknown > 0 {
                format!("data: unknown{}", of_runs(d.unknown, d.judged()))
            } else if total > 0 {
                "data: safe — fencing held despite the overlaps".into()
            } else {
                "data: safe (fencing and lost-updates valid)".into()
            });
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        verdicts: &[(&str, Verdict)],
        causes: &[(Cause, usize)],
    ) -> (BTreeMap<String, Verdict>, BTreeMap<Cause, usize>) {
        (verdicts.iter().map(|(c, v)| (c.to_string(), *v)).collect(), causes.iter().copied().collect())
    }

    #[test]
    fn a_cell_tells_a_broken_promise_from_an_overrun_lease() {
        let mut story = Story::default();
        let (v, c) = run(
            &[("mutual-exclusion", Verdict::Invalid), ("lease-safety", Verdict::Valid), ("fencing", Verdict::Valid)],
            &[(Cause::LeaseExpired, 3)],
        );
        story.add(&v, &c);
        let (v, c) = run(
            &[
                ("mutual-exclusion", Verdict::Invalid),
                ("lease-safety", Verdict::Invalid),
                ("fencing", Verdict::Invalid),
            ],
            &[(Cause::PromiseBroken, 1), (Cause::LeaseExpired, 1)],
        );
        story.add(&v, &c);
        story.add(&BTreeMap::new(), &BTreeMap::new());
        assert_eq!(story.lines(), [
            "service: BROKE its promise in 1 of 2 runs (lease-safety: a lock granted inside another client's guaranteed window)",
            "clients: 5 overlapping holds in 2 of 3 runs — 4 lease-expired, 1 promise-broken (mostly lease-expired: the holder overran its lease (fencing is the remedy))",
            "data: NOT safe in 1 of 2 runs (fencing or lost-updates invalid)",
        ]);
    }

    #[test]
    fn nothing_judged_says_nothing_and_a_clean_run_says_so() {
        assert!(Story::default().lines().is_empty());
        let mut story = Story::default();
        let (v, c) = run(&[("mutual-exclusion", Verdict::Valid), ("lease-safety", Verdict::Valid)], &[]);
        story.add(&v, &c);
        assert_eq!(
            story.lines(),
            [
                "service: kept its promise (lease-safety: no grant inside another client's guaranteed window)",
                "clients: never held one lock at once",
            ]
        );
    }
}
