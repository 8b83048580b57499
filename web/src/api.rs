//! JSON routes, downloads, the upload-and-check endpoint and live events.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use checker::check::{check as run_check, CheckOptions, CheckResult};
use checker::formats::{self, Format};
use checker::models::{Choice, ModelSpec};
use checker::Verdict;
use serde::Serialize;

use crate::{run_dir, App, Error};

pub async fn runs(State(app): State<Arc<App>>) -> Result<Response, Error> {
    Ok(Json(app.store.list(&results::Filter::default()).await?).into_response())
}

/// `GET /api/v1/scenarios`: each scenario of the library (and any other
/// the store has runs of) with the summary of its stored runs.
#[derive(Serialize)]
struct ScenarioEntry {
    name: String,
    system: String,
    workload: String,
    nemesis: String,
    expect: String,
    in_library: bool,
    summary: results::scenario::Summary,
}

/// `GET /api/v1/margins`: every stored margin study, newest first, as
/// stored (`safe_up_to_ms`, `unsafe_from_ms` per view, every probe).
pub async fn margins(State(app): State<Arc<App>>) -> Result<Response, Error> {
    let dir = app.store.dir().to_path_buf();
    let studies = tokio::task::spawn_blocking(move || results::studies(&dir)).await??;
    Ok(Json(studies).into_response())
}

pub async fn scenarios(State(app): State<Arc<App>>) -> Result<Response, Error> {
    let runs = app.store.list(&results::Filter::default()).await?;
    let entries: Vec<ScenarioEntry> = crate::pages::scenario_rows(&runs)
        .into_iter()
        .map(|v| ScenarioEntry {
            name: v.name,
            system: v.system,
            workload: v.workload,
            nemesis: v.nemesis,
            expect: v.expect,
            in_library: !v.foreign,
            summary: v.summary,
        })
        .collect();
    Ok(Json(entries).into_response())
}

/// `GET /api/v1/runs/{id}`: the run's files as stored, and its headline.
#[derive(Serialize)]
struct RunFiles {
    id: String,
    test: results::TestSpec,
    /// The overall verdict, why, and each layer (service, clients, data)
    /// with its own verdict; `null` while the run is in progress.
    headline: Option<results::Headline>,
    /// `null` while the run is in progress.
    results: Option<results::RunResults>,
}

/// A run's `test.json` and `results.json` (null while it is in progress).
/// A file that does not read is a 500 naming the file and the field.
pub async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, Error> {
    let dir = run_dir(&app, &id)?;
    let (test, results) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
        Ok((results::read_test(&dir)?, crate::read_results(&dir)?))
    })
    .await??;
    let headline = results.as_ref().map(|r| results::Headline::of(r.verdict, &r.checkers, r.sufficiency.as_ref()));
    Ok(Json(RunFiles { id, test, headline, results }).into_response())
}

/// `GET /api/v1/compare`: the systems × faults matrix, each cell with its
/// overall verdict, each layer's (`layers`) and the story behind them.
pub async fn compare(State(app): State<Arc<App>>) -> Result<Response, Error> {
    Ok(Json(app.store.compare(&results::Filter::default()).await?).into_response())
}

pub async fn history_jsonl(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, Error> {
    let dir = run_dir(&app, &id)?;
    let bytes = tokio::fs::read(dir.join("history.jsonl"))
        .await
        .map_err(|source| Error::NoHistory { id: id.clone(), source })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.jsonl\"")),
        ],
        bytes,
    )
        .into_response())
}

pub async fn history_edn(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, Error> {
    let dir = run_dir(&app, &id)?;
    let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, Error> {
        let history = formats::read_path(&dir.join("history.jsonl"), Format::Jsonl).map_err(Error::History)?;
        let mut out = Vec::new();
        formats::edn::write(&mut out, &history.ops).map_err(Error::Edn)?;
        Ok(out)
    })
    .await??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/edn".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.edn\"")),
        ],
        bytes,
    )
        .into_response())
}

