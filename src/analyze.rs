//! Every checker that applies to a history, run once, into the
//! `results.json` a run (or an imported history) keeps: each checker's
//! verdict and evidence, the overall verdict, and the key figures the index
//! and the comparison read.

use std::time::Duration;

use checker::analysis::{self, Analysis};
use checker::check::{check, CheckOptions};
use checker::models::ModelSpec;
use checker::Verdict;
use checker::{History, OpType, Process};
use serde_json::{json, Value};

pub struct Analyzed {
    pub verdict: Verdict,
    pub checkers: Vec<Analysis>,
    pub stats: Value,
}

impl Analyzed {
    pub fn to_json(&self, extra: Value) -> Value {
        let mut v = json!({ "verdict": self.verdict, "checkers": self.checkers, "stats": self.stats });
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    }

    /// The one-screen summary: a line per checker.
    pub fn print(&self) {
        for c in &self.checkers {
            let mark = match (c.checker, c.validity) {
                ("availability", _) => "info   ",
                (_, Verdict::Valid) => "valid  ",
                (_, Verdict::Invalid) => "INVALID",
                (_, Verdict::Unknown) => "unknown",
            };
            out!("  {mark}  {:<17} {}", c.checker, c.summary);
        }
        if let Some(a) = self.checkers.iter().find(|c| c.checker == "availability") {
            for o in a.evidence["outages"].as_array().into_iter().flatten() {
                out!("           outage: {}", o["text"].as_str().unwrap_or(""));
            }
        }
    }
}

/// Runs the checkers that apply to what the history holds: lock checkers
/// when there are acquires, fencing when grants carry tokens, lost updates
/// for counter writes, the election checker when there are campaigns, and,
/// for any other history (an imported Jepsen one), the linearizability
/// check with the model inferred from its ops.
pub fn analyze(history: &History, timeout: Duration) -> Result<Analyzed, String> {
    let has = |f: &str| history.ops.iter().any(|op| op.f == f);
    let mut checkers = Vec::new();
    let opts = CheckOptions { timeout: Some(timeout), ..Default::default() };
    let mut linearizable = |h: &History, model: &ModelSpec| -> Result<(), String> {
        let result = check(h, model, &opts).map_err(|e| e.to_string())?;
        let failing = result.failing().count();
        let summary = match result.verdict {
            checker::Verdict::Valid => format!("{}: linearizable ({} ops)", result.model, result.checked_ops),
            checker::Verdict::Invalid => {
                let n = result.partitions.len();
                let keys = if n == 1 { "key" } else { "keys" };
                let fail = if failing == 1 { "fails" } else { "fail" };
                format!("{}: NOT linearizable ({failing} of {n} {keys} {fail})", result.model)
            }
            checker::Verdict::Unknown => format!("{}: unknown (search stopped: deadline or memory)", result.model),
        };
        checkers.push(Analysis {
            checker: "linearizable",
            validity: result.verdict.into(),
            summary,
            evidence: serde_json::to_value(&result).map_err(|e| e.to_string())?,
        });
        Ok(())
    };
    let locks = has("acquire");
    let campaigns = has("campaign");
    // `None` when grants carry no tokens: then there is no fenced-mutex
    // check either.
    let fencing = if locks { analysis::fencing(history).map_err(|e| e.to_string())? } else { None };
    if locks {
        let lock_ops = history.only(&["acquire", "release", "renew"]);
        linearizable(&lock_ops, &ModelSpec::Mutex)?;
        if fencing.is_some() {
            linearizable(&lock_ops, &ModelSpec::FencedMutex)?;
        }
    } else if !campaigns {
        linearizable(history, &ModelSpec::infer(history))?;
    }
    if locks {
        checkers.push(analysis::mutual_exclusion(history).map_err(|e| e.to_string())?);
        checkers.extend(fencing);
        if has("write") {
            checkers.extend(analysis::lost_updates(history).map_err(|e| e.to_string())?);
        }
    }
    if campaigns {
        checkers.extend(analysis::election(history).map_err(|e| e.to_string())?);
    }
    let availability = analysis::availability(history).map_err(|e| e.to_string())?;
    let verdict = checkers.iter().fold(Verdict::Valid, |v, c| v.combine(c.validity));
    let stats = stats(history, &availability);
    checkers.push(availability);
    Ok(Analyzed { verdict, checkers, stats })
}

/// The figures the index keeps for listing and comparison.
fn stats(history: &History, availability: &Analysis) -> Value {
    let first = history.ops.first().map_or(0, |op| op.time);
    let last = history.ops.last().map_or(0, |op| op.time);
    let duration = Duration::from_nanos(last.saturating_sub(first));
    let ops = history.ops.iter().filter(|op| op.process != Process::Nemesis && op.kind != OpType::Invoke).count();
    let e = &availability.evidence;
    let recoveries: Vec<f64> =
        e["recoveries"].as_array().into_iter().flatten().filter_map(|r| r["recovery_ns"].as_f64()).collect();
    let faults = analysis::fault_windows(history).len();
    json!({
        "ops": ops,
        "duration_ms": duration.as_millis() as u64,
        "ops_per_s": if duration.is_zero() { 0.0 } else { ops as f64 / duration.as_secs_f64() },
        "grant_p50_ms": e["grant_latency"]["p50_ms"],
        "grant_p99_ms": e["grant_latency"]["p99_ms"],
        "progress_share": e["progress_share"],
        "recovery_ms": if recoveries.is_empty() { Value::Null } else { json!(recoveries.iter().sum::<f64>() / recoveries.len() as f64 / 1e6) },
        "faults": faults,
    })
}

/// `fencepost check store/RUN`: every checker on the run's history, printed
/// as `run` prints them (or as JSON); returns the overall verdict.
pub fn check_run_dir(dir: &std::path::Path, timeout: Duration, json_out: bool) -> Result<Verdict, String> {
    let path = dir.join("history.jsonl");
    if !path.is_file() {
        return Err(format!("{}: a folder, but not a run's (no history.jsonl in it)", dir.display()));
    }
    let history = checker::formats::read_path(&path, checker::formats::Format::Jsonl).map_err(|e| e.to_string())?;
    check_history(&history, timeout, json_out)
}

/// Every checker that applies to `history`, printed; the overall verdict.
pub fn check_history(history: &History, timeout: Duration, json_out: bool) -> Result<Verdict, String> {
    let analyzed = analyze(history, timeout)?;
    if json_out {
        let text = serde_json::to_string_pretty(&analyzed.to_json(json!({ "file": history.file })))
            .map_err(|e| format!("cannot print the result: {e}"))?;
        out!("{text}");
    } else {
        out!("history:    {} ({} events)", history.file, history.ops.len());
        analyzed.print();
        out!("verdict:    {}", analyzed.verdict.as_str());
    }
    Ok(analyzed.verdict)
}

/// Exit codes as for `check`: 0 valid, 1 invalid, 2 unknown.
pub fn exit_code(v: Verdict) -> u8 {
    match v {
        Verdict::Valid => 0,
        Verdict::Invalid => 1,
        Verdict::Unknown => 2,
    }
}
