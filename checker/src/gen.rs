//! Seeded generators of histories that are linearizable by construction,
//! for benchmarks and property tests. Each simulates clients against a real
//! sequential object: every operation takes effect at one instant strictly
//! between its invocation and its completion.

use crate::history::{History, Op, OpName, OpType, Process};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The seeded generator, shared with the workloads and the nemesis.
pub use kit::Rng;

/// A lock history: `processes` clients loop acquire → release over `keys`
/// locks until `ops` operations were invoked. With probability `info_rate`
/// a completion is recorded as `info` (its effect may or may not have
/// happened — here it did, or the op failed) and the client continues as a
/// fresh process, as Jepsen does.
pub fn mutex_history(ops: usize, keys: usize, processes: usize, info_rate: f64, seed: u64) -> History {
    #[derive(Clone, Copy)]
    enum Phase {
        Idle,
        Invoked,
        Applied { ok: bool },
    }
    let mut rng = Rng::new(seed);
    let mut h = History::new("generated-mutex", "jsonl");
    let mut owner: Vec<Option<u64>> = vec![None; keys];
    // Per client slot: its process number, the key it holds or wants, what it does.
    let mut proc_of: Vec<u64> = (0..processes as u64).collect();
    let mut holding: Vec<Option<usize>> = vec![None; processes];
    let mut target: Vec<(usize, OpName)> = vec![(0, OpName::Acquire); processes];
    let mut phase = vec![Phase::Idle; processes];
    let mut next_process = processes as u64;
    let mut queue: BinaryHeap<Reverse<(u64, usize)>> = (0..processes).map(|c| Reverse((rng.below(1000), c))).collect();
    let mut invoked = 0;
    let mut pending = 0;
    while let Some(Reverse((t, c))) = queue.pop() {
        let p = proc_of[c];
        match phase[c] {
            Phase::Idle => {
                if invoked >= ops {
                    continue;
                }
                let (key, f) = match holding[c] {
                    Some(k) => (k, OpName::Release),
                    None => (rng.below(keys as u64) as usize, OpName::Acquire),
                };
                h.push(op(t, p, OpType::Invoke, f.clone(), key), 0);
                target[c] = (key, f);
                invoked += 1;
                pending += 1;
                phase[c] = Phase::Invoked;
                queue.push(Reverse((t + 1 + rng.below(2_000_000), c)));
            }
            Phase::Invoked => {
                // The linearization point: apply to the real lock table.
                let (key, f) = &target[c];
                let key = *key;
                let ok = match f {
                    OpName::Acquire if owner[key].is_none() => {
                        owner[key] = Some(p);
                        true
                    }
                    OpName::Release if owner[key] == Some(p) => {
                        owner[key] = None;
                        true
                    }
                    _ => false,
                };
                phase[c] = Phase::Applied { ok };
                queue.push(Reverse((t + 1 + rng.below(2_000_000), c)));
            }
            Phase::Applied { ok } => {
                let (key, f) = target[c].clone();
                let info = rng.chance(info_rate);
                let kind = if info {
                    OpType::Info
                } else if ok {
                    OpType::Ok
                } else {
                    OpType::Fail
                };
                let acquired = f == OpName::Acquire;
                h.push(op(t, p, kind, f, key), 0);
                pending -= 1;
                if ok {
                    holding[c] = if acquired { Some(key) } else { None };
                }
                if info {
                    // The old process keeps whatever it holds; the client starts afresh.
                    proc_of[c] = next_process;
                    next_process += 1;
                    holding[c] = None;
                }
                phase[c] = Phase::Idle;
                // Hold a lock a little longer than an idle client waits.
                let think = if holding[c].is_some() { rng.below(5_000_000) } else { rng.below(1_000_000) };
                queue.push(Reverse((t + 1 + think, c)));
            }
        }
        if invoked >= ops && pending == 0 {
            break;
        }
    }
    for (i, line) in h.lines.iter_mut().enumerate() {
        *line = i + 1;
    }
    h
}

fn op(time: u64, process: u64, kind: OpType, f: OpName, key: usize) -> Op {
    Op {
        index: 0,
        time,
        process: Process::Client(process),
        kind,
        f,
        key: Some(format!("k{key}")),
        value: Value::Null,
        node: None,
        error: None,
    }
}