pub async fn node_log(State(app): State<Arc<App>>, Path((id, log)): Path<(String, String)>) -> Result<Response, Error> {
    let dir = run_dir(&app, &id)?;
    // Node names are ours (n1, n2, …): nothing else reaches the file system.
    let valid = log.strip_suffix(".log").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !valid {
        return Err(Error::NotALog(log));
    }
    match tokio::fs::read(dir.join("nodes").join(&log)).await {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response()),
        Err(_) => Err(Error::NoLog { id, log }),
    }
}

/// A view of a run's timeline: `?t0=&t1=&px=&charts=` (see
/// [`crate::timeline::ViewRequest`]).
pub async fn timeline(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    let request = crate::timeline::ViewRequest::from_query(&query)?;
    let dir = run_dir(&app, &id)?;
    let columns = app.timeline(&id, dir).await?;
    // Serialising a binned view is quick, but a detailed one of 20,000 ops
    // is a few ms: off the async workers either way.
    let body = tokio::task::spawn_blocking(move || serde_json::to_vec(&columns.view(&request)))
        .await?
        .map_err(Error::Encode)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One operation in full, as the timeline's click asks for it: its
/// invocation and completion as recorded (values, node, error).
#[derive(Serialize)]
struct OpDetail {
    invoke: checker::history::Op,
    completion: Option<checker::history::Op>,
}

/// `GET /api/v1/runs/{id}/op?process=P&invoke=T`: the operation process `P`
/// invoked at `T` ns, read from the run's history (a click is rare, so the
/// server keeps no copy of every value).
pub async fn op(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    let number = |name: &'static str| -> Result<u64, Error> {
        let value = query.get(name).cloned().unwrap_or_default();
        value.parse::<u64>().map_err(|_| Error::BadQuery { field: name, value })
    };
    let (process, invoke) = (number("process")?, number("invoke")?);
    let dir = run_dir(&app, &id)?;
    let found = tokio::task::spawn_blocking(move || -> Result<Option<OpDetail>, Error> {
        let path = dir.join("history.jsonl");
        let history = checker::formats::read_path(&path, checker::formats::Format::Jsonl).map_err(Error::History)?;
        let calls = history.calls().map_err(Error::History)?;
        Ok(calls
            .iter()
            .find(|c| {
                let op = &history.ops[c.invoke];
                op.time == invoke && op.process == checker::history::Process::Client(process)
            })
            .map(|c| OpDetail {
                invoke: history.ops[c.invoke].clone(),
                completion: c.completion.map(|i| history.ops[i].clone()),
            }))
    })
    .await??;
    let detail = found.ok_or(Error::NoOp { id, process, invoke })?;
    Ok(axum::Json(detail).into_response())
}

/// The check endpoint's answer: the verdict (`valid`, `invalid`,
/// `unknown`), the model and initial value used and where each came from
/// (`model`, `model_from`, `initial`, `initial_from`: see
/// [`checker::models::Choice`]), whether the history had no timestamps,
/// and the whole result.
#[derive(Serialize)]
struct Checked {
    verdict: Verdict,
    #[serde(flatten)]
    choice: Choice,
    /// Formats without timestamps number their events instead; the
    /// drawing then counts positions rather than nanoseconds.
    untimed: bool,
    result: CheckResult,
}

