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
use checker::check::{check as run_check, CheckOptions};
use checker::formats::{self, Format};
use checker::models::ModelSpec;
use serde_json::{json, Value};

use crate::{json_error, run_dir, App};

fn not_found(id: &str) -> Response {
    json_error(StatusCode::NOT_FOUND, format!("no run `{id}`"))
}

fn read_json(path: &std::path::Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

pub async fn runs(State(app): State<Arc<App>>) -> Response {
    match app.store.list(&results::Filter::default()).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A run's `test.json` and `results.json` (null while it is in progress).
pub async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(dir) = run_dir(&app, &id) else { return not_found(&id) };
    Json(json!({
        "id": id,
        "test": read_json(&dir.join("test.json")),
        "results": read_json(&dir.join("results.json")),
    }))
    .into_response()
}

pub async fn history_jsonl(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(dir) = run_dir(&app, &id) else { return not_found(&id) };
    match tokio::fs::read(dir.join("history.jsonl")).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.jsonl\"")),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => json_error(StatusCode::NOT_FOUND, format!("run `{id}` has no history: {e}")),
    }
}

pub async fn history_edn(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(dir) = run_dir(&app, &id) else { return not_found(&id) };
    let converted = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let history = formats::read_path(&dir.join("history.jsonl"), Format::Jsonl).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        formats::edn::write(&mut out, &history.ops).map_err(|e| e.to_string())?;
        Ok(out)
    })
    .await;
    match converted {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/edn".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.edn\"")),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => json_error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn node_log(State(app): State<Arc<App>>, Path((id, log)): Path<(String, String)>) -> Response {
    let Some(dir) = run_dir(&app, &id) else { return not_found(&id) };
    // Node names are ours (n1, n2, …): nothing else reaches the file system.
    let valid = log.strip_suffix(".log").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !valid {
        return json_error(StatusCode::NOT_FOUND, format!("no log `{log}`"));
    }
    match tokio::fs::read(dir.join("nodes").join(&log)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response(),
        Err(_) => json_error(StatusCode::NOT_FOUND, format!("no log `{log}` in run `{id}`")),
    }
}

/// The compact timeline the report's script draws.
pub async fn timeline(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(dir) = run_dir(&app, &id) else { return not_found(&id) };
    let built = tokio::task::spawn_blocking(move || crate::timeline::for_run(&dir)).await;
    match built {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => json_error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `POST /api/v1/check?model=&format=&initial=&timeout_ms=`: the body is a
/// history in any format `fencepost check` reads. 400 names the line of a
/// malformed history; 413 for more than [`crate::UPLOAD_LIMIT`]; a check
/// that reaches its deadline answers `unknown`.
pub async fn check(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the history is larger than the {} MiB upload limit", crate::UPLOAD_LIMIT >> 20)
            } else {
                rejection.body_text()
            };
            return json_error(status, message);
        }
    };
    let name = q.get("format").map(String::as_str).unwrap_or("auto");
    let Some(format) = Format::parse(name) else {
        return json_error(StatusCode::BAD_REQUEST, format!("unknown format `{name}`"));
    };
    let timeout = q
        .get("timeout_ms")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
        .min(Duration::from_secs(60));
    let model = q.get("model").filter(|m| !m.is_empty() && *m != "auto").cloned();
    let initial = q.get("initial").filter(|i| !i.is_empty()).cloned();
    let Ok(_slot) = app.checks.acquire().await else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
    let checked = tokio::task::spawn_blocking(move || -> Result<Value, (StatusCode, String)> {
        let bad = |e: String| (StatusCode::BAD_REQUEST, e);
        let history = formats::read_bytes("upload", &body, format).map_err(|e| bad(e.to_string()))?;
        let spec = match &model {
            Some(m) => ModelSpec::from_name(m, initial.as_deref()).map_err(|e| bad(e.to_string()))?,
            None => ModelSpec::infer(&history),
        };
        let opts = CheckOptions { timeout: Some(timeout), ..Default::default() };
        // Formats without timestamps number their events instead; the
        // drawing then counts positions rather than nanoseconds.
        let untimed = history.ops.iter().enumerate().all(|(i, op)| op.time == i as u64);
        let result = run_check(&history, &spec, &opts).map_err(|e| bad(e.to_string()))?;
        Ok(json!({ "verdict": result.verdict, "model": result.model, "untimed": untimed, "result": result }))
    })
    .await;
    match checked {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err((status, e))) => json_error(status, e),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Server-sent events for a run in progress: `ops` events carry the new
/// complete lines of its history (JSONL) as they are written; `done` comes
/// once its results are stored.
pub async fn events(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(dir) = run_dir(&app, &id) else { return not_found(&id) };
    let stream = futures_util::stream::unfold((dir, 0u64, false), |(dir, offset, finished)| async move {
        if finished {
            return None;
        }
        loop {
            let path = dir.join("history.jsonl");
            let (chunk, next) = tokio::task::spawn_blocking(move || read_new_lines(&path, offset))
                .await
                .unwrap_or((String::new(), offset));
            if !chunk.is_empty() {
                let event = Event::default().event("ops").data(chunk);
                return Some((Ok::<_, Infallible>(event), (dir, next, false)));
            }
            if dir.join("results.json").is_file() {
                return Some((Ok(Event::default().event("done").data("done")), (dir, next, true)));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
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
