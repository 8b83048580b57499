//! The results store's commands: `runs`, `rm`, `compare`, `suite`,
//! `export`, `import`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use checker::analysis::counted;
use checker::formats::{self, Format};
use checker::Verdict;
use harness::run::RunArgs;
use nemesis::FaultSpec;
use results::{Cell, Filter, RunRow, Store};

use crate::analyze::print_checkers;

/// `fencepost runs`: the index as a table, newest first.
pub async fn runs(store: &Path, filter: Filter, reindex: bool, json_out: bool) -> anyhow::Result<()> {
    let store = Store::open(store).await?;
    if reindex {
        let (n, skipped) = store.reindex().await?;
        eprintln!("reindexed {} from {}", counted(n, "run", "runs"), store.dir().display());
        for s in skipped {
            eprintln!("  skipped: {s}");
        }
    }
    let all = store.list(&Filter::default()).await?;
    let filter = harness::filter::checked(filter, &all)?;
    let rows = store.list(&filter).await?;
    if json_out {
        out!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if all.is_empty() {
        out!("no runs in store {} (run one with `fencepost run SYSTEM`)", store.dir().display());
        return Ok(());
    }
    if rows.is_empty() {
        out!("no runs match ({} in store {})", counted(all.len(), "run", "runs"), store.dir().display());
        return Ok(());
    }
    let head = [
        ("run", Left),
        ("system", Left),
        ("workload", Left),
        ("faults", Left),
        ("secs", Right),
        ("ops", Right),
        ("verdict", Left),
        ("p50 ms", Right),
        ("p99 ms", Right),
    ];
    // Scenario runs say which scenario and whether they matched it.
    let scenarios = rows.iter().any(|r| r.scenario.is_some());
    let mut head = head.to_vec();
    if scenarios {
        head.push(("scenario", Left));
    }
    let body = rows.into_iter().map(|r| {
        let scenario = r.scenario.as_ref().map_or(String::new(), |s| {
            format!("{} ({})", s.name, if s.judgement.matched { "matched" } else { "NOT matched" })
        });
        let mut line = vec![
            r.id,
            r.system,
            r.workload,
            r.nemesis,
            format!("{:.1}", r.duration_ms as f64 / 1000.0),
            r.ops.to_string(),
            r.verdict.as_str().to_string(),
            figure(r.grant_p50_ms),
            figure(r.grant_p99_ms),
        ];
        if scenarios {
            line.push(scenario);
        }
        line
    });
    for line in table(&head, body.collect()) {
        out!("{line}");
    }
    Ok(())
}

/// `fencepost rm RUN…`: deletes each run's directory and index row. Every
/// id is checked first, so a typo among them deletes nothing.
pub async fn rm(store: &Path, ids: &[String]) -> anyhow::Result<()> {
    let store = Store::open(store).await?;
    let ids: Vec<&String> = ids.iter().collect::<BTreeSet<_>>().into_iter().collect();
    let mut problems = Vec::new();
    for id in &ids {
        match store.contains(id).await {
            Ok(true) => {}
            Ok(false) => problems
                .push(results::Error::NoSuchRun { id: id.to_string(), store: store.dir().to_path_buf() }.to_string()),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        bail!("{}; nothing removed", problems.join("; "));
    }
    for id in ids {
        store.remove(id).await?;
        out!("removed run {id}");
    }
    Ok(())
}

#[derive(Clone, Copy)]
pub(crate) enum Align {
    Left,
    Right,
}
use Align::{Left, Right};

/// Lines of a table whose columns are as wide as their widest value, in
/// characters (not bytes: verdicts carry a multi-byte `✗`).
pub(crate) fn table(head: &[(&str, Align)], rows: Vec<Vec<String>>) -> Vec<String> {
    let mut widths: Vec<usize> = head.iter().map(|(h, _)| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(head.iter().zip(&widths))
            .map(|(cell, ((_, align), &width))| {
                let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
                match align {
                    Left => format!("{cell}{pad}"),
                    Right => format!("{pad}{cell}"),
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    std::iter::once(line(head.iter().map(|(h, _)| h.to_string()).collect())).chain(rows.into_iter().map(line)).collect()
}

fn figure(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn mean(v: Option<(f64, usize)>, scale: f64, unit: &str) -> String {
    v.map_or("-".into(), |(m, _)| format!("{:.1}{unit}", m * scale))
}

/// Prints the systems × faults matrix.
pub fn print_cells(cells: &[Cell]) {
    if cells.is_empty() {
        out!("no runs to compare");
        return;
    }
    let head = [
        ("system", Left),
        ("workload", Left),
        ("faults", Left),
        ("configuration", Left),
        ("runs", Right),
        ("verdict", Left),
        ("service", Left),
        ("clients", Left),
        ("data", Left),
        ("ops/s", Right),
        ("p50 ms", Right),
        ("p99 ms", Right),
        ("progress", Right),
        ("recovery", Right),
    ];
    let body = cells.iter().map(|c| {
        vec![
            c.system.clone(),
            c.workload.clone(),
            c.nemesis.clone(),
            c.config_words.clone(),
            c.runs.to_string(),
            {
                let verdict = c.verdict.map_or("-", Verdict::as_str);
                if c.invalid > 0 {
                    format!("{verdict} in {} of {}", c.invalid, c.runs)
                } else {
                    verdict.to_string()
                }
            },
            c.layers.service.map_or("-", Verdict::as_str).to_string(),
            c.layers.clients.map_or("-", Verdict::as_str).to_string(),
            c.layers.data.map_or("-", Verdict::as_str).to_string(),
            mean(c.ops_per_s, 1.0, ""),
            mean(c.grant_p50_ms, 1.0, ""),
            mean(c.grant_p99_ms, 1.0, ""),
            mean(c.progress_share, 100.0, "%"),
            mean(c.recovery_ms, 1e-3, " s"),
        ]
    });
    for line in table(&head, body.collect()) {
        out!("{line}");
    }
    // The vendor story of each cell that has one: promise, overlaps, data.
    for c in cells {
        let lines = c.story.lines();
        if lines.is_empty() {
            continue;
        }
        out!("");
        out!(
            "{} · {} · {} · {} ({}):",
            c.system,
            c.workload,
            c.nemesis,
            c.config_words,
            counted(c.runs, "run", "runs")
        );
        for line in lines {
            out!("  {line}");
        }
    }
}

/// `fencepost compare`: the matrix over the index.
pub async fn compare(store: &Path, filter: Filter, json_out: bool) -> anyhow::Result<()> {
    let store = Store::open(store).await?;
    let all = store.list(&Filter::default()).await?;
    let filter = harness::filter::checked(filter, &all)?;
    let cells = store.compare(&filter).await?;
    if json_out {
        out!("{}", serde_json::to_string_pretty(&cells)?);
    } else if cells.is_empty() && !all.is_empty() {
        out!("no runs match ({} in store {})", counted(all.len(), "run", "runs"), store.dir().display());
    } else {
        print_cells(&cells);
    }
    Ok(())
}

pub struct SuiteArgs {
    pub systems: Vec<String>,
    /// Each entry is one cell's fault mix (`none`, `partition`, `kill+pause`).
    pub nemeses: Vec<String>,
    /// Runs per system × mix, seeds counting up from the template's.
    pub repeat: usize,
    pub template: RunArgs,
    pub progress: bool,
}

/// `fencepost suite`: every system × fault mix, one run each, then the
/// matrix of those runs. A combination a system refuses (clock faults on
/// etcd) is reported and skipped.
pub async fn suite(args: SuiteArgs) -> anyhow::Result<Verdict> {
    let mut rows: Vec<RunRow> = Vec::new();
    let mut overall = Verdict::Valid;
    let mut skipped = Vec::new();
    // Every name is checked before the first run, so that a typo in the last
    // one does not surface after an hour of runs.
    for system in &args.systems {
        workloads::systems::lookup(system).map_err(|e| anyhow!("--systems: {e}"))?;
        if let Some(client) = &args.template.options.client.external {
            harness::options::client_speaks_to(&client.name, system)?;
        }
    }
    for system in &args.systems {
        for mix in &args.nemeses {
            let specs = FaultSpec::parse_list(&mix.replace('+', ",")).map_err(|e| anyhow!("--nemeses: {e}"))?;
            for repeat in 0..args.repeat {
                let mut run_args = RunArgs { system: system.clone(), nemesis: specs.clone(), ..args.template.clone() };
                run_args.options.seed += repeat as u64;
                if args.repeat > 1 {
                    out!("\n=== {system} × {mix} ({} of {}, seed {})", repeat + 1, args.repeat, run_args.options.seed);
                } else {
                    out!("\n=== {system} × {mix}");
                }
                let prepared = match harness::run::prepare(run_args) {
                    Err(e) if e.is_refusal() => {
                        out!("skipped: {e}");
                        skipped.push(format!("{system} × {mix}: {e}"));
                        break;
                    }
                    Err(e) => return Err(e).context(format!("{system} × {mix}")),
                    Ok(prepared) => prepared,
                };
                let outcome = crate::run::run_command(prepared, args.progress)
                    .await
                    .with_context(|| format!("{system} × {mix}"))?;
                overall = overall.combine(outcome.verdict);
                let store = Store::open(&args.template.store).await?;
                rows.extend(store.get(&outcome.id).await?);
            }
        }
    }
    out!();
    print_cells(&results::cells(rows));
    for s in skipped {
        out!("skipped {s}");
    }
    Ok(overall)
}

/// `fencepost report RUN|--suite|--scenarios --html FILE`: a page of the
/// store as one file.
pub async fn report_html(store: &Path, of: web::ReportOf<'_>, file: &Path) -> anyhow::Result<()> {
    if !store.join("index.sqlite").is_file() {
        anyhow::bail!("no store at {} (no index.sqlite): name one with --store", store.display());
    }
    let written = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let html = web::page_html(store.to_path_buf(), of, written).await?;
    std::fs::write(file, &html).with_context(|| format!("writing {}", file.display()))?;
    let what = match of {
        web::ReportOf::Run(id) => format!("run {id}'s report"),
        web::ReportOf::Comparison => "the comparison".to_string(),
        web::ReportOf::Scenarios => "the scenario library".to_string(),
    };
    out!("wrote {} ({:.1} MB): {what}, one file that opens with no server", file.display(), html.len() as f64 / 1e6);
    Ok(())
}

/// `fencepost export RUN --edn`: the run's history in Jepsen's EDN.
pub async fn export(store: &Path, id: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let store = Store::open(store).await?;
    let path = store.existing_run_dir(id)?.join("history.jsonl");
    let history = formats::read_path(&path, Format::Jsonl)?;
    let mut buf = Vec::new();
    formats::edn::write(&mut buf, &history.ops)?;
    match out {
        Some(file) => std::fs::write(file, &buf).with_context(|| format!("writing {}", file.display()))?,
        None => std::io::stdout().write_all(&buf)?,
    }
    Ok(())
}

/// `fencepost import FILE`: stores a recorded history (any format `check`
/// reads) as a run, checks it with the checkers of the workload it is
/// recognised as, indexes it.
pub async fn import(store: &Path, file: &Path, format: Format, system: &str) -> anyhow::Result<Verdict> {
    let finished = harness::import::import(store, file, format, system).await?;
    crate::analyze::print_warnings(&file.display().to_string(), &finished.results.warnings);
    let test = results::read_test(&finished.dir)?;
    let format = test.imported.as_ref().map_or("", |i| i.format.as_str());
    out!(
        "imported {} ({}, {format}; {}, faults: {}) as run {}",
        file.display(),
        counted(finished.results.stats.ops, "completion", "completions"),
        test.workload,
        test.nemesis,
        finished.id
    );
    print_checkers(&finished.results.checkers);
    crate::analyze::print_verdict(&finished.results, finished.verdict());
    out!("stored in {}", finished.dir.display());
    Ok(finished.verdict())
}
