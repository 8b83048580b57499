//! Property tests, for every model:
//! - histories generated from a real sequential execution, with random
//!   overlapping intervals and random `fail`/`info` outcomes, are linearizable;
//! - on small random histories (≤ 10 ops, many not linearizable) the engine
//!   agrees with a brute-force search that shares nothing with it but the
//!   model's `step`.

use checker::check::{check, CheckOptions};
use checker::engine::{self, Limits, MemoryBudget, Operation};
use checker::gen::Rng;
use checker::history::{History, Op, OpType, Outcome, Process};
use checker::models::{self, CallView, HistoryModel, Model, ModelSpec, Step, Values};
use checker::Verdict;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashSet;

/// What a generated operation is: its name, key and invocation value.
type OpSpec = (&'static str, Option<String>, Value);

/// Simulates `clients` clients against a sequential object. Each op takes
/// effect (via `apply`, which returns `None` when the op fails with no
/// effect) at one instant between its invocation and completion. With
/// probability `info_rate` the completion is `info` and the client
/// continues as a new process.
fn simulate(
    seed: u64,
    n_ops: usize,
    clients: usize,
    info_rate: f64,
    mut choose: impl FnMut(&mut Rng, u64) -> OpSpec,
    mut apply: impl FnMut(u64, &OpSpec) -> Option<Value>,
) -> History {
    let mut rng = Rng::new(seed);
    // (time, client, stage): 0 invoke, 1 take effect, 2 complete
    let mut events: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize, u8)>> =
        (0..clients).map(|c| std::cmp::Reverse((rng.below(10), c, 0))).collect();
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut current: Vec<Option<(OpSpec, Option<Value>)>> = vec![None; clients];
    let mut h = History::new("generated", "jsonl");
    let mut invoked = 0;
    let mut line = 0;
    while let Some(std::cmp::Reverse((t, c, stage))) = events.pop() {
        let p = process[c];
        let mut push = |h: &mut History, kind, spec: &OpSpec, value: Value| {
            line += 1;
            h.push(
                Op {
                    index: 0,
                    time: t,
                    process: Process::Client(p),
                    kind,
                    f: spec.0.into(),
                    key: spec.1.clone(),
                    value,
                    node: None,
                    error: None,
                },
                line,
            );
        };
        match stage {
            0 if invoked < n_ops => {
                invoked += 1;
                let spec = choose(&mut rng, p);
                push(&mut h, OpType::Invoke, &spec, spec.2.clone());
                current[c] = Some((spec, None));
                events.push(std::cmp::Reverse((t + 1 + rng.below(20), c, 1)));
            }
            0 => {}
            1 => {
                let (spec, _) = current[c].take().expect("invoked");
                let result = apply(p, &spec);
                current[c] = Some((spec, result));
                events.push(std::cmp::Reverse((t + 1 + rng.below(20), c, 2)));
            }
            _ => {
                let (spec, result) = current[c].take().expect("applied");
                if rng.chance(info_rate) {
                    push(&mut h, OpType::Info, &spec, Value::Null);
                    process[c] = next_process;
                    next_process += 1;
                } else {
                    match result {
                        Some(v) => push(&mut h, OpType::Ok, &spec, v),
                        None => push(&mut h, OpType::Fail, &spec, Value::Null),
                    }
                }
                events.push(std::cmp::Reverse((t + rng.below(5), c, 0)));
            }
        }
    }
    h
}

fn register_run(seed: u64, cas: bool) -> History {
    let mut value = json!(0);
    simulate(
        seed,
        60,
        4,
        0.1,
        |rng, _| match rng.below(if cas { 3 } else { 2 }) {
            0 => ("read", None, Value::Null),
            1 => ("write", None, json!(rng.below(3))),
            _ => ("cas", None, json!([rng.below(3), rng.below(3)])),
        },
        |_, (f, _, arg)| {
            Some(match *f {
                "read" => value.clone(),
                "write" => {
                    value = arg.clone();
                    arg.clone()
                }
                _ if value == arg[0] => {
                    value = arg[1].clone();
                    arg.clone()
                }
                _ => Value::Bool(false),
            })
        },
    )
}

