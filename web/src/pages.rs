//! Server-rendered pages (askama templates in `web/templates/`, escaped).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use checker::analysis::Analysis;
use checker::check::{CheckResult, OpRef, PartialLinearization, PartitionResult};
use checker::evidence::Evidence;
use checker::formats::Format;
use checker::models::ModelSpec;
use checker::Verdict;
use serde::Serialize;
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
    /// The sentence, around `name` (shown as code): `before` `name` `after`.
    before: &'static str,
    name: String,
    after: &'static str,
}

pub async fn not_found(uri: Uri) -> Response {
    render(
        StatusCode::NOT_FOUND,
        &NotFound { before: "There is nothing at ", name: uri.path().to_string(), after: "." },
    )
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
    verdict: Verdict,
    /// (layer, its verdict or `-`): service, clients, data.
    layers: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct Runs {
    filters: Vec<FilterView>,
    rows: Vec<RowView>,
    filtered: bool,
}

/// `YYYY-MM-DD HH:MM:SS` UTC from Unix milliseconds.
fn utc(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string().replacen('T', " ", 1).trim_end_matches('Z').to_string()
}

pub async fn runs(State(app): State<Arc<App>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let pick = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let (system, workload, nemesis, verdict) = (pick("system"), pick("workload"), pick("nemesis"), pick("verdict"));
    // A word that is no verdict matches no run, rather than every run.
    let wanted: Option<Option<Verdict>> = verdict.as_deref().map(|v| v.parse().ok());
    // One query: the filter selects need every run's values anyway.
    let all = match app.store.list(&results::Filter::default()).await {
        Ok(all) => all,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let matches = |want: &Option<String>, have: &String| want.as_ref().is_none_or(|w| w == have);
    let rows: Vec<results::RunRow> = all
        .iter()
        .filter(|r| {
            matches(&system, &r.system)
                && matches(&workload, &r.workload)
                && matches(&nemesis, &r.nemesis)
                && wanted.is_none_or(|w| w == Some(r.verdict))
        })
        .cloned()
        .collect();
    let distinct = |f: fn(&results::RunRow) -> &String| -> Vec<String> {
        all.iter().map(f).cloned().collect::<BTreeSet<_>>().into_iter().collect()
    };
    let filtered = system.is_some() || workload.is_some() || nemesis.is_some() || verdict.is_some();
    let filters = vec![
        FilterView {
            name: "system",
            label: "System",
            options: distinct(|r| &r.system),
            selected: system.unwrap_or_default(),
        },
        FilterView {
            name: "workload",
            label: "Workload",
            options: distinct(|r| &r.workload),
            selected: workload.unwrap_or_default(),
        },
        FilterView {
            name: "nemesis",
            label: "Faults",
            options: distinct(|r| &r.nemesis),
            selected: nemesis.unwrap_or_default(),
        },
        FilterView {
            name: "verdict",
            label: "Verdict",
            options: Verdict::ALL
                .into_iter()
                .filter(|v| all.iter().any(|r| r.verdict == *v))
                .map(|v| v.as_str().to_string())
                .collect(),
            selected: verdict.unwrap_or_default(),
        },
    ];
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
            layers: results::Layer::ALL
                .iter()
                .map(|&l| (l.name(), r.layers.get(l).map_or("-", Verdict::as_str)))
                .collect(),
        })
        .collect();
    render(StatusCode::OK, &Runs { filters, rows, filtered })
}