/// A place in the check queue, held until the answer is sent. Taken before
/// the body is read (extractors of the request's head run first), so an
/// upload turned away costs no memory.
pub struct Queued(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl axum::extract::FromRequestParts<Arc<App>> for Queued {
    type Rejection = Error;

    async fn from_request_parts(_: &mut axum::http::request::Parts, app: &Arc<App>) -> Result<Self, Error> {
        app.queue.clone().try_acquire_owned().map(Queued).map_err(|_| Error::Busy)
    }
}

/// `POST /api/v1/check?model=&format=&initial=&timeout_ms=`: the body is a
/// history in any format `fencepost check` reads. 400 names the line of a
/// malformed history; 413 for more than [`crate::UPLOAD_LIMIT`]; 503 with
/// `Retry-After` when [`crate::CHECK_QUEUE`] checks are already queued; a
/// check that reaches its deadline answers `unknown`.
pub async fn check(
    State(app): State<Arc<App>>,
    _queued: Queued,
    Query(q): Query<CheckQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge
        } else {
            Error::Body(rejection)
        }
    })?;
    let name = q.format.as_deref().unwrap_or("auto");
    let format = Format::parse(name).ok_or_else(|| Error::UnknownFormat(name.to_string()))?;
    // A deadline that does not read is refused, not replaced by the default.
    let timeout_ms = match q.timeout_ms.filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse::<u64>().map_err(|_| Error::BadQuery { field: "timeout_ms", value: t })?),
        None => None,
    };
    let timeout = timeout_ms.map_or(Duration::from_secs(10), Duration::from_millis).min(Duration::from_secs(60));
    let model = q.model.filter(|m| !m.is_empty() && *m != "auto");
    let initial = q.initial.filter(|i| !i.is_empty());
    let _slot = app.checks.acquire().await.map_err(|_| Error::ShuttingDown)?;
    let checked = tokio::task::spawn_blocking(move || -> Result<Checked, Error> {
        let history = formats::read_bytes("upload", &body, format).map_err(Error::Upload)?;
        // The same rule as `fencepost check`: given, else stated in the
        // file, else inferred (the model) or the model's default (its
        // initial value).
        let (spec, choice) = ModelSpec::choose(&history, model.as_deref(), initial.as_deref())?;
        let opts = CheckOptions { timeout: Some(timeout), ..Default::default() };
        let untimed = history.ops.iter().enumerate().all(|(i, op)| op.time == i as u64);
        let result = run_check(&history, &spec, &opts).map_err(Error::Upload)?;
        Ok(Checked { verdict: result.verdict, choice, untimed, result })
    })
    .await??;
    Ok(Json(checked).into_response())
}

/// `POST /api/v1/check`'s query: each field as text, so that a bad one is
/// refused naming it (`Error::BadQuery`) rather than by the extractor.
#[derive(serde::Deserialize)]
pub struct CheckQuery {
    format: Option<String>,
    timeout_ms: Option<String>,
    model: Option<String>,
    initial: Option<String>,
}