fn kv_run(seed: u64) -> History {
    let mut map: std::collections::HashMap<String, String> = Default::default();
    simulate(
        seed,
        60,
        4,
        0.1,
        |rng, _| {
            let key = Some(format!("k{}", rng.below(3)));
            match rng.below(3) {
                0 => ("get", key, Value::Null),
                1 => ("put", key, json!(format!("v{}", rng.below(3)))),
                _ => ("append", key, json!(format!("a{}", rng.below(3)))),
            }
        },
        |_, (f, key, arg)| {
            let cur = map.entry(key.clone().unwrap()).or_default();
            Some(match *f {
                "get" => json!(cur.clone()),
                "put" => {
                    *cur = arg.as_str().unwrap().to_string();
                    arg.clone()
                }
                _ => {
                    cur.push_str(arg.as_str().unwrap());
                    arg.clone()
                }
            })
        },
    )
}

/// Locks with fencing tokens from a counter bumped on every grant.
fn lock_run(seed: u64) -> History {
    let mut owner: std::collections::HashMap<String, u64> = Default::default();
    let holding: std::cell::RefCell<std::collections::HashMap<u64, String>> = Default::default();
    let mut token = 0;
    simulate(
        seed,
        60,
        4,
        0.05,
        |rng, p| match holding.borrow().get(&p).cloned() {
            Some(k) if rng.chance(0.8) => ("release", Some(k), Value::Null),
            _ => ("acquire", Some(format!("l{}", rng.below(2))), Value::Null),
        },
        |p, (f, key, _)| {
            let key = key.clone().unwrap();
            match *f {
                "acquire" if !owner.contains_key(&key) => {
                    owner.insert(key.clone(), p);
                    holding.borrow_mut().insert(p, key);
                    token += 1;
                    Some(json!({ "token": token }))
                }
                "release" if owner.get(&key) == Some(&p) => {
                    owner.remove(&key);
                    holding.borrow_mut().remove(&p);
                    Some(Value::Null)
                }
                _ => None,
            }
        },
    )
}

fn verdict(h: &History, spec: &ModelSpec) -> Verdict {
    check(h, spec, &CheckOptions::default()).unwrap_or_else(|e| panic!("{e}")).verdict
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn real_executions_are_linearizable(seed in any::<u64>()) {
        let zero = json!(0);
        prop_assert_eq!(verdict(&register_run(seed, false), &ModelSpec::Register { initial: zero.clone() }), Verdict::Valid);
        prop_assert_eq!(verdict(&register_run(seed, true), &ModelSpec::CasRegister { initial: zero }), Verdict::Valid);
        prop_assert_eq!(verdict(&kv_run(seed), &ModelSpec::Kv { initial: String::new() }), Verdict::Valid);
        let locks = lock_run(seed);
        prop_assert_eq!(verdict(&locks, &ModelSpec::Mutex), Verdict::Valid);
        prop_assert_eq!(verdict(&locks, &ModelSpec::KnossosMutex), Verdict::Valid);
        prop_assert_eq!(verdict(&locks, &ModelSpec::FencedMutex), Verdict::Valid);
        let generated = checker::gen::mutex_history(300, 3, 4, 0.05, seed);
        prop_assert_eq!(verdict(&generated, &ModelSpec::Mutex), Verdict::Valid);
    }
}

/// Encodes every call that did not `fail` as `(invoke index, call time,
/// return time, input, output)`, independently of the checker's own path.
#[allow(clippy::type_complexity)]
fn encode_calls<M: HistoryModel>(
    model: &M,
    h: &History,
    initial: &Value,
) -> Vec<(usize, u64, u64, M::Input, M::Output)> {
    let mut values = Values::new(initial);
    let mut ops = Vec::new();
    for call in h.calls().unwrap() {
        let inv = &h.ops[call.invoke];
        let Process::Client(p) = inv.process else { continue };
        let result = match call.outcome {
            Outcome::Ok => call.completion.map(|c| &h.ops[c].value),
            _ => None,
        };
        let view = CallView { f: inv.f.clone(), process: p, key: inv.key.as_deref(), invoke: &inv.value, result };
        let (i, o) = model.encode(&mut values, &view).unwrap();
        let ret = match call.outcome {
            Outcome::Ok => h.ops[call.completion.unwrap()].time,
            Outcome::Fail => continue,
            Outcome::Info => u64::MAX,
        };
        ops.push((call.invoke, inv.time, ret, i, o));
    }
    ops
}

