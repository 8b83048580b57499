//! From a history and a model to a verdict with evidence.
//!
//! [`check`] pairs the history's calls, splits them into partitions (by
//! `key`, unless told not to), encodes each for the model, searches the
//! partitions in parallel, and turns the engine's answer into data a person
//! (or the web UI) can read: a witness order on success, and on failure,
//! for each operation the search got stuck on, the longest partial
//! linearization before it (a bounded few, longest first).

use crate::engine::{self, Limits, MemoryBudget, Operation, Outcome};
use crate::error::InputError;
use crate::formats::{jsonl::LineOp, JsonlFile, Source};
use crate::history::{
    Event, History, Located, OpName, OpView, Outcome as CallOutcome, Paired, PairedCall, Pairing, Process,
};
use crate::models::{self, CallView, HistoryModel, ModelSpec, Values};
use crate::precedence;
use crate::Verdict;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Give up with `unknown` after this long.
    pub timeout: Option<Duration>,
    /// Give up with `unknown` when the search caches would exceed this.
    pub memory_limit: usize,
    /// Check each `key` separately (P-compositionality). Off: one partition.
    pub partition: bool,
    /// Checked between search steps; set it to stop early with `unknown`.
    pub cancel: Option<std::sync::Arc<AtomicBool>>,
    /// Keep checking the other partitions after one is found not
    /// linearizable (slower; gives evidence for every failing key). Off: as
    /// Porcupine does, the rest stop with `unknown` once the verdict is known.
    pub all_partitions: bool,
    /// Check only the operations with one of these `f`s, as if the history
    /// held nothing else (the lock operations of a fenced-counter run): a
    /// filter, rather than a filtered copy of a history of millions.
    pub only: Option<&'static [OpName]>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            timeout: None,
            memory_limit: 4 << 30,
            partition: true,
            cancel: None,
            all_partitions: false,
            only: None,
        }
    }
}

/// One operation, described for a person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpRef {
    /// Index of the invoke in the history.
    pub invoke: usize,
    /// Index of the completion, if it completed.
    pub completion: Option<usize>,
    pub process: u64,
    pub line: usize,
    pub invoke_time: u64,
    /// `None` when the outcome is unknown (`info` or pending).
    pub complete_time: Option<u64>,
    pub description: String,
}

/// The longest prefix the search linearized before it got stuck on one
/// operation, and that operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartialLinearization {
    /// Partition-local op ids (into [`PartitionResult::operations`]), in order.
    pub prefix: Vec<usize>,
    /// The model state after the prefix.
    pub state_after: String,
    /// The operation whose return came before it could be linearized.
    pub stuck: usize,
    /// Ops whose intervals overlap the stuck one.
    pub concurrent: Vec<usize>,
    /// Covering real-time precedence edges `[before, after]` among the stuck
    /// op, its concurrent ops and the prefix's last few ops.
    pub precedence: Vec<[usize; 2]>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionResult {
    pub key: Option<String>,
    pub ops: usize,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// On success: history indices of the invokes, in one legal order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<Vec<usize>>,
    /// On failure (or unknown): one per operation the search got stuck on,
    /// at most [`engine::MAX_PARTIALS`], longest first — so `partials[0]`
    /// is the longest of all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partials: Vec<PartialLinearization>,
    /// On failure: every op of the partition, by local id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OpRef>,
    pub search_steps: u64,
    pub cache_entries: usize,
    pub cache_bytes: usize,
    pub elapsed_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub file: String,
    pub format: String,
    pub model: String,
    pub initial: Value,
    pub verdict: Verdict,
    /// Client operations in the history (invocations).
    pub ops: usize,
    /// Operations the search considered (`fail`s dropped: they did not happen).
    pub checked_ops: usize,
    pub partitions: Vec<PartitionResult>,
    pub elapsed_ms: f64,
    /// Ops left out because they are not the model's object (a lock model
    /// over a fenced-counter history leaves out the resource's reads and
    /// writes), by `f`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ignored: BTreeMap<String, usize>,
}

