//! The results store: where runs live after they end, and the index that
//! lists and compares them.
//!
//! ```text
//! store/<run-id>/test.json      what was run: system, workload, faults, options, seed, image
//! store/<run-id>/history.jsonl  every operation, streamed while the test ran
//! store/<run-id>/results.json   every checker's verdict and evidence, and the key figures
//! store/<run-id>/schedule.json  the faults injected, as they happened (what `run --replay` plays)
//! store/<run-id>/shrunk.json    what `fencepost shrink` reduced the run to
//! store/<run-id>/nodes/<n>.log  server logs copied out of the containers
//! store/index.sqlite            one row per run (this crate), rebuilt from the files at will
//! ```
//!
//! The files are the truth; the index is a cache of their key figures so
//! that listing and comparing many runs stays instant. [`Store::index`]
//! reads a run's `test.json` and `results.json` into a [`RunRow`];
//! [`Store::reindex`] rebuilds every row from the directories. The files'
//! types are in [`record`] and [`replay`].

pub mod config;
pub mod record;
pub mod replay;
pub mod scenario;
pub mod story;
pub mod study;

pub use config::Config;
pub use record::{CounterEnd, Imported, NodeCrash, Recorded, RunResults, Stats, StudyTag, TestSpec, WorkloadSummary};
pub use story::{Headline, Layer, Layers, Story, Tally};

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use checker::checkers::CheckerId;
use checker::lease::Cause;
use checker::Verdict;
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// What can go wrong with the store. Callers tell a missing run from a
/// broken one by the variant.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Refused before it touches the file system (`..`, `/`, a leading dot).
    #[error("`{0}` is not a run id")]
    NotRunId(String),
    #[error("no run {id} in store {}", store.display())]
    NoSuchRun { id: String, store: PathBuf },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: line {}: {source}", path.display(), source.line())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the index is damaged ({0}); rebuild it with `fencepost runs --reindex`")]
    CorruptIndex(String),
    #[error("{action}: {source}")]
    Index {
        action: String,
        #[source]
        source: sqlx::Error,
    },
}

/// The binary and the web crate report store errors as text next to their
/// own; this keeps `?` working in their `Result<_, String>` functions.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { action, path, source }
}

fn sql(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    let action = action.into();
    move |source| Error::Index { action, source }
}

/// One run's key figures, as listed and compared.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunRow {
    pub id: String,
    pub system: String,
    pub workload: String,
    /// Fault kinds, comma-separated, or `none`.
    pub nemesis: String,
    /// Unix milliseconds.
    pub started_ms: i64,
    pub duration_ms: i64,
    pub ops: i64,
    pub verdict: Verdict,
    /// Each checker's verdict: `{"mutual-exclusion": "valid", …}`.
    pub checkers: BTreeMap<CheckerId, Verdict>,
    pub ops_per_s: Option<f64>,
    pub grant_p50_ms: Option<f64>,
    pub grant_p99_ms: Option<f64>,
    /// Share of seconds in which some grant succeeded.
    pub progress_share: Option<f64>,
    /// Mean time from a fault's end to the next successful grant.
    pub recovery_ms: Option<f64>,
    /// Overlapping holds and leaders by cause.
    pub overlap_causes: BTreeMap<Cause, usize>,
    /// Each layer's verdict (service, clients, data), from `checkers`.
    pub layers: Layers,
    /// The scenario it was run for, and whether it matched.
    pub scenario: Option<scenario::ScenarioRun>,
    /// How it was configured (`None` for an import, and for a run indexed
    /// before the index kept it, until `runs --reindex`).
    pub config: Option<Config>,
}

impl RunRow {
    /// The run's vendor story.
    pub fn story(&self) -> Story {
        let mut story = Story::default();
        story.add(&self.checkers, &self.overlap_causes);
        story
    }
}

/// Filters for [`Store::list`]; `None` matches anything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub system: Option<String>,
    pub workload: Option<String>,
    pub nemesis: Option<String>,
    pub verdict: Option<Verdict>,
    /// Only the runs made for this scenario.
    pub scenario: Option<String>,
}

pub struct Store {
    dir: PathBuf,
    pool: SqlitePool,
}

