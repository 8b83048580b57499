//! The timeline's data, compact enough for 100,000 operations: one small
//! array per operation instead of an object, names interned.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use checker::analysis::fault_windows;
use checker::history::{Call, History, Outcome, Process};
use serde_json::{json, Value};

/// `{lanes, fs, keys, ops: [[lane, start, end|-1, outcome, f, key]], holds:
/// [[lane, start, end]], faults: [{name, start, end, text}], anomalies:
/// [{checker, processes, start, end, text}], end}` with times in ns. A run
/// in progress (its history still growing) is read up to its last
/// complete line.
pub fn for_run(dir: &Path) -> Result<Value, String> {
    let path = dir.join("history.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    if complete.trim().is_empty() {
        return Ok(
            json!({ "lanes": [], "fs": [], "keys": [], "ops": [], "holds": [], "faults": [], "anomalies": [], "end": 0 }),
        );
    }
    let history = checker::formats::jsonl::read(&path.display().to_string(), complete).map_err(|e| e.to_string())?;
    let results: Value = std::fs::read_to_string(dir.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Ok(build(&history, &results))
}

pub fn build(history: &History, results: &Value) -> Value {
    let calls = history.calls().unwrap_or_default();
    let mut lanes: Vec<u64> =
        history.ops.iter().filter_map(|op| if let Process::Client(p) = op.process { Some(p) } else { None }).collect();
    lanes.sort_unstable();
    lanes.dedup();
    let lane_of: HashMap<u64, usize> = lanes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut fs: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let intern = |list: &mut Vec<String>, s: &str| match list.iter().position(|x| x == s) {
        Some(i) => i,
        None => {
            list.push(s.to_string());
            list.len() - 1
        }
    };
    let mut ops = Vec::with_capacity(calls.len());
    // Per (process, key): the start of a hold not yet released.
    let mut open: BTreeMap<(u64, String), u64> = BTreeMap::new();
    let mut holds = Vec::new();
    let end = history.ops.last().map_or(0, |op| op.time);
    for call in &calls {
        let inv = &history.ops[call.invoke];
        let Process::Client(p) = inv.process else { continue };
        let lane = lane_of[&p];
        let done = call.completion.map(|c| &history.ops[c]);
        let outcome = match call.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        };
        let key = inv.key.as_deref().unwrap_or("");
        let f = intern(&mut fs, &inv.f);
        let k = intern(&mut keys, key);
        ops.push(json!([lane, inv.time, done.map_or(-1, |d| d.time as i64), outcome, f, k]));
        // Lock-held spans: acquire ok (or campaign ok) → release (resign).
        match (inv.f.as_str(), call.outcome) {
            ("acquire" | "campaign", Outcome::Ok) => {
                if let Some(d) = done {
                    if let Some(start) = open.insert((p, key.to_string()), d.time) {
                        holds.push(json!([lane, start, inv.time]));
                    }
                }
            }
            ("release" | "resign", _) => {
                if let Some(start) = open.remove(&(p, key.to_string())) {
                    holds.push(json!([lane, start, inv.time]));
                }
            }
            _ => {}
        }
    }
    for ((p, _), start) in open {
        holds.push(json!([lane_of[&p], start, end]));
    }
    let faults: Vec<Value> = fault_windows(history)
        .iter()
        .map(|w| json!({ "name": w.name, "start": w.start, "end": w.end, "text": w.words() }))
        .collect();
    json!({
        "lanes": lanes,
        "fs": fs,
        "keys": keys,
        "ops": ops,
        "holds": holds,
        "faults": faults,
        "anomalies": anomalies(results, history, &calls),
        "end": end,
    })
}

/// Every anomaly of every checker, each with a span to mark, so the
/// timeline marks exactly as many as the report counts. The checkers time
/// most anomalies themselves; the others (duplicate tokens, two leaders in
/// one term, lost increments) are placed at the operations that show them.
pub fn anomalies(results: &Value, history: &History, calls: &[Call]) -> Vec<Value> {
    let mut out = Vec::new();
    for c in results["checkers"].as_array().into_iter().flatten() {
        for a in c["evidence"]["anomalies"].as_array().into_iter().flatten() {
            let mut processes: Vec<u64> =
                a["processes"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
            // Lost increments name no processes; the writers of a value
            // written twice are the ones whose increments collided.
            for r in a["repeated_values"].as_array().into_iter().flatten() {
                processes.extend(r["processes"].as_array().into_iter().flatten().filter_map(Value::as_u64));
            }
            processes.sort_unstable();
            processes.dedup();
            let timed = a["start"].as_u64().or_else(|| a["at"].as_u64());
            let (start, end) = match timed {
                Some(start) => (start, start + a["duration"].as_u64().unwrap_or(0)),
                None => locate(a, &processes, history, calls),
            };
            out.push(json!({
                "checker": c["checker"],
                "processes": processes,
                "start": start,
                "end": end,
                "text": a["text"],
            }));
        }
    }
    out
}

/// The span of the completions that show an untimed anomaly: the grants
/// carrying its duplicate token, the campaigns won in its term, or the
/// writes and final read of its counter. Failing those, its processes' ops
/// on its key; failing that, the whole history.
fn locate(a: &Value, processes: &[u64], history: &History, calls: &[Call]) -> (u64, u64) {
    let key = a["key"].as_str();
    let on_key = |call: &&Call| {
        let inv = &history.ops[call.invoke];
        let Process::Client(p) = inv.process else { return false };
        inv.key.as_deref() == key && (processes.is_empty() || processes.contains(&p))
    };
    let value = |call: &Call| -> Value {
        match call.completion.map(|c| &history.ops[c].value) {
            Some(v) if !v.is_null() => v.clone(),
            _ => history.ops[call.invoke].value.clone(),
        }
    };
    let shows = |call: &&Call| {
        let f = history.ops[call.invoke].f.as_str();
        if call.outcome != Outcome::Ok {
            return false;
        }
        if let Some(token) = a["token"].as_i64() {
            f == "acquire" && value(call)["token"].as_i64() == Some(token)
        } else if let Some(term) = a["term"].as_i64() {
            f == "campaign" && value(call)["term"].as_i64() == Some(term)
        } else {
            a.get("lost").is_some() && (f == "write" || f == "final-read")
        }
    };
    let span = |found: Vec<&Call>| -> Option<(u64, u64)> {
        let times: Vec<u64> = found.iter().filter_map(|c| c.completion.map(|i| history.ops[i].time)).collect();
        Some((*times.iter().min()?, *times.iter().max()?))
    };
    // Lost increments were acknowledged to any writer of the counter.
    let counter = |call: &&Call| history.ops[call.invoke].key.as_deref() == key && shows(call);
    let direct: Vec<&Call> = if a.get("lost").is_some() {
        calls.iter().filter(counter).collect()
    } else {
        calls.iter().filter(on_key).filter(shows).collect()
    };
    span(direct)
        .or_else(|| span(calls.iter().filter(on_key).collect()))
        .unwrap_or_else(|| (history.ops.first().map_or(0, |op| op.time), history.ops.last().map_or(0, |op| op.time)))
}