/// Brute force: try every order that respects real time; `info` ops may
/// also never happen. Memoised on (linearized set, state).
fn brute<M: HistoryModel>(model: M, h: &History, initial: &Value) -> bool {
    let ops: Vec<_> = encode_calls(&model, h, initial)
        .into_iter()
        .map(|(_, call, ret, i, o)| (call, ret, ret == u64::MAX, i, o))
        .collect();
    /// (invoke, return, pending, input, output) of each op.
    type Timed<M> = (u64, u64, bool, <M as Model>::Input, <M as Model>::Output);
    fn go<M: Model>(m: &M, ops: &[Timed<M>], done: u32, s: M::State, seen: &mut HashSet<(u32, M::State)>) -> bool {
        if ops.iter().enumerate().all(|(i, o)| done & (1 << i) != 0 || o.2) {
            return true;
        }
        if !seen.insert((done, s.clone())) {
            return false;
        }
        for (x, op) in ops.iter().enumerate() {
            if done & (1 << x) != 0 {
                continue;
            }
            // x may go next unless some other pending op returned before x was invoked.
            let blocked = ops.iter().enumerate().any(|(y, o)| y != x && done & (1 << y) == 0 && o.1 < op.0);
            if blocked {
                continue;
            }
            let next = match m.step(&s, &op.3, &op.4) {
                Step::Illegal => continue,
                Step::Same => s.clone(),
                Step::To(n) => n,
            };
            if go(m, ops, done | (1 << x), next, seen) {
                return true;
            }
        }
        false
    }
    go(&model, &ops, 0, model.init(), &mut HashSet::new())
}