/// Run ids are directory names we made: letters, digits, `-`, `_`, `.`, not
/// starting with a dot. Anything else (`..`, `/`) is refused before it
/// touches the file system.
pub fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        // The margin studies' folder sits beside the runs; it is not one.
        && id != STUDIES
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    system TEXT NOT NULL,
    workload TEXT NOT NULL,
    nemesis TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    ops INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    checkers TEXT NOT NULL,
    ops_per_s REAL,
    grant_p50_ms REAL,
    grant_p99_ms REAL,
    progress_share REAL,
    recovery_ms REAL,
    overlap_causes TEXT NOT NULL DEFAULT '{}',
    scenario TEXT,
    scenario_seed INTEGER,
    scenario_judgement TEXT,
    config TEXT
)";

/// Columns added since the first schema, for indexes made before them.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("overlap_causes", "ALTER TABLE runs ADD COLUMN overlap_causes TEXT NOT NULL DEFAULT '{}'"),
    ("scenario", "ALTER TABLE runs ADD COLUMN scenario TEXT"),
    ("scenario_seed", "ALTER TABLE runs ADD COLUMN scenario_seed INTEGER"),
    ("scenario_judgement", "ALTER TABLE runs ADD COLUMN scenario_judgement TEXT"),
    ("config", "ALTER TABLE runs ADD COLUMN config TEXT"),
];

impl Store {
    /// Opens (creating if needed) the store at `dir` and its index.
    pub async fn open(dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(dir).map_err(io("creating the store", dir))?;
        let file = dir.join("index.sqlite");
        let options = SqliteConnectOptions::new().filename(&file).create_if_missing(true);
        // One connection: the index is small, and SQLite serialises writers anyway.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(sql(format!("opening {}", file.display())))?;
        sqlx::query(SCHEMA).execute(&pool).await.map_err(sql(format!("creating the index in {}", file.display())))?;
        for (column, alter) in ADDED_COLUMNS {
            let present: Option<(String,)> =
                sqlx::query_as("SELECT name FROM pragma_table_info('runs') WHERE name = ?")
                    .bind(column)
                    .fetch_optional(&pool)
                    .await
                    .map_err(sql(format!("reading the index's columns in {}", file.display())))?;
            if present.is_none() {
                // An older index: its rows get the default until reindexed.
                sqlx::query(*alter)
                    .execute(&pool)
                    .await
                    .map_err(sql(format!("adding {column} to the index in {}", file.display())))?;
            }
        }
        Ok(Store { dir: dir.to_path_buf(), pool })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps a finished margin study beside its probe runs.
    pub fn save_study(&self, study: &study::Study) -> Result<(), Error> {
        let dir = self.dir.join(STUDIES);
        std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        write_json(&dir.join(format!("{}.json", study.study)), study)
    }

    /// Every stored study, newest first; one that does not read is an
    /// error naming its file.
    pub fn studies(&self) -> Result<Vec<study::Study>, Error> {
        studies(&self.dir)
    }

    /// The directory of run `id`, or an error for an id that is not one.
    pub fn run_dir(&self, id: &str) -> Result<PathBuf, Error> {
        if !valid_run_id(id) {
            return Err(Error::NotRunId(id.to_string()));
        }
        Ok(self.dir.join(id))
    }

    /// The directory of stored run `id` (one that has its `test.json`).
    pub fn existing_run_dir(&self, id: &str) -> Result<PathBuf, Error> {
        let dir = self.run_dir(id)?;
        if dir.join("test.json").is_file() {
            Ok(dir)
        } else {
            Err(self.no_such_run(id))
        }
    }

    fn no_such_run(&self, id: &str) -> Error {
        Error::NoSuchRun { id: id.to_string(), store: self.dir.clone() }
    }

    /// Whether run `id` is here: its directory, or only its index row (the
    /// directory was removed by hand).
    pub async fn contains(&self, id: &str) -> Result<bool, Error> {
        let dir = self.run_dir(id)?;
        // Only real directories are runs: never the index file beside them,
        // nor a link leading out of the store.
        let is_dir = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir());
        Ok(is_dir || self.get(id).await?.is_some())
    }

    /// Deletes run `id`: its directory, then its index row.
    pub async fn remove(&self, id: &str) -> Result<(), Error> {
        if !self.contains(id).await? {
            return Err(self.no_such_run(id));
        }
        let dir = self.run_dir(id)?;
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(&dir).map_err(io("removing", &dir))?;
        }
        // The row goes last: a failed removal leaves the run listed, so it
        // can be seen and removed again.
        sqlx::query("DELETE FROM runs WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(sql(format!("removing run {id} from the index")))?;
        Ok(())
    }