/// Server-sent events for a run in progress: `ops` events carry the new
/// complete lines of its history (JSONL) as they are written; `done` comes
/// once its results are stored.
pub async fn events(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, Error> {
    let dir = run_dir(&app, &id)?;
    let feed = crate::timeline::Feed::default();
    let stream =
        futures_util::stream::unfold((dir, 0u64, false, feed), |(dir, offset, finished, mut feed)| async move {
            if finished {
                return None;
            }
            loop {
                let path = dir.join("history.jsonl");
                let (chunk, next) = tokio::task::spawn_blocking(move || read_new_lines(&path, offset))
                    .await
                    .unwrap_or((String::new(), offset));
                if !chunk.is_empty() {
                    // Lines the recorder wrote whole; one that does not read is
                    // said once and skipped, and the stream goes on.
                    let event = match checker::formats::jsonl::read("history.jsonl", &chunk) {
                        Ok(history) => {
                            let delta = feed.push(history.ops);
                            Event::default().event("ops").data(serde_json::to_string(&delta).unwrap_or_default())
                        }
                        Err(e) => Event::default().event("error").data(e.to_string()),
                    };
                    return Some((Ok::<_, Infallible>(event), (dir, next, false, feed)));
                }
                if dir.join("results.json").is_file() {
                    return Some((Ok(Event::default().event("done").data("done")), (dir, next, true, feed)));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// The complete lines after `offset` (at most 4 MiB at a time) and the new offset.
fn read_new_lines(path: &std::path::Path, offset: u64) -> (String, u64) {
    let Ok(mut file) = std::fs::File::open(path) else { return (String::new(), offset) };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (String::new(), offset);
    }
    let mut buf = Vec::new();
    let _ = file.take(4 << 20).read_to_end(&mut buf);
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else { return (String::new(), offset) };
    buf.truncate(end);
    (String::from_utf8_lossy(&buf).into_owned(), offset + end as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::tests::OVERLAP;

    async fn post_check(app: &Arc<App>, query: &[(&str, &str)], body: &str) -> (StatusCode, serde_json::Value) {
        // As the extractor reads a request's query string.
        let uri: axum::http::Uri =
            format!("/?{}", query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
                .parse()
                .unwrap();
        let Query(q) = Query::<CheckQuery>::try_from_uri(&uri).unwrap();
        let queued = Queued(app.queue.clone().try_acquire_owned().unwrap());
        let response = match check(State(app.clone()), queued, Query(q), Ok(Bytes::from(body.to_string()))).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_full_check_queue_answers_503_with_retry_after() {
        use axum::extract::FromRequestParts;
        let store = std::env::temp_dir().join(format!("fencepost-web-queue-{}", std::process::id()));
        let app = crate::app(store.clone()).await.unwrap();
        let (mut parts, _) = axum::http::Request::new(()).into_parts();
        let held = app.queue.clone().acquire_many_owned(crate::CHECK_QUEUE as u32).await.unwrap();
        let refused = Queued::from_request_parts(&mut parts, &app).await.err().expect("a full queue refuses");
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[axum::http::header::RETRY_AFTER], "1");
        drop(held);
        assert!(Queued::from_request_parts(&mut parts, &app).await.is_ok(), "a place is free again");
        let _ = std::fs::remove_dir_all(store);
    }

    #[tokio::test]
    async fn the_check_answers_valid_invalid_or_unknown_and_errors_carry_their_status() {
        let store = std::env::temp_dir().join(format!("fencepost-web-api-{}", std::process::id()));
        let app = crate::app(store.clone()).await.unwrap();
        let (status, v) = post_check(&app, &[("model", "mutex")], OVERLAP).await;
        assert_eq!(
            (status, v["verdict"].as_str(), v["model"].as_str()),
            (StatusCode::OK, Some("invalid"), Some("mutex"))
        );
        assert_eq!(v["result"]["partitions"][0]["verdict"], "invalid", "{v}");
        let clean = OVERLAP.lines().filter(|l| !l.contains("\"process\":2")).collect::<Vec<_>>().join("\n") + "\n";
        let (_, v) = post_check(&app, &[], &clean).await;
        assert_eq!(v["verdict"], "valid", "{v}");

        let (status, v) = post_check(&app, &[("format", "yaml")], &clean).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(v["error"].as_str().unwrap().contains("unknown format `yaml`"), "{v}");
        let (status, _) = post_check(&app, &[("model", "queue")], &clean).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, v) = post_check(&app, &[("timeout_ms", "10s")], &clean).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a deadline that does not read is not the default");
        assert!(v["error"].as_str().unwrap().contains("timeout_ms"), "{v}");
        let malformed = clean.replacen("\"type\":\"ok\"", "\"type\":\"okay\"", 1);
        let (status, v) = post_check(&app, &[("format", "jsonl")], &malformed).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(v["error"].as_str().unwrap().contains("upload:2"), "{v}");

        let missing = run(State(app.clone()), Path("nope".into())).await.unwrap_err();
        assert_eq!((missing.status(), missing.to_string()), (StatusCode::NOT_FOUND, "no run `nope`".into()));
        let bad_id = run(State(app.clone()), Path("..".into())).await.unwrap_err();
        assert_eq!(bad_id.status(), StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(&store).unwrap();
    }
}
