//! Server-rendered pages (askama templates in `web/templates/`, escaped).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use crate::{run_dir, App};

fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("rendering: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    what: String,
}

pub async fn not_found(uri: Uri) -> Response {
    render(StatusCode::NOT_FOUND, &NotFound { what: format!("There is nothing at {}.", uri.path()) })
}

struct FilterView {
    name: &'static str,
    label: &'static str,
    options: Vec<String>,
    selected: String,
}

struct RowView {
    id: String,
    system: String,
    workload: String,
    nemesis: String,
    started_ms: i64,
    started: String,
    duration: String,
    ops: i64,
    verdict: String,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct Runs {
    filters: Vec<FilterView>,
    rows: Vec<RowView>,
    filtered: bool,
}

/// `YYYY-MM-DD HH:MM:SS` UTC from Unix milliseconds (no date crate needed).
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

pub async fn runs(State(app): State<Arc<App>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let pick = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let filter = results::Filter {
        system: pick("system"),
        workload: pick("workload"),
        nemesis: pick("nemesis"),
        verdict: pick("verdict"),
    };
    // One query: the filter selects need every run's values anyway.
    let all = match app.store.list(&results::Filter::default()).await {
        Ok(all) => all,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let matches = |want: &Option<String>, have: &String| want.as_ref().is_none_or(|w| w == have);
    let rows: Vec<results::RunRow> = all
        .iter()
        .filter(|r| {
            matches(&filter.system, &r.system)
                && matches(&filter.workload, &r.workload)
                && matches(&filter.nemesis, &r.nemesis)
                && matches(&filter.verdict, &r.verdict)
        })
        .cloned()
        .collect();
    let distinct = |f: fn(&results::RunRow) -> &String| -> Vec<String> {
        all.iter().map(f).cloned().collect::<BTreeSet<_>>().into_iter().collect()
    };
    let filters = vec![
        FilterView {
            name: "system",
            label: "System",
            options: distinct(|r| &r.system),
            selected: filter.system.clone().unwrap_or_default(),
        },
        FilterView {
            name: "workload",
            label: "Workload",
            options: distinct(|r| &r.workload),
            selected: filter.workload.clone().unwrap_or_default(),
        },
        FilterView {
            name: "nemesis",
            label: "Faults",
            options: distinct(|r| &r.nemesis),
            selected: filter.nemesis.clone().unwrap_or_default(),
        },
        FilterView {
            name: "verdict",
            label: "Verdict",
            options: distinct(|r| &r.verdict),
            selected: filter.verdict.clone().unwrap_or_default(),
        },
    ];
    let filtered =
        filter.system.is_some() || filter.workload.is_some() || filter.nemesis.is_some() || filter.verdict.is_some();
    let rows = rows
        .into_iter()
        .map(|r| RowView {
            started: utc(r.started_ms),
            duration: format!("{:.1} s", r.duration_ms as f64 / 1000.0),
            id: r.id,
            system: r.system,
            workload: r.workload,
            nemesis: r.nemesis,
            started_ms: r.started_ms,
            ops: r.ops,
            verdict: r.verdict,
        })
        .collect();
    render(StatusCode::OK, &Runs { filters, rows, filtered })
}

struct CheckerView {
    name: String,
    validity: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct Run {
    id: String,
    system: String,
    workload: String,
    nemesis: String,
    verdict: String,
    live: bool,
    checkers: Vec<CheckerView>,
    /// (checker, words)
    anomalies: Vec<(String, String)>,
    more_anomalies: usize,
    stats: Vec<(String, String)>,
    logs: Vec<String>,
    test: String,
}

/// Anomalies listed on the page; the rest stay in results.json.
const LISTED: usize = 10;

pub async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(dir) = run_dir(&app, &id) else {
        return render(StatusCode::NOT_FOUND, &NotFound { what: format!("There is no run `{id}` in this store.") });
    };
    let read = |name: &str| -> Value {
        std::fs::read_to_string(dir.join(name)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
    };
    let (test, results) = (read("test.json"), read("results.json"));
    let live = results.is_null();
    let text = |v: &Value| {
        v.as_str().map(String::from).unwrap_or_else(|| if v.is_null() { "-".into() } else { v.to_string() })
    };
    let mut checkers = Vec::new();
    let mut anomalies = Vec::new();
    let mut total = 0;
    for c in results["checkers"].as_array().into_iter().flatten() {
        let name = text(&c["checker"]);
        let validity = if name == "availability" { "info".to_string() } else { text(&c["validity"]) };
        checkers.push(CheckerView { name: name.clone(), validity, summary: text(&c["summary"]) });
        for a in c["evidence"]["anomalies"].as_array().into_iter().flatten() {
            total += 1;
            if anomalies.len() < LISTED {
                anomalies.push((name.clone(), text(&a["text"])));
            }
        }
    }
    let s = &results["stats"];
    let figure = |v: &Value, unit: &str| v.as_f64().map_or("-".into(), |x| format!("{x:.1}{unit}"));
    let stats = if live {
        Vec::new()
    } else {
        vec![
            ("operations".into(), text(&s["ops"])),
            ("duration".into(), figure(&(s["duration_ms"].as_f64().map(|m| m / 1000.0).into()), " s")),
            ("completions per second".into(), figure(&s["ops_per_s"], "")),
            ("grant latency p50".into(), figure(&s["grant_p50_ms"], " ms")),
            ("grant latency p99".into(), figure(&s["grant_p99_ms"], " ms")),
            ("seconds with progress".into(), figure(&(s["progress_share"].as_f64().map(|p| p * 100.0).into()), " %")),
            (
                "mean recovery after a fault".into(),
                figure(&(s["recovery_ms"].as_f64().map(|m| m / 1000.0).into()), " s"),
            ),
            ("faults injected".into(), text(&s["faults"])),
        ]
    };
    let mut logs: Vec<String> = std::fs::read_dir(dir.join("nodes"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    logs.sort();
    let page = Run {
        system: text(&test["system"]),
        workload: text(&test["workload"]),
        nemesis: text(&test["nemesis"]),
        verdict: if live { "running".into() } else { text(&results["verdict"]) },
        live,
        checkers,
        more_anomalies: total - anomalies.len(),
        anomalies,
        stats,
        logs,
        test: serde_json::to_string_pretty(&test).unwrap_or_default(),
        id,
    };
    render(StatusCode::OK, &page)
}

struct CellView {
    system: String,
    workload: String,
    nemesis: String,
    runs: usize,
    invalid: usize,
    verdict: String,
    ops_per_s: String,
    p50: String,
    p99: String,
    progress: String,
    recovery: String,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct Compare {
    cells: Vec<CellView>,
    /// JSON for the chart, safe inside a script element.
    chart_json: String,
}

pub async fn compare(State(app): State<Arc<App>>) -> Response {
    let cells = match app.store.compare(&results::Filter::default()).await {
        Ok(c) => c,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mean = |v: Option<(f64, usize)>, scale: f64, unit: &str| {
        v.map_or("-".into(), |(m, _)| format!("{:.1}{unit}", m * scale))
    };
    let chart: Vec<Value> = cells
        .iter()
        .map(|c| serde_json::json!({ "label": format!("{} · {} · {}", c.system, c.workload, c.nemesis), "p99": c.grant_p99_ms.map(|m| m.0), "verdict": c.verdict }))
        .collect();
    // `<` escaped so no value can close the script element.
    let chart_json = serde_json::to_string(&chart).unwrap_or_else(|_| "[]".into()).replace('<', "\\u003c");
    let cells = cells
        .into_iter()
        .map(|c| CellView {
            ops_per_s: mean(c.ops_per_s, 1.0, ""),
            p50: mean(c.grant_p50_ms, 1.0, ""),
            p99: mean(c.grant_p99_ms, 1.0, ""),
            progress: mean(c.progress_share, 100.0, " %"),
            recovery: mean(c.recovery_ms, 1e-3, " s"),
            system: c.system,
            workload: c.workload,
            nemesis: c.nemesis,
            runs: c.runs,
            invalid: c.invalid,
            verdict: c.verdict,
        })
        .collect();
    render(StatusCode::OK, &Compare { cells, chart_json })
}

#[derive(Template)]
#[template(path = "check.html")]
struct Check {
    models: Vec<&'static str>,
    formats: Vec<&'static str>,
    limit_mib: usize,
}

pub async fn check() -> Response {
    render(
        StatusCode::OK,
        &Check {
            models: vec!["register", "cas-register", "kv", "mutex", "knossos-mutex", "fenced-mutex"],
            formats: vec!["auto", "jsonl", "edn", "porcupine-etcd", "porcupine-kv"],
            limit_mib: crate::UPLOAD_LIMIT >> 20,
        },
    )
}
