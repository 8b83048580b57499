//! What a worker does, apart from how: the operations a workload's
//! generator asks for ([`Op`]), how each ended as the generator sees it
//! ([`Done`]), and the [`Generator`] trait. The split is Jepsen's:
//!
//! - the **generator** (one per worker, in `src/workload/`) decides which
//!   operation comes next from what happened so far: the lock cycle, the
//!   fenced counter's read-increment-write, an election's campaign, lead,
//!   resign, or an observer's polls;
//! - the **client** ([`Op::execute`]) performs one operation against the
//!   system's [`LockClient`] or [`ElectionClient`], or the fenced resource,
//!   and says how it ended and what to record;
//! - the **worker** ([`crate::runner::Worker`]) is generic plumbing:
//!   process numbers and retirements after `info`, recording invoke and
//!   completion, pacing, connecting clients, and orphans for the revoker.

use std::time::Duration;

use ops::values::{self, Campaign, CounterWrite, Leader, LeaderWrite, OpValue, Released, Renewal};
use ops::{OpName, OpType};
use serde_json::Value;

use crate::client::{ElectionClient, Grant, Leadership, LockClient, Outcome};
use crate::resource::FencedResource;
use crate::runner::Worker;
use crate::systems::BoxFuture;

/// One operation, as a generator asks for it: `f`, `key` and the invoke's
/// `value` in the history follow from it.
#[derive(Debug, Clone)]
pub enum Op {
    /// Take lock `key` for at most `ttl`.
    Acquire {
        key: String,
        ttl: Duration,
    },
    Release {
        grant: Grant,
    },
    /// Read a counter of the fenced resource.
    Read {
        key: String,
    },
    /// Write a counter of the fenced resource with a lock's token.
    Write {
        key: String,
        value: i64,
        token: Option<i64>,
    },
    /// Campaign for election `name` as candidate `id`.
    Campaign {
        name: String,
        id: String,
        ttl: Duration,
    },
    Renew {
        leadership: Leadership,
        ttl: Duration,
    },
    Resign {
        leadership: Leadership,
    },
    /// Who leads election `name`.
    Observe {
        name: String,
    },
    /// A leader's record in the fenced resource, fenced by its term.
    LeaderWrite {
        name: String,
        value: i64,
        term: i64,
        id: String,
    },
}

/// Which client a workload's operations need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Lock,
    Election,
}

/// A connected client of either kind.
pub enum Client {
    Lock(Box<dyn LockClient>),
    Election(Box<dyn ElectionClient>),
}

impl Client {
    /// What this client leaves behind if it is retired now.
    pub fn orphans(&mut self) -> Vec<crate::client::Orphan> {
        match self {
            Client::Lock(c) => c.orphans(),
            Client::Election(c) => c.orphans(),
        }
    }
}

/// What an operation returned, for the generator.
#[derive(Debug, Clone)]
pub enum Returned {
    Nothing,
    Grant(Grant),
    Leadership(Leadership),
    /// A counter's value.
    Value(i64),
}

/// How an operation ended, as the generator sees it. After `Info` the
/// generator ends its cycle: the worker retires the process.
#[derive(Debug, Clone)]
pub enum Done {
    Ok(Returned),
    Fail,
    Info,
}

/// A completion as the history records it.
#[derive(Debug, Clone)]
pub struct Completion {
    pub kind: OpType,
    pub value: Value,
    pub node: Option<String>,
    pub error: Option<String>,
    pub returned: Returned,
}

impl Completion {
    fn ok(value: Value, node: Option<String>, returned: Returned) -> Completion {
        Completion { kind: OpType::Ok, value, node, error: None, returned }
    }

    fn fail(value: Value, error: String) -> Completion {
        Completion { kind: OpType::Fail, value, node: None, error: Some(error), returned: Returned::Nothing }
    }

    /// An unknown outcome (`Info`, `SessionLost`, `Undone`) as `info`; a
    /// lost session or an undone call adds `released_by` to the value.
    fn unknown<T, V: Released>(value: Option<V>, outcome: Outcome<T>) -> Completion {
        let value = unknown_value(value, &outcome);
        let error = match outcome {
            Outcome::Ok(_) => String::new(),
            Outcome::Fail(e) | Outcome::Busy(e) | Outcome::Info(e) | Outcome::SessionLost(e) | Outcome::Undone(e) => e,
        };
        Completion { kind: OpType::Info, value, node: None, error: Some(error), returned: Returned::Nothing }
    }

    /// What the generator learns.
    pub fn done(&self) -> Done {
        match self.kind {
            OpType::Ok => Done::Ok(self.returned.clone()),
            OpType::Fail => Done::Fail,
            _ => Done::Info,
        }
    }
}

