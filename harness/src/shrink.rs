//! `fencepost shrink RUN`: a failing run reduced to the fewest faults, the
//! shortest time limit and the fewest clients that still fail the same way
//! ([`Failure::came_back`]). Each attempt is a replay ([`crate::replay`]) of
//! a subset of the run's recorded faults, stored like any run. Faults are
//! reduced by delta debugging (Zeller's ddmin: halves, then quarters…, a
//! part or its complement kept whenever it still fails); the time limit is
//! cut to just after the last kept fault; clients are halved while it still
//! fails. What is kept is written beside the run as `shrunk.json`.
//!
//! Replays are not deterministic (a holder fault finds the holder again,
//! the scheduler decides the rest): an attempt that does not fail only
//! means this attempt did not, and the result is the smallest run seen
//! failing, which `run --replay` of it plays again.

use std::time::{Duration, Instant};

use results::replay::{Attempt, Failure, ScheduledFault, Shrunk};
use results::Store;
use workloads::CancellationToken;

use crate::replay::Replay;
use crate::run::{Event, RunArgs};
use crate::Error;

/// What a shrink reports as it goes.
pub enum ShrinkEvent<'a> {
    /// An attempt finished.
    Tried(&'a Attempt),
    /// Something an attempt's run said (a note, a warning).
    Run(Event<'a>),
}

/// Shrinks stored run `of` within `budget` (checked between attempts).
pub async fn shrink(
    store: &Store,
    of: &str,
    budget: Duration,
    stop: CancellationToken,
    on_event: &(dyn Fn(ShrinkEvent) + Sync),
) -> Result<Shrunk, Error> {
    let original = crate::replay::args(store, of)?;
    let results = results::read_results(&store.existing_run_dir(of)?)?;
    let failure = Failure::of(&results)
        .ok_or_else(|| Error::Refused(format!("run {of} found nothing invalid: there is no failure to shrink")))?;
    let all = original.replay.as_ref().map(|r| r.faults.clone()).unwrap_or_default();
    let mut search = Search {
        original: &original,
        failure: &failure,
        budget,
        started: Instant::now(),
        stop,
        on_event,
        attempts: Vec::new(),
        minimal: None,
    };
    // The faults first: each attempt with the time limit cut to fit them.
    // An attempt that could not run ends the search, keeping what it found.
    let searched = async {
        let faults = search.ddmin(all.clone()).await?;
        search.fewest_clients(&faults).await
    }
    .await;
    if let (Err(e), None) = (&searched, &search.minimal) {
        return Err(Error::Refused(format!("shrinking run {of}: {e}")));
    }
    let (minimal, kept) = match &search.minimal {
        Some(m) => m.clone(),
        None => {
            return Err(Error::Refused(format!(
                "no replay of run {of} failed the same way ({} tried): it does not reproduce, so it cannot be shrunk",
                search.attempts.len()
            )))
        }
    };
    let o = &original.options;
    let shrunk = Shrunk {
        minimal,
        faults: [kept.faults, all.len()],
        time_limit_ms: [kept.time_limit_ms, o.time_limit.as_millis() as u64],
        concurrency: [kept.concurrency, o.concurrency],
        attempts: search.attempts,
        failure,
    };
    results::write_json(&store.existing_run_dir(of)?.join("shrunk.json"), &shrunk)?;
    searched.map(|_| shrunk)
}

struct Search<'a> {
    original: &'a RunArgs,
    failure: &'a Failure,
    budget: Duration,
    started: Instant,
    stop: CancellationToken,
    on_event: &'a (dyn Fn(ShrinkEvent) + Sync),
    attempts: Vec<Attempt>,
    /// The smallest run that failed the same way, and its attempt.
    minimal: Option<(String, Attempt)>,
}

