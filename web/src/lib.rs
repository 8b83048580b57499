//! fencepost's web UI and API (`fencepost serve`): where people read anomaly
//! reports and compare vendors.
//!
//! Pages are server-rendered with askama (escaped by default); the timeline
//! and the charts are drawn on canvases by one small script
//! (`static/fencepost.js`) from compact JSON the API serves, so a report of
//! 100,000 operations stays a light page. Everything reads the results store
//! (`results` crate) and never writes to it.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | runs, filterable by system, workload, faults, verdict |
//! | `GET /runs/{id}` | a run's report (live while the run is in progress) |
//! | `GET /runs/{id}/history.jsonl`, `.edn`, `/nodes/{node}.log` | downloads |
//! | `GET /runs/{id}/events` | server-sent events: new operations of a live run |
//! | `GET /compare` | systems × faults |
//! | `GET /check` | upload a history and check it |
//! | `GET /api/v1/runs`, `/api/v1/runs/{id}`, `/api/v1/runs/{id}/history`, `/api/v1/runs/{id}/timeline` | JSON |
//! | `POST /api/v1/check?model=&format=&timeout_ms=` | body = a history; the verdict and evidence |
//! | `GET /healthz` | `ok` |

mod api;
mod pages;
mod timeline;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// Uploads larger than this are refused with 413.
pub const UPLOAD_LIMIT: usize = 32 * 1024 * 1024;

/// What every handler shares.
pub struct App {
    pub store: results::Store,
    /// At most this many checks run at once (each on a blocking thread), so
    /// uploads can never starve page requests.
    pub checks: tokio::sync::Semaphore,
}

pub async fn app(store_dir: PathBuf) -> Result<Arc<App>, String> {
    let store = results::Store::open(&store_dir).await?;
    // Runs made while the index was missing are picked up at start.
    store.reindex().await?;
    Ok(Arc::new(App { store, checks: tokio::sync::Semaphore::new(2) }))
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::runs))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/history.jsonl", get(api::history_jsonl))
        .route("/runs/{id}/history.edn", get(api::history_edn))
        .route("/runs/{id}/nodes/{log}", get(api::node_log))
        .route("/runs/{id}/events", get(api::events))
        .route("/compare", get(pages::compare))
        .route("/check", get(pages::check))
        .route("/api/v1/runs", get(api::runs))
        .route("/api/v1/runs/{id}", get(api::run))
        .route("/api/v1/runs/{id}/history", get(api::history_jsonl))
        .route("/api/v1/runs/{id}/timeline", get(api::timeline))
        .route("/api/v1/check", post(api::check))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/static/fencepost.js",
            get(|| async { asset("text/javascript", include_str!("../static/fencepost.js")) }),
        )
        .route("/static/style.css", get(|| async { asset("text/css", include_str!("../static/style.css")) }))
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
        // gzip for clients that ask (the timeline JSON shrinks a lot); never
        // for server-sent events, which must flush as they come.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(app)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

/// Serves until Ctrl-C. Binds where told; the CLI's default is 127.0.0.1.
pub async fn serve(bind: SocketAddr, store_dir: PathBuf) -> Result<(), String> {
    let app = app(store_dir.clone()).await?;
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| format!("binding {bind}: {e}"))?;
    println!(
        "fencepost serve: http://{} (store {})",
        listener.local_addr().map_err(|e| e.to_string())?,
        store_dir.display()
    );
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

/// An error as the API gives it: a status and `{"error": message}`.
pub(crate) fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// A run's directory, or `None` for an id that is not a stored run.
pub(crate) fn run_dir(app: &App, id: &str) -> Option<PathBuf> {
    let dir = app.store.run_dir(id).ok()?;
    dir.join("test.json").is_file().then_some(dir)
}
