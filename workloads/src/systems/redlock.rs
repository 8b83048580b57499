//! Redlock: five independent Redis servers (no replication between them); a
//! client holds the lock when a majority granted it.

use docker::Node;

use super::{redis, BoxFuture, System};

pub struct Redlock;

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
}