    /// Reads run `id`'s files and stores its row in the index.
    pub async fn index(&self, id: &str) -> Result<RunRow, Error> {
        let row = read_row(&self.run_dir(id)?, id)?;
        sqlx::query(
            "INSERT OR REPLACE INTO runs (id, system, workload, nemesis, started_ms, duration_ms, ops, verdict,
             checkers, ops_per_s, grant_p50_ms, grant_p99_ms, progress_share, recovery_ms, overlap_causes,
             scenario, scenario_seed, scenario_judgement, config)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.id)
        .bind(&row.system)
        .bind(&row.workload)
        .bind(&row.nemesis)
        .bind(row.started_ms)
        .bind(row.duration_ms)
        .bind(row.ops)
        .bind(row.verdict.as_str())
        .bind(serde_json::to_string(&row.checkers).map_err(|source| Error::Json { path: self.dir.join(id), source })?)
        .bind(row.ops_per_s)
        .bind(row.grant_p50_ms)
        .bind(row.grant_p99_ms)
        .bind(row.progress_share)
        .bind(row.recovery_ms)
        .bind(
            serde_json::to_string(&row.overlap_causes)
                .map_err(|source| Error::Json { path: self.dir.join(id), source })?,
        )
        .bind(row.scenario.as_ref().map(|s| s.name.clone()))
        .bind(row.scenario.as_ref().and_then(|s| s.seed).map(|seed| seed as i64))
        .bind(
            row.scenario
                .as_ref()
                .map(|s| serde_json::to_string(&s.judgement))
                .transpose()
                .map_err(|source| Error::Json { path: self.dir.join(id), source })?,
        )
        .bind(
            row.config
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|source| Error::Json { path: self.dir.join(id), source })?,
        )
        .execute(&self.pool)
        .await
        .map_err(sql(format!("indexing run {id}")))?;
        Ok(row)
    }

    /// Rebuilds the index from every run directory; returns the runs indexed
    /// and, for directories that are not (yet) complete runs, why.
    pub async fn reindex(&self) -> Result<(usize, Vec<Error>), Error> {
        let entries = std::fs::read_dir(&self.dir).map_err(io("reading", &self.dir))?;
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| valid_run_id(id))
            .collect();
        ids.sort();
        sqlx::query("DELETE FROM runs").execute(&self.pool).await.map_err(sql("clearing the index"))?;
        let (mut indexed, mut skipped) = (0, Vec::new());
        for id in ids {
            match self.index(&id).await {
                Ok(_) => indexed += 1,
                Err(e) => skipped.push(e),
            }
        }
        Ok((indexed, skipped))
    }

    /// Runs matching `filter`, newest first.
    pub async fn list(&self, filter: &Filter) -> Result<Vec<RunRow>, Error> {
        let rows = sqlx::query(
            "SELECT * FROM runs WHERE (?1 IS NULL OR system = ?1) AND (?2 IS NULL OR workload = ?2)
             AND (?3 IS NULL OR nemesis = ?3) AND (?4 IS NULL OR verdict = ?4)
             AND (?5 IS NULL OR scenario = ?5)
             ORDER BY started_ms DESC, id DESC",
        )
        .bind(&filter.system)
        .bind(&filter.workload)
        .bind(&filter.nemesis)
        .bind(filter.verdict.map(Verdict::as_str))
        .bind(&filter.scenario)
        .fetch_all(&self.pool)
        .await
        .map_err(sql("listing runs"))?;
        rows.iter().map(row_from_sql).collect()
    }

    /// One run's row, if indexed.
    pub async fn get(&self, id: &str) -> Result<Option<RunRow>, Error> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql(format!("reading run {id}")))?;
        row.as_ref().map(row_from_sql).transpose()
    }

    /// The systems × faults matrix over the runs matching `filter`.
    pub async fn compare(&self, filter: &Filter) -> Result<Vec<Cell>, Error> {
        Ok(cells(self.list(filter).await?))
    }
}

