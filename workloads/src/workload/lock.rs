//! `lock`: acquire a random key, hold it (stalling where the nemesis
//! pauses holders), release.

use std::time::Duration;

use crate::generator::{ClientKind, Done, Generator, Op, Returned};
use crate::runner::{RunOptions, Worker};
use crate::systems::BoxFuture;
use crate::workload::{CheckerId, Spec};

pub struct Lock;

impl Spec for Lock {
    fn client(&self) -> ClientKind {
        ClientKind::Lock
    }

    fn checkers(&self) -> &'static [CheckerId] {
        use CheckerId::*;
        &[LinearizableMutex, LinearizableFencedMutex, MutualExclusion, LeaseSafety, Fencing, Availability]
    }

    fn generator(&self, _slot: usize, _options: &RunOptions) -> Box<dyn Generator> {
        Box::new(LockCycle { increment: false })
    }
}

/// Acquire → (with `increment`: read the counter, write it + 1 with the
/// token) → hold → release, on a random key.
pub(crate) struct LockCycle {
    pub(crate) increment: bool,
}

impl Generator for LockCycle {
    fn cycle<'a>(&'a mut self, w: &'a mut Worker) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let key = w.random_key("k");
            let ttl = w.options().ttl;
            let grant = match w.invoke(Op::Acquire { key: key.clone(), ttl }).await {
                Done::Ok(Returned::Grant(grant)) => grant,
                Done::Fail => {
                    if w.options().rate.is_none() {
                        let backoff = w.random_between((Duration::from_millis(1), Duration::from_millis(20)));
                        w.sleep(backoff).await;
                    }
                    return;
                }
                _ => return,
            };
            if self.increment {
                let Done::Ok(Returned::Value(value)) = w.invoke(Op::Read { key: key.clone() }).await else {
                    return;
                };
                // Kleppmann's pause: between reading and writing back, so the
                // write that follows a long stall carries a stale value and a
                // stale token.
                w.stall(&key).await;
                w.invoke(Op::Write { key: key.clone(), value: value + 1, token: grant.token }).await;
            } else {
                w.stall(&key).await;
            }
            let hold = w.random_between(w.options().hold);
            w.sleep(hold).await;
            w.invoke(Op::Release { grant }).await;
        })
    }
}
