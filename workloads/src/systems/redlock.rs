//! Redlock: five independent Redis servers (no replication between them); a
//! client holds the lock when a majority granted it, as published:
//!
//! 1. take the time;
//! 2. `SET key value NX PX ttl` on every node, each with a timeout much
//!    smaller than the TTL;
//! 3. the lock is held if a majority said yes and the validity left,
//!    `ttl − elapsed − drift`, is positive;
//! 4. otherwise unlock everywhere and retry after a random delay, until the
//!    acquire deadline.
//!
//! A round in which a majority granted (or may have granted: a `SET` that
//! went unanswered) held the lock on the servers until its unlock round,
//! whatever the validity said: the acquire then ends `Undone`, not `Fail`,
//! and does not retry (see `workloads/src/client.rs`).
//!
//! Release runs the compare-and-delete on every node. Redlock has no fencing
//! token.

use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use futures_util::future::join_all;
use node::Node;

use super::{redis, BoxFuture, Clients, Connect, Error, Layout, Seat, System};
use crate::client::{deadline, unique_value, ClientOptions, Grant, LockClient, Outcome};

pub struct Redlock;

/// Five nodes of the `redis` image, each on its own.
pub const LAYOUT: Layout = Layout {
    name: "redlock",
    image: "redis",
    nodes: 5,
    ports: &[redis::PORT],
    description: "five independent Redis servers, majority locking",
    names_leader: false,
    clock_refusal: None,
    durability_refusal: None,
    data_file: None,
    member_refusal: Some("Redlock's servers are independent: there is no membership to change"),
    node_env: &[],
};

/// The published drift allowance: 1% of the TTL plus 2 ms.
pub fn drift(ttl: Duration) -> Duration {
    ttl / 100 + Duration::from_millis(2)
}

pub struct RedlockClient {
    /// One connection per node; `None` where connecting failed (that node
    /// simply does not vote).
    conns: Vec<Option<MultiplexedConnection>>,
    /// The nodes' names, in `conns` order.
    names: Vec<String>,
    process: u64,
    counter: u64,
    options: ClientOptions,
    /// Seeded per process, for the retry delay.
    rng: kit::Rng,
}

impl Connect for RedlockClient {
    async fn connect(seat: Seat<'_>) -> Result<RedlockClient, Error> {
        let (nodes, process, options) = (seat.nodes, seat.process, seat.options);
        let conns = join_all(nodes.iter().map(|n| redis::connect(n, per_node_timeout(options)))).await;
        let majority = nodes.len() / 2 + 1;
        let connected = conns.iter().filter(|c| c.is_ok()).count();
        if connected < majority {
            return Err(Error::NoMajority { connected, nodes: nodes.len() });
        }
        Ok(RedlockClient {
            conns: conns.into_iter().map(Result::ok).collect(),
            names: nodes.iter().map(|n| n.name().to_string()).collect(),
            process,
            counter: 0,
            options: options.clone(),
            rng: kit::Rng::new(process ^ 0x5eed),
        })
    }
}

impl RedlockClient {
    fn majority(&self) -> usize {
        self.conns.len() / 2 + 1
    }

    /// Runs the compare-and-delete on every connected node; each node's
    /// answer, in `conns` order (`None` for a node we have no connection to).
    async fn unlock_all(&mut self, key: &str, value: &str) -> Vec<Option<Outcome<bool>>> {
        let timeout = per_node_timeout(&self.options);
        join_all(self.conns.iter_mut().map(|conn| async move {
            match conn {
                Some(conn) => Some(deadline(timeout, redis::if_ours(conn, redis::RELEASE, key, value, None)).await),
                None => None,
            }
        }))
        .await
    }
}

/// After an acquire round that did not get the lock and the unlock round
/// that followed it: how many nodes may still hold our value. A node may if
/// its `SET` was granted or unknown, unless its unlock then answered for
/// sure (deleted it, or found it not there).
fn may_still_hold(votes: &[Option<Outcome<Option<i64>>>], unlocks: &[Option<Outcome<bool>>]) -> usize {
    votes
        .iter()
        .zip(unlocks)
        .filter(|(vote, unlock)| {
            let took = may_have_taken(vote);
            // Deleted it, or found it not there.
            let cleared = matches!(unlock, Some(Outcome::Ok(_)));
            took && !cleared
        })
        .count()
}

