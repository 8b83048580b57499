//! The human-readable form of a check result.

use checker::check::{CheckResult, OpRef, PartitionResult};
use checker::models::{Choice, Origin};
use checker::Verdict;
use std::fmt::Write;

/// Formats a time: nanoseconds for fencepost's own histories, event
/// positions for formats that have no clock.
fn time(format: &str, t: u64) -> String {
    if format == "jsonl" {
        format!("{:.6}s", t as f64 / 1e9)
    } else {
        format!("#{t}")
    }
}

fn op_line(format: &str, op: &OpRef) -> String {
    let done = match op.complete_time {
        Some(t) => time(format, t),
        None => "never (unknown outcome)".into(),
    };
    format!(
        "{} — process {}, line {}, invoked {}, completed {}",
        op.description,
        op.process,
        op.line,
        time(format, op.invoke_time),
        done
    )
}

/// The report of a linearizability check: the history, the model and
/// initial value it was checked with (and where each came from), the
/// counts, `label` (`verdict:`, or `linearizable:` when other checkers
/// decide) and the evidence.
pub fn human(r: &CheckResult, choice: &Choice, label: &str) -> String {
    let mut out = String::new();
    let verdict = match r.verdict {
        Verdict::Valid => "LINEARIZABLE",
        Verdict::Invalid => "NOT LINEARIZABLE",
        Verdict::Unknown => "UNKNOWN",
    };
    let from = |origin: Origin, flag: &str| match origin {
        Origin::Given => format!("given with {flag}"),
        other => format!("{other}; choose with {flag}"),
    };
    let _ = writeln!(out, "history:    {} ({})", r.file, r.format);
    let _ = writeln!(out, "model:      {} ({})", r.model, from(choice.model_from, "--model"));
    if let Some(origin) = choice.initial_from {
        let initial = match &r.initial {
            serde_json::Value::Null => "nil".to_string(),
            v => v.to_string(),
        };
        let _ = writeln!(out, "initial:    {initial} ({})", from(origin, "--initial"));
    }
    let failing = r.failing().count();
    let _ = writeln!(
        out,
        "ops:        {} ({} checked; `fail`s did not happen) in {} partition{}",
        r.ops,
        r.checked_ops,
        r.partitions.len(),
        if r.partitions.len() == 1 { "" } else { "s" }
    );
    if !r.ignored.is_empty() {
        let parts: Vec<String> = r.ignored.iter().map(|(f, n)| format!("{n} {f}")).collect();
        let _ = writeln!(
            out,
            "ignored:    {} (not the lock's operations: the fenced resource's and the final reads; `fencepost check` on the run's folder checks them)",
            parts.join(", ")
        );
    }
    let _ = writeln!(out, "time:       {:.2} ms", r.elapsed_ms);
    let _ = writeln!(out, "{label:<11} {verdict}");
    if failing > 0 {
        let _ = writeln!(out);
    }
    // Violations first: they are the evidence; unknowns only say where we stopped.
    let mut shown: Vec<&PartitionResult> = r.failing().collect();
    shown.sort_by_key(|p| p.verdict != Verdict::Invalid);
    for p in shown.into_iter().take(5) {
        partition(&mut out, &r.format, p);
    }
    if failing > 5 {
        let _ = writeln!(out, "… and {} more partitions not shown (use --json)", failing - 5);
    }
    out
}

fn partition(out: &mut String, format: &str, p: &PartitionResult) {
    let name = match &p.key {
        Some(k) => format!("key {k:?}"),
        None => "the whole history".into(),
    };
    let _ = writeln!(out, "{name}: {} ({} ops)", p.verdict, p.ops);
    if let Some(reason) = &p.reason {
        let _ = writeln!(out, "  gave up: {reason}");
    }
    if p.verdict != Verdict::Invalid {
        return;
    }
    // The longest prefix explains the failure in full; the others (one per
    // operation the search got stuck on) say where else it failed, a line each.
    let Some((partial, others)) = p.partials.split_first() else { return };
    let _ = writeln!(
        out,
        "  longest linearized prefix: {} of {} ops, after which {}",
        partial.prefix.len(),
        p.ops,
        partial.state_after
    );
    let tail = partial.prefix.len().saturating_sub(6);
    if tail > 0 {
        let _ = writeln!(out, "    … {tail} earlier ops");
    }
    for &i in &partial.prefix[tail..] {
        let _ = writeln!(out, "    {}", op_line(format, &p.operations[i]));
    }
    let _ = writeln!(out, "  cannot linearize: {}", op_line(format, &p.operations[partial.stuck]));
    if !partial.concurrent.is_empty() {
        let _ = writeln!(out, "  concurrent with it:");
        for &i in partial.concurrent.iter().take(6) {
            let _ = writeln!(out, "    {}", op_line(format, &p.operations[i]));
        }
        if partial.concurrent.len() > 6 {
            let _ = writeln!(out, "    … {} more", partial.concurrent.len() - 6);
        }
    }
    if !others.is_empty() {
        let _ = writeln!(out, "  also stuck on (the longest prefix before each; --json for the orders):");
        for other in others {
            let _ = writeln!(
                out,
                "    after {} ops, {}: {}",
                other.prefix.len(),
                other.state_after,
                op_line(format, &p.operations[other.stuck])
            );
        }
    }
}
