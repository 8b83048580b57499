//! `fencepost check FILE`: linearizability against the model the one rule
//! chooses (`ModelSpec::choose`: given, else stated in the file, else
//! inferred), and for a lock history the same checkers `import` and `run`
//! apply (`harness::checks`), whose overall verdict is then the exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use checker::analysis::Analysis;
use checker::check::{check, check_source, CheckOptions, CheckResult};
use checker::formats::{self, Format, Source};
use checker::models::{lapse, ModelSpec, Origin};
use checker::{History, Verdict};
use serde::Serialize;

use crate::{analyze, report, EXIT_UNUSABLE};

/// The arguments of `fencepost check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The history file, or a stored run's folder (`store/RUN`): then
    /// every checker `run` applies runs on its history.
    pub file: PathBuf,
    /// register, cas-register, kv, mutex, knossos-mutex, fenced-mutex
    /// (default: the one the file states, else inferred from the ops).
    #[arg(long)]
    pub model: Option<String>,
    /// Initial value for register models (JSON, or `nil`) and kv (a
    /// string) (default: the one the file states, else nil or "").
    #[arg(long)]
    pub initial: Option<String>,
    // The help lists the formats from their enum.
    #[arg(long, default_value = "auto", value_parser = crate::parse_format, help = crate::format_help())]
    pub format: Format,
    /// Give up with `unknown` after this long (e.g. 500ms, 30s, 5m).
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub timeout: Duration,
    /// Give up with `unknown` when the search needs more memory than this (MiB).
    #[arg(long, default_value_t = 4096)]
    pub memory_limit_mib: usize,
    /// Check all keys as one partition instead of each key on its own.
    #[arg(long)]
    pub no_partition: bool,
    /// Keep checking every partition after one fails (evidence for every failing key).
    #[arg(long)]
    pub all_partitions: bool,
    /// Lock and election histories: how much faster a server's clock may
    /// run, in percent, for the lease arithmetic (default: the run's own,
    /// else 1%).
    #[arg(long, value_parser = crate::parse_percent)]
    pub drift: Option<f64>,
    /// Print the full result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A JSONL lock history up to this size is read whole for the lock
/// checkers, which need every op at hand; a larger one is checked as it is
/// read, for linearizability alone (saying so). Measured on a generated
/// lock history (20 clients, 1,000 keys) of 63 MiB, about 300,000 ops:
/// 435 MiB peak with the lock checkers, 91 MiB checked as read.
pub const ANALYSES_UP_TO: u64 = 64 << 20;

/// Why the lock checkers did not run on a lock history, in words that say
/// how to get them.
fn skipped_because(why: &Skip, file: &str) -> String {
    match why {
        Skip::ModelGiven => "--model asks for linearizability alone; without it a lock history also gets \
                             mutual-exclusion, lease-safety, fencing and the rest"
            .into(),
        Skip::TooLarge(bytes) => format!(
            "the file is {} MiB, more than the {} MiB `check` reads whole for them (it checks linearizability as it \
             reads); `fencepost import {file}` runs them, reading it whole",
            bytes >> 20,
            ANALYSES_UP_TO >> 20
        ),
        Skip::Untimed => "the history has no times (its format numbers its events instead), and the lease \
                          arithmetic needs them: linearizability alone decides"
            .into(),
    }
}

enum Skip {
    ModelGiven,
    TooLarge(u64),
    Untimed,
}

/// `check --json` on a history file: the linearizability result, where
/// its model and initial value came from, and for a lock history the lock
/// checkers (or why they did not run). The exit code follows
/// `analyses.verdict` when there are analyses, else `verdict`.
#[derive(Serialize)]
struct CheckJson<'a> {
    #[serde(flatten)]
    result: &'a CheckResult,
    model_from: Origin,
    initial_from: Option<Origin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    analyses: Option<AnalysesJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    analyses_skipped: Option<String>,
}

