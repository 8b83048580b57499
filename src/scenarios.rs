//! `fencepost scenarios`: the library of published failures and controls
//! (`results::scenario`), listed, and run as `run` would run them, each run
//! stored with its scenario and judged against the scenario's expectation.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use results::scenario::{summarize, Library, Scenario, Summary};
use results::{Filter, RunRow, Store};

use harness::options::scenario_args as run_args;

/// The library to use: the built-in one, or a file of the same format.
pub fn library(file: Option<&Path>) -> anyhow::Result<Library> {
    Ok(match file {
        Some(path) => Library::load(path)?,
        None => Library::builtin(),
    })
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
    if s.runs == 0 {
        return "not run".into();
    }
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
