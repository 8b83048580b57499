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

use ops::OpType;
use serde_json::{json, Value};

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
    fn unknown<T>(value: Value, outcome: Outcome<T>) -> Completion {
        let value = unknown_value(value, &outcome);
        let error = match outcome {
            Outcome::Ok(_) => String::new(),
            Outcome::Fail(e) | Outcome::Info(e) | Outcome::SessionLost(e) | Outcome::Undone(e) => e,
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
    let mut value = grant.promised.fields();
    if let Some(t) = grant.token {
        value.insert("token".into(), json!(t));
    }
    if grant.nodes.len() > 1 {
        value.insert("granted_by".into(), json!(grant.nodes));
    }
    Value::Object(value)
}

/// A completion's value for an unknown outcome: `value`, plus
/// `released_by` when the server ended the session or the client undid the
/// call (see [`Outcome::released_by`]).
pub(crate) fn unknown_value<T>(value: Value, outcome: &Outcome<T>) -> Value {
    let Some(released_by) = outcome.released_by() else {
        return value;
    };
    let mut value = match value {
        Value::Object(map) => map,
        Value::Null => serde_json::Map::new(),
        other => [("value".to_string(), other)].into_iter().collect(),
    };
    value.insert("released_by".into(), json!(released_by));
    Value::Object(value)
}

impl Op {
    /// The history's `f`.
    pub fn f(&self) -> &'static str {
        match self {
            Op::Acquire { .. } => "acquire",
            Op::Release { .. } => "release",
            Op::Read { .. } => "read",
            Op::Write { .. } | Op::LeaderWrite { .. } => "write",
            Op::Campaign { .. } => "campaign",
            Op::Renew { .. } => "renew",
            Op::Resign { .. } => "resign",
            Op::Observe { .. } => "observe",
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
            Op::Acquire { ttl, .. } => json!({ "ttl_ms": ttl.as_millis() as u64 }),
            Op::Release { .. } | Op::Read { .. } | Op::Observe { .. } => Value::Null,
            Op::Write { value, token, .. } => json!({ "value": value, "token": token }),
            Op::Campaign { id, ttl, .. } => json!({ "id": id, "ttl_ms": ttl.as_millis() as u64 }),
            Op::Renew { leadership, .. } | Op::Resign { leadership } => json!({ "term": leadership.term }),
            Op::LeaderWrite { value, term, id, .. } => json!({ "value": value, "term": term, "id": id }),
        }
    }

    /// The client: performs the operation and says how it ended. The
    /// client must be of the kind the workload declares.
    pub async fn execute(&self, client: &mut Client, resource: &FencedResource) -> Completion {
        match (self, client) {
            (Op::Acquire { key, ttl }, Client::Lock(c)) => match c.acquire(key, *ttl).await {
                Outcome::Ok(grant) => Completion::ok(grant_value(&grant), grant.node.clone(), Returned::Grant(grant)),
                Outcome::Fail(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(Value::Null, unknown),
            },
            (Op::Release { grant }, Client::Lock(c)) => match c.release(grant).await {
                Outcome::Ok(()) => Completion::ok(Value::Null, grant.node.clone(), Returned::Nothing),
                Outcome::Fail(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(Value::Null, unknown),
            },
            (Op::Read { key }, _) => {
                let value = resource.read(key);
                Completion::ok(json!(value), None, Returned::Value(value))
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
                    let mut value = l.promised.fields();
                    value.insert("id".into(), id.as_str().into());
                    value.insert("term".into(), l.term.into());
                    let node = l.node.clone();
                    Completion::ok(Value::Object(value), node, Returned::Leadership(l))
                }
                Outcome::Fail(e) => Completion::fail(json!({ "id": id }), e),
                unknown => Completion::unknown(json!({ "id": id }), unknown),
            },
            (Op::Renew { leadership, ttl }, Client::Election(c)) => match c.renew(leadership, *ttl).await {
                // Only a renewal the server acknowledged carries a TTL: the
                // lease-aware checkers extend the lease by those alone.
                Outcome::Ok(Some(renewed)) => {
                    Completion::ok(json!({ "ttl_ms": renewed.as_millis() as u64 }), None, Returned::Nothing)
                }
                Outcome::Ok(None) => Completion::ok(Value::Null, None, Returned::Nothing),
                Outcome::Fail(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(Value::Null, unknown),
            },
            (Op::Resign { leadership }, Client::Election(c)) => match c.resign(leadership).await {
                Outcome::Ok(()) => Completion::ok(Value::Null, None, Returned::Nothing),
                Outcome::Fail(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(Value::Null, unknown),
            },
            (Op::Observe { name }, Client::Election(c)) => match c.leader(name).await {
                Outcome::Ok(leader) => {
                    let value = leader.map_or(Value::Null, |l| json!({ "leader": l.id, "term": l.term }));
                    Completion::ok(value, None, Returned::Nothing)
                }
                Outcome::Fail(e) => Completion::fail(Value::Null, e),
                unknown => Completion::unknown(Value::Null, unknown),
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