impl CheckResult {
    pub fn failing(&self) -> impl Iterator<Item = &PartitionResult> {
        self.partitions.iter().filter(|p| p.verdict != Verdict::Valid)
    }
}

/// Checks `history` against the model `spec` describes.
pub fn check(history: &History, spec: &ModelSpec, opts: &CheckOptions) -> Result<CheckResult, InputError> {
    struct Whole<'h>(&'h History);
    impl Feed for Whole<'_> {
        fn feed<M: HistoryModel + Send>(self, mut b: Builder<M>) -> Result<CheckResult, InputError> {
            let history = self.0;
            if history.ops.is_empty() {
                return Err(InputError::new(&history.file, None, "empty history: no operations found"));
            }
            let mut pairing = Pairing::default();
            for (index, op) in history.ops.iter().enumerate() {
                let at = Located { index, line: history.line_of(index), op };
                match pairing.push(at).map_err(|m| InputError::at(&history.file, history.line_of(index), m))? {
                    Paired::Completed(call) => b.add(&call)?,
                    Paired::Skipped | Paired::Invoked => {}
                }
            }
            for call in pairing.finish() {
                b.add(&call)?;
            }
            Ok(b.finish())
        }
    }
    with_model(spec, opts, &history.file, history.format, Whole(history))
}

/// Checks the history in a file as it reads it: a JSONL history's ops are
/// paired and handed to the model a block at a time, and only what the
/// search needs is kept — a few dozen bytes per operation, where the ops
/// themselves take hundreds — so a history larger than memory can be
/// checked. Other formats are read whole, then checked.
pub fn check_source(source: Source, spec: &ModelSpec, opts: &CheckOptions) -> Result<CheckResult, InputError> {
    struct Blocks(JsonlFile);
    impl Feed for Blocks {
        fn feed<M: HistoryModel + Send>(self, mut b: Builder<M>) -> Result<CheckResult, InputError> {
            let name = self.0.name().to_string();
            // The pairing holds references into the piece; invocations
            // still open at its end are kept as owned copies, since the
            // text of the next piece may replace this one's.
            let mut carried: Pairing<Held<'static, 'static>> = Pairing::default();
            // Events read so far: the index of the next.
            let mut events = 0;
            self.0.for_each_piece(|piece| {
                let mut pairing: Pairing<Held<'_, '_>> = std::mem::take(&mut carried);
                for (op, line) in &piece {
                    let at = Located { index: events, line: *line, op: Held::In(op) };
                    events += 1;
                    match pairing.push(at).map_err(|m| InputError::at(&name, *line, m))? {
                        Paired::Completed(call) => b.add(&call)?,
                        Paired::Skipped | Paired::Invoked => {}
                    }
                }
                carried = pairing.map(Held::into_owned);
                Ok(())
            })?;
            for call in carried.finish() {
                b.add(&call)?;
            }
            Ok(b.finish())
        }
    }
    match source {
        Source::Whole(history) => check(&history, spec, opts),
        Source::Jsonl(file) => {
            let name = file.name().to_string();
            with_model(spec, opts, &name, "jsonl", Blocks(file))
        }
    }
}

/// An op of a piece being read, or an owned copy of one that outlives it.
enum Held<'p, 'a> {
    In(&'p LineOp<'a>),
    Kept(Box<LineOp<'static>>),
}

impl Held<'_, '_> {
    fn into_owned(self) -> Held<'static, 'static> {
        match self {
            Held::In(op) => Held::Kept(Box::new(op.clone().into_owned())),
            Held::Kept(op) => Held::Kept(op),
        }
    }
}

impl Event for Held<'_, '_> {
    fn view(&self) -> OpView<'_> {
        match self {
            Held::In(op) => op.view(),
            Held::Kept(op) => op.view(),
        }
    }
}