/// Whether a node's `SET` may have stored our value: granted, or unknown.
fn may_have_taken(vote: &Option<Outcome<Option<i64>>>) -> bool {
    matches!(vote, Some(Outcome::Ok(_) | Outcome::Info(_) | Outcome::SessionLost(_) | Outcome::Undone(_)))
}

/// How a round that did not give us the lock ends, once its unlock round
/// answered: unknown while a majority may still hold our value; `Undone`
/// when a majority granted (or may have granted) it, so the servers held
/// the lock for us until the unlock; `None` (no effect, free to retry)
/// when a majority never could have.
fn lost_round<T>(votes: &[Option<Outcome<Option<i64>>>], unlocks: &[Option<Outcome<bool>>]) -> Option<Outcome<T>> {
    let majority = votes.len() / 2 + 1;
    let granted = votes.iter().filter(|v| matches!(v, Some(Outcome::Ok(_)))).count();
    let took = votes.iter().filter(|v| may_have_taken(v)).count();
    let left = may_still_hold(votes, unlocks);
    let nodes = votes.len();
    if left >= majority {
        Some(Outcome::Info(format!("granted by {granted} of {nodes} nodes, and {left} may still hold our value")))
    } else if took >= majority {
        Some(Outcome::Undone(format!(
            "granted by {granted} of {nodes} nodes ({took} may have), not held in time; unlocked on all but {left}"
        )))
    } else {
        None
    }
}

/// The nodes whose `SET` said yes, by name.
fn granting(votes: &[Option<Outcome<Option<i64>>>], names: &[String]) -> Vec<String> {
    votes.iter().zip(names).filter(|(v, _)| matches!(v, Some(Outcome::Ok(_)))).map(|(_, n)| n.clone()).collect()
}

/// A release: `Ok` once a majority deleted our value (fewer than a majority
/// can still hold it); `Fail` when every node answered and none held it;
/// otherwise unknown.
fn release_outcome(unlocks: &[Option<Outcome<bool>>], majority: usize) -> Outcome<()> {
    let deleted = unlocks.iter().filter(|u| matches!(u, Some(Outcome::Ok(true)))).count();
    let not_ours = unlocks.iter().filter(|u| matches!(u, Some(Outcome::Ok(false)))).count();
    let connected = unlocks.iter().flatten().count();
    if deleted >= majority {
        Outcome::Ok(())
    } else if deleted == 0 && not_ours == connected {
        Outcome::Fail("no node held our value (expired)".into())
    } else {
        Outcome::Info(format!("deleted on {deleted} nodes, {not_ours} did not hold it, of {}", unlocks.len()))
    }
}

/// Much smaller than any TTL we use, so one slow node cannot eat the validity.
fn per_node_timeout(options: &ClientOptions) -> Duration {
    (options.timeout / 10).max(Duration::from_millis(20))
}

impl LockClient for RedlockClient {
    fn acquire<'a>(&'a mut self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let give_up = Instant::now() + self.options.acquire_wait;
            loop {
                let value = unique_value(self.process, &mut self.counter);
                let started = Instant::now();
                let timeout = per_node_timeout(&self.options);
                let votes = join_all(self.conns.iter_mut().map(|conn| {
                    let value = &value;
                    async move {
                        match conn {
                            Some(c) => Some(deadline(timeout, redis::set_nx(c, key, value, ttl, false)).await),
                            None => None,
                        }
                    }
                }))
                .await;
                let granted = votes.iter().filter(|v| matches!(v, Some(Outcome::Ok(_)))).count();
                let validity = ttl.checked_sub(started.elapsed() + drift(ttl));
                if granted >= self.majority() {
                    if let Some(validity) = validity.filter(|v| !v.is_zero()) {
                        let mut grant = Grant::new(key, None, None, value).leased(ttl);
                        grant.node =
                            Some(format!("{granted}/{} nodes, valid {} ms", self.conns.len(), validity.as_millis()));
                        grant.nodes = granting(&votes, &self.names);
                        return Outcome::Ok(grant);
                    }
                }
                // Not held: undo whatever we got. A node whose SET or unlock
                // went unanswered may keep our value until its TTL; that is
                // harmless only while fewer than a majority may.
                let unlocks = self.unlock_all(key, &value).await;
                if let Some(ended) = lost_round(&votes, &unlocks) {
                    return ended;
                }
                if Instant::now() >= give_up {
                    let words = format!("granted by {granted} of {} nodes", self.conns.len());
                    // Every node answered, each granting or holding another's value: contention.
                    if votes.iter().all(|v| matches!(v, Some(Outcome::Ok(_) | Outcome::Busy(_)))) {
                        return Outcome::Busy(words);
                    }
                    return Outcome::Fail(words);
                }
                let delay = Duration::from_millis(10 + self.rng.below(40));
                tokio::time::sleep(delay).await;
            }
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let unlocks = self.unlock_all(&grant.key, &grant.handle).await;
            release_outcome(&unlocks, self.majority())
        })
    }
}

