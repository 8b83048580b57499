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
//! Release runs the compare-and-delete on every node. Redlock has no fencing
//! token.

use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use docker::Node;
use futures_util::future::join_all;

use super::{redis, BoxFuture, System};
use crate::client::{deadline, unique_value, ClientOptions, Grant, LockClient, Outcome};

pub struct Redlock;

/// The published drift allowance: 1% of the TTL plus 2 ms.
pub fn drift(ttl: Duration) -> Duration {
    ttl / 100 + Duration::from_millis(2)
}

pub struct RedlockClient {
    /// One connection per node; `None` where connecting failed (that node
    /// simply does not vote).
    conns: Vec<Option<MultiplexedConnection>>,
    process: u64,
    counter: u64,
    options: ClientOptions,
    /// Seeded per process, for the retry delay.
    rng: checker::gen::Rng,
}

impl RedlockClient {
    pub async fn connect(nodes: &[Node], process: u64, options: &ClientOptions) -> Result<RedlockClient, String> {
        let conns = join_all(nodes.iter().map(|n| redis::connect(n, per_node_timeout(options)))).await;
        let majority = nodes.len() / 2 + 1;
        if conns.iter().filter(|c| c.is_ok()).count() < majority {
            return Err("fewer than a majority of Redlock nodes accept connections".into());
        }
        Ok(RedlockClient {
            conns: conns.into_iter().map(Result::ok).collect(),
            process,
            counter: 0,
            options: options.clone(),
            rng: checker::gen::Rng::new(process ^ 0x5eed),
        })
    }

    fn majority(&self) -> usize {
        self.conns.len() / 2 + 1
    }

    /// Runs the compare-and-delete on every node; how many deleted our key.
    async fn unlock_all(&mut self, key: &str, value: &str) -> (usize, usize) {
        let timeout = per_node_timeout(&self.options);
        let results = join_all(
            self.conns
                .iter_mut()
                .flatten()
                .map(|conn| deadline(timeout, redis::if_ours(conn, redis::RELEASE, key, value, None))),
        )
        .await;
        let deleted = results.iter().filter(|r| matches!(r, Outcome::Ok(()))).count();
        let answered = results.iter().filter(|r| !matches!(r, Outcome::Info(_))).count();
        (deleted, answered)
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
                let votes = join_all(
                    self.conns
                        .iter_mut()
                        .flatten()
                        .map(|c| deadline(timeout, redis::set_nx(c, key, &value, ttl, false))),
                )
                .await;
                let granted = votes.iter().filter(|v| matches!(v, Outcome::Ok(_))).count();
                let validity = ttl.checked_sub(started.elapsed() + drift(ttl));
                if granted >= self.majority() {
                    if let Some(validity) = validity.filter(|v| !v.is_zero()) {
                        let mut grant = Grant::new(key, None, None, value);
                        grant.node =
                            Some(format!("{granted}/{} nodes, valid {} ms", votes.len(), validity.as_millis()));
                        return Outcome::Ok(grant);
                    }
                }
                // Not held: undo whatever we got. A node that does not answer
                // keeps our key until its TTL, but a minority cannot grant.
                self.unlock_all(key, &value).await;
                if Instant::now() >= give_up {
                    return Outcome::Fail(format!("granted by {granted} of {} nodes", self.conns.len()));
                }
                let delay = Duration::from_millis(10 + self.rng.below(40));
                tokio::time::sleep(delay).await;
            }
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let (deleted, answered) = self.unlock_all(&grant.key, &grant.handle).await;
            if deleted >= self.majority() {
                Outcome::Ok(())
            } else if deleted == 0 && answered == self.conns.iter().flatten().count() {
                Outcome::Fail("no node held our value (expired)".into())
            } else {
                Outcome::Info(format!("deleted on {deleted} nodes, {answered} answered"))
            }
        })
    }
}

impl System for Redlock {
    fn name(&self) -> &'static str {
        "redlock"
    }
    fn image(&self) -> &'static str {
        "redis"
    }
    fn nodes(&self) -> usize {
        5
    }
    fn ports(&self) -> &'static [u16] {
        &[redis::PORT]
    }
    fn describe(&self) -> &'static str {
        "five independent Redis servers, majority locking"
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(redis::ping(node))
    }
    fn lock_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn LockClient>, String>> {
        Box::pin(
            async move { Ok(Box::new(RedlockClient::connect(nodes, process, options).await?) as Box<dyn LockClient>) },
        )
    }
}