/// Hands calls to a [`Builder`] for whichever model the spec names.
trait Feed {
    fn feed<M: HistoryModel + Send>(self, builder: Builder<M>) -> Result<CheckResult, InputError>;
}

fn with_model(
    spec: &ModelSpec,
    opts: &CheckOptions,
    file: &str,
    format: &str,
    feed: impl Feed,
) -> Result<CheckResult, InputError> {
    match spec {
        ModelSpec::Register { .. } => {
            feed.feed(Builder::new(spec, models::Register { cas: false }, opts, file, format))
        }
        ModelSpec::CasRegister { .. } => {
            feed.feed(Builder::new(spec, models::Register { cas: true }, opts, file, format))
        }
        ModelSpec::Kv { initial } if opts.partition => {
            feed.feed(Builder::new(spec, models::KvKey::new(initial), opts, file, format))
        }
        ModelSpec::Kv { initial } => feed.feed(Builder::new(spec, models::KvMap::new(initial), opts, file, format)),
        ModelSpec::Mutex => feed.feed(Builder::new(spec, models::Mutex, opts, file, format)),
        ModelSpec::KnossosMutex => feed.feed(Builder::new(spec, models::KnossosMutex, opts, file, format)),
        ModelSpec::FencedMutex => feed.feed(Builder::new(spec, models::FencedMutex, opts, file, format)),
    }
}

/// Where an operation of a partition came from, for the evidence.
#[derive(Clone, Copy, Debug)]
struct Origin {
    /// Index of the invoke among the history's events.
    invoke: usize,
    completion: Option<usize>,
    /// Source line of the invoke.
    line: usize,
    process: u64,
}

struct Partition<M: HistoryModel> {
    key: Option<String>,
    model: M,
    values: Values,
    ops: Vec<Operation<M::Input, M::Output>>,
    /// Where each op came from.
    origins: Vec<Origin>,
}

/// Takes paired calls one at a time — in any order — encodes each for the
/// model into its key's partition, then searches every partition.
struct Builder<'o, M: HistoryModel> {
    file: String,
    format: String,
    model_name: &'static str,
    initial: Value,
    skip: &'static [OpName],
    opts: &'o CheckOptions,
    model: M,
    /// The partition of each key, and of ops with no key (or all ops, when
    /// not partitioning). Fx, not SipHash: one lookup per call, and keys
    /// come from the history being checked, not from an adversary.
    by_key: HashMap<String, usize, std::hash::BuildHasherDefault<models::FxHasher>>,
    keyless: Option<usize>,
    parts: Vec<Partition<M>>,
    /// Client calls seen.
    calls: usize,
    checked: usize,
    ignored: BTreeMap<String, usize>,
    start: Instant,
}

impl<'o, M: HistoryModel + Send> Builder<'o, M> {
    fn new(spec: &ModelSpec, model: M, opts: &'o CheckOptions, file: &str, format: &str) -> Self {
        Builder {
            file: file.to_string(),
            format: format.to_string(),
            model_name: spec.name(),
            initial: spec.initial(),
            skip: spec.ignores(),
            opts,
            model,
            by_key: HashMap::default(),
            keyless: None,
            parts: Vec::new(),
            calls: 0,
            checked: 0,
            ignored: BTreeMap::new(),
            start: Instant::now(),
        }
    }

    fn partition(&mut self, key: Option<&str>) -> usize {
        let key = if self.opts.partition { key } else { None };
        let found = match key {
            Some(k) => self.by_key.get(k).copied(),
            None => self.keyless,
        };
        if let Some(p) = found {
            return p;
        }
        let p = self.parts.len();
        self.parts.push(Partition {
            key: key.map(str::to_string),
            model: self.model.fresh(),
            values: Values::new(&self.initial),
            ops: Vec::new(),
            origins: Vec::new(),
        });
        match key {
            Some(k) => {
                self.by_key.insert(k.to_string(), p);
            }
            None => self.keyless = Some(p),
        }
        p
    }