impl System for Redlock {
    fn crash_patterns(&self) -> &'static [&'static str] {
        super::redis::REDIS_CRASHES
    }

    fn layout(&self) -> &'static Layout {
        &LAYOUT
    }
    fn ttl_note(&self, ttl: Duration) -> Option<String> {
        redis::sub_millisecond(ttl)
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(redis::ping(node))
    }
    fn clients(&self) -> Clients {
        Clients::lock::<RedlockClient>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Option<Outcome<Option<i64>>> = Some(Outcome::Ok(None));
    const BUSY: Option<Outcome<Option<i64>>> = Some(Outcome::Fail(String::new()));
    const LATE: Option<Outcome<Option<i64>>> = Some(Outcome::Info(String::new()));
    const DELETED: Option<Outcome<bool>> = Some(Outcome::Ok(true));
    const ABSENT: Option<Outcome<bool>> = Some(Outcome::Ok(false));
    const SILENT: Option<Outcome<bool>> = Some(Outcome::Info(String::new()));

    #[test]
    fn a_failed_round_is_fail_only_if_no_majority_can_still_hold_our_value() {
        // Two granted, one unknown: the unknown node may have said yes too.
        let votes = [OK, OK, LATE, BUSY, BUSY];
        // All undone: nobody holds it.
        assert_eq!(may_still_hold(&votes, &[DELETED, DELETED, ABSENT, ABSENT, ABSENT]), 0);
        // The unlocks went unanswered where we may have it: three may.
        assert_eq!(may_still_hold(&votes, &[SILENT, SILENT, SILENT, ABSENT, ABSENT]), 3);
        // A node we never reached holds nothing.
        assert_eq!(may_still_hold(&[OK, OK, None, BUSY, BUSY], &[SILENT, SILENT, None, SILENT, SILENT]), 2);
    }

    #[test]
    fn a_round_a_majority_may_have_granted_is_undone_not_failed() {
        let undone = |v: &[Option<Outcome<Option<i64>>>], u: &[Option<Outcome<bool>>]| {
            matches!(lost_round::<()>(v, u), Some(Outcome::Undone(_)))
        };
        // A majority said yes but the validity ran out: held until unlocked.
        assert!(undone(&[OK, OK, OK, BUSY, BUSY], &[DELETED, DELETED, DELETED, ABSENT, ABSENT]));
        // Two yes and one unknown could have made a majority.
        assert!(undone(&[OK, OK, LATE, BUSY, BUSY], &[DELETED, DELETED, ABSENT, ABSENT, ABSENT]));
        // Never a majority: no effect, the round may be retried.
        assert_eq!(lost_round::<()>(&[OK, OK, BUSY, BUSY, None], &[DELETED, DELETED, ABSENT, ABSENT, None]), None);
        // A majority may still hold it: unknown.
        assert!(matches!(
            lost_round::<()>(&[OK, OK, LATE, BUSY, BUSY], &[SILENT, SILENT, SILENT, ABSENT, ABSENT]),
            Some(Outcome::Info(_))
        ));
    }

    #[test]
    fn a_grant_names_the_nodes_that_said_yes() {
        let names: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        assert_eq!(granting(&[OK, BUSY, OK, None, OK], &names), ["n1", "n3", "n5"]);
        assert_eq!(granting(&[LATE, BUSY, None, None, BUSY], &names), Vec::<String>::new());
    }

    #[test]
    fn release_outcomes() {
        assert_eq!(release_outcome(&[DELETED, DELETED, DELETED, SILENT, ABSENT], 3), Outcome::Ok(()));
        assert!(matches!(release_outcome(&[ABSENT, ABSENT, ABSENT, ABSENT, None], 3), Outcome::Fail(_)));
        assert!(matches!(release_outcome(&[ABSENT, ABSENT, ABSENT, ABSENT, SILENT], 3), Outcome::Info(_)));
        assert!(matches!(release_outcome(&[DELETED, DELETED, ABSENT, ABSENT, ABSENT], 3), Outcome::Info(_)));
    }
}
