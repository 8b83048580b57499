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

/// One row of the test parameters: nested values indented under their key.
struct ParamRow {
    depth: usize,
    key: String,
    value: String,
}

/// A failing linearizability check, drawn by the page's script.
struct LinView {
    /// `key k0` for a partitioned check, else empty.
    key: String,
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
    /// (checker, words) of the anomalies listed.
    anomalies: Vec<(String, String)>,
    /// Every stored anomaly, whether listed or not.
    anomaly_total: usize,
    /// (checker, how many), in checker order.
    anomaly_counts: Vec<(String, usize)>,
    /// Stretches without a grant, in words (with what the nodes' logs said).
    outages: Vec<String>,
    lin: Vec<LinView>,
    /// JSON for the script, safe inside a script element.
    lin_json: String,
    stats: Vec<(String, String)>,
    logs: Vec<String>,
    params: Vec<ParamRow>,
}

/// Anomalies listed before `?anomalies=all`: a page of a run with
/// thousands stays light, and says how many it leaves out.
const LISTED: usize = 20;

/// `<` escaped so no value can close the script element it is put in.
fn script_json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into()).replace('<', "\\u003c")
}

pub async fn run(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(dir) = run_dir(&app, &id) else {
        return render(StatusCode::NOT_FOUND, &NotFound { what: format!("There is no run `{id}` in this store.") });
    };
    let read = |name: &str| -> Value {
        std::fs::read_to_string(dir.join(name)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
    };
    let (test, results) = (read("test.json"), read("results.json"));
    let live = results.is_null();
    let all = q.get("anomalies").is_some_and(|v| v == "all");
    let mut checkers = Vec::new();
    let mut anomalies = Vec::new();
    let mut anomaly_counts: Vec<(String, usize)> = Vec::new();
    let mut anomaly_total = 0;
    let outages: Vec<String> = results["checkers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["checker"] == "availability")
        .flat_map(|c| c["evidence"]["outages"].as_array().cloned().unwrap_or_default())
        .map(|o| text(&o["text"]))
        .collect();
    for c in results["checkers"].as_array().into_iter().flatten() {
        let name = text(&c["checker"]);
        let validity = if name == "availability" { "info".to_string() } else { text(&c["validity"]) };
        checkers.push(CheckerView { name: name.clone(), validity, summary: text(&c["summary"]) });
        let found = c["evidence"]["anomalies"].as_array().map_or(&[][..], Vec::as_slice);
        if found.is_empty() {
            continue;
        }
        anomaly_total += found.len();
        anomaly_counts.push((name.clone(), found.len()));
        for a in found {
            if all || anomalies.len() < LISTED {
                anomalies.push((name.clone(), text(&a["text"])));
            }
        }
    }
    let evidence = linearizability(&results);
    let lin = evidence
        .iter()
        .map(|e| LinView {
            key: e["key"].as_str().map(|k| format!("key {k}")).unwrap_or_default(),
            summary: text(&e["summary"]),
        })
        .collect();
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
    let mut params = Vec::new();
    for (k, v) in test.as_object().into_iter().flatten() {
        param_rows(&mut params, 0, k, v);
    }
    let page = Run {
        system: text(&test["system"]),
        workload: text(&test["workload"]),
        nemesis: text(&test["nemesis"]),
        verdict: if live { "running".into() } else { text(&results["verdict"]) },
        live,
        checkers,
        anomalies,
        anomaly_total,
        anomaly_counts,
        outages,
        lin,
        lin_json: script_json(&Value::Array(evidence)),
        stats,
        logs,
        params,
        id,
    };
    render(StatusCode::OK, &page)
}

fn text(v: &Value) -> String {
    v.as_str().map(String::from).unwrap_or_else(|| if v.is_null() { "-".into() } else { v.to_string() })
}

/// Operations beyond this in a failing partition are cut to the ones around
/// the operation that cannot be placed: thousands of bars in one canvas
/// show nothing, and would weigh down the page.
const FOCUS_OVER: usize = 120;
/// How many of the last placed operations a cut keeps.
const FOCUS_PLACED: usize = 20;

/// Per failing `linearizable` checker: its model, and its first failing
/// partition with the longest partial linearization, in the shape the check
/// page's drawing takes (`operations`, `partials[0]`).
fn linearizability(results: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for c in results["checkers"].as_array().into_iter().flatten() {
        if c["checker"] != "linearizable" || c["validity"] == "valid" {
            continue;
        }
        let e = &c["evidence"];
        let parts = e["partitions"].as_array().map_or(&[][..], Vec::as_slice);
        let has_partial = |p: &&Value| p["partials"].as_array().is_some_and(|v| !v.is_empty());
        // Unknown partitions may carry partials too; the failing one explains the verdict.
        let part = parts.iter().filter(has_partial).find(|p| p["verdict"] == "not-linearizable");
        let Some(part) = part.or_else(|| parts.iter().find(has_partial)) else { continue };
        out.push(serde_json::json!({
            "model": e["model"],
            "verdict": e["verdict"],
            "summary": c["summary"],
            "key": part["key"],
            "partition": focus(part),
        }));
    }
    out
}

/// `partition` with only the first partial, and past [`FOCUS_OVER`]
/// operations only the stuck one, those concurrent with it and the last
/// placed ones, renumbered; `numbers` keeps each placed op's place in the
/// whole linearization and `placed`/`omitted` say what the cut left out.
fn focus(part: &Value) -> Value {
    let ops = part["operations"].as_array().map_or(&[][..], Vec::as_slice);
    let partial = &part["partials"][0];
    let ids = |v: &Value| -> Vec<usize> {
        v.as_array().into_iter().flatten().filter_map(|x| x.as_u64().map(|x| x as usize)).collect()
    };
    let prefix = ids(&partial["prefix"]);
    if ops.len() <= FOCUS_OVER {
        return serde_json::json!({ "operations": ops, "partials": [partial] });
    }
    let stuck = partial["stuck"].as_u64().unwrap_or(0) as usize;
    let concurrent = ids(&partial["concurrent"]);
    let mut keep: BTreeSet<usize> = concurrent.iter().copied().collect();
    keep.insert(stuck);
    keep.extend(prefix.iter().rev().take(FOCUS_PLACED));
    keep.retain(|&i| i < ops.len());
    let new_id: HashMap<usize, usize> = keep.iter().enumerate().map(|(n, &i)| (i, n)).collect();
    let (kept_prefix, numbers): (Vec<usize>, Vec<usize>) =
        prefix.iter().enumerate().filter_map(|(n, i)| Some((new_id.get(i).copied()?, n + 1))).unzip();
    serde_json::json!({
        "operations": keep.iter().map(|&i| &ops[i]).collect::<Vec<_>>(),
        "partials": [{
            "prefix": kept_prefix,
            "numbers": numbers,
            "placed": prefix.len(),
            "omitted": ops.len() - keep.len(),
            "state_after": partial["state_after"],
            "stuck": new_id.get(&stuck),
            "concurrent": concurrent.iter().filter_map(|i| new_id.get(i)).collect::<Vec<_>>(),
        }],
    })
}

/// Rows for one test parameter. Objects nest (indented); so do values
/// written as Rust `Debug` structs (`FaultOptions { loss: 0.3, … }`), which
/// older runs stored as one string.
fn param_rows(rows: &mut Vec<ParamRow>, depth: usize, key: &str, v: &Value) {
    let fields: Option<Vec<(String, Value)>> = match v {
        Value::Object(m) => Some(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Value::String(s) => debug_struct(s).map(|(_, f)| f.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
        _ => None,
    };
    match fields {
        Some(fields) if depth < 3 => {
            let label = match v {
                Value::String(s) => debug_struct(s).map(|(name, _)| name).unwrap_or_default(),
                _ => String::new(),
            };
            rows.push(ParamRow { depth, key: key.to_string(), value: label });
            for (k, v) in &fields {
                param_rows(rows, depth + 1, k, v);
            }
        }
        _ => {
            let value = match v {
                Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                    items.iter().map(text).collect::<Vec<_>>().join(", ")
                }
                other => text(other),
            };
            rows.push(ParamRow { depth, key: key.to_string(), value });
        }
    }
}

/// `Name { a: 1, b: Inner { c: 2 } }` → ("Name", [("a", "1"), ("b", "Inner { c: 2 }")]);
/// `None` for anything else.
fn debug_struct(s: &str) -> Option<(String, Vec<(String, String)>)> {
    let s = s.trim();
    let open = s.find(" {")?;
    let name = &s[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == ':') {
        return None;
    }
    let body = s[open + 2..].strip_suffix('}')?.trim();
    let mut fields = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut from = 0;
    let mut parts = Vec::new();
    for (i, ch) in body.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '{' | '[' | '(' if !quoted => depth += 1,
            '}' | ']' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&body[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[from..]);
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once(':')?;
        fields.push((k.trim().to_string(), v.trim().to_string()));
    }
    Some((name.to_string(), fields))
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
    let chart_json = script_json(&Value::Array(chart));
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
