//! The results store's commands: `runs`, `rm`, `compare`, `suite`,
//! `export`, `import`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use checker::analysis::{counted, Validity};
use checker::formats::{self, Format};
use checker::models::ModelSpec;
use checker::{History, Process};
use nemesis::FaultKind;
use results::{Cell, Filter, RunRow, Store, TestInfo};
use serde::Serialize;
use serde_json::json;
use workloads::Workload;

use crate::analyze::analyze;
use crate::run::{self, write_json};

/// What `import` can name a history's workload, beside `run`'s workloads.
const IMPORTED_WORKLOADS: [&str; 3] = ["register", "cas-register", "kv"];

fn known_systems() -> Vec<&'static str> {
    workloads::REGISTRY.iter().map(|s| s.layout().name).chain(["imported"]).collect()
}

fn known_workloads() -> Vec<&'static str> {
    [Workload::Lock, Workload::FencedCounter { enforce: true }, Workload::FencedCounter { enforce: false }]
        .into_iter()
        .chain([Workload::Election])
        .map(run::workload_name)
        .chain(IMPORTED_WORKLOADS)
        .collect()
}

/// Checks the filter's values against what fencepost knows and what the
/// store holds, so that a typo is an error and not an empty list. A value
/// some stored run has is always accepted (`import --system` names are
/// free); fault lists are put in the order runs store them.
fn check_filter(mut filter: Filter, stored: &[RunRow]) -> Result<Filter, String> {
    if let Some(v) = &filter.verdict {
        if !results::VERDICTS.contains(&v.as_str()) {
            return Err(format!("--verdict: unknown verdict `{v}` (known: {})", results::VERDICTS.join(", ")));
        }
    }
    let check = |flag: &str, what: &str, value: &Option<String>, known: &[&str], have: fn(&RunRow) -> &str| match value
    {
        Some(v) if !known.contains(&v.as_str()) && !stored.iter().any(|r| have(r) == v) => Err(format!(
            "--{flag}: `{v}` is not a {what} fencepost knows (known: {}), and no stored run has it",
            known.join(", ")
        )),
        _ => Ok(()),
    };
    check("system", "system", &filter.system, &known_systems(), |r| &r.system)?;
    check("workload", "workload", &filter.workload, &known_workloads(), |r| &r.workload)?;
    if let Some(v) = &filter.nemesis {
        if !stored.iter().any(|r| &r.nemesis == v) {
            let kinds = FaultKind::parse_list(v).map_err(|e| format!("--nemesis: {e}"))?;
            filter.nemesis = Some(run::fault_names(&kinds));
        }
    }
    Ok(filter)
}