struct CheckerView {
    name: &'static str,
    /// `valid`, `invalid`, `unknown`, or `info` for a checker that only informs.
    validity: &'static str,
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
pub(crate) struct Run {
    id: String,
    /// Set for a report read with no server (`fencepost report --html`):
    /// the page carries its style, script and timeline itself.
    offline: Option<Offline>,
    system: String,
    workload: String,
    nemesis: String,
    /// The run's verdict, `running` while it is live, `unreadable` when its
    /// results.json does not read.
    verdict: String,
    live: bool,
    /// A run file that does not read: which, and which field.
    errors: Vec<String>,
    checkers: Vec<CheckerView>,
    /// The headline: each layer (service, clients, data) with its verdict
    /// and words; empty while there are no results.
    layers: Vec<results::story::LayerLine>,
    /// Why the overall verdict is what it is.
    verdict_words: String,
    /// (checker, words) of the anomalies listed.
    anomalies: Vec<(&'static str, String)>,
    /// Every anomaly the checkers found.
    anomaly_total: usize,
    /// Those results.json keeps (each with its words), listed or not.
    anomaly_stored: usize,
    /// (checker, how many), in checker order.
    anomaly_counts: Vec<(&'static str, usize)>,
    /// Stretches without a grant, in words (with what the nodes' logs said).
    outages: Vec<String>,
    /// (node, line): the nodes' own words that their server crashed.
    crashes: Vec<(String, String)>,
    /// Each node's clock offset over the run (SVG), where a clock moved.
    clock_svg: Option<String>,
    /// Whether the history held enough to judge, and what it held or lacked.
    sufficiency: Option<(bool, String)>,
    lin: Vec<LinView>,
    /// JSON for the script, safe inside a script element.
    lin_json: String,
    stats: Vec<(&'static str, String)>,
    logs: Vec<String>,
    params: Vec<ParamRow>,
    /// The scenario it was run for: name, and whether it matched (why not).
    scenario: Option<ScenarioLine>,
    /// Where the nodes ran: containers, SSH hosts, or an existing cluster.
    cluster: String,
    /// How to run it again, what it replays, what it was shrunk to.
    again: Again,
}

/// A run's replay lines: the commands that make it again (none for an
/// import, or a run recorded before commands were kept), the run it
/// replays, and the smallest run `fencepost shrink` reduced it to.
#[derive(Default)]
struct Again {
    command: Option<String>,
    replay: Option<String>,
    replay_of: Option<(String, usize)>,
    shrunk: Option<(String, String)>,
}

impl Again {
    fn of(test: Option<&results::TestSpec>, dir: &std::path::Path) -> Again {
        let Some(test) = test else {
            return Again::default();
        };
        let command = test.recorded.as_ref().filter(|r| !r.command.is_empty()).map(|r| {
            let words: Vec<String> = r.command.iter().map(|w| quoted(w)).collect();
            format!("fencepost run {}", words.join(" "))
        });
        let shrunk = results::replay::read_shrunk(dir).ok().flatten().map(|s| {
            let ms = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
            let words = format!(
                "{} of {} faults, a time limit of {} (was {}), {} clients (was {}), in {} attempts",
                s.faults[0],
                s.faults[1],
                ms(s.time_limit_ms[0]),
                ms(s.time_limit_ms[1]),
                s.concurrency[0],
                s.concurrency[1],
                s.attempts.len()
            );
            (s.minimal, words)
        });
        Again {
            replay: command.as_ref().map(|_| format!("fencepost run --replay {}", test.run)),
            command,
            replay_of: test.replay.as_ref().map(|r| (r.of.clone(), r.faults.len())),
            shrunk,
        }
    }
}

/// A word of a command line as a shell reads it back.
fn quoted(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:,/=%".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

struct ScenarioLine {
    name: String,
    matched: bool,
    mismatches: Vec<String>,
}

/// Anomalies listed before `?anomalies=all`: a page of a run with
/// thousands stays light, and says how many it leaves out.
const LISTED: usize = 20;

/// `<` escaped so no value can close the script element it is put in.
fn script_json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into()).replace('<', "\\u003c")
}

/// What a self-contained report inlines.
pub(crate) struct Offline {
    css: &'static str,
    js: &'static str,
    /// The whole timeline (`timeline::Offline`), safe inside a script element.
    data: String,
    /// When the file was written, for its header.
    written: String,
}

pub async fn run(State(app): State<Arc<App>>, Path(id): Path<String>, Query(q): Query<RunQuery>) -> Response {
    match run_page(&app, id, q.anomalies.as_deref() == Some("all")).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(response) => response,
    }
}

/// A run's report as one HTML file that needs no server: the page with
/// every anomaly listed, its style and script inlined, and the whole
/// timeline in it for the script to draw.
pub(crate) async fn offline_page(app: &Arc<App>, id: String, written: String) -> Result<String, crate::Error> {
    let dir = run_dir(app, &id)?;
    let mut page = run_page(app, id.clone(), true).await.map_err(|_| crate::Error::NoRun(id.clone()))?;
    let columns = app.timeline(&id, dir).await?;
    page.offline = Some(Offline::new(script_json(&columns.offline()), written));
    page.render().map_err(crate::Error::Template)
}

impl Offline {
    fn new(data: String, written: String) -> Offline {
        Offline { css: include_str!("../static/style.css"), js: include_str!("../static/fencepost.js"), data, written }
    }
}

/// The comparison (grid, chart and margins) as one file that opens with
/// no server (`fencepost report --suite --html FILE`).
pub(crate) async fn offline_compare(app: &Arc<App>, written: String) -> Result<String, crate::Error> {
    let mut page = compare_page(app).await?;
    page.offline = Some(Offline::new(String::new(), written));
    page.render().map_err(crate::Error::Template)
}

/// The scenario library with this store's runs of each, as one file
/// (`fencepost report --scenarios --html FILE`).
pub(crate) async fn offline_scenarios(app: &Arc<App>, written: String) -> Result<String, crate::Error> {
    let mut page = scenarios_page(app).await?;
    page.offline = Some(Offline::new(String::new(), written));
    page.render().map_err(crate::Error::Template)
}

/// The report page's contents, or the response that says why there is none.
async fn run_page(app: &Arc<App>, id: String, all: bool) -> Result<Run, Response> {
    let Ok(dir) = run_dir(app, &id) else {
        return Err(render(
            StatusCode::NOT_FOUND,
            &NotFound { before: "There is no run ", name: id, after: " in this store." },
        ));
    };
    let read = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || (results::read_test(&dir), crate::read_results(&dir))).await
    };
    let (test, results) = match read {
        Ok(files) => files,
        Err(e) => return Err((StatusCode::INTERNAL_SERVER_ERROR, format!("reading run `{id}`: {e}")).into_response()),
    };
    if matches!(results, Ok(Some(_))) {
        // The script will ask for the timeline next: build it meanwhile.
        let (app, id, dir) = (app.clone(), id.clone(), dir.clone());
        tokio::spawn(async move { app.timeline(&id, dir).await });
    }
    // A file that does not read is said so, naming the file and the field;
    // the rest of the page (timeline, downloads, logs) still works.
    let mut errors = Vec::new();
    let test = test.map_err(|e| errors.push(format!("The test.json of this run does not read: {e}"))).ok();
    let live = matches!(results, Ok(None));
    let results =
        results.map_err(|e| errors.push(format!("The results.json of this run does not read: {e}"))).ok().flatten();
    let analyses: &[Analysis] = results.as_ref().map_or(&[], |r| &r.checkers);
    let listed = Listed::of(analyses, all);
    let evidence = linearizability(analyses);
    let lin = evidence
        .iter()
        .map(|e| LinView { key: e.key.map(|k| format!("key {k}")).unwrap_or_default(), summary: e.summary.to_string() })
        .collect();
    let stats = results.as_ref().map(|r| stats(&r.stats)).unwrap_or_default();
    let logs = node_logs(&dir);
    let params = test.as_ref().map(param_table).unwrap_or_default();
    let verdict = match (&results, live) {
        (Some(r), _) => r.verdict.as_str(),
        (None, true) => "running",
        (None, false) => "unreadable",
    };
    let (system, workload, nemesis) = match &test {
        Some(t) => (t.system.clone(), t.workload.clone(), t.nemesis.clone()),
        None => ("-".into(), "-".into(), "-".into()),
    };
    let cluster = test.as_ref().and_then(|t| t.recorded.as_ref()).map(cluster_line).unwrap_or_default();
    let scenario = scenario_line(test.as_ref(), results.as_ref());
    let again = Again::of(test.as_ref(), &dir);
    // Only a run that asked for clock faults waits for its timeline here.
    let clock_svg = match (&results, &test) {
        (Some(_), Some(t)) if t.nemesis.contains("clock") => {
            app.timeline(&id, dir.clone()).await.ok().and_then(|c| c.clock_svg.clone())
        }
        _ => None,
    };
    Ok(Run {
        offline: None,
        clock_svg,
        again,
        scenario,
        cluster,
        system,
        workload,
        nemesis,
        verdict: verdict.to_string(),
        live,
        errors,
        checkers: listed.checkers,
        layers: results::Story::of(analyses).layer_lines(),
        verdict_words: results
            .as_ref()
            .map(|r| results::Headline::of(r.verdict, analyses, r.sufficiency.as_ref()).words)
            .unwrap_or_default(),
        anomalies: listed.anomalies,
        anomaly_total: listed.total,
        anomaly_stored: listed.stored,
        anomaly_counts: listed.counts,
        outages: listed.outages,
        crashes: results
            .as_ref()
            .map(|r| r.node_crashes.iter().map(|c| (c.node.clone(), c.line.clone())).collect())
            .unwrap_or_default(),
        sufficiency: results.as_ref().and_then(|r| r.sufficiency.as_ref()).map(|s| (s.enough, s.summary.clone())),
        lin,
        lin_json: script_json(&evidence),
        stats,
        logs,
        params,
        id,
    })
}

