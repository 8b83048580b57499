//! Another tool's history (Jepsen EDN, Porcupine, fencepost JSONL) kept as
//! a run: stored, judged by the checkers of the workload it is recognised
//! as, and indexed beside `run`'s runs.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use checker::formats::{self, Format};
use checker::lease::LeaseOptions;
use results::{Imported, RunResults, Store, TestSpec};

use crate::checks::{declared_faults, declared_workload, judge, Judged};
use crate::run::Finished;
use crate::{io, Error};

/// Reads `file`, judges it, and stores it as run `import-…` under system
/// name `system`, indexed. Everything that can refuse the history (a bad
/// line, an unreadable lease, a broken pairing rule) does so before the run
/// folder exists; if writing the folder fails, it is removed, so no run is
/// ever left without its `results.json`.
pub async fn import(store: &Path, file: &Path, format: Format, system: &str) -> Result<Finished, Error> {
    let history = formats::read_path(file, format)?;
    let workload = declared_workload(&history);
    let Judged { analyzed, sufficiency, verdict } =
        judge(&history, &workload, Duration::from_secs(60), &LeaseOptions::default())?;
    let store = Store::open(store).await?;
    let id = format!("import-{}", docker::new_run_id());
    let dir = store.run_dir(&id)?;
    let started_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let test = TestSpec {
        run: id.clone(),
        started_ms,
        system: system.to_string(),
        workload,
        nemesis: declared_faults(&history),
        fencepost: env!("CARGO_PKG_VERSION").to_string(),
        recorded: None,
        imported: Some(Imported { source: file.display().to_string(), format: history.format.to_string() }),
        scenario: None,
        study: None,
        replay: None,
    };
    let results = RunResults {
        run: id.clone(),
        verdict,
        checkers: analyzed.checkers,
        stats: analyzed.stats,
        interrupted: false,
        workload: None,
        nemesis_error: None,
        node_crashes: Vec::new(),
        faults_planned: None,
        cluster_events: Vec::new(),
        warnings: history.warnings.clone(),
        sufficiency: Some(sufficiency),
    };
    let written = (|| {
        std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        results::write_json(&dir.join("test.json"), &test)?;
        let path = dir.join("history.jsonl");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io("writing", &path))?);
        formats::jsonl::write(&mut out, &history.ops).map_err(io("writing", &path))?;
        out.flush().map_err(io("writing", &path))?;
        results::write_json(&dir.join("results.json"), &results)?;
        Ok::<(), Error>(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    store.index(&id).await?;
    Ok(Finished { id, dir, results })
}

/// A stored run's folder as `check store/RUN` judges it again.
pub struct StoredRun {
    pub history: checker::History,
    /// The workload its `test.json` names, else the one its ops look like.
    pub workload: String,
    /// The clock drift it was recorded with, if it says.
    pub drift: Option<f64>,
    /// Why `test.json` was not used, when it is unreadable.
    pub note: Option<String>,
}

/// Reads a run's folder: its history and what its `test.json` says. A
/// folder without a readable `test.json` (an older fencepost's, or none) is
/// judged by what its ops look like.
pub fn stored_run(dir: &Path) -> Result<StoredRun, Error> {
    let path = dir.join("history.jsonl");
    if !path.is_file() {
        return Err(Error::NotARun(dir.to_path_buf()));
    }
    let history = formats::read_path(&path, Format::Jsonl)?;
    let (mut drift, mut note) = (None, None);
    let workload = match results::read_test(dir) {
        Ok(test) => {
            drift = test.recorded.map(|r| r.drift);
            test.workload
        }
        Err(results::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            declared_workload(&history)
        }
        Err(e @ results::Error::Json { .. }) => {
            let workload = declared_workload(&history);
            note = Some(format!("{e}; judging the history as a {workload} workload"));
            workload
        }
        Err(e) => return Err(e.into()),
    };
    Ok(StoredRun { history, workload, drift, note })
}
