//! `fencepost scenarios`: the library of published failures and controls
//! (`results::scenario`), listed, and run as `run` would run them, each run
//! stored with its scenario and judged against the scenario's expectation.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use results::scenario::{summarize, Library, Scenario, Summary};
use results::{Filter, RunRow, Store};

use crate::RunOpts;

/// A scenario's `run` command line, parsed by the same options as `run`.
#[derive(Parser)]
#[command(name = "fencepost run", no_binary_name = true)]
struct RunLine {
    system: String,
    #[command(flatten)]
    opts: RunOpts,
}

/// Options a scenario may not set: `scenarios run` decides them.
const DECIDED_BY_THE_RUNNER: &[&str] = &["--seed", "--store", "--endpoints"];

/// Options of `run` a scenario cannot carry: a library is portable, so its
/// scenarios run on fencepost's own containers, never on someone's hosts.
const NOT_IN_A_SCENARIO: &[&str] = &["--nodes", "--install", "--teardown", "--dry-run", "--accept-new-host-keys"];

/// The library to use: the built-in one, or a file of the same format.
pub fn library(file: Option<&Path>) -> anyhow::Result<Library> {
    Ok(match file {
        Some(path) => Library::load(path)?,
        None => Library::builtin(),
    })
}

/// The run a scenario stands for, with `seed` and `store`.
pub fn run_args(scenario: &Scenario, seed: u64, store: &Path) -> anyhow::Result<harness::RunArgs> {
    let name = &scenario.name;
    let line = scenario.run_args();
    if let Some(flag) = line.iter().find(|a| DECIDED_BY_THE_RUNNER.iter().any(|d| a.split('=').next() == Some(d))) {
        bail!("scenario {name}: `{flag}` is set by `scenarios run`, not in the scenario's options");
    }
    if let Some(flag) = line.iter().find(|a| NOT_IN_A_SCENARIO.iter().any(|d| a.split('=').next() == Some(d))) {
        bail!("scenario {name}: `{flag}` cannot be in a scenario (scenarios run on fencepost's own containers)");
    }
    let parsed = RunLine::try_parse_from(&line).map_err(|e| {
        // clap's message starts with "error: "; ours names the scenario.
        anyhow!("scenario {name}: {}", e.render().to_string().trim_start_matches("error: ").trim_end())
    })?;
    let mut opts = parsed.opts;
    opts.seed = seed;
    opts.store = store.to_path_buf();
    let mut args = crate::run_args(parsed.system, &opts).with_context(|| format!("scenario {name}"))?;
    args.scenario = Some(scenario.tag());
    Ok(args)
}

/// `fencepost scenarios`: every scenario, and what the store has of it.
pub async fn list(library: &Library, store: &Path, json: bool) -> anyhow::Result<()> {
    if json {
        out!("{}", serde_json::to_string_pretty(&library.scenarios)?);
        return Ok(());
    }
    let runs = stored_runs(store).await?;
    for s in &library.scenarios {
        out!("{:<36} {} · {} · {}", s.name, s.system, s.workload, s.nemesis);
        out!("    {}", s.title);
        out!("    expect: {}", s.expect.words());
        out!("    source: {}", s.source);
        out!("    run:    {} --seed N", s.command());
        let summary = summarize(&s.name, &s.expect, &runs);
        if summary.runs > 0 {
            out!("    stored: {}", summary_words(&summary));
        }
    }
    out!(
        "\n{} scenarios. Run them with `fencepost scenarios run NAME…` or `--all` (`--repeat N` for detection rates).",
        library.scenarios.len()
    );
    Ok(())
}

/// The store's indexed runs, or none when there is no store yet (listing
/// must not create one).
async fn stored_runs(store: &Path) -> anyhow::Result<Vec<RunRow>> {
    if !store.join("index.sqlite").is_file() {
        return Ok(Vec::new());
    }
    let store = Store::open(store).await?;
    Ok(store.list(&Filter::default()).await?)
}

/// What `scenarios run` was asked.
pub struct RunRequest {
    pub names: Vec<String>,
    pub all: bool,
    pub repeat: usize,
    pub seed: u64,
    pub store: PathBuf,
    pub progress: bool,
}

/// How a `scenarios run` went.
pub enum Ran {
    /// Every run matched its scenario.
    AllMatched,
    /// Some run did not, or could not run.
    Mismatched,
}

/// `fencepost scenarios run`: each scenario `repeat` times (seeds `seed`,
/// `seed + 1`, …), then the table of this invocation's runs.
pub async fn run(library: &Library, request: RunRequest) -> anyhow::Result<Ran> {
    let chosen = choose(library, &request)?;
    // Every scenario is checked before anything starts: a typo in the
    // tenth must not surface after nine have run.
    for s in &chosen {
        harness::run::prepare(run_args(s, request.seed, &request.store)?)?;
    }
    let total = chosen.len() * request.repeat;
    let mut rows: Vec<RunRow> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut n = 0;
    for s in &chosen {
        for i in 0..request.repeat {
            n += 1;
            let seed = request.seed + i as u64;
            out!("\n=== scenario {} ({n} of {total}, seed {seed}): {}", s.name, s.title);
            let outcome = async {
                let prepared = harness::run::prepare(run_args(s, seed, &request.store)?)?;
                let outcome = crate::run::run_command(prepared, request.progress).await?;
                let store = Store::open(&request.store).await?;
                store.get(&outcome.id).await?.ok_or_else(|| anyhow!("run {} is not in the index", outcome.id))
            }
            .await;
            match outcome {
                Ok(row) => {
                    if let Some(judged) = &row.scenario {
                        let j = &judged.judgement;
                        if j.matched {
                            out!("scenario {}: matched ({})", s.name, first_words(j.first_anomaly_ms));
                        } else {
                            out!("scenario {}: NOT matched: {}", s.name, j.mismatches.join("; "));
                        }
                    }
                    rows.push(row);
                }
                Err(e) => {
                    out!("scenario {}: could not run: {e:#}", s.name);
                    failed.push((s.name.clone(), format!("{e:#}")));
                }
            }
        }
    }
    out!();
    let summaries: Vec<Summary> = chosen.iter().map(|s| summarize(&s.name, &s.expect, &rows)).collect();
    print_table(&summaries);
    for (name, why) in &failed {
        out!("{name}: a run could not run: {why}");
    }
    let all_matched = failed.is_empty() && summaries.iter().all(|s| s.matched == s.runs);
    Ok(if all_matched { Ran::AllMatched } else { Ran::Mismatched })
}

