//! `election`: worker 0 observes who leads (when there are others); the
//! rest campaign and, once elected, lead for a hold time (renewing every
//! third of the TTL and writing a term-tagged record to the fenced resource
//! each time, stalling first where the nemesis pauses leaders), then resign.

use std::time::{Duration, Instant};

use crate::generator::{ClientKind, Done, Generator, Op, Returned};
use crate::runner::{RunOptions, Worker};
use crate::systems::BoxFuture;
use crate::workload::{CheckerId, Spec};

pub struct Election;

impl Spec for Election {
    fn client(&self) -> ClientKind {
        ClientKind::Election
    }

    fn checkers(&self) -> &'static [CheckerId] {
        &[CheckerId::Election, CheckerId::LeaseSafety, CheckerId::Availability]
    }

    fn generator(&self, slot: usize, options: &RunOptions) -> Box<dyn Generator> {
        if slot == 0 && options.concurrency > 1 {
            Box::new(Observer)
        } else {
            Box::new(Candidate)
        }
    }
}

struct Observer;

impl Generator for Observer {
    fn cycle<'a>(&'a mut self, w: &'a mut Worker) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let name = w.random_key("e");
            w.invoke(Op::Observe { name }).await;
            // Even after an `info`: the next process starts after a pause.
            if w.options().rate.is_none() {
                let wait = w.random_between((Duration::from_millis(5), Duration::from_millis(20)));
                w.sleep(wait).await;
            }
        })
    }
}

struct Candidate;

impl Generator for Candidate {
    fn cycle<'a>(&'a mut self, w: &'a mut Worker) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let name = w.random_key("e");
            let id = format!("p{}", w.process());
            let ttl = w.options().ttl;
            let leadership = match w.invoke(Op::Campaign { name: name.clone(), id: id.clone(), ttl }).await {
                Done::Ok(Returned::Leadership(l)) => l,
                Done::Fail => {
                    let wait = w.random_between((Duration::from_millis(5), Duration::from_millis(30)));
                    w.sleep(wait).await;
                    return;
                }
                _ => return,
            };
            let until = (Instant::now() + w.random_between(w.options().hold)).min(w.deadline().max(Instant::now()));
            let every = (ttl / 3).max(Duration::from_millis(10));
            loop {
                // A leader that stalls here outlives its lease and then writes
                // with a term that may have been superseded.
                w.stall(&name).await;
                let value = w.resource().read(&name) + 1;
                let write = Op::LeaderWrite { name: name.clone(), value, term: leadership.term, id: id.clone() };
                w.invoke(write).await;
                let now = Instant::now();
                if now >= until {
                    break;
                }
                w.sleep(every.min(until - now)).await;
                if Instant::now() >= until {
                    break;
                }
                match w.invoke(Op::Renew { leadership: leadership.clone(), ttl }).await {
                    Done::Ok(_) => {}
                    // Deposed: stop acting as leader.
                    Done::Fail | Done::Info => return,
                }
            }
            w.invoke(Op::Resign { leadership }).await;
        })
    }
}