#[derive(Serialize)]
struct AnalysesJson<'a> {
    workload: &'a str,
    verdict: Verdict,
    checkers: &'a [Analysis],
    stats: &'a results::Stats,
}

fn usage(m: String) -> ExitCode {
    eprintln!("error: {m}");
    ExitCode::from(EXIT_UNUSABLE)
}

/// Formats without timestamps number their events instead (the reader
/// says so: `History::times`).
fn untimed(history: &History) -> bool {
    history.untimed().is_some()
}

pub fn check_command(a: CheckArgs) -> ExitCode {
    match check_file(&a) {
        Ok(verdict) => ExitCode::from(analyze::exit_code(verdict)),
        Err(m) => usage(m),
    }
}

/// A history file's verdict, printed; `Err` is the message of an
/// unusable input.
fn check_file(a: &CheckArgs) -> Result<Verdict, String> {
    // A run's folder: every checker `run` would apply, as it would.
    if a.file.is_dir() {
        return analyze::check_run_dir(&a.file, a.timeout, a.drift, a.json).map_err(|e| format!("{e:#}"));
    }
    // A JSONL history is checked as it is read (its head tells what it
    // is), so one larger than memory still gets a verdict.
    let source = formats::open(&a.file, a.format).map_err(|e| e.to_string())?;
    let head = source.head().map_err(|e| e.to_string())?;
    // A history read whole was settled (sorted, its rules checked); a
    // JSONL file checked as it is read is paired in file order.
    if let Source::Whole(h) = &source {
        analyze::print_warnings(&h.file, &h.warnings);
    }
    // Elections have no linearizability model: their checker is the
    // election analysis, which reads the history whole.
    if a.model.is_none() && head.ops.iter().any(|op| op.f == checker::OpName::Campaign) {
        drop(head);
        return source
            .into_history()
            .map_err(anyhow::Error::from)
            .and_then(|history| {
                analyze::check_history(&history, "election", a.timeout, &analyze::leases(a.drift), a.json)
            })
            .map_err(|e| format!("{e:#}"));
    }
    let (spec, choice) =
        ModelSpec::choose(&head, a.model.as_deref(), a.initial.as_deref()).map_err(|e| e.to_string())?;
    let lock = matches!(harness::checks::declared_workload(&head).as_str(), "lock" | "fenced-counter");
    drop(head);
    let (whole, skip) = if lock { whole_for_lock_checkers(a, source)? } else { (Err(source), None) };
    let leases = analyze::leases(a.drift);
    let (result, history, skip) = linearizability(a, whole, &spec, &leases, skip)?;
    let analyzed = match &history {
        Some(h) => {
            // The same workload `import` would record: a write beside
            // the lock makes it a fenced counter, whose lost-update
            // checker applies.
            let workload = harness::checks::declared_workload(h);
            let analyzed = harness::checks::analyze(h, &workload, a.timeout, &leases).map_err(|e| format!("{e:#}"))?;
            Some((workload, analyzed))
        }
        None => None,
    };
    let skipped = skip.as_ref().map(|why| skipped_because(why, &a.file.display().to_string()));
    print_check(a, &result, &choice, analyzed.as_ref(), skipped)?;
    Ok(analyzed.as_ref().map_or(result.verdict, |(_, an)| an.verdict))
}

/// A lock history gets the lock checkers too, which need it whole: one
/// read whole anyway, or a JSONL file small enough to read whole. The
/// history whole (or the source to check as it is read), and why the lock
/// checkers will not run.
#[allow(clippy::type_complexity)]
fn whole_for_lock_checkers(a: &CheckArgs, source: Source) -> Result<(Result<History, Source>, Option<Skip>), String> {
    let size = std::fs::metadata(&a.file).map_or(0, |m| m.len());
    Ok(match source {
        Source::Whole(h) if a.model.is_some() => (Err(Source::Whole(h)), Some(Skip::ModelGiven)),
        Source::Whole(h) => (Ok(h), None),
        Source::Jsonl(f) if a.model.is_some() => (Err(Source::Jsonl(f)), Some(Skip::ModelGiven)),
        Source::Jsonl(f) if size > ANALYSES_UP_TO => (Err(Source::Jsonl(f)), Some(Skip::TooLarge(size))),
        Source::Jsonl(f) => {
            let h = f.into_history().map_err(|e| e.to_string())?;
            analyze::print_warnings(&h.file, &h.warnings);
            (Ok(h), None)
        }
    })
}