/// What a run page lists of its checkers: one row each, their anomalies
/// (the first [`LISTED`] unless all are asked for) and counts, and the
/// outages availability found.
struct Listed {
    checkers: Vec<CheckerView>,
    anomalies: Vec<(&'static str, String)>,
    counts: Vec<(&'static str, usize)>,
    total: usize,
    stored: usize,
    outages: Vec<String>,
}

impl Listed {
    fn of(analyses: &[Analysis], all: bool) -> Listed {
        let mut l = Listed {
            checkers: Vec::new(),
            anomalies: Vec::new(),
            counts: Vec::new(),
            total: 0,
            stored: 0,
            outages: Vec::new(),
        };
        for c in analyses {
            let validity = if c.judges() { c.validity.as_str() } else { "info" };
            l.checkers.push(CheckerView { name: c.checker(), validity, summary: c.summary.clone() });
            if let Evidence::Availability(a) = &c.evidence {
                l.outages.extend(a.outages.iter().map(|o| o.text.clone()));
            }
            let found = c.anomalies();
            let count = c.anomaly_count().max(found.len());
            if count == 0 {
                continue;
            }
            l.total += count;
            l.stored += found.len();
            l.counts.push((c.checker(), count));
            for a in found {
                if all || l.anomalies.len() < LISTED {
                    l.anomalies.push((c.checker(), a.text.to_string()));
                }
            }
        }
        l
    }
}

/// The node logs a run kept, by file name.
fn node_logs(dir: &std::path::Path) -> Vec<String> {
    let mut logs: Vec<String> = std::fs::read_dir(dir.join("nodes"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    logs.sort();
    logs
}

/// `test.json` as the parameters table's rows.
fn param_table(test: &results::TestSpec) -> Vec<ParamRow> {
    let mut params = Vec::new();
    if let Ok(Value::Object(fields)) = serde_json::to_value(test) {
        for (k, v) in &fields {
            if k == "started_ms" {
                // A time, not a count of milliseconds.
                params.push(ParamRow {
                    depth: 0,
                    key: "started".into(),
                    value: format!("{} UTC", utc(test.started_ms)),
                });
            } else {
                param_rows(&mut params, 0, k, v);
            }
        }
    }
    params
}

/// Where the cluster ran, in words.
fn cluster_line(r: &results::Recorded) -> String {
    if !r.ssh_hosts.is_empty() {
        format!("On SSH hosts: {}", r.ssh_hosts.join(", "))
    } else if !r.endpoints.is_empty() {
        format!("An existing cluster at {}", r.endpoints.join(", "))
    } else {
        format!("In containers{}", r.image.as_ref().map(|i| format!(" from {i}")).unwrap_or_default())
    }
}

/// A scenario run's scenario and whether its results matched it.
fn scenario_line(test: Option<&results::TestSpec>, results: Option<&results::RunResults>) -> Option<ScenarioLine> {
    let tag = test?.scenario.as_ref()?;
    Some(match results {
        Some(r) => {
            let j = results::scenario::judge(&tag.expect, r);
            ScenarioLine { name: tag.name.clone(), matched: j.matched, mismatches: j.mismatches }
        }
        None => ScenarioLine { name: tag.name.clone(), matched: false, mismatches: Vec::new() },
    })
}

/// The run page's query: `?anomalies=all` lists every anomaly.
#[derive(serde::Deserialize)]
pub struct RunQuery {
    anomalies: Option<String>,
}

/// The figures table.
fn stats(s: &results::Stats) -> Vec<(&'static str, String)> {
    let figure = |v: Option<f64>, unit: &str| v.map_or("-".into(), |x| format!("{x:.1}{unit}"));
    vec![
        ("operations", s.ops.to_string()),
        ("duration", figure(Some(s.duration_ms as f64 / 1000.0), " s")),
        ("completions per second", figure(Some(s.ops_per_s), "")),
        ("grant latency p50", figure(s.grant_p50_ms, " ms")),
        ("grant latency p99", figure(s.grant_p99_ms, " ms")),
        ("time served (outside outages)", figure(s.progress_share.map(|p| p * 100.0), " %")),
        ("mean recovery after a fault", figure(s.recovery_ms.map(|m| m / 1000.0), " s")),
        ("faults injected", s.faults.to_string()),
    ]
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

/// A failing `linearizable` checker for the page's script: its model, and
/// one partition with its longest partial linearization, in the shape the
/// check page's drawing takes (`operations`, `partials[0]`).
#[derive(Debug, Serialize)]
struct LinEvidence<'a> {
    model: &'a str,
    verdict: Verdict,
    summary: &'a str,
    key: Option<&'a str>,
    partition: Drawn<'a>,
}

#[derive(Debug, Serialize)]
struct Drawn<'a> {
    operations: Vec<&'a OpRef>,
    partials: [DrawnPartial<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum DrawnPartial<'a> {
    /// A partition small enough to draw whole.
    Whole(&'a PartialLinearization),
    /// A long one, cut (see [`focus`]).
    Cut(CutPartial<'a>),
}

#[derive(Debug, Serialize)]
struct CutPartial<'a> {
    prefix: Vec<usize>,
    /// Each kept placed op's place in the whole linearization.
    numbers: Vec<usize>,
    placed: usize,
    omitted: usize,
    state_after: &'a str,
    stuck: Option<usize>,
    concurrent: Vec<usize>,
}

/// Per failing `linearizable` checker: its first failing partition with
/// the longest partial linearization (unknown partitions may carry partials
/// too; the failing one explains the verdict).
fn linearizability(checkers: &[Analysis]) -> Vec<LinEvidence<'_>> {
    checkers
        .iter()
        .filter(|c| c.validity != Verdict::Valid)
        .filter_map(|c| {
            let Evidence::Linearizable(result) = &c.evidence else { return None };
            let result: &CheckResult = result;
            let with_partial = || result.partitions.iter().filter(|p| !p.partials.is_empty());
            let part = with_partial().find(|p| p.verdict == Verdict::Invalid).or_else(|| with_partial().next())?;
            Some(LinEvidence {
                model: &result.model,
                verdict: result.verdict,
                summary: &c.summary,
                key: part.key.as_deref(),
                partition: focus(part, &part.partials[0]),
            })
        })
        .collect()
}

/// `part` with only `partial`, and past [`FOCUS_OVER`] operations only the
/// stuck one, those concurrent with it and the last placed ones,
/// renumbered; `numbers` keeps each placed op's place in the whole
/// linearization and `placed`/`omitted` say what the cut left out.
fn focus<'a>(part: &'a PartitionResult, partial: &'a PartialLinearization) -> Drawn<'a> {
    let ops = &part.operations;
    if ops.len() <= FOCUS_OVER {
        return Drawn { operations: ops.iter().collect(), partials: [DrawnPartial::Whole(partial)] };
    }
    let prefix = &partial.prefix;
    let mut keep: BTreeSet<usize> = partial.concurrent.iter().copied().collect();
    keep.insert(partial.stuck);
    keep.extend(prefix.iter().rev().take(FOCUS_PLACED));
    keep.retain(|&i| i < ops.len());
    let new_id: HashMap<usize, usize> = keep.iter().enumerate().map(|(n, &i)| (i, n)).collect();
    let (kept_prefix, numbers): (Vec<usize>, Vec<usize>) =
        prefix.iter().enumerate().filter_map(|(n, i)| Some((new_id.get(i).copied()?, n + 1))).unzip();
    Drawn {
        operations: keep.iter().map(|&i| &ops[i]).collect(),
        partials: [DrawnPartial::Cut(CutPartial {
            prefix: kept_prefix,
            numbers,
            placed: prefix.len(),
            omitted: ops.len() - keep.len(),
            state_after: &partial.state_after,
            stuck: new_id.get(&partial.stuck).copied(),
            concurrent: partial.concurrent.iter().filter_map(|i| new_id.get(i).copied()).collect(),
        })],
    }
}

/// Rows for one test parameter; objects nest (indented, at most three deep).
fn param_rows(rows: &mut Vec<ParamRow>, depth: usize, key: &str, v: &Value) {
    match v {
        Value::Object(fields) if depth < 3 => {
            rows.push(ParamRow { depth, key: key.to_string(), value: String::new() });
            for (k, v) in fields {
                param_rows(rows, depth + 1, k, v);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let value = items.iter().map(text).collect::<Vec<_>>().join(", ");
            rows.push(ParamRow { depth, key: key.to_string(), value });
        }
        other => rows.push(ParamRow { depth, key: key.to_string(), value: text(other) }),
    }
}

struct CellView {
    system: String,
    workload: String,
    nemesis: String,
    /// The configuration its runs share, in words.
    config: String,
    runs: usize,
    invalid: usize,
    /// The worst verdict over its runs.
    verdict: &'static str,
    ops_per_s: String,
    p50: String,
    p99: String,
    progress: String,
    recovery: String,
    /// Each layer over its runs: its worst verdict and words.
    layers: Vec<LayerBadge>,
}

/// One layer of a comparison cell: its worst verdict over the runs (`-`
/// when nothing judged it) and the words for it.
struct LayerBadge {
    layer: &'static str,
    verdict: &'static str,
    text: String,
}

impl LayerBadge {
    fn of(cell: &results::Cell) -> Vec<LayerBadge> {
        let lines = cell.story.layer_lines();
        results::Layer::ALL
            .iter()
            .map(|&layer| LayerBadge {
                layer: layer.name(),
                verdict: cell.layers.get(layer).map_or("-", Verdict::as_str),
                text: lines.iter().filter(|l| l.layer == layer).map(|l| l.text.as_str()).collect::<Vec<_>>().join("; "),
            })
            .collect()
    }
}

/// One bar of the comparison chart.
#[derive(Serialize)]
struct ChartBar {
    label: String,
    p99: Option<f64>,
    verdict: Option<Verdict>,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct Compare {
    cells: Vec<CellView>,
    /// JSON for the chart, safe inside a script element.
    chart_json: String,
    /// The margin studies, under the grid.
    rows: Vec<MarginRow>,
    offline: Option<Offline>,
}

pub async fn compare(State(app): State<Arc<App>>) -> Response {
    match compare_page(&app).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn compare_page(app: &Arc<App>) -> Result<Compare, crate::Error> {
    let cells = app.store.compare(&results::Filter::default()).await?;
    let mean = |v: Option<(f64, usize)>, scale: f64, unit: &str| {
        v.map_or("-".into(), |(m, _)| format!("{:.1}{unit}", m * scale))
    };
    let chart: Vec<ChartBar> = cells
        .iter()
        .map(|c| ChartBar {
            label: format!("{} · {} · {} · {}", c.system, c.workload, c.nemesis, c.config_words),
            p99: c.grant_p99_ms.map(|m| m.0),
            verdict: c.verdict,
        })
        .collect();
    let chart_json = script_json(&chart);
    let cells = cells
        .into_iter()
        .map(|c| CellView {
            ops_per_s: mean(c.ops_per_s, 1.0, ""),
            p50: mean(c.grant_p50_ms, 1.0, ""),
            p99: mean(c.grant_p99_ms, 1.0, ""),
            progress: mean(c.progress_share, 100.0, " %"),
            recovery: mean(c.recovery_ms, 1e-3, " s"),
            layers: LayerBadge::of(&c),
            system: c.system,
            workload: c.workload,
            nemesis: c.nemesis,
            config: c.config_words,
            runs: c.runs,
            invalid: c.invalid,
            verdict: c.verdict.map_or("-", Verdict::as_str),
        })
        .collect();
    let rows = margin_rows(app).await.map_err(crate::Error::Studies)?;
    Ok(Compare { cells, chart_json, rows, offline: None })
}

/// One scenario's row on the Scenarios page.
pub(crate) struct ScenarioView {
    pub(crate) name: String,
    pub(crate) title: String,
    pub(crate) system: String,
    pub(crate) workload: String,
    pub(crate) nemesis: String,
    pub(crate) expect: String,
    pub(crate) source: String,
    pub(crate) command: String,
    /// Not in this fencepost's library: runs stored by another version, or
    /// from a user's own scenario file.
    pub(crate) foreign: bool,
    pub(crate) summary: results::scenario::Summary,
    pub(crate) median: String,
    pub(crate) measured: Vec<String>,
}

#[derive(Template)]
#[template(path = "scenarios.html")]
struct Scenarios {
    rows: Vec<ScenarioView>,
    /// Runs stored for any scenario.
    runs: usize,
    offline: Option<Offline>,
}

/// `GET /scenarios`: the library, with every stored run of each scenario:
/// how many matched, how soon the anomaly came, which did not match and why.
pub async fn scenarios(State(app): State<Arc<App>>) -> Response {
    match scenarios_page(&app).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn scenarios_page(app: &Arc<App>) -> Result<Scenarios, crate::Error> {
    let runs = app.store.list(&results::Filter::default()).await?;
    let rows = scenario_rows(&runs);
    Ok(Scenarios { runs: runs.iter().filter(|r| r.scenario.is_some()).count(), rows, offline: None })
}

/// The library's scenarios, then any others the store has runs of.
pub(crate) fn scenario_rows(runs: &[results::RunRow]) -> Vec<ScenarioView> {
    let library = results::scenario::Library::builtin();
    let view = |s: &results::scenario::Scenario, foreign: bool| {
        let summary = results::scenario::summarize(&s.name, &s.expect, runs);
        ScenarioView {
            name: s.name.clone(),
            title: s.title.clone(),
            system: s.system.clone(),
            workload: s.workload.clone(),
            nemesis: s.nemesis.clone(),
            expect: s.expect.words(),
            source: s.source.clone(),
            command: s.command(),
            foreign,
            median: summary.median_first_anomaly_ms.map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
            // A scenario never run measured nothing yet: "not run", not "0 of 0".
            measured: if summary.runs == 0 {
                summary.measured.iter().map(|(c, _)| format!("{c}: not run")).collect()
            } else {
                summary.measured.iter().map(|(c, n)| format!("{c} invalid in {n} of {}", summary.runs)).collect()
            },
            summary,
        }
    };
    let mut rows: Vec<ScenarioView> = library.scenarios.iter().map(|s| view(s, false)).collect();
    let mut others: Vec<&results::RunRow> =
        runs.iter().filter(|r| r.scenario.as_ref().is_some_and(|s| library.get(&s.name).is_none())).collect();
    others.sort_by(|a, b| a.scenario.as_ref().map(|s| &s.name).cmp(&b.scenario.as_ref().map(|s| &s.name)));
    others.dedup_by(|a, b| a.scenario.as_ref().map(|s| &s.name) == b.scenario.as_ref().map(|s| &s.name));
    for run in others {
        let name = run.scenario.as_ref().map(|s| s.name.clone()).unwrap_or_default();
        let stub = results::scenario::Scenario {
            title: "not in this fencepost's library".into(),
            system: run.system.clone(),
            workload: run.workload.clone(),
            nemesis: run.nemesis.clone(),
            options: String::new(),
            source: String::new(),
            // Each run was judged against the expectation it recorded.
            expect: Default::default(),
            name,
        };
        rows.push(view(&stub, true));
    }
    rows
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
            models: ModelSpec::NAMES.to_vec(),
            formats: Format::NAMES.to_vec(),
            limit_mib: crate::UPLOAD_LIMIT >> 20,
        },
    )
}

#[derive(Template)]
#[template(path = "margins.html")]
struct Margins {
    rows: Vec<MarginRow>,
}

/// A study as the margins page shows it.
struct MarginRow {
    study: String,
    system: String,
    workload: String,
    fault: String,
    flag: String,
    ttl: String,
    holds: String,
    clients: String,
    service: String,
    /// Per size probed: each run's id and its verdicts in a word.
    probes: Vec<(String, Vec<(String, String)>)>,
}

/// `GET /margins`: every stored margin study, newest first.
pub async fn margins(State(app): State<Arc<App>>) -> Response {
    match margin_rows(&app).await {
        Ok(rows) => render(StatusCode::OK, &Margins { rows }),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

/// The stored margin studies as the margins table shows them (the margins
/// page, and under the comparison).
async fn margin_rows(app: &App) -> Result<Vec<MarginRow>, String> {
    let dir = app.store.dir().to_path_buf();
    let studies = match tokio::task::spawn_blocking(move || results::studies(&dir)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(e) => return Err(e.to_string()),
    };
    let show = |ms: u64| humantime::format_duration(std::time::Duration::from_millis(ms)).to_string();
    let rows = studies
        .iter()
        .map(|s| {
            let words = |view: results::study::View| {
                s.margins.iter().find(|m| m.view == view).map_or("-".to_string(), |m| m.words.clone())
            };
            MarginRow {
                study: s.study.clone(),
                system: s.system.clone(),
                workload: s.workload.clone(),
                fault: s.fault.clone(),
                flag: s.flag.clone(),
                ttl: show(s.ttl_ms),
                holds: format!("{}–{}", show(s.hold_ms.0), show(s.hold_ms.1)),
                clients: words(results::study::View::Clients),
                service: words(results::study::View::Service),
                probes: s
                    .probes
                    .iter()
                    .map(|p| {
                        let runs = p
                            .runs
                            .iter()
                            .map(|r| (r.run.clone(), format!("clients {} · service {}", r.clients, r.service)))
                            .collect();
                        (show(p.size_ms), runs)
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::path::Path as FsPath;

    use checker::check::{check, CheckOptions};
    use checker::History;

    use super::*;
    use crate::timeline::tests::OVERLAP;

    fn history(text: &str) -> History {
        checker::formats::jsonl::read("test.jsonl", text).unwrap()
    }

    fn linearizable(history: &History) -> Analysis {
        let result = check(history, &ModelSpec::Mutex, &CheckOptions::default()).unwrap();
        Analysis {
            validity: result.verdict,
            summary: format!("{}: {}", result.model, result.verdict.linearizability()),
            evidence: Evidence::Linearizable(Box::new(result)),
        }
    }

    /// `cycles` clean acquire/release pairs on k0 by processes 1 and 2 in
    /// turn, then both holding it at once: 4 × cycles + 4 calls.
    fn long_then_overlap(cycles: u64) -> String {
        let mut lines = Vec::new();
        let mut op = |process: u64, kind: &str, f: &str, value: Value| {
            let n = lines.len() as u64;
            lines.push(
                serde_json::json!({ "index": n, "time": (n + 1) * 10_000_000, "process": process, "type": kind, "f": f, "key": "k0", "value": value })
                    .to_string(),
            );
        };
        for c in 0..cycles {
            let p = 1 + c % 2;
            op(p, "invoke", "acquire", Value::Null);
            op(p, "ok", "acquire", serde_json::json!({ "token": c + 1 }));
            op(p, "invoke", "release", Value::Null);
            op(p, "ok", "release", Value::Null);
        }
        op(1, "invoke", "acquire", Value::Null);
        op(1, "ok", "acquire", serde_json::json!({ "token": cycles + 1 }));
        op(2, "invoke", "acquire", Value::Null);
        op(2, "ok", "acquire", serde_json::json!({ "token": cycles + 2 }));
        op(1, "invoke", "release", Value::Null);
        op(1, "ok", "release", Value::Null);
        op(2, "invoke", "release", Value::Null);
        op(2, "ok", "release", Value::Null);
        lines.join("\n") + "\n"
    }

    #[test]
    fn a_failing_check_is_drawn_from_its_failing_partition() {
        let checkers = [linearizable(&history(OVERLAP))];
        let v = serde_json::to_value(linearizability(&checkers)).unwrap();
        let first = &v[0];
        assert_eq!((first["verdict"].as_str(), first["model"].as_str()), (Some("invalid"), Some("mutex")), "{first}");
        let partition = &first["partition"];
        assert_eq!(partition["operations"].as_array().unwrap().len(), 4, "{partition}");
        let partial = &partition["partials"][0];
        assert!(partial["stuck"].is_u64() && partial["prefix"].is_array() && partial["state_after"].is_string());

        // A long partition is cut to the operations around the stuck one,
        // each placed op keeping its number in the whole linearization.
        let checkers = [linearizable(&history(&long_then_overlap(80)))];
        let v = serde_json::to_value(linearizability(&checkers)).unwrap();
        let partial = &v[0]["partition"]["partials"][0];
        let drawn = v[0]["partition"]["operations"].as_array().unwrap().len();
        let placed = partial["placed"].as_u64().unwrap() as usize;
        assert!(placed >= 160 && drawn < 40, "{partial}");
        assert_eq!(partial["omitted"].as_u64().unwrap() as usize + drawn, 164, "{partial}");
        let numbers: Vec<u64> = partial["numbers"].as_array().unwrap().iter().filter_map(Value::as_u64).collect();
        assert_eq!(numbers.last(), Some(&(placed as u64)));
        assert_eq!(numbers.len(), partial["prefix"].as_array().unwrap().len());
        assert!(partial["stuck"].as_u64().unwrap() < drawn as u64);

        // Nothing to draw for a check that passed.
        let clean = OVERLAP.lines().filter(|l| !l.contains("\"process\":2")).collect::<Vec<_>>().join("\n") + "\n";
        assert!(linearizability(&[linearizable(&history(&clean))]).is_empty());
    }

    fn spec(run: &str) -> results::TestSpec {
        results::TestSpec {
            run: run.into(),
            started_ms: 1_700_000_000_000,
            system: "redis".into(),
            workload: "lock".into(),
            nemesis: "partition".into(),
            fencepost: "test".into(),
            recorded: Some(results::Recorded {
                description: "redis, one node".into(),
                image: None,
                endpoints: Vec::new(),
                ssh_hosts: Vec::new(),
                nodes: vec!["n1".into(), "n2".into()],
                fencing_enforced: true,
                concurrency: 2,
                keys: 1,
                rate: None,
                hold_ms: [100, 200],
                ttl_ms: 1000,
                time_limit_ms: 10_000,
                timeout_ms: 1000,
                acquire_wait_ms: 500,
                seed: 7,
                nemesis_interval_ms: 2000,
                quiet_ms: 1000,
                fault_options: [("loss".to_string(), 0.3)].into_iter().collect(),
                clock_mode: "random".into(),
                drift: 0.01,
                command: Vec::new(),
                client: None,
            }),
            imported: None,
            scenario: None,
            study: None,
            replay: None,
        }
    }

    #[test]
    fn parameters_nest_from_the_typed_test() {
        let mut rows = Vec::new();
        let Value::Object(fields) = serde_json::to_value(spec("r1")).unwrap() else { panic!("an object") };
        for (k, v) in &fields {
            param_rows(&mut rows, 0, k, v);
        }
        let has = |key: &str, depth: usize, value: &str| {
            rows.iter().any(|r| r.key == key && r.depth == depth && r.value == value)
        };
        for (key, depth, value) in [
            ("system", 0, "redis"),
            ("recorded", 0, ""),
            ("fault_options", 1, ""),
            ("loss", 2, "0.3"),
            ("hold_ms", 1, "100, 200"),
            ("nodes", 1, "n1, n2"),
            ("image", 1, "-"),
        ] {
            assert!(has(key, depth, value), "{key}");
        }
    }

    async fn page(app: &Arc<App>, id: &str, query: &[(&str, &str)]) -> (StatusCode, String) {
        // As the extractor reads a request's query string.
        let uri: axum::http::Uri =
            format!("/?{}", query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
                .parse()
                .unwrap();
        let Query(q) = Query::<RunQuery>::try_from_uri(&uri).unwrap();
        let response = run(State(app.clone()), Path(id.to_string()), Query(q)).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn write_results(dir: &FsPath, history: &History) {
        let checkers = vec![
            checker::analysis::mutual_exclusion(history, &Default::default()).unwrap(),
            checker::analysis::fencing(history).unwrap().unwrap(),
            linearizable(history),
            checker::analysis::availability(history).unwrap(),
        ];
        let results = results::RunResults {
            run: "r1".into(),
            verdict: Verdict::Invalid,
            checkers,
            stats: results::Stats { ops: 4, duration_ms: 8, ops_per_s: 500.0, faults: 1, ..Default::default() },
            interrupted: false,
            workload: None,
            nemesis_error: None,
            node_crashes: Vec::new(),
            faults_planned: None,
            cluster_events: Vec::new(),
            warnings: Vec::new(),
            sufficiency: None,
        };
        results::write_json(&dir.join("results.json"), &results).unwrap();
    }

    #[tokio::test]
    async fn a_run_page_is_live_then_reports_and_names_a_file_that_does_not_read() {
        let store = std::env::temp_dir().join(format!("fencepost-web-pages-{}", std::process::id()));
        let dir = store.join("r1");
        std::fs::create_dir_all(&dir).unwrap();
        results::write_json(&dir.join("test.json"), &spec("r1")).unwrap();
        std::fs::write(dir.join("history.jsonl"), OVERLAP).unwrap();
        let app = crate::app(store.clone()).await.unwrap();

        // No results.json yet: the run is in progress.
        let (status, live) = page(&app, "r1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(live.contains("id=\"live\"") && live.contains(">running<"), "{live}");
        assert!(!live.contains("run-error"), "{live}");
        assert!(live.contains("<th class=\"depth2\">loss</th><td>0.3</td>"), "{live}");

        // Done: every checker, the anomalies, the evidence, the figures.
        write_results(&dir, &history(OVERLAP));
        let (_, done) = page(&app, "r1", &[]).await;
        assert!(!done.contains("id=\"live\"") && done.contains("id=\"verdict\">invalid<"), "{done}");
        for name in ["mutual-exclusion", "fencing", "linearizable", "availability"] {
            assert!(done.contains(&format!("<th>{name}</th>")), "{name}: {done}");
        }
        assert!(done.contains("<span class=\"verdict info\">info</span></td><th>availability"), "{done}");
        assert!(done.contains("All 2 anomalies") && done.contains("mutual-exclusion: 1, fencing: 1"), "{done}");
        assert!(done.contains("id=\"lin-data\"") && done.contains("\"verdict\":\"invalid\""), "{done}");
        assert!(done.contains("<th>completions per second</th><td>500.0</td>"), "{done}");

        // A results.json that does not read says which file and which field.
        let path = dir.join("results.json");
        let mut broken: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        broken["stats"]["operations"] = broken["stats"]["ops"].take();
        std::fs::write(&path, broken.to_string()).unwrap();
        let (status, page_text) = page(&app, "r1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page_text.contains("class=\"error run-error\">The results.json of this run does not read"),
            "{page_text}"
        );
        assert!(page_text.contains("operations"), "the field is named: {page_text}");
        assert!(page_text.contains(">unreadable<") && !page_text.contains("id=\"live\""), "{page_text}");

        let (status, _) = page(&app, "nope", &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(&store).unwrap();
    }

    #[tokio::test]
    async fn the_margins_page_lists_each_study_with_its_margins_and_probe_runs() {
        use results::study::{Margin, Probe, ProbeRun, Study, View};
        use std::sync::Arc;
        let store = std::env::temp_dir().join(format!("fencepost-web-margins-{}", std::process::id()));
        let app = crate::app(store.clone()).await.unwrap();
        let empty = margins(State(app.clone())).await;
        let body = axum::body::to_bytes(empty.into_body(), usize::MAX).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("No margin studies in this store yet"));
        let margin = |view, words: &str| Margin {
            view,
            checker: None,
            safe_up_to_ms: Some(1800),
            unsafe_from_ms: None,
            broken_runs: 0,
            unknown_at_ms: None,
            words: words.into(),
        };
        let run = |id: &str, clients| ProbeRun { run: id.into(), clients, service: Verdict::Valid };
        let study = Study {
            study: "margin-1-2-0".into(),
            system: "redis".into(),
            workload: "lock".into(),
            fault: "client-pause".into(),
            flag: "--client-pause".into(),
            ttl_ms: 2000,
            hold_ms: (200, 400),
            runs_per_probe: 1,
            from_ms: 1000,
            to_ms: 2600,
            margins: vec![
                margin(View::Clients, "safe up to 1.8s, unsafe from 1.9s (1/1 runs)"),
                margin(View::Service, "no break found up to 2.6s"),
            ],
            probes: vec![
                Probe { size_ms: 1800, runs: vec![run("r-18", Verdict::Valid)] },
                Probe { size_ms: 1900, runs: vec![run("r-19", Verdict::Invalid)] },
            ],
            runs_spent: 2,
            wall_ms: 20_000,
            stopped: None,
        };
        app.store.save_study(&study).unwrap();
        let page = margins(State(Arc::clone(&app))).await;
        assert_eq!(page.status(), StatusCode::OK);
        let body = axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        for want in [
            "safe up to 1.8s, unsafe from 1.9s (1/1 runs)",
            "no break found up to 2.6s",
            "href=\"/runs/r-19\"",
            "clients invalid",
        ] {
            assert!(body.contains(want), "{want}: {body}");
        }
        // And under the comparison, on the same page as the grid.
        let page = compare(State(Arc::clone(&app))).await;
        let body = axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        let under = &body[body.find("id=\"margins-heading\"").expect("a margins section")..];
        assert!(
            under.contains("safe up to 1.8s, unsafe from 1.9s (1/1 runs)") && under.contains("href=\"/runs/r-19\""),
            "{under}"
        );
        // The study reads back as written, and the index takes no run from it.
        assert_eq!(results::studies(&store).unwrap(), vec![study]);
        assert_eq!(app.store.reindex().await.unwrap().1.len(), 0, "the studies folder is not a run");
        assert!(!results::valid_run_id(results::STUDIES), "nor can `rm` or /runs/ take it for one");
        let _ = std::fs::remove_dir_all(store);
    }
}
