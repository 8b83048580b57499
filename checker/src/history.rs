//! The history contract: one [`Op`] per event, as the recorder saw them.
//!
//! Every reader in [`crate::formats`] produces a [`History`]; everything
//! downstream (models, checkers, the store, the web UI) reads only these types.
//! [`History::calls`] pairs invocations with completions and enforces the
//! Jepsen process rules, so models never see a malformed history.

use crate::error::InputError;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

/// `invoke` starts an operation; `ok` it took effect; `fail` it definitely did
/// not; `info` unknown — it may take effect at any time after its invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<OpType> {
        Some(match s {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            _ => return None,
        })
    }
}

/// A client process number, or the nemesis that injects faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative process number or \"nemesis\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Process, E> {
                Ok(Process::Client(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Process, E> {
                match v {
                    "nemesis" => Ok(Process::Nemesis),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Keys are strings in the contract; Jepsen's independent keys are often
/// integers, so those are accepted and kept as their decimal text.
fn key_de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(de::Error::custom(format!("field `key`: expected a string or an integer, found {other}"))),
    }
}

/// One event of the history contract (see DESIGN.md, "The history contract").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    #[serde(default)]
    pub index: u64,
    /// Nanoseconds since the test started. Formats without timestamps use the
    /// event's position, which keeps real-time order.
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub f: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "key_de")]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A whole history plus where each op came from, so that every later error
/// can still name `file:line`.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub file: String,
    /// The format it was read from (`jsonl`, `edn`, `porcupine-etcd`, `porcupine-kv`).
    pub format: &'static str,
    pub ops: Vec<Op>,
    /// Source line of each op, parallel to `ops` (1-based).
    pub lines: Vec<usize>,
}

/// How an operation ended, once paired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Fail,
    /// `info`, or still pending when the history ended.
    Info,
}

/// An invocation paired with its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// Index of the `invoke` op in [`History::ops`].
    pub invoke: usize,
    /// Index of the completion, `None` when the op was still pending at the end.
    pub completion: Option<usize>,
    pub outcome: Outcome,
}

impl History {
    pub fn new(file: &str, format: &'static str) -> Self {
        History { file: file.to_string(), format, ..Default::default() }
    }

    pub fn push(&mut self, mut op: Op, line: usize) {
        op.index = self.ops.len() as u64;
        self.ops.push(op);
        self.lines.push(line);
    }

    /// The ops whose `f` is one of `fs` (nemesis events kept), with their
    /// source lines: e.g. the lock operations of a fenced-counter run, for
    /// a lock model that knows nothing of the counter's reads and writes.
    pub fn only(&self, fs: &[&str]) -> History {
        let mut kept = History::new(&self.file, self.format);
        for (op, &line) in self.ops.iter().zip(&self.lines) {
            if op.process == Process::Nemesis || fs.contains(&op.f.as_str()) {
                kept.push(op.clone(), line);
            }
        }
        kept
    }

    pub fn line_of(&self, op: usize) -> usize {
        self.lines.get(op).copied().unwrap_or(op + 1)
    }

    fn err(&self, op: usize, message: impl Into<String>) -> InputError {
        InputError::at(&self.file, self.line_of(op), message)
    }

    /// Pairs every client invocation with the next completion of the same
    /// process, following Jepsen's rules: a process runs one operation at a
    /// time, and an operation pending at the end counts as `info`. Nemesis
    /// events are not client operations and are left out.
    pub fn calls(&self) -> Result<Vec<Call>, InputError> {
        if self.ops.is_empty() {
            return Err(InputError::new(&self.file, None, "empty history: no operations found"));
        }
        let mut calls: Vec<Call> = Vec::with_capacity(self.ops.len() / 2 + 1);
        let mut open: HashMap<u64, usize> = HashMap::new();
        for (i, op) in self.ops.iter().enumerate() {
            let Process::Client(p) = op.process else { continue };
            match op.kind {
                OpType::Invoke => {
                    if let Some(&c) = open.get(&p) {
                        let prev = calls[c].invoke;
                        return Err(self.err(
                            i,
                            format!(
                                "process {p} invokes `{}` while its `{}` from line {} has not completed; \
                                 expected a completion (ok/fail/info) for process {p} first",
                                op.f,
                                self.ops[prev].f,
                                self.line_of(prev)
                            ),
                        ));
                    }
                    open.insert(p, calls.len());
                    calls.push(Call { invoke: i, completion: None, outcome: Outcome::Info });
                }
                kind => {
                    let Some(c) = open.remove(&p) else {
                        return Err(self.err(
                            i,
                            format!(
                                "`{}` completion of `{}` by process {p} has no matching invoke; \
                                 expected an `invoke` by process {p} before it",
                                kind.as_str(),
                                op.f
                            ),
                        ));
                    };
                    let inv = &self.ops[calls[c].invoke];
                    if inv.f != op.f {
                        return Err(self.err(
                            i,
                            format!(
                                "completion `{}` of process {p} does not match its invoke `{}` at line {}; \
                                 expected f = `{}`",
                                op.f,
                                inv.f,
                                self.line_of(calls[c].invoke),
                                inv.f
                            ),
                        ));
                    }
                    if op.time < inv.time {
                        return Err(self.err(
                            i,
                            format!(
                                "completion at time {} is earlier than its invoke at time {} (line {}); \
                                 expected time to be monotonic",
                                op.time,
                                inv.time,
                                self.line_of(calls[c].invoke)
                            ),
                        ));
                    }
                    calls[c].completion = Some(i);
                    calls[c].outcome = match kind {
                        OpType::Ok => Outcome::Ok,
                        OpType::Fail => Outcome::Fail,
                        _ => Outcome::Info,
                    };
                }
            }
        }
        Ok(calls)
    }

    /// The client operations' distinct keys, in first-seen order.
    pub fn keys(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        let mut keys = Vec::new();
        for op in &self.ops {
            if let Some(k) = &op.key {
                if seen.insert(k.as_str()) {
                    keys.push(k.clone());
                }
            }
        }
        keys
    }
}