impl Search<'_> {
    fn out_of_time(&self) -> bool {
        self.stop.is_cancelled() || self.started.elapsed() >= self.budget
    }

    /// The original's arguments replaying `faults` with `concurrency`
    /// clients, for just long enough: the last fault's end plus the
    /// original's quiet period (never longer than the original).
    fn attempt_args(&self, faults: &[(usize, ScheduledFault)], concurrency: usize) -> RunArgs {
        let mut args = self.original.clone();
        let end = faults.iter().map(|(_, f)| f.at_ms + f.duration_ms).max().unwrap_or(0);
        let needed = Duration::from_millis(end) + args.quiet + Duration::from_secs(1);
        args.options.time_limit = args.options.time_limit.min(needed);
        args.options.concurrency = concurrency;
        // The kinds it plays, so the attempt's test.json names only those.
        args.nemesis = Vec::new();
        args.nemesis = faults.iter().filter_map(|(_, f)| nemesis::FaultSpec::parse(&f.fault).ok()).collect();
        // In the order `--nemesis` is read in, so the attempts group with
        // runs of the same faults in `runs` and `compare`.
        args.nemesis.sort();
        args.nemesis.dedup();
        let of = self.original.replay.as_ref().map_or_else(String::new, |r| r.of.clone());
        args.replay = Some(Replay { of, faults: faults.to_vec() });
        args
    }

    /// Runs one attempt; whether it failed the same way.
    async fn fails(&mut self, faults: &[(usize, ScheduledFault)], concurrency: usize) -> Result<bool, Error> {
        let args = self.attempt_args(faults, concurrency);
        let time_limit_ms = args.options.time_limit.as_millis() as u64;
        let relay = |e: Event| (self.on_event)(ShrinkEvent::Run(e));
        let finished = crate::run::run(args, self.stop.clone(), &relay).await?;
        let same = !finished.results.interrupted && self.failure.came_back(&finished.results);
        let attempt = Attempt {
            run: finished.id.clone(),
            faults: faults.len(),
            time_limit_ms,
            concurrency,
            failed_the_same_way: same,
        };
        (self.on_event)(ShrinkEvent::Tried(&attempt));
        if same {
            let smaller = self.minimal.as_ref().is_none_or(|(_, m)| {
                (attempt.faults, attempt.concurrency, attempt.time_limit_ms)
                    <= (m.faults, m.concurrency, m.time_limit_ms)
            });
            if smaller {
                self.minimal = Some((finished.id, attempt.clone()));
            }
        }
        self.attempts.push(attempt);
        Ok(same)
    }

    /// Delta debugging over the faults: the smallest set seen failing.
    async fn ddmin(&mut self, mut faults: Vec<(usize, ScheduledFault)>) -> Result<Vec<(usize, ScheduledFault)>, Error> {
        let clients = self.original.options.concurrency;
        // The whole schedule first: a run that does not fail again as it
        // was recorded gives nothing to reduce.
        if !self.fails(&faults, clients).await? {
            return Ok(faults);
        }
        let mut parts = 2;
        while faults.len() >= 2 && !self.out_of_time() {
            let chunks = split(&faults, parts);
            let mut reduced = false;
            for chunk in &chunks {
                if self.out_of_time() {
                    break;
                }
                if self.fails(chunk, clients).await? {
                    faults = chunk.clone();
                    parts = 2;
                    reduced = true;
                    break;
                }
            }
            if !reduced && parts > 2 {
                for i in 0..chunks.len() {
                    if self.out_of_time() {
                        break;
                    }
                    let rest: Vec<_> =
                        chunks.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, c)| c.clone()).collect();
                    if self.fails(&rest, clients).await? {
                        faults = rest;
                        parts = (parts - 1).max(2);
                        reduced = true;
                        break;
                    }
                }
            }
            if !reduced {
                if parts >= faults.len() {
                    break;
                }
                parts = (parts * 2).min(faults.len());
            }
        }
        Ok(faults)
    }

    /// Halves the clients while the kept faults still fail (down to two:
    /// one client cannot overlap another).
    async fn fewest_clients(&mut self, faults: &[(usize, ScheduledFault)]) -> Result<usize, Error> {
        let mut clients = self.original.options.concurrency;
        while clients > 2 && !self.out_of_time() {
            let fewer = (clients / 2).max(2);
            if !self.fails(faults, fewer).await? {
                break;
            }
            clients = fewer;
        }
        Ok(clients)
    }
}

/// `items` in `parts` contiguous chunks, as even as they come.
fn split<T: Clone>(items: &[T], parts: usize) -> Vec<Vec<T>> {
    let parts = parts.clamp(1, items.len().max(1));
    let (size, extra) = (items.len() / parts, items.len() % parts);
    let mut chunks = Vec::new();
    let mut start = 0;
    for i in 0..parts {
        let len = size + usize::from(i < extra);
        chunks.push(items[start..start + len].to_vec());
        start += len;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn chunks_cover_every_item_once_and_differ_by_one_at_most() {
        for n in 1..12 {
            let items: Vec<usize> = (0..n).collect();
            for parts in 1..=n {
                let chunks = split(&items, parts);
                assert_eq!(chunks.len(), parts);
                assert_eq!(chunks.concat(), items);
                let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
            }
        }
    }
}