/// The systems × faults matrix: for each (system, workload, nemesis), the
/// worst verdict over its runs and the mean of the key figures.
pub fn cells(runs: Vec<RunRow>) -> Vec<Cell> {
    let mut cells: Vec<Cell> = Vec::new();
    for run in runs {
        let cell = match cells.iter_mut().position(|c| {
            c.system == run.system && c.workload == run.workload && c.nemesis == run.nemesis && c.config == run.config
        }) {
            Some(i) => &mut cells[i],
            None => {
                cells.push(Cell {
                    system: run.system.clone(),
                    workload: run.workload.clone(),
                    nemesis: run.nemesis.clone(),
                    config: run.config.clone(),
                    ..Cell::default()
                });
                cells.last_mut().expect("just pushed")
            }
        };
        cell.runs += 1;
        cell.verdict = Some(cell.verdict.map_or(run.verdict, |v| v.combine(run.verdict)));
        cell.invalid += usize::from(run.verdict == Verdict::Invalid);
        cell.story.add(&run.checkers, &run.overlap_causes);
        cell.layers = cell.story.layers();
        for (sum, v) in [
            (&mut cell.ops_per_s, run.ops_per_s),
            (&mut cell.grant_p50_ms, run.grant_p50_ms),
            (&mut cell.grant_p99_ms, run.grant_p99_ms),
            (&mut cell.progress_share, run.progress_share),
            (&mut cell.recovery_ms, run.recovery_ms),
        ] {
            if let Some(v) = v {
                // Running mean over the runs that have the figure.
                let (mean, n) = sum.get_or_insert((0.0, 0));
                *n += 1;
                *mean += (v - *mean) / *n as f64;
            }
        }
    }
    // Each cell says what tells it from the cells beside it (same system,
    // workload and faults): beyond the first words, the options that differ.
    for i in 0..cells.len() {
        let mut apart: Vec<String> = Vec::new();
        for j in 0..cells.len() {
            let (a, b) = (&cells[i], &cells[j]);
            if i == j || (&a.system, &a.workload, &a.nemesis) != (&b.system, &b.workload, &b.nemesis) {
                continue;
            }
            if let (Some(x), Some(y)) = (&a.config, &b.config) {
                for key in x.differences(y) {
                    if !apart.contains(&key) {
                        apart.push(key);
                    }
                }
            }
        }
        apart.sort();
        cells[i].config_words = match &cells[i].config {
            Some(c) => c.words(&apart),
            None => "not recorded".into(),
        };
    }
    cells.sort_by(|a, b| {
        (&a.system, &a.workload, &a.nemesis, &a.config_words).cmp(&(
            &b.system,
            &b.workload,
            &b.nemesis,
            &b.config_words,
        ))
    });
    cells
}

/// One cell of the comparison: a system, workload and fault mix over its runs.
/// Figures are (mean, runs that had it).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cell {
    pub system: String,
    pub workload: String,
    pub nemesis: String,
    /// The configuration its runs share (`None`: not recorded).
    pub config: Option<Config>,
    /// The configuration in words, with what tells it from its neighbours.
    pub config_words: String,
    pub runs: usize,
    pub invalid: usize,
    /// The worst overall verdict over its runs ([`story::overall`]).
    pub verdict: Option<Verdict>,
    /// The worst verdict of each layer over its runs: the badges.
    pub layers: Layers,
    pub ops_per_s: Option<(f64, usize)>,
    pub grant_p50_ms: Option<(f64, usize)>,
    pub grant_p99_ms: Option<(f64, usize)>,
    pub progress_share: Option<(f64, usize)>,
    pub recovery_ms: Option<(f64, usize)>,
    /// Whether the service kept its promise, why clients overlapped, and
    /// whether fencing saved the data, over its runs.
    pub story: Story,
}

