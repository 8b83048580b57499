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
use crate::history::{Call, History, Outcome as CallOutcome, Process};
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
    pub only: Option<&'static [&'static str]>,
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
    match spec {
        ModelSpec::Register { .. } => run(history, spec, models::Register { cas: false }, opts),
        ModelSpec::CasRegister { .. } => run(history, spec, models::Register { cas: true }, opts),
        ModelSpec::Kv { initial } if opts.partition => run(history, spec, models::KvKey::new(initial), opts),
        ModelSpec::Kv { initial } => run(history, spec, models::KvMap::new(initial), opts),
        ModelSpec::Mutex => run(history, spec, models::Mutex, opts),
        ModelSpec::KnossosMutex => run(history, spec, models::KnossosMutex, opts),
        ModelSpec::FencedMutex => run(history, spec, models::FencedMutex, opts),
    }
}

struct Partition<M: HistoryModel> {
    key: Option<String>,
    model: M,
    values: Values,
    ops: Vec<Operation<M::Input, M::Output>>,
    /// The history call behind each op.
    calls: Vec<Call>,
}

fn run<M: HistoryModel + Send>(
    history: &History,
    spec: &ModelSpec,
    model: M,
    opts: &CheckOptions,
) -> Result<CheckResult, InputError> {
    let start = Instant::now();
    let calls = history.calls()?;
    let initial = spec.initial();

    let mut index: HashMap<Option<&str>, usize> = HashMap::new();
    let mut parts: Vec<Partition<M>> = Vec::new();
    let mut checked = 0;
    let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
    let skip = spec.ignores();
    for call in &calls {
        let inv = &history.ops[call.invoke];
        let Process::Client(process) = inv.process else { continue };
        if opts.only.is_some_and(|only| !only.contains(&inv.f.as_str())) {
            continue;
        }
        if skip.contains(&inv.f.as_str()) {
            *ignored.entry(inv.f.clone()).or_default() += 1;
            continue;
        }
        let key = if opts.partition { inv.key.as_deref() } else { None };
        let p = *index.entry(key).or_insert_with(|| {
            parts.push(Partition {
                key: key.map(str::to_string),
                model: model.fresh(),
                values: Values::new(&initial),
                ops: Vec::new(),
                calls: Vec::new(),
            });
            parts.len() - 1
        });
        let part = &mut parts[p];
        let completion = call.completion.map(|c| &history.ops[c]);
        let view = CallView {
            f: &inv.f,
            process,
            key: inv.key.as_deref(),
            invoke: &inv.value,
            result: match call.outcome {
                CallOutcome::Ok => completion.map(|c| &c.value),
                _ => None,
            },
        };
        let line = call.completion.filter(|_| call.outcome == CallOutcome::Ok).unwrap_or(call.invoke);
        let (input, output) = part
            .model
            .encode(&mut part.values, &view)
            .map_err(|m| InputError::at(&history.file, history.line_of(line), m))?;
        // A `fail` definitely did not happen: it constrains nothing.
        if call.outcome == CallOutcome::Fail {
            continue;
        }
        let ret = match (call.outcome, completion) {
            (CallOutcome::Ok, Some(c)) => c.time,
            _ => u64::MAX,
        };
        part.ops.push(Operation { call: inv.time, ret, input, output });
        part.calls.push(*call);
        checked += 1;
    }

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
                let r = check_partition(history, &part, &limits);
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

    Ok(CheckResult {
        file: history.file.clone(),
        format: history.format.to_string(),
        model: spec.name().to_string(),
        initial,
        verdict,
        ops: calls.len(),
        checked_ops: checked,
        partitions,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
        ignored,
    })
}

fn check_partition<M: HistoryModel>(history: &History, part: &Partition<M>, limits: &Limits) -> PartitionResult {
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
            result.witness = Some(order.iter().map(|&i| part.calls[i].invoke).collect());
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
        result.operations = (0..part.ops.len()).map(|i| describe(history, part, i)).collect();
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

fn describe<M: HistoryModel>(history: &History, part: &Partition<M>, i: usize) -> OpRef {
    let call = part.calls[i];
    let inv = &history.ops[call.invoke];
    let op = &part.ops[i];
    OpRef {
        invoke: call.invoke,
        completion: call.completion,
        process: match inv.process {
            Process::Client(p) => p,
            Process::Nemesis => u64::MAX,
        },
        line: history.line_of(call.invoke),
        invoke_time: op.call,
        complete_time: (op.ret != u64::MAX).then_some(op.ret),
        description: part.model.describe_op(&part.values, &op.input, &op.output),
    }
}
