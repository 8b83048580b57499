//! The history contract: one [`Op`] per event, as the recorder saw them.
//!
//! Every reader in [`crate::formats`] produces a [`History`]; everything
//! downstream (models, checkers, the store, the web UI) reads only these types.
//! [`History::calls`] pairs invocations with completions and enforces the
//! Jepsen process rules, so models never see a malformed history.

use crate::error::InputError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

pub use ops::{Op, OpName, OpType, Process};

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
    /// What the file says about how to check it (an EDN history's
    /// `; fencepost: initial 0`).
    pub stated: crate::models::Stated,
    /// Whether `time` is a clock's or only the ops' order.
    pub times: Times,
    /// What the reader noticed that breaks the contract without making the
    /// history unusable: the CLI prints these and a run's results keep them.
    pub warnings: Vec<Warning>,
}

/// What an op's `time` is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Times {
    /// Nanoseconds of one clock: durations between ops mean something.
    #[default]
    Recorded,
    /// The file gave no times (a Knossos history without `:time`, a
    /// Porcupine log): each op's position stands in, which keeps real-time
    /// order and nothing else. No duration can be read from it.
    Positions,
}

/// A broken rule of the history contract the checkers can live with,
/// where it was first seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The source line of the first op that showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
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
        kept.stated = self.stated.clone();
        kept.times = self.times;
        kept.warnings = self.warnings.clone();
        for (op, &line) in self.ops.iter().zip(&self.lines) {
            if op.process == Process::Nemesis || fs.contains(&op.f.as_str()) {
                kept.push(op.clone(), line);
            }
        }
        kept
    }

    /// Why durations cannot be read from this history, or `None` when they can.
    pub fn untimed(&self) -> Option<&'static str> {
        match self.times {
            Times::Recorded => None,
            Times::Positions => Some("the history has no times (each op's position stands in for it)"),
        }
    }

    /// What every reader does once a history is read whole: puts the ops in
    /// time order, refuses lease fields the lease arithmetic cannot read, and
    /// notes the contract's rules the file breaks but the checkers survive.
    ///
    /// Order: concatenated per-process logs, or a nemesis log appended at the
    /// end, are in no global order; the analyses read the first and last op
    /// as the history's bounds and pair ops in file order. A stable sort by
    /// time keeps each process's own order (its times never go back) and the
    /// file's order among equal times, so a file already in order is left as
    /// it is.
    pub fn settle(&mut self) -> Result<(), InputError> {
        if let Some(later) = self.ops.windows(2).position(|w| w[1].time < w[0].time) {
            let (a, b) = (later, later + 1);
            self.warnings.push(Warning {
                line: Some(self.line_of(b)),
                message: format!(
                    "not in time order: this op's time {} is before line {}'s {}; the ops were sorted by time \
                     (stably: each process's own order and the file's order among equal times kept)",
                    self.ops[b].time,
                    self.line_of(a),
                    self.ops[a].time
                ),
            });
            let mut order: Vec<usize> = (0..self.ops.len()).collect();
            order.sort_by_key(|&i| self.ops[i].time);
            let mut ops: Vec<Option<Op>> = std::mem::take(&mut self.ops).into_iter().map(Some).collect();
            self.ops = order.iter().filter_map(|&i| ops[i].take()).collect();
            self.lines = order.iter().map(|&i| self.lines.get(i).copied().unwrap_or(i + 1)).collect();
            for (i, op) in self.ops.iter_mut().enumerate() {
                op.index = i as u64;
            }
        }
        self.warnings.extend(crate::lease::readable(self)?);
        self.note_unread_faults();
        Ok(())
    }

    /// A warning for nemesis ops that name no fault fencepost reads (Jepsen's
    /// `:pause`/`:resume`, `:start`/`:stop`): they open no fault window.
    fn note_unread_faults(&mut self) {
        let mut unread: Vec<(&str, usize)> = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            if op.process == Process::Nemesis
                && crate::faults::FaultEvent::of(op).is_none()
                && !unread.iter().any(|(f, _)| *f == op.f.as_str())
            {
                unread.push((op.f.as_str(), i));
            }
        }
        let Some(&(_, first)) = unread.first() else { return };
        let names: Vec<String> = unread.iter().map(|(f, _)| format!("`{f}`")).collect();
        let warning = Warning {
            line: Some(self.line_of(first)),
            message: format!(
                "nemesis ops {} name no fault fencepost reads (`<fault>-start`, `<fault>-stop`, `<fault>-skip`, \
                 `heal-all`): they open no fault window, so no overlap is put down to them",
                names.join(", ")
            ),
        };
        self.warnings.push(warning);
    }

    pub fn line_of(&self, op: usize) -> usize {
        self.lines.get(op).copied().unwrap_or(op + 1)
    }

    fn err(&self, op: usize, message: impl Into<String>) -> InputError {
        InputError::at(&self.file, self.line_of(op), message)
    }

    /// Pairs every client invocation with the next completion of the same
    /// process, following Jepsen's rules (see [`Pairing`]), in invocation
    /// order. Nemesis events are not client operations and are left out.
    pub fn calls(&self) -> Result<Vec<Call>, InputError> {
        if self.ops.is_empty() {
            return Err(InputError::new(&self.file, None, "empty history: no operations found"));
        }
        let mut calls: Vec<Call> = Vec::with_capacity(self.ops.len() / 2 + 1);
        let mut pairing = Pairing::default();
        for (i, op) in self.ops.iter().enumerate() {
            // An invoke takes its place in `calls` now, so that calls stay in
            // invocation order; its completion fills it in.
            let slot = calls.len();
            let at = Located { index: i, line: self.line_of(i), op: Slot { op, slot } };
            match pairing.push(at).map_err(|m| self.err(i, m))? {
                Paired::Skipped => {}
                Paired::Invoked => calls.push(Call { invoke: i, completion: None, outcome: Outcome::Info }),
                Paired::Completed(call) => {
                    let c = &mut calls[call.invoke.op.slot];
                    c.completion = call.completion.map(|c| c.index);
                    c.outcome = call.outcome;
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

/// A warning when a process invokes again after an `info` completion:
/// Jepsen's rule retires it (its op may still take effect at any time, so
/// the client goes on as a new process number). `events` are each op's
/// process, its type as the source wrote it (a reader that turns a source's
/// `:ok` read of nil into `info` passes `ok`) and its line, in file order.
pub fn reuse_after_info(events: impl IntoIterator<Item = (Process, OpType, usize)>) -> Option<Warning> {
    let mut retired: HashMap<u64, usize> = HashMap::new();
    let mut first: Option<(usize, usize, u64)> = None;
    let mut reuses = 0usize;
    for (process, kind, line) in events {
        let Process::Client(p) = process else { continue };
        match kind {
            OpType::Info => {
                retired.entry(p).or_insert(line);
            }
            OpType::Invoke => {
                if let Some(&info) = retired.get(&p) {
                    reuses += 1;
                    first.get_or_insert((line, info, p));
                }
            }
            OpType::Ok | OpType::Fail => {}
        }
    }
    let (line, info, p) = first?;
    let more = if reuses > 1 { format!(" ({reuses} such invocations in all)") } else { String::new() };
    Some(Warning {
        line: Some(line),
        message: format!(
            "process {p} invokes again after its `info` at line {info}{more}: an op of unknown outcome retires \
             its process (the client goes on as a new process number); the checkers still let that op take \
             effect at any time after its invocation, after this process's later ops too"
        ),
    })
}

/// The fields of an op that pairing and the models read, borrowed from
/// wherever the op lives: a [`History`], or a line of a file being read.
#[derive(Clone, Copy, Debug)]
pub struct OpView<'a> {
    pub time: u64,
    pub process: Process,
    pub kind: OpType,
    pub f: &'a str,
    pub key: Option<&'a str>,
    pub value: &'a Value,
}

/// Anything that can be seen as an op.
pub trait Event {
    fn view(&self) -> OpView<'_>;
}

impl Event for Op {
    fn view(&self) -> OpView<'_> {
        OpView {
            time: self.time,
            process: self.process,
            kind: self.kind,
            f: &self.f,
            key: self.key.as_deref(),
            value: &self.value,
        }
    }
}

impl<E: Event> Event for &E {
    fn view(&self) -> OpView<'_> {
        (*self).view()
    }
}

/// An op of [`History::calls`] and the place its call holds.
struct Slot<'a> {
    op: &'a Op,
    slot: usize,
}