/// The scenarios named (in the order given), or all of them.
fn choose<'l>(library: &'l Library, request: &RunRequest) -> anyhow::Result<Vec<&'l Scenario>> {
    match (request.all, request.names.is_empty()) {
        (true, false) => bail!("give scenario names or --all, not both"),
        (false, true) => bail!("name the scenarios to run (`fencepost scenarios` lists them), or give --all"),
        (true, true) => Ok(library.scenarios.iter().collect()),
        (false, false) => request
            .names
            .iter()
            .map(|name| {
                library.get(name).ok_or_else(|| {
                    anyhow!("no scenario {name:?} (`fencepost scenarios` lists the {})", library.scenarios.len())
                })
            })
            .collect(),
    }
}

fn first_words(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => format!("first anomaly at {:.1} s", ms as f64 / 1000.0),
        None => "no anomaly".to_string(),
    }
}

fn summary_words(s: &Summary) -> String {
    let mut words = format!("{} of {} runs matched", s.matched, s.runs);
    if let Some(ms) = s.median_first_anomaly_ms {
        words += &format!(", median first anomaly {:.1} s", ms as f64 / 1000.0);
    }
    for (checker, invalid) in &s.measured {
        words += &format!(", {checker} invalid in {invalid} of {}", s.runs);
    }
    words
}

/// Per scenario: runs, matched, median time to the first anomaly, what was
/// measured; then the runs that did not match, with why.
pub fn print_table(summaries: &[Summary]) {
    out!("{:<36} {:>5} {:>8} {:>14}  measured", "scenario", "runs", "matched", "first anomaly");
    for s in summaries {
        let first = s.median_first_anomaly_ms.map_or("-".to_string(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
        let measured: Vec<String> = s.measured.iter().map(|(c, n)| format!("{c} invalid {n}/{}", s.runs)).collect();
        out!(
            "{:<36} {:>5} {:>8} {:>14}  {}",
            s.name,
            s.runs,
            format!("{}/{}", s.matched, s.runs),
            first,
            measured.join(", ")
        );
    }
    for s in summaries {
        for r in s.run_list.iter().filter(|r| !r.matched) {
            let seed = r.seed.map_or(String::new(), |seed| format!(", seed {seed}"));
            out!("  {} run {}{seed}: {}", s.name, r.id, r.mismatches.join("; "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in scenario is a valid `run` (system, workload, faults
    /// and options accepted, the plan made), and every checker it expects
    /// is one its workload runs.
    #[test]
    fn every_builtin_scenario_prepares() {
        let library = Library::builtin();
        for s in &library.scenarios {
            let args = run_args(s, 1, Path::new("store")).unwrap_or_else(|e| panic!("{e:#}"));
            let workload = args.workload;
            harness::run::prepare(args).unwrap_or_else(|e| panic!("scenario {}: {e}", s.name));
            let runs = workload.checkers();
            for checker in s.expect.checkers.keys() {
                let runs_it = runs.iter().any(|r| r.reported() == *checker);
                assert!(runs_it, "scenario {}: expects {checker}, but {} runs {runs:?}", s.name, workload.name());
            }
        }
    }

    /// Every registered system (variants too) has a control, so a new
    /// system is run without faults by `tests/scenarios.rs` from the day
    /// it is registered.
    #[test]
    fn every_system_has_a_control() {
        let library = Library::builtin();
        for system in workloads::systems::names() {
            let control = library.scenarios.iter().any(|s| s.system == system && s.is_control() && s.expect.all_valid);
            assert!(control, "no control scenario for {system} in results/scenarios.toml");
        }
    }

    #[test]
    fn options_the_runner_decides_are_refused() {
        let mut s = Library::builtin().scenarios[0].clone();
        s.options = "--seed 3 --ttl 2s".into();
        let e = run_args(&s, 1, Path::new("store")).unwrap_err().to_string();
        assert!(e.contains("`--seed` is set by `scenarios run`"), "{e}");
        s.options = "--nodes hosts.toml".into();
        let e = run_args(&s, 1, Path::new("store")).unwrap_err().to_string();
        assert!(e.contains("`--nodes` cannot be in a scenario"), "{e}");
        s.options = "--ttl two".into();
        let e = format!("{:#}", run_args(&s, 1, Path::new("store")).unwrap_err());
        assert!(e.contains(&s.name) && e.contains("--ttl"), "{e}");
    }
}
