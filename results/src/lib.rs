//! The results store: where runs live after they end, and the index that
//! lists and compares them.
//!
//! ```text
//! store/<run-id>/test.json      what was run: system, workload, faults, options, seed, image
//! store/<run-id>/history.jsonl  every operation, streamed while the test ran
//! store/<run-id>/results.json   every checker's verdict and evidence, and the key figures
//! store/<run-id>/nodes/<n>.log  server logs copied out of the containers
//! store/index.sqlite            one row per run (this crate), rebuilt from the files at will
//! ```
//!
//! The files are the truth; the index is a cache of their key figures so
//! that listing and comparing many runs stays instant. [`Store::index`]
//! reads a run's `test.json` and `results.json` into a [`RunRow`];
//! [`Store::reindex`] rebuilds every row from the directories.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

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
    /// `valid`, `invalid`, `unknown`, or `error` when the run could not finish.
    pub verdict: String,
    /// Each checker's verdict: `{"mutual-exclusion": "valid", …}`.
    pub checkers: Value,
    pub ops_per_s: Option<f64>,
    pub grant_p50_ms: Option<f64>,
    pub grant_p99_ms: Option<f64>,
    /// Share of seconds in which some grant succeeded.
    pub progress_share: Option<f64>,
    /// Mean time from a fault's end to the next successful grant.
    pub recovery_ms: Option<f64>,
}

/// Filters for [`Store::list`]; `None` matches anything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub system: Option<String>,
    pub workload: Option<String>,
    pub nemesis: Option<String>,
    pub verdict: Option<String>,
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
    recovery_ms REAL
)";

impl Store {
    /// Opens (creating if needed) the store at `dir` and its index.
    pub async fn open(dir: &Path) -> Result<Store, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating the store {}: {e}", dir.display()))?;
        let file = dir.join("index.sqlite");
        let options = SqliteConnectOptions::new().filename(&file).create_if_missing(true);
        // One connection: the index is small, and SQLite serialises writers anyway.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| format!("opening {}: {e}", file.display()))?;
        sqlx::query(SCHEMA)
            .execute(&pool)
            .await
            .map_err(|e| format!("creating the index in {}: {e}", file.display()))?;
        Ok(Store { dir: dir.to_path_buf(), pool })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of run `id`, or an error for an id that is not one.
    pub fn run_dir(&self, id: &str) -> Result<PathBuf, String> {
        if !valid_run_id(id) {
            return Err(format!("`{id}` is not a run id"));
        }
        Ok(self.dir.join(id))
    }

    /// Reads run `id`'s files and stores its row in the index.
    pub async fn index(&self, id: &str) -> Result<RunRow, String> {
        let row = read_row(&self.run_dir(id)?, id)?;
        sqlx::query(
            "INSERT OR REPLACE INTO runs (id, system, workload, nemesis, started_ms, duration_ms, ops, verdict,
             checkers, ops_per_s, grant_p50_ms, grant_p99_ms, progress_share, recovery_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.id)
        .bind(&row.system)
        .bind(&row.workload)
        .bind(&row.nemesis)
        .bind(row.started_ms)
        .bind(row.duration_ms)
        .bind(row.ops)
        .bind(&row.verdict)
        .bind(row.checkers.to_string())
        .bind(row.ops_per_s)
        .bind(row.grant_p50_ms)
        .bind(row.grant_p99_ms)
        .bind(row.progress_share)
        .bind(row.recovery_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| format!("indexing run {id}: {e}"))?;
        Ok(row)
    }

    /// Rebuilds the index from every run directory; returns the runs indexed
    /// and, for directories that are not (yet) complete runs, why.
    pub async fn reindex(&self) -> Result<(usize, Vec<String>), String> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| format!("reading {}: {e}", self.dir.display()))?;
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| valid_run_id(id))
            .collect();
        ids.sort();
        sqlx::query("DELETE FROM runs").execute(&self.pool).await.map_err(|e| e.to_string())?;
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
    pub async fn list(&self, filter: &Filter) -> Result<Vec<RunRow>, String> {
        let rows = sqlx::query(
            "SELECT * FROM runs WHERE (?1 IS NULL OR system = ?1) AND (?2 IS NULL OR workload = ?2)
             AND (?3 IS NULL OR nemesis = ?3) AND (?4 IS NULL OR verdict = ?4)
             ORDER BY started_ms DESC, id DESC",
        )
        .bind(&filter.system)
        .bind(&filter.workload)
        .bind(&filter.nemesis)
        .bind(&filter.verdict)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| format!("listing runs: {e}"))?;
        rows.iter().map(row_from_sql).collect()
    }

    /// One run's row, if indexed.
    pub async fn get(&self, id: &str) -> Result<Option<RunRow>, String> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| format!("reading run {id}: {e}"))?;
        row.as_ref().map(row_from_sql).transpose()
    }

    /// The systems × faults matrix over the runs matching `filter`.
    pub async fn compare(&self, filter: &Filter) -> Result<Vec<Cell>, String> {
        Ok(cells(self.list(filter).await?))
    }
}