/// A small random history: up to 10 ops by up to 4 processes, random
/// times, values and outcomes — most are not linearizable.
fn random_small(seed: u64, choose: impl Fn(&mut Rng) -> (&'static str, Option<String>, Value, Value)) -> History {
    random_shaped(seed, 10, 1, choose)
}

/// `random_small` with up to `max_ops` ops, of which about `unknown` in 10
/// end `info` and as many stay pending.
fn random_shaped(
    seed: u64,
    max_ops: u64,
    unknown: u64,
    choose: impl Fn(&mut Rng) -> (&'static str, Option<String>, Value, Value),
) -> History {
    let mut rng = Rng::new(seed);
    let n = 1 + rng.below(max_ops) as usize;
    let mut events: Vec<(u64, u8, usize, Op)> = Vec::new();
    let mut clock = [0u64; 4];
    let mut next_proc = 4;
    let mut procs = [0u64, 1, 2, 3];
    for i in 0..n {
        let c = rng.below(4) as usize;
        let (f, key, arg, result) = choose(&mut rng);
        let t0 = clock[c] + rng.below(6);
        let t1 = t0 + rng.below(8);
        clock[c] = t1 + 1;
        let p = Process::Client(procs[c]);
        let mk = |kind, value: Value, time| Op {
            index: 0,
            time,
            process: p,
            kind,
            f: f.into(),
            key: key.clone(),
            value,
            node: None,
            error: None,
        };
        events.push((t0, 0, i, mk(OpType::Invoke, arg, t0)));
        match rng.below(10) {
            r if r < unknown => {
                events.push((t1, 1, i, mk(OpType::Info, Value::Null, t1)));
                procs[c] = next_proc;
                next_proc += 1;
            }
            r if r == unknown => events.push((t1, 1, i, mk(OpType::Fail, Value::Null, t1))),
            r if r <= 2 * unknown => {} // pending at the end
            _ => events.push((t1, 1, i, mk(OpType::Ok, result, t1))),
        }
        if events.last().map(|e| e.1) == Some(0) {
            clock[c] = u64::MAX / 2; // a pending op ends this process
            procs[c] = next_proc;
            next_proc += 1;
        }
    }
    events.retain(|e| e.0 < u64::MAX / 4);
    events.sort_by_key(|e| (e.0, e.1, e.2));
    let mut h = History::new("random", "jsonl");
    for (line, e) in events.into_iter().enumerate() {
        h.push(e.3, line + 1);
    }
    h
}

fn agree<M: HistoryModel>(model: M, spec: &ModelSpec, h: &History) -> Result<(), TestCaseError> {
    if h.calls().is_err() {
        return Ok(()); // the generator can make a process overlap itself; skip those
    }
    let expected = if brute(model, h, &spec.initial()) { Verdict::Valid } else { Verdict::Invalid };
    let got = verdict(h, spec);
    prop_assert_eq!(got, expected, "{:#?}", h.ops);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_brute_force(seed in any::<u64>()) {
        let small = |rng: &mut Rng| json!(rng.below(3));
        let reg = random_small(seed, |rng| match rng.below(2) {
            0 => ("read", None, Value::Null, small(rng)),
            _ => { let v = small(rng); ("write", None, v.clone(), v) }
        });
        agree(models::Register { cas: false }, &ModelSpec::Register { initial: json!(0) }, &reg)?;
        let cas = random_small(seed, |rng| match rng.below(3) {
            0 => ("read", None, Value::Null, small(rng)),
            1 => { let v = small(rng); ("write", None, v.clone(), v) }
            _ => { let v = json!([rng.below(3), rng.below(3)]); let r = if rng.chance(0.5) { v.clone() } else { json!(false) }; ("cas", None, v, r) }
        });
        agree(models::Register { cas: true }, &ModelSpec::CasRegister { initial: Value::Null }, &cas)?;
        let kv = random_small(seed, |rng| {
            let key = Some(format!("k{}", rng.below(2)));
            let s = |rng: &mut Rng| json!(["", "x", "y", "xy"][rng.below(4) as usize]);
            match rng.below(3) {
                0 => ("get", key, Value::Null, s(rng)),
                1 => { let v = s(rng); ("put", key, v.clone(), v) }
                _ => { let v = json!(["x", "y"][rng.below(2) as usize]); ("append", key, v.clone(), v) }
            }
        });
        agree(models::KvMap::new(""), &ModelSpec::Kv { initial: String::new() }, &kv)?;
        let lock = |token: bool| move |rng: &mut Rng| match rng.below(2) {
            0 => ("acquire", Some("l".to_string()), Value::Null, if token { json!({"token": rng.below(4)}) } else { Value::Null }),
            _ => ("release", Some("l".to_string()), Value::Null, Value::Null),
        };
        let locks = random_small(seed, lock(false));
        agree(models::Mutex, &ModelSpec::Mutex, &locks)?;
        agree(models::KnossosMutex, &ModelSpec::KnossosMutex, &locks)?;
        agree(models::FencedMutex, &ModelSpec::FencedMutex, &random_small(seed, lock(true)))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Histories where most ops' outcomes are unknown: what the engine's
    /// deferred ops and their subset pruning are about.
    #[test]
    fn engine_agrees_with_brute_force_on_unknown_outcomes(seed in any::<u64>()) {
        let small = |rng: &mut Rng| json!(rng.below(3));
        let cas = random_shaped(seed, 14, 3, |rng| match rng.below(3) {
            0 => ("read", None, Value::Null, small(rng)),
            1 => { let v = small(rng); ("write", None, v.clone(), v) }
            _ => { let v = json!([rng.below(3), rng.below(3)]); let r = if rng.chance(0.5) { v.clone() } else { json!(false) }; ("cas", None, v, r) }
        });
        agree(models::Register { cas: true }, &ModelSpec::CasRegister { initial: Value::Null }, &cas)?;
        let kv = random_shaped(seed, 14, 3, |rng| {
            let key = Some(format!("k{}", rng.below(2)));
            let s = |rng: &mut Rng| json!(["", "x", "y", "xy"][rng.below(4) as usize]);
            match rng.below(3) {
                0 => ("get", key, Value::Null, s(rng)),
                1 => { let v = s(rng); ("put", key, v.clone(), v) }
                _ => { let v = json!(["x", "y"][rng.below(2) as usize]); ("append", key, v.clone(), v) }
            }
        });
        agree(models::KvMap::new(""), &ModelSpec::Kv { initial: String::new() }, &kv)?;
        let token = |rng: &mut Rng| match rng.below(3) {
            0 => ("acquire", Some("l".to_string()), Value::Null, json!({"token": rng.below(4)})),
            1 => ("renew", Some("l".to_string()), Value::Null, Value::Null),
            _ => ("release", Some("l".to_string()), Value::Null, Value::Null),
        };
        let locks = random_shaped(seed, 14, 3, token);
        agree(models::Mutex, &ModelSpec::Mutex, &locks)?;
        agree(models::FencedMutex, &ModelSpec::FencedMutex, &locks)?;
    }
}

/// Replays a witness order: every op in it must be legal in turn, respect
/// real time, and every completed op must appear.
fn witness_is_valid<M: HistoryModel>(model: M, h: &History, initial: &Value, order: &[usize]) -> bool {
    let by_invoke: std::collections::HashMap<usize, _> =
        encode_calls(&model, h, initial).into_iter().map(|(idx, call, ret, i, o)| (idx, (call, ret, i, o))).collect();
    if order.len() != by_invoke.len() {
        return false;
    }
    let mut state = model.init();
    for (n, idx) in order.iter().enumerate() {
        let (call, _, i, o) = &by_invoke[idx];
        // Nothing placed later may have returned before this op was invoked.
        if order[n + 1..].iter().any(|later| by_invoke[later].1 < *call) {
            return false;
        }
        state = match model.step(&state, i, o) {
            Step::Illegal => return false,
            Step::Same => state,
            Step::To(s) => s,
        };
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn witnesses_replay(seed in any::<u64>()) {
        let h = register_run(seed, true);
        let spec = ModelSpec::CasRegister { initial: json!(0) };
        let r = check(&h, &spec, &CheckOptions::default()).unwrap();
        let order = r.partitions[0].witness.clone().unwrap();
        let valid = witness_is_valid(models::Register { cas: true }, &h, &json!(0), &order);
        prop_assert!(valid);
        // One lock, so the one partition's witness covers the whole history.
        let locks = checker::gen::mutex_history(200, 1, 4, 0.05, seed);
        let r = check(&locks, &ModelSpec::Mutex, &CheckOptions::default()).unwrap();
        let order = r.partitions[0].witness.clone().unwrap();
        let valid = witness_is_valid(models::Mutex, &locks, &Value::Null, &order);
        prop_assert!(valid);
    }
}

/// The evidence of a failure, straight from the engine: each partial
/// linearization is a real prefix (every op legal in turn, ending in the
/// state it names, closed under real-time precedence), stuck on a completed
/// op outside it; one per stuck op, longest first, at most `MAX_PARTIALS`.
fn partials_hold<M: HistoryModel>(model: M, h: &History, initial: &Value) -> Result<(), TestCaseError> {
    if h.calls().is_err() {
        return Ok(()); // the generator can make a process overlap itself; skip those
    }
    let ops: Vec<Operation<M::Input, M::Output>> = encode_calls(&model, h, initial)
        .into_iter()
        .map(|(_, call, ret, input, output)| Operation { call, ret, input, output })
        .collect();
    let budget = MemoryBudget::new(1 << 30);
    let limits = Limits { deadline: None, memory: &budget, cancel: None, max_steps: None };
    let (outcome, _) = engine::search(&model, &ops, &limits);
    let partials = match outcome {
        engine::Outcome::Linearizable { .. } => return Ok(()),
        engine::Outcome::NotLinearizable { partials } => partials,
        engine::Outcome::Unknown { reason, .. } => return Err(TestCaseError::fail(reason)),
    };
    prop_assert!(!partials.is_empty() && partials.len() <= engine::MAX_PARTIALS, "{}", partials.len());
    prop_assert!(partials.windows(2).all(|w| w[0].order.len() >= w[1].order.len()), "longest first");
    let stuck: HashSet<usize> = partials.iter().map(|p| p.stuck).collect();
    prop_assert_eq!(stuck.len(), partials.len(), "one prefix per stuck op");
    for p in &partials {
        prop_assert!(!p.order.contains(&p.stuck) && ops[p.stuck].ret != u64::MAX);
        let mut state = model.init();
        for (n, &x) in p.order.iter().enumerate() {
            let earlier = (0..ops.len()).filter(|&y| ops[y].ret < ops[x].call);
            prop_assert!(earlier.into_iter().all(|y| p.order[..n].contains(&y)), "{:?} breaks real time", p.order);
            state = match model.step(&state, &ops[x].input, &ops[x].output) {
                Step::Illegal => return Err(TestCaseError::fail(format!("{:?}: op {x} illegal", p.order))),
                Step::Same => state,
                Step::To(s) => s,
            };
        }
        prop_assert!(state == p.state, "{:?} does not end in its state", p.order);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn partials_are_prefixes(seed in any::<u64>()) {
        let small = |rng: &mut Rng| json!(rng.below(3));
        let cas = random_small(seed, |rng| match rng.below(3) {
            0 => ("read", None, Value::Null, small(rng)),
            1 => { let v = small(rng); ("write", None, v.clone(), v) }
            _ => { let v = json!([rng.below(3), rng.below(3)]); let r = if rng.chance(0.5) { v.clone() } else { json!(false) }; ("cas", None, v, r) }
        });
        partials_hold(models::Register { cas: true }, &cas, &Value::Null)?;
        // A longer run with one read made stale: many ways to get stuck.
        let mut h = register_run(seed, true);
        let mut rng = Rng::new(seed);
        let reads: Vec<usize> = (0..h.ops.len()).filter(|&i| h.ops[i].kind == OpType::Ok && h.ops[i].f.as_str() == "read").collect();
        if !reads.is_empty() {
            let i = reads[rng.below(reads.len() as u64) as usize];
            h.ops[i].value = json!(rng.below(3));
        }
        partials_hold(models::Register { cas: true }, &h, &json!(0))?;
    }
}