    fn add<T: Event>(&mut self, call: &PairedCall<T>) -> Result<(), InputError> {
        let inv = call.invoke.op.view();
        let Process::Client(process) = inv.process else { return Ok(()) };
        self.calls += 1;
        let f = OpName::from(inv.f);
        if self.opts.only.is_some_and(|only| !only.contains(&f)) {
            return Ok(());
        }
        if self.skip.contains(&f) {
            *self.ignored.entry(f.to_string()).or_default() += 1;
            return Ok(());
        }
        let p = self.partition(inv.key);
        let part = &mut self.parts[p];
        let completion = call.completion.as_ref().map(|c| c.op.view());
        let view = CallView {
            f,
            process,
            key: inv.key,
            invoke: inv.value,
            result: match call.outcome {
                CallOutcome::Ok => completion.map(|c| c.value),
                _ => None,
            },
        };
        let line = match (&call.completion, call.outcome) {
            (Some(c), CallOutcome::Ok) => c.line,
            _ => call.invoke.line,
        };
        let (input, output) =
            part.model.encode(&mut part.values, &view).map_err(|m| InputError::at(&self.file, line, m))?;
        // A `fail` definitely did not happen: it constrains nothing.
        if call.outcome == CallOutcome::Fail {
            return Ok(());
        }
        let ret = match (call.outcome, completion) {
            (CallOutcome::Ok, Some(c)) => c.time,
            _ => u64::MAX,
        };
        part.ops.push(Operation { call: inv.time, ret, input, output });
        part.origins.push(Origin {
            invoke: call.invoke.index,
            completion: call.completion.as_ref().map(|c| c.index),
            line: call.invoke.line,
            process,
        });
        self.checked += 1;
        Ok(())
    }

    fn finish(self) -> CheckResult {
        let opts = self.opts;
        let mut parts = self.parts;
        // Calls arrive as they complete; the search and the evidence take
        // each partition's ops in invocation order.
        parts.par_iter_mut().for_each(|part| {
            if !part.origins.is_sorted_by_key(|o| o.invoke) {
                let mut order: Vec<usize> = (0..part.ops.len()).collect();
                order.sort_unstable_by_key(|&i| part.origins[i].invoke);
                let mut ops: Vec<Option<Operation<M::Input, M::Output>>> = part.ops.drain(..).map(Some).collect();
                part.ops = order.iter().map(|&i| ops[i].take().expect("each op once")).collect();
                part.origins = order.iter().map(|&i| part.origins[i]).collect();
            }
        });

        let budget = MemoryBudget::new(opts.memory_limit);
        // One flag stops every partition: the caller's (Ctrl-C), raised here too
        // when a failure has already decided the verdict.
        let stop = opts.cancel.clone().unwrap_or_default();
        let deadline = engine::deadline_after(opts.timeout);

        // Several partitions are searched in rounds with growing step budgets,
        // so that an easy failing key is found before a hard one has eaten the
        // clock — what Porcupine gets from one goroutine per key. A partition
        // that runs out of steps starts again next round with 8× more: at worst
        // about twice the work for that key, usually far less. A lone partition
        // has nothing to race against and runs unbounded at once.
        let mut todo: Vec<(usize, Partition<M>)> = parts.into_iter().enumerate().collect();
        // Largest first, so one big partition does not start last.
        todo.sort_by_key(|(_, p)| std::cmp::Reverse(p.ops.len()));
        let mut results: Vec<(usize, PartitionResult)> = Vec::new();
        let mut budget_steps = (todo.len() > 1).then_some(1u64 << 16);
        while !todo.is_empty() {
            let limits = Limits { deadline, memory: &budget, cancel: Some(&stop), max_steps: budget_steps };
            let round: Vec<(usize, Partition<M>, PartitionResult)> = todo
                .into_par_iter()
                .map(|(i, part)| {
                    let r = check_partition(&part, &limits);
                    if r.verdict == Verdict::Invalid && !opts.all_partitions {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    (i, part, r)
                })
                .collect();
            todo = Vec::new();
            for (i, part, mut r) in round {
                let out_of_steps = r.reason.as_deref() == Some(engine::OUT_OF_STEPS);
                if out_of_steps && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    todo.push((i, part));
                } else {
                    if r.verdict == Verdict::Unknown
                        && stop.load(std::sync::atomic::Ordering::Relaxed)
                        && opts.cancel.is_none()
                    {
                        r.reason = Some("not finished: another key already shows the history is not linearizable (use --all-partitions)".into());
                    }
                    results.push((i, r));
                }
            }
            budget_steps = budget_steps.and_then(|b| b.checked_mul(8)).filter(|&b| b < 1 << 34);
        }
        results.sort_by_key(|r| r.0);
        let partitions: Vec<PartitionResult> = results.into_iter().map(|r| r.1).collect();
        let verdict = partitions.iter().fold(Verdict::Valid, |v, p| v.combine(p.verdict));

        CheckResult {
            file: self.file,
            format: self.format,
            model: self.model_name.to_string(),
            initial: self.initial,
            verdict,
            ops: self.calls,
            checked_ops: self.checked,
            partitions,
            elapsed_ms: self.start.elapsed().as_secs_f64() * 1e3,
            ignored: self.ignored,
        }
    }
}