/// The systems × faults matrix: for each (system, workload, nemesis), the
/// worst verdict over its runs and the mean of the key figures.
pub fn cells(runs: Vec<RunRow>) -> Vec<Cell> {
    let mut cells: Vec<Cell> = Vec::new();
    for run in runs {
        let cell = match cells
            .iter_mut()
            .position(|c| c.system == run.system && c.workload == run.workload && c.nemesis == run.nemesis)
        {
            Some(i) => &mut cells[i],
            None => {
                cells.push(Cell {
                    system: run.system.clone(),
                    workload: run.workload.clone(),
                    nemesis: run.nemesis.clone(),
                    ..Cell::default()
                });
                cells.last_mut().expect("just pushed")
            }
        };
        cell.runs += 1;
        cell.verdict = worst(&cell.verdict, &run.verdict).to_string();
        cell.invalid += usize::from(run.verdict == "invalid");
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
    cells.sort_by(|a, b| (&a.system, &a.workload, &a.nemesis).cmp(&(&b.system, &b.workload, &b.nemesis)));
    cells
}

/// One cell of the comparison: a system, workload and fault mix over its runs.
/// Figures are (mean, runs that had it).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cell {
    pub system: String,
    pub workload: String,
    pub nemesis: String,
    pub runs: usize,
    pub invalid: usize,
    pub verdict: String,
    pub ops_per_s: Option<(f64, usize)>,
    pub grant_p50_ms: Option<(f64, usize)>,
    pub grant_p99_ms: Option<(f64, usize)>,
    pub progress_share: Option<(f64, usize)>,
    pub recovery_ms: Option<(f64, usize)>,
}

/// invalid > error > unknown > valid.
fn worst<'a>(a: &'a str, b: &'a str) -> &'a str {
    let rank = |v: &str| match v {
        "invalid" => 4,
        "error" => 3,
        "unknown" => 2,
        "valid" => 1,
        _ => 0,
    };
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

fn row_from_sql(r: &sqlx::sqlite::SqliteRow) -> Result<RunRow, String> {
    let get = |e: sqlx::Error| format!("reading the index: {e}");
    let checkers: String = r.try_get("checkers").map_err(get)?;
    Ok(RunRow {
        id: r.try_get("id").map_err(get)?,
        system: r.try_get("system").map_err(get)?,
        workload: r.try_get("workload").map_err(get)?,
        nemesis: r.try_get("nemesis").map_err(get)?,
        started_ms: r.try_get("started_ms").map_err(get)?,
        duration_ms: r.try_get("duration_ms").map_err(get)?,
        ops: r.try_get("ops").map_err(get)?,
        verdict: r.try_get("verdict").map_err(get)?,
        checkers: serde_json::from_str(&checkers).unwrap_or(Value::Null),
        ops_per_s: r.try_get("ops_per_s").map_err(get)?,
        grant_p50_ms: r.try_get("grant_p50_ms").map_err(get)?,
        grant_p99_ms: r.try_get("grant_p99_ms").map_err(get)?,
        progress_share: r.try_get("progress_share").map_err(get)?,
        recovery_ms: r.try_get("recovery_ms").map_err(get)?,
    })
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: line {}: {e}", path.display(), e.line()))
}

/// A run's row from its `test.json` and `results.json`.
fn read_row(dir: &Path, id: &str) -> Result<RunRow, String> {
    let test = read_json(&dir.join("test.json"))?;
    let results = read_json(&dir.join("results.json"))?;
    let field = |v: &Value, path: &str, name: &str| -> Result<String, String> {
        v[name].as_str().map(String::from).ok_or_else(|| format!("{}/{path}: no `{name}`", dir.display()))
    };
    let stats = &results["stats"];
    Ok(RunRow {
        id: id.to_string(),
        system: field(&test, "test.json", "system")?,
        workload: field(&test, "test.json", "workload")?,
        nemesis: test["nemesis"].as_str().unwrap_or("none").to_string(),
        started_ms: test["started_ms"].as_i64().unwrap_or(0),
        duration_ms: stats["duration_ms"].as_i64().unwrap_or(0),
        ops: stats["ops"].as_i64().unwrap_or(0),
        verdict: field(&results, "results.json", "verdict")?,
        checkers: results["checkers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| Some((c["checker"].as_str()?.to_string(), c["validity"].clone())))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            })
            .unwrap_or(Value::Null),
        ops_per_s: stats["ops_per_s"].as_f64(),
        grant_p50_ms: stats["grant_p50_ms"].as_f64(),
        grant_p99_ms: stats["grant_p99_ms"].as_f64(),
        progress_share: stats["progress_share"].as_f64(),
        recovery_ms: stats["recovery_ms"].as_f64(),
    })
}