impl Event for Slot<'_> {
    fn view(&self) -> OpView<'_> {
        self.op.view()
    }
}

/// An event and where it is: its position among all events and its line.
#[derive(Clone, Debug)]
pub struct Located<T> {
    pub index: usize,
    pub line: usize,
    pub op: T,
}

impl<T> Located<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Located<U> {
        Located { index: self.index, line: self.line, op: f(self.op) }
    }
}

/// An invocation with its completion, if it had one.
#[derive(Debug)]
pub struct PairedCall<T> {
    pub invoke: Located<T>,
    /// `None` when the op was still pending when the history ended.
    pub completion: Option<Located<T>>,
    pub outcome: Outcome,
}

/// What one event did to the pairing.
#[derive(Debug)]
pub enum Paired<T> {
    /// A nemesis event: not a client operation.
    Skipped,
    /// An invocation, now waiting for its completion.
    Invoked,
    Completed(PairedCall<T>),
}

/// Jepsen's pairing rules, one event at a time, so that a history can be
/// paired as it is read: a process runs one operation at a time, each
/// completion (`ok`/`fail`/`info`) ends the last invocation of its process
/// and names the same `f` at a time no earlier, and an operation pending at
/// the end counts as `info`. Only the open invocations are kept, one per
/// process at most.
#[derive(Debug)]
pub struct Pairing<T> {
    open: HashMap<u64, Located<T>, std::hash::BuildHasherDefault<crate::models::FxHasher>>,
}