fn check_partition<M: HistoryModel>(part: &Partition<M>, limits: &Limits) -> PartitionResult {
    let start = Instant::now();
    let model = &part.model;
    let (outcome, stats) = engine::search(model, &part.ops, limits);
    let mut result = PartitionResult {
        key: part.key.clone(),
        ops: part.ops.len(),
        verdict: Verdict::Valid,
        reason: None,
        witness: None,
        partials: Vec::new(),
        operations: Vec::new(),
        search_steps: stats.steps,
        cache_entries: stats.cache_entries,
        cache_bytes: stats.cache_bytes,
        elapsed_ms: 0.0,
    };
    let partials = match outcome {
        Outcome::Linearizable { order } => {
            result.witness = Some(order.iter().map(|&i| part.origins[i].invoke).collect());
            Vec::new()
        }
        Outcome::NotLinearizable { partials } => {
            result.verdict = Verdict::Invalid;
            partials
        }
        Outcome::Unknown { reason, partials } => {
            result.verdict = Verdict::Unknown;
            result.reason = Some(reason);
            partials
        }
    };
    if !partials.is_empty() {
        result.operations = (0..part.ops.len()).map(|i| describe(part, i)).collect();
        result.partials = partials
            .into_iter()
            .map(|p| {
                let span = |i: usize| (part.ops[i].call, part.ops[i].ret);
                let concurrent: Vec<usize> = (0..part.ops.len())
                    .filter(|&i| i != p.stuck && precedence::concurrent(span(i), span(p.stuck)))
                    .take(32)
                    .collect();
                let mut window: Vec<usize> = p.order.iter().rev().take(5).copied().collect();
                window.push(p.stuck);
                window.extend(&concurrent);
                window.sort_unstable();
                window.dedup();
                let spans: Vec<(usize, u64, u64)> = window.iter().map(|&i| (i, span(i).0, span(i).1)).collect();
                let graph = precedence::covering_graph(&spans);
                PartialLinearization {
                    state_after: model.describe_state(&part.values, &p.state),
                    prefix: p.order,
                    stuck: p.stuck,
                    concurrent,
                    precedence: graph.all_edges().map(|(a, b, _)| [a, b]).collect(),
                }
            })
            .collect();
    }
    result.elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    result
}