/// The linearizability result, and the history whole when the lock
/// checkers are to run on it.
fn linearizability(
    a: &CheckArgs,
    whole: Result<History, Source>,
    spec: &ModelSpec,
    leases: &checker::lease::LeaseOptions,
    skip: Option<Skip>,
) -> Result<(CheckResult, Option<History>, Option<Skip>), String> {
    let opts = CheckOptions {
        timeout: Some(a.timeout),
        memory_limit: a.memory_limit_mib << 20,
        partition: !a.no_partition,
        all_partitions: a.all_partitions,
        ..Default::default()
    };
    let (result, history, skip) = match whole {
        Ok(h) if untimed(&h) => (check(&h, spec, &opts), None, Some(Skip::Untimed)),
        Ok(h) => {
            // Judged as a lease lock, as the checkers below judge it: a
            // grant may lapse once its promise ended (`models::lapse`), so
            // this line and theirs cannot disagree.
            let lapsed = match spec {
                ModelSpec::Mutex | ModelSpec::FencedMutex => {
                    let found = lapse::lapses(&h, leases).map_err(|e| e.to_string())?;
                    (!found.is_empty()).then(|| lapse::with_lapses(&h, &found))
                }
                _ => None,
            };
            (check(lapsed.as_ref().unwrap_or(&h), spec, &opts), Some(h), skip)
        }
        Err(source) => (check_source(source, spec, &opts), None, skip),
    };
    Ok((result.map_err(|e| e.to_string())?, history, skip))
}

/// The result as JSON or in words: linearizability's line, then the lock
/// checkers' (or why they did not run).
fn print_check(
    a: &CheckArgs,
    result: &CheckResult,
    choice: &checker::models::Choice,
    analyzed: Option<&(String, harness::Analyzed)>,
    skipped: Option<String>,
) -> Result<(), String> {
    if a.json {
        let output = CheckJson {
            result,
            model_from: choice.model_from,
            initial_from: choice.initial_from,
            analyses: analyzed.map(|(workload, an)| AnalysesJson {
                workload,
                verdict: an.verdict,
                checkers: &an.checkers,
                stats: &an.stats,
            }),
            analyses_skipped: skipped,
        };
        let text = serde_json::to_string_pretty(&output).map_err(|e| format!("cannot print the result: {e}"))?;
        out!("{text}");
        return Ok(());
    }
    // With the lock checkers below, theirs is the verdict; this line
    // is one of their inputs.
    let label = if analyzed.is_some() { "linearizable:" } else { "verdict:" };
    {
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), "{}", report::human(result, choice, label));
    }
    if let Some((workload, an)) = analyzed {
        out!();
        out!("the checkers `import` and `run` apply to a {workload} history:");
        analyze::print_checkers(&an.checkers);
        out!("verdict:    {} (of these checkers; the exit code follows it)", an.verdict.as_str());
    } else if let Some(why) = &skipped {
        out!("lock checkers: not run: {why}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_says_how_to_get_the_lock_checkers() {
        let big = skipped_because(&Skip::TooLarge(200 << 20), "h.jsonl");
        assert!(big.contains("200 MiB") && big.contains("fencepost import h.jsonl"), "{big}");
        assert!(skipped_because(&Skip::ModelGiven, "h").contains("without it"));
        assert!(skipped_because(&Skip::Untimed, "h").contains("no times"));
    }
}
