//! The results store's commands: `runs`, `compare`, `suite`, `export`,
//! `import`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use checker::analysis::Validity;
use checker::formats::{self, Format};
use results::{Cell, Filter, RunRow, Store};
use serde_json::json;

use crate::analyze::analyze;
use crate::run::{self, write_json};

/// `fencepost runs`: the index as a table, newest first.
pub async fn runs(store: &Path, filter: Filter, reindex: bool, json_out: bool) -> Result<(), String> {
    let store = Store::open(store).await?;
    if reindex {
        let (n, skipped) = store.reindex().await?;
        eprintln!("reindexed {n} runs from {}", store.dir().display());
        for s in skipped {
            eprintln!("  skipped: {s}");
        }
    }
    let rows = store.list(&filter).await?;
    if json_out {
        out!("{}", serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
        return Ok(());
    }
    if rows.is_empty() {
        out!("no runs in {} (run one with `fencepost run SYSTEM`)", store.dir().display());
        return Ok(());
    }
    out!(
        "{:<22} {:<10} {:<24} {:<28} {:>7} {:>8} {:<8} {:>9} {:>9}",
        "run",
        "system",
        "workload",
        "faults",
        "secs",
        "ops",
        "verdict",
        "p50 ms",
        "p99 ms"
    );
    for r in rows {
        out!(
            "{:<22} {:<10} {:<24} {:<28} {:>7.1} {:>8} {:<8} {:>9} {:>9}",
            r.id,
            r.system,
            r.workload,
            r.nemesis,
            r.duration_ms as f64 / 1000.0,
            r.ops,
            r.verdict,
            figure(r.grant_p50_ms),
            figure(r.grant_p99_ms)
        );
    }
    Ok(())
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
    out!(
        "{:<10} {:<24} {:<28} {:>4} {:<8} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "system",
        "workload",
        "faults",
        "runs",
        "verdict",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "progress",
        "recovery"
    );
    for c in cells {
        out!(
            "{:<10} {:<24} {:<28} {:>4} {:<8} {:>9} {:>9} {:>9} {:>9} {:>10}",
            c.system,
            c.workload,
            c.nemesis,
            c.runs,
            if c.invalid > 0 { format!("{} ({}✗)", c.verdict, c.invalid) } else { c.verdict.clone() },
            mean(c.ops_per_s, 1.0, ""),
            mean(c.grant_p50_ms, 1.0, ""),
            mean(c.grant_p99_ms, 1.0, ""),
            mean(c.progress_share, 100.0, "%"),
            mean(c.recovery_ms, 1e-3, " s"),
        );
    }
}

/// `fencepost compare`: the matrix over the index.
pub async fn compare(store: &Path, filter: Filter, json_out: bool) -> Result<(), String> {
    let store = Store::open(store).await?;
    let cells = store.compare(&filter).await?;
    if json_out {
        out!("{}", serde_json::to_string_pretty(&cells).map_err(|e| e.to_string())?);
    } else {
        print_cells(&cells);
    }
    Ok(())
}

pub struct SuiteArgs {
    pub systems: Vec<String>,
    /// Each entry is one cell's fault mix (`none`, `partition`, `kill+pause`).
    pub nemeses: Vec<String>,
    pub template: run::RunArgs,
}

/// `fencepost suite`: every system × fault mix, one run each, then the
/// matrix of those runs. A combination a system refuses (clock faults on
/// etcd) is reported and skipped.
pub async fn suite(args: SuiteArgs) -> Result<Validity, String> {
    let mut rows: Vec<RunRow> = Vec::new();
    let mut overall = Validity::Valid;
    let mut skipped = Vec::new();
    for system in &args.systems {
        for mix in &args.nemeses {
            let kinds =
                nemesis::FaultKind::parse_list(&mix.replace('+', ",")).map_err(|e| format!("--nemeses: {e}"))?;
            out!("\n=== {system} × {mix}");
            let t = &args.template;
            let run_args = run::RunArgs {
                system: system.clone(),
                workload: t.workload,
                options: t.options.clone(),
                store: t.store.clone(),
                nemesis: kinds,
                nemesis_interval: t.nemesis_interval,
                quiet: t.quiet,
                fault_options: t.fault_options.clone(),
                progress: t.progress,
                endpoints: t.endpoints.clone(),
            };
            match run::run_command(run_args).await {
                Ok(outcome) => {
                    overall = overall.combine(outcome.verdict);
                    let store = Store::open(&t.store).await?;
                    rows.extend(store.get(&outcome.id).await?);
                }
                Err(e) if e.starts_with("--nemesis") => {
                    out!("skipped: {e}");
                    skipped.push(format!("{system} × {mix}: {e}"));
                }
                Err(e) => return Err(format!("{system} × {mix}: {e}")),
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

/// `fencepost export RUN --edn`: the run's history in Jepsen's EDN.
pub async fn export(store: &Path, id: &str, out: Option<&Path>) -> Result<(), String> {
    let store = Store::open(store).await?;
    let path = store.run_dir(id)?.join("history.jsonl");
    let history = formats::read_path(&path, Format::Jsonl).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    formats::edn::write(&mut buf, &history.ops).map_err(|e| e.to_string())?;
    match out {
        Some(file) => std::fs::write(file, &buf).map_err(|e| format!("writing {}: {e}", file.display()))?,
        None => std::io::stdout().write_all(&buf).map_err(|e| e.to_string())?,
    }
    Ok(())
}

/// `fencepost import FILE`: stores a recorded history (any format `check`
/// reads) as a run, checks it with every checker that applies, indexes it.
pub async fn import(store: &Path, file: &Path, format: Format, system: &str) -> Result<Validity, String> {
    let history = formats::read_path(file, format).map_err(|e| e.to_string())?;
    let store = Store::open(store).await?;
    let id = format!("import-{}", docker::new_run_id());
    let dir = store.run_dir(&id)?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let workload = if history.ops.iter().any(|op| op.f == "campaign") {
        "election"
    } else if history.ops.iter().any(|op| op.f == "acquire") {
        "lock"
    } else {
        "imported"
    };
    let started_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    write_json(
        &dir.join("test.json"),
        &json!({
            "run": id, "started_ms": started_ms, "system": system, "workload": workload, "nemesis": "imported",
            "source": file.display().to_string(), "format": history.format,
        }),
    )?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(dir.join("history.jsonl")).map_err(|e| format!("writing {}: {e}", dir.display()))?,
    );
    formats::jsonl::write(&mut out, &history.ops).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    let analyzed = analyze(&history, Duration::from_secs(60))?;
    write_json(&dir.join("results.json"), &analyzed.to_json(json!({ "run": id })))?;
    store.index(&id).await?;
    out!("imported {} ({} ops, {}) as run {id}", file.display(), history.ops.len(), history.format);
    analyzed.print();
    out!("verdict: {}   ({})", analyzed.verdict.as_str(), dir.display());
    Ok(analyzed.verdict)
}
