//! Printing checker results the way `run` and `check store/RUN` show them:
//! a line per checker, the outages, the verdict.

use std::time::Duration;

use checker::analysis::Analysis;
use checker::evidence::Evidence;
use checker::lease::LeaseOptions;
use checker::sufficiency::Sufficiency;
use checker::{History, Verdict};
use harness::checks::{judge, Judged};
use serde::Serialize;

/// The one-screen summary: a line per checker, the outages, then the
/// headline: the three layers (service kept its promise, why clients
/// overlapped, data safe), each with its verdict.
pub fn print_checkers(checkers: &[Analysis]) {
    for c in checkers {
        let mark = if c.judges() { mark(c.validity) } else { "info   " };
        out!("  {mark}  {:<17} {}", c.checker(), c.summary);
    }
    for c in checkers {
        if let Evidence::Availability(a) = &c.evidence {
            for o in &a.outages {
                out!("           outage: {}", o.text);
            }
        }
    }
    // The headline: each layer with its own verdict.
    for line in results::Story::of(checkers).layer_lines() {
        out!("  {}  {}", mark(line.verdict), line.text);
    }
}

/// The history contract's rules a history broke without becoming unusable,
/// one line each on stderr, so that a verdict on stdout is never mixed
/// with them.
pub fn print_warnings(file: &str, warnings: &[checker::history::Warning]) {
    for w in warnings {
        eprintln!("warning: {file}: {w}");
    }
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid  ",
        Verdict::Invalid => "INVALID",
        Verdict::Unknown => "unknown",
    }
}

/// The last line of `run`, `import` and `check store/RUN`: the overall
/// verdict ([`results::story::overall`], bounded by the evidence) and what
/// decided it.
pub fn verdict_line(verdict: Verdict, checkers: &[Analysis], sufficiency: Option<&Sufficiency>) -> String {
    format!("verdict: {} — {}", verdict.as_str(), results::Headline::of(verdict, checkers, sufficiency).words)
}

/// What `run` and `import` print after the checkers: the evidence line and
/// the verdict line of a stored run.
pub fn print_verdict(results: &results::RunResults, verdict: Verdict) {
    print_sufficiency(results.sufficiency.as_ref());
    out!("{}", verdict_line(verdict, &results.checkers, results.sufficiency.as_ref()));
}

/// `check --json` on a run or a judged history.
#[derive(Serialize)]
struct CheckOutput<'a> {
    file: &'a str,
    workload: &'a str,
    verdict: Verdict,
    sufficiency: &'a Sufficiency,
    checkers: &'a [Analysis],
    stats: &'a results::Stats,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    warnings: &'a [checker::history::Warning],
}

/// `fencepost check store/RUN`: the checkers of the run's workload on its
/// history, printed as `run` prints them (or as JSON); the overall verdict.
pub fn check_run_dir(
    dir: &std::path::Path,
    timeout: Duration,
    drift: Option<f64>,
    json_out: bool,
) -> anyhow::Result<Verdict> {
    let run = harness::import::stored_run(dir)?;
    if let Some(note) = &run.note {
        eprintln!("note: {note}");
    }
    check_history(&run.history, &run.workload, timeout, &leases(drift.or(run.drift)), json_out)
}

/// The lease arithmetic's options for `--drift` (a share), or the default.
pub fn leases(drift: Option<f64>) -> LeaseOptions {
    drift.map_or_else(LeaseOptions::default, |drift| LeaseOptions { drift })
}

/// The checkers of `workload` on `history`, printed; the overall verdict.
pub fn check_history(
    history: &History,
    workload: &str,
    timeout: Duration,
    leases: &LeaseOptions,
    json_out: bool,
) -> anyhow::Result<Verdict> {
    let Judged { analyzed, sufficiency, verdict } = judge(history, workload, timeout, leases)?;
    print_warnings(&history.file, &history.warnings);
    if json_out {
        let output = CheckOutput {
            file: &history.file,
            workload,
            verdict,
            sufficiency: &sufficiency,
            checkers: &analyzed.checkers,
            stats: &analyzed.stats,
            warnings: &history.warnings,
        };
        out!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        out!("history:    {} ({} events, {workload})", history.file, history.ops.len());
        print_checkers(&analyzed.checkers);
        print_sufficiency(Some(&sufficiency));
        out!("{}", verdict_line(verdict, &analyzed.checkers, Some(&sufficiency)));
    }
    Ok(verdict)
}

/// Whether the history held enough to judge (`None`: results from before
/// it was judged, nothing to say).
pub fn print_sufficiency(sufficiency: Option<&Sufficiency>) {
    if let Some(s) = sufficiency {
        out!("  evidence: {}", s.summary);
    }
}

/// Exit codes as for `check`: 0 valid, 1 invalid, 2 unknown.
pub fn exit_code(v: Verdict) -> u8 {
    match v {
        Verdict::Valid => 0,
        Verdict::Invalid => 1,
        Verdict::Unknown => 2,
    }
}