fn row_from_sql(r: &sqlx::sqlite::SqliteRow) -> Result<RunRow, Error> {
    let checkers: String = r.try_get("checkers").map_err(sql("reading the index"))?;
    let verdict: String = r.try_get("verdict").map_err(sql("reading the index"))?;
    // The index is a cache of the files: a row it cannot read is rebuilt
    // from them (`runs --reindex`), so say so rather than guess.
    let corrupt = |what: &str| Error::CorruptIndex(format!("{what} of run {:?}", r.try_get::<String, _>("id").ok()));
    let verdict: Verdict = verdict.parse().map_err(|_| corrupt("the verdict"))?;
    let checkers: BTreeMap<CheckerId, Verdict> =
        serde_json::from_str(&checkers).map_err(|_| corrupt("the checker verdicts"))?;
    let causes: String = r.try_get("overlap_causes").map_err(sql("reading the index"))?;
    let overlap_causes: BTreeMap<Cause, usize> =
        serde_json::from_str(&causes).map_err(|_| corrupt("the overlaps' causes"))?;
    let scenario: Option<String> = r.try_get("scenario").map_err(sql("reading the index"))?;
    let scenario = match scenario {
        None => None,
        Some(name) => {
            let seed: Option<i64> = r.try_get("scenario_seed").map_err(sql("reading the index"))?;
            // Written with the name, so never absent beside it.
            let judgement: Option<String> = r.try_get("scenario_judgement").map_err(sql("reading the index"))?;
            let judgement = judgement
                .and_then(|text| serde_json::from_str(&text).ok())
                .ok_or_else(|| corrupt("the scenario's judgement"))?;
            Some(scenario::ScenarioRun { name, seed: seed.map(|s| s as u64), judgement })
        }
    };
    let config: Option<String> = r.try_get("config").map_err(sql("reading the index"))?;
    let config = match config {
        None => None,
        Some(text) => Some(serde_json::from_str(&text).map_err(|_| corrupt("the configuration"))?),
    };
    let row = || -> Result<RunRow, sqlx::Error> {
        Ok(RunRow {
            config,
            id: r.try_get("id")?,
            system: r.try_get("system")?,
            workload: r.try_get("workload")?,
            nemesis: r.try_get("nemesis")?,
            started_ms: r.try_get("started_ms")?,
            duration_ms: r.try_get("duration_ms")?,
            ops: r.try_get("ops")?,
            verdict,
            ops_per_s: r.try_get("ops_per_s")?,
            grant_p50_ms: r.try_get("grant_p50_ms")?,
            grant_p99_ms: r.try_get("grant_p99_ms")?,
            progress_share: r.try_get("progress_share")?,
            recovery_ms: r.try_get("recovery_ms")?,
            layers: Story::of_verdicts(&checkers, &overlap_causes).layers(),
            overlap_causes,
            checkers,
            scenario,
        })
    };
    row().map_err(sql("reading the index"))
}

/// The store's folder of margin studies (not a run: the index skips it).
pub const STUDIES: &str = "studies";

/// The studies stored under `store`, newest first (their ids start with
/// the time they began).
pub fn studies(store: &Path) -> Result<Vec<study::Study>, Error> {
    let dir = store.join(STUDIES);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("reading", &dir)(e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.reverse();
    paths.iter().map(|p| read_json(p)).collect()
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = std::fs::read_to_string(path).map_err(io("reading", path))?;
    serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_path_buf(), source })
}

/// A run's `test.json`.
pub fn read_test(dir: &Path) -> Result<TestSpec, Error> {
    read_json(&dir.join("test.json"))
}

/// A run's `results.json`.
pub fn read_results(dir: &Path) -> Result<RunResults, Error> {
    read_json(&dir.join("results.json"))
}

/// Writes `value` as pretty JSON to `path`, whole or not at all: a reader
/// (the web report of a run that is just finishing) never sees half a file.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text =
        serde_json::to_string_pretty(value).map_err(|source| Error::Json { path: path.to_path_buf(), source })?;
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text + "\n").map_err(io("writing", &partial))?;
    std::fs::rename(&partial, path).map_err(io("writing", path))
}

/// A run's row from its `test.json` and `results.json`.
fn read_row(dir: &Path, id: &str) -> Result<RunRow, Error> {
    let test = read_test(dir)?;
    let results = read_results(dir)?;
    let scenario = test.scenario.map(|tag| scenario::ScenarioRun {
        judgement: scenario::judge(&tag.expect, &results),
        seed: test.recorded.as_ref().map(|r| r.seed),
        name: tag.name,
    });
    let stats = results.stats;
    Ok(RunRow {
        config: test.recorded.as_ref().map(Config::of),
        id: id.to_string(),
        system: test.system,
        workload: test.workload,
        nemesis: test.nemesis,
        started_ms: test.started_ms,
        duration_ms: stats.duration_ms as i64,
        ops: stats.ops as i64,
        verdict: results.verdict,
        checkers: story::verdicts(&results.checkers),
        layers: Story::of(&results.checkers).layers(),
        ops_per_s: Some(stats.ops_per_s),
        grant_p50_ms: stats.grant_p50_ms,
        grant_p99_ms: stats.grant_p99_ms,
        progress_share: stats.progress_share,
        recovery_ms: stats.recovery_ms,
        overlap_causes: Story::of(&results.checkers).overlaps,
        scenario,
    })
}