impl<T> Default for Pairing<T> {
    fn default() -> Self {
        Pairing { open: HashMap::default() }
    }
}

impl<T: Event> Pairing<T> {
    /// Takes the next event; a broken rule is a message naming what was
    /// expected (the caller knows the file).
    pub fn push(&mut self, at: Located<T>) -> Result<Paired<T>, String> {
        let op = at.op.view();
        let Process::Client(p) = op.process else { return Ok(Paired::Skipped) };
        if op.kind == OpType::Invoke {
            if let Some(prev) = self.open.get(&p) {
                return Err(format!(
                    "process {p} invokes `{}` while its `{}` from line {} has not completed; \
                     expected a completion (ok/fail/info) for process {p} first",
                    op.f,
                    prev.op.view().f,
                    prev.line
                ));
            }
            self.open.insert(p, at);
            return Ok(Paired::Invoked);
        }
        let Some(invoke) = self.open.remove(&p) else {
            return Err(format!(
                "`{}` completion of `{}` by process {p} has no matching invoke; \
                 expected an `invoke` by process {p} before it",
                op.kind.as_str(),
                op.f
            ));
        };
        let inv = invoke.op.view();
        if inv.f != op.f {
            return Err(format!(
                "completion `{}` of process {p} does not match its invoke `{}` at line {}; expected f = `{}`",
                op.f, inv.f, invoke.line, inv.f
            ));
        }
        if op.time < inv.time {
            return Err(format!(
                "completion at time {} is earlier than its invoke at time {} (line {}); \
                 expected time to be monotonic",
                op.time, inv.time, invoke.line
            ));
        }
        let outcome = match op.kind {
            OpType::Ok => Outcome::Ok,
            OpType::Fail => Outcome::Fail,
            _ => Outcome::Info,
        };
        Ok(Paired::Completed(PairedCall { invoke, completion: Some(at), outcome }))
    }

    /// The invocations still open when the history ended, as `info` calls,
    /// in the order they were invoked.
    pub fn finish(self) -> Vec<PairedCall<T>> {
        let mut pending: Vec<Located<T>> = self.open.into_values().collect();
        pending.sort_unstable_by_key(|at| at.index);
        pending.into_iter().map(|invoke| PairedCall { invoke, completion: None, outcome: Outcome::Info }).collect()
    }

    /// The same pairing, each open invocation turned into `U` (a reader
    /// that moves on to its next block keeps owned copies).
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Pairing<U> {
        Pairing { open: self.open.into_iter().map(|(p, at)| (p, at.map(&mut f))).collect() }
    }
}