/// An acquire's `ok` value: what the service promised (`ttl_ms` or
/// `session`), the token where the system gives one, and `granted_by`
/// where more than one node granted the lock (Redlock), since the
/// history's `node` names one node.
fn grant_value(grant: &Grant) -> Value {
    values::Grant {
        token: grant.token,
        terms: grant.promised.terms(),
        granted_by: (grant.nodes.len() > 1).then(|| grant.nodes.clone()),
        released_by: None,
        busy: None,
    }
    .to_value()
}

/// A completion's value for an unknown outcome: `value` (null if none),
/// plus `released_by` when the server ended the session or the client
/// undid the call (see [`Outcome::released_by`]).
pub(crate) fn unknown_value<T, V: Released>(value: Option<V>, outcome: &Outcome<T>) -> Value {
    match (value, outcome.released_by()) {
        (value, Some(by)) => value.unwrap_or_default().released_by(by).to_value(),
        (Some(value), None) => value.to_value(),
        (None, None) => Value::Null,
    }
}

impl Op {
    /// The history's `f`.
    pub fn f(&self) -> OpName {
        match self {
            Op::Acquire { .. } => OpName::Acquire,
            Op::Release { .. } => OpName::Release,
            Op::Read { .. } => OpName::Read,
            Op::Write { .. } | Op::LeaderWrite { .. } => OpName::Write,
            Op::Campaign { .. } => OpName::Campaign,
            Op::Renew { .. } => OpName::Renew,
            Op::Resign { .. } => OpName::Resign,
            Op::Observe { .. } => OpName::Observe,
        }
    }

    /// The lock, counter or election it acts on.
    pub fn key(&self) -> &str {
        match self {
            Op::Acquire { key, .. } | Op::Read { key } | Op::Write { key, .. } => key,
            Op::Release { grant } => &grant.key,
            Op::Campaign { name, .. } | Op::Observe { name } | Op::LeaderWrite { name, .. } => name,
            Op::Renew { leadership, .. } | Op::Resign { leadership } => &leadership.name,
        }
    }

    /// The invoke's value.
    pub fn value(&self) -> Value {
        match self {
            Op::Acquire { ttl, .. } => values::LeaseTerms::lease(ttl.as_millis() as u64).to_value(),
            Op::Release { .. } | Op::Read { .. } | Op::Observe { .. } => Value::Null,
            Op::Write { value, token, .. } => CounterWrite { value: Some(*value), token: *token }.to_value(),
            Op::Campaign { id, ttl, .. } => Campaign {
                id: Some(id.clone()),
                terms: values::LeaseTerms::lease(ttl.as_millis() as u64),
                ..Default::default()
            }
            .to_value(),
            Op::Renew { leadership, .. } | Op::Resign { leadership } => {
                Renewal { term: Some(leadership.term), ..Default::default() }.to_value()
            }
            Op::LeaderWrite { value, term, id, .. } => {
                LeaderWrite { id: Some(id.clone()), term: Some(*term), value: Some(*value) }.to_value()
            }
        }
    }