fn describe<M: HistoryModel>(part: &Partition<M>, i: usize) -> OpRef {
    let origin = part.origins[i];
    let op = &part.ops[i];
    OpRef {
        invoke: origin.invoke,
        completion: origin.completion,
        process: origin.process,
        line: origin.line,
        invoke_time: op.call,
        complete_time: (op.ret != u64::MAX).then_some(op.ret),
        description: part.model.describe_op(&part.values, &op.input, &op.output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{self, Format};
    use crate::history::OpType;

    /// The answer without its timings, which differ run to run.
    fn untimed(mut r: CheckResult) -> CheckResult {
        r.elapsed_ms = 0.0;
        for p in &mut r.partitions {
            p.elapsed_ms = 0.0;
        }
        r
    }

    #[test]
    fn a_history_checked_as_it_is_read_gets_the_answer_of_one_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let valid = crate::gen::mutex_history(3_000, 7, 6, 0.01, 7);
        // Two clients hold one lock at once: a failed acquire turned ok.
        let mut broken = valid.clone();
        let fail = broken.ops.iter().rposition(|op| op.kind == OpType::Fail && op.f == OpName::Acquire).unwrap();
        broken.ops[fail].kind = OpType::Ok;
        // Ops left pending at the end, and no keys: one partition.
        let mut pending = crate::gen::mutex_history(500, 1, 4, 0.0, 3);
        pending.ops.truncate(pending.ops.len() - 3);
        for op in &mut pending.ops {
            op.key = None;
        }
        for (name, h) in [("valid", &valid), ("broken", &broken), ("pending", &pending)] {
            let path = dir.path().join(format!("{name}.jsonl"));
            let mut text = Vec::new();
            formats::jsonl::write(&mut text, &h.ops).unwrap();
            std::fs::write(&path, &text).unwrap();
            let whole = formats::read_path(&path, Format::Jsonl).unwrap();
            for opts in [CheckOptions::default(), CheckOptions { all_partitions: true, ..Default::default() }] {
                let want = untimed(check(&whole, &ModelSpec::Mutex, &opts).unwrap());
                // Blocks that end mid-line, with invocations open across them.
                for block in [97, 4096, 1 << 20] {
                    let source = formats::open_with(&path, Format::Auto, block).unwrap();
                    assert!(block > text.len() || matches!(source, Source::Jsonl(_)), "{name}: read in blocks");
                    let got = untimed(check_source(source, &ModelSpec::Mutex, &opts).unwrap());
                    assert_eq!(got, want, "{name}, blocks of {block} bytes");
                }
            }
        }
    }

    #[test]
    fn a_history_checked_as_it_is_read_names_the_first_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let h = crate::gen::mutex_history(400, 3, 4, 0.0, 5);
        let mut text = Vec::new();
        formats::jsonl::write(&mut text, &h.ops).unwrap();
        let text = String::from_utf8(text).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // A completion with no invoke at line 301, and a line that is not an op after it.
        let ok = lines.iter().find(|l| l.contains("\"type\":\"ok\"")).unwrap();
        let orphan = ok.replacen("\"process\":", "\"process\":99", 1);
        lines.insert(300, orphan);
        lines[500] = "{\"time\":1}".into();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, lines.join("\n")).unwrap();
        // Read whole, the line that is not an op stops the reading first;
        // checked as it is read, the first bad line by number wins.
        let unreadable = formats::read_path(&path, Format::Jsonl).unwrap_err();
        assert_eq!(unreadable.line, Some(501), "{unreadable}");
        for block in [100, 1000, 1 << 20] {
            let source = formats::open_with(&path, Format::Jsonl, block).unwrap();
            let got = check_source(source, &ModelSpec::Mutex, &CheckOptions::default()).unwrap_err();
            assert_eq!(got.line, Some(301), "blocks of {block}: {got}");
            assert!(got.message.contains("no matching invoke"), "{got}");
        }
        // Without the orphan, both name the line that is not an op.
        lines.remove(300);
        std::fs::write(&path, lines.join("\n")).unwrap();
        let source = formats::open_with(&path, Format::Jsonl, 1000).unwrap();
        let got = check_source(source, &ModelSpec::Mutex, &CheckOptions::default()).unwrap_err();
        assert_eq!(got, formats::read_path(&path, Format::Jsonl).unwrap_err());
        assert_eq!(got.line, Some(500), "{got}");
    }
}
