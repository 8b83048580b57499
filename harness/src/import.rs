//! Another tool's history (Jepsen EDN, Porcupine, fencepost JSONL) kept as
//! a run: stored, judged by the checkers of the workload it is recognised
//! as, and indexed beside `run`'s runs.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use checker::formats::{self, Format};
use checker::lease::LeaseOptions;
use results::{Imported, RunResults, Store, TestSpec};

use crate::checks::{analyze, declared_faults, declared_workload};
use crate::run::Finished;
use crate::{io, Error};

/// Reads `file`, stores it as run `import-…` under system name `system`,
/// judges it and indexes it.
pub async fn import(store: &Path, file: &Path, format: Format, system: &str) -> Result<Finished, Error> {
    let history = formats::read_path(file, format)?;
    let store = Store::open(store).await?;
    let id = format!("import-{}", docker::new_run_id());
    let dir = store.run_dir(&id)?;
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let started_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let test = TestSpec {
        run: id.clone(),
        started_ms,
        system: system.to_string(),
        workload: declared_workload(&history),
        nemesis: declared_faults(&history),
        fencepost: env!("CARGO_PKG_VERSION").to_string(),
        recorded: None,
        imported: Some(Imported { source: file.display().to_string(), format: history.format.to_string() }),
        scenario: None,
    };
    results::write_json(&dir.join("test.json"), &test)?;
    let path = dir.join("history.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io("writing", &path))?);
    formats::jsonl::write(&mut out, &history.ops).map_err(io("writing", &path))?;
    out.flush().map_err(io("writing", &path))?;
    let analyzed = analyze(&history, &test.workload, Duration::from_secs(60), &LeaseOptions::default())?;
    let sufficiency = crate::run::sufficiency(&history, &test.workload)?;
    let results = RunResults {
        run: id.clone(),
        verdict: crate::run::overall(analyzed.verdict, &sufficiency),
        checkers: analyzed.checkers,
        stats: analyzed.stats,
        interrupted: false,
        workload: None,
        nemesis_error: None,
        faults_planned: None,
        cluster_events: Vec::new(),
        sufficiency: Some(sufficiency),
    };
    results::write_json(&dir.join("results.json"), &results)?;
    store.index(&id).await?;
    Ok(Finished { id, dir, results })
}