/// `fencepost runs`: the index as a table, newest first.
pub async fn runs(store: &Path, filter: Filter, reindex: bool, json_out: bool) -> Result<(), String> {
    let store = Store::open(store).await?;
    if reindex {
        let (n, skipped) = store.reindex().await?;
        eprintln!("reindexed {} from {}", counted(n, "run", "runs"), store.dir().display());
        for s in skipped {
            eprintln!("  skipped: {s}");
        }
    }
    let all = store.list(&Filter::default()).await?;
    let filter = check_filter(filter, &all)?;
    let rows = store.list(&filter).await?;
    if json_out {
        out!("{}", serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
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
    let body = rows.into_iter().map(|r| {
        vec![
            r.id,
            r.system,
            r.workload,
            r.nemesis,
            format!("{:.1}", r.duration_ms as f64 / 1000.0),
            r.ops.to_string(),
            r.verdict,
            figure(r.grant_p50_ms),
            figure(r.grant_p99_ms),
        ]
    });
    for line in table(&head, body.collect()) {
        out!("{line}");
    }
    Ok(())
}

/// `fencepost rm RUN…`: deletes each run's directory and index row. Every
/// id is checked first, so a typo among them deletes nothing.
pub async fn rm(store: &Path, ids: &[String]) -> Result<(), String> {
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
        return Err(format!("{}; nothing removed", problems.join("; ")));
    }
    for id in ids {
        store.remove(id).await?;
        out!("removed run {id}");
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}
use Align::{Left, Right};

/// Lines of a table whose columns are as wide as their widest value, in
/// characters (not bytes: verdicts carry a multi-byte `✗`).
fn table(head: &[(&str, Align)], rows: Vec<Vec<String>>) -> Vec<String> {
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
        ("runs", Right),
        ("verdict", Left),
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
            c.runs.to_string(),
            if c.invalid > 0 { format!("{} ({}✗)", c.verdict, c.invalid) } else { c.verdict.clone() },
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
}

/// `fencepost compare`: the matrix over the index.
pub async fn compare(store: &Path, filter: Filter, json_out: bool) -> Result<(), String> {
    let store = Store::open(store).await?;
    let all = store.list(&Filter::default()).await?;
    let filter = check_filter(filter, &all)?;
    let cells = store.compare(&filter).await?;
    if json_out {
        out!("{}", serde_json::to_string_pretty(&cells).map_err(|e| e.to_string())?);
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
            match run::preflight(&run_args) {
                Err(run::Preflight::Refused(e)) => {
                    out!("skipped: {e}");
                    skipped.push(format!("{system} × {mix}: {e}"));
                    continue;
                }
                Err(e) => return Err(format!("{system} × {mix}: {e}")),
                Ok(()) => {}
            }
            match run::run_command(run_args).await {
                Ok(outcome) => {
                    overall = overall.combine(outcome.verdict);
                    let store = Store::open(&t.store).await?;
                    rows.extend(store.get(&outcome.id).await?);
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
    let path = store.existing_run_dir(id)?.join("history.jsonl");
    let history = formats::read_path(&path, Format::Jsonl).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    formats::edn::write(&mut buf, &history.ops).map_err(|e| e.to_string())?;
    match out {
        Some(file) => std::fs::write(file, &buf).map_err(|e| format!("writing {}: {e}", file.display()))?,
        None => std::io::stdout().write_all(&buf).map_err(|e| e.to_string())?,
    }
    Ok(())
}

/// An imported run's `test.json`: what listing needs, and where it came from.
#[derive(Serialize)]
struct ImportedTest {
    #[serde(flatten)]
    test: TestInfo,
    source: String,
    format: &'static str,
}

/// The workload that would have recorded these ops, so an imported run
/// lists and compares beside `run`'s runs.
fn imported_workload(history: &History) -> &'static str {
    let has = |f: &str| history.ops.iter().any(|op| op.process != Process::Nemesis && op.f == f);
    if has("acquire") && has("write") && has("final-read") {
        "fenced-counter"
    } else if has("campaign") {
        "election"
    } else if has("acquire") {
        "lock"
    } else {
        match ModelSpec::infer(history) {
            // Releases without acquires: still a lock history.
            ModelSpec::Mutex | ModelSpec::KnossosMutex | ModelSpec::FencedMutex => "lock",
            model => model.name(),
        }
    }
}

/// The fault kinds a history's nemesis started (`partition-start` →
/// `partition`), in the order `run` stores them; kinds fencepost does not
/// know (another tool's) follow by name.
fn imported_faults(history: &History) -> String {
    let (mut known, mut other) = (BTreeSet::new(), BTreeSet::new());
    let started =
        history.ops.iter().filter(|op| op.process == Process::Nemesis).filter_map(|op| op.f.strip_suffix("-start"));
    for kind in started {
        match FaultKind::parse(kind) {
            Ok(k) => known.insert(k),
            Err(_) => other.insert(kind.to_string()),
        };
    }
    let names: Vec<String> = known.into_iter().map(|k| k.name().to_string()).chain(other).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    }
}

/// `fencepost import FILE`: stores a recorded history (any format `check`
/// reads) as a run, checks it with every checker that applies, indexes it.
pub async fn import(store: &Path, file: &Path, format: Format, system: &str) -> Result<Validity, String> {
    let history = formats::read_path(file, format).map_err(|e| e.to_string())?;
    let store = Store::open(store).await?;
    let id = format!("import-{}", docker::new_run_id());
    let dir = store.run_dir(&id)?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let started_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let test = ImportedTest {
        test: TestInfo {
            run: id.clone(),
            started_ms,
            system: system.to_string(),
            workload: imported_workload(&history).to_string(),
            nemesis: imported_faults(&history),
        },
        source: file.display().to_string(),
        format: history.format,
    };
    write_json(&dir.join("test.json"), &serde_json::to_value(&test).map_err(|e| e.to_string())?)?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(dir.join("history.jsonl")).map_err(|e| format!("writing {}: {e}", dir.display()))?,
    );
    formats::jsonl::write(&mut out, &history.ops).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    let analyzed = analyze(&history, Duration::from_secs(60))?;
    write_json(&dir.join("results.json"), &analyzed.to_json(json!({ "run": id })))?;
    store.index(&id).await?;
    out!(
        "imported {} ({}, {}; {}, faults: {}) as run {id}",
        file.display(),
        counted(history.ops.len(), "op", "ops"),
        history.format,
        test.test.workload,
        test.test.nemesis
    );
    analyzed.print();
    out!("verdict: {}   ({})", analyzed.verdict.as_str(), dir.display());
    Ok(analyzed.verdict)
}