    /// The client: performs the operation and says how it ended. The
    /// client must be of the kind the workload declares.
    pub async fn execute(&self, client: &mut Client, resource: &FencedResource) -> Completion {
        match (self, client) {
            (Op::Acquire { key, ttl }, Client::Lock(c)) => match c.acquire(key, *ttl).await {
                Outcome::Ok(grant) => Completion::ok(grant_value(&grant), grant.node.clone(), Returned::Grant(grant)),
                Outcome::Fail(e) => Completion::fail(Value::Null, e),
                Outcome::Busy(e) => {
                    Completion::fail(values::Grant { busy: Some(true), ..Default::default() }.to_value(), e)
                }
                unknown => Completion::unknown(None::<values::Grant>, unknown),
            },
            (Op::Release { grant }, Client::Lock(c)) => match c.release(grant).await {
                Outcome::Ok(()) => Completion::ok(Value::Null, grant.node.clone(), Returned::Nothing),
                Outcome::Fail(e) | Outcome::Busy(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(None::<values::Release>, unknown),
            },
            (Op::Read { key }, _) => {
                let value = resource.read(key);
                Completion::ok(Value::from(value), None, Returned::Value(value))
            }
            (Op::Write { key, value, token }, _) => match resource.write(key, *value, *token) {
                Ok(()) => Completion::ok(self.value(), None, Returned::Nothing),
                Err(rejected) => {
                    Completion::fail(self.value(), format!("token {token:?} is below {}", rejected.highest_token))
                }
            },
            (Op::LeaderWrite { name, value, term, .. }, _) => match resource.write(name, *value, Some(*term)) {
                Ok(()) => Completion::ok(self.value(), None, Returned::Nothing),
                Err(r) => Completion::fail(self.value(), format!("term {term} is below {}", r.highest_token)),
            },
            (Op::Campaign { name, id, ttl }, Client::Election(c)) => match c.campaign(name, id, *ttl).await {
                Outcome::Ok(l) => {
                    let won = Campaign {
                        id: Some(id.clone()),
                        term: Some(l.term),
                        terms: l.promised.terms(),
                        released_by: None,
                        busy: None,
                    };
                    let node = l.node.clone();
                    Completion::ok(won.to_value(), node, Returned::Leadership(l))
                }
                Outcome::Fail(e) => {
                    Completion::fail(Campaign { id: Some(id.clone()), ..Default::default() }.to_value(), e)
                }
                Outcome::Busy(e) => Completion::fail(
                    Campaign { id: Some(id.clone()), busy: Some(true), ..Default::default() }.to_value(),
                    e,
                ),
                unknown => Completion::unknown(Some(Campaign { id: Some(id.clone()), ..Default::default() }), unknown),
            },
            (Op::Renew { leadership, ttl }, Client::Election(c)) => match c.renew(leadership, *ttl).await {
                // Only a renewal the server acknowledged carries a TTL: the
                // lease-aware checkers extend the lease by those alone.
                Outcome::Ok(Some(renewed)) => {
                    let terms = values::LeaseTerms::lease(renewed.as_millis() as u64);
                    Completion::ok(Renewal { terms, ..Default::default() }.to_value(), None, Returned::Nothing)
                }
                Outcome::Ok(None) => Completion::ok(Value::Null, None, Returned::Nothing),
                Outcome::Fail(e) | Outcome::Busy(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(None::<Renewal>, unknown),
            },
            (Op::Resign { leadership }, Client::Election(c)) => match c.resign(leadership).await {
                Outcome::Ok(()) => Completion::ok(Value::Null, None, Returned::Nothing),
                Outcome::Fail(e) | Outcome::Busy(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(None::<Renewal>, unknown),
            },
            (Op::Observe { name }, Client::Election(c)) => match c.leader(name).await {
                Outcome::Ok(leader) => {
                    let value = leader.map_or(Value::Null, |l| {
                        Leader { leader: Some(l.id), term: l.term, released_by: None }.to_value()
                    });
                    Completion::ok(value, None, Returned::Nothing)
                }
                Outcome::Fail(e) | Outcome::Busy(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(None::<values::Release>, unknown),
            },
            (op, _) => unreachable!("{} needs the other kind of client: the workload declares the wrong one", op.f()),
        }
    }
}

/// One worker's source of operations. A generator lives as long as its
/// worker (across retirements) and keeps what it needs between cycles.
pub trait Generator: Send {
    /// One cycle: operations through [`Worker::invoke`], waits through
    /// [`Worker::sleep`] and [`Worker::stall`], until the worker is back
    /// where it may stop (a lock cycle releases what it took). Ends as soon
    /// as an operation is [`Done::Info`]; the worker then retires the
    /// process and continues with a fresh one and a fresh client.
    fn cycle<'a>(&'a mut self, worker: &'a mut Worker) -> BoxFuture<'a, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The typed values write what the `json!` literals they replaced wrote,
    /// byte for byte: stored runs and new ones read alike.
    #[test]
    fn values_keep_their_bytes() {
        let ttl = Duration::from_millis(2500);
        let leadership = Leadership::new("e0", 41, Some("n1"), String::new());
        for (op, before) in [
            (Op::Acquire { key: "k0".into(), ttl }, json!({ "ttl_ms": 2500 })),
            (Op::Write { key: "c".into(), value: 3, token: Some(7) }, json!({ "value": 3, "token": 7 })),
            (Op::Write { key: "c".into(), value: 3, token: None }, json!({ "value": 3, "token": null })),
            (Op::Campaign { name: "e0".into(), id: "p1".into(), ttl }, json!({ "id": "p1", "ttl_ms": 2500 })),
            (Op::Renew { leadership: leadership.clone(), ttl }, json!({ "term": 41 })),
            (Op::Resign { leadership }, json!({ "term": 41 })),
            (
                Op::LeaderWrite { name: "e0".into(), value: 5, term: 41, id: "p1".into() },
                json!({ "value": 5, "term": 41, "id": "p1" }),
            ),
            (Op::Observe { name: "e0".into() }, Value::Null),
        ] {
            assert_eq!(op.value().to_string(), before.to_string(), "{}", op.f());
        }
        let mut grant = Grant::new("k0", Some(9), Some("n1"), String::new()).leased(ttl);
        assert_eq!(grant_value(&grant).to_string(), json!({ "token": 9, "ttl_ms": 2500 }).to_string());
        grant.nodes = vec!["n1".into(), "n2".into()];
        grant.promised = crate::client::Promised::Session;
        let before = json!({ "token": 9, "session": true, "granted_by": ["n1", "n2"] });
        assert_eq!(grant_value(&grant).to_string(), before.to_string());
    }
}
