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
//! | `GET /margins`, `/api/v1/margins` | the margin studies: per system and fault, the largest size survived and the smallest that broke, clients' and service's, each probe linked |
//! | `GET /scenarios` | the scenario library, each with its stored runs: matched, time to the first anomaly |
//! | `GET /check` | upload a history and check it |
//! | `GET /api/v1/runs`, `/api/v1/runs/{id}`, `/api/v1/runs/{id}/history`, `/api/v1/runs/{id}/timeline`, `/api/v1/scenarios` | JSON |
//! | `POST /api/v1/check?model=&initial=&format=&timeout_ms=` | body = a history; the verdict, the model and initial value used (and where each came from), the evidence (503 + `Retry-After` when the queue is full) |
//! | `GET /healthz` | `ok` |
//!
//! [`probe`] is the other side: the loopback requests `bench-api` and
//! `soak` make of this server to measure it.

mod api;
mod clock;
mod pages;
pub mod probe;
mod timeline;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// Uploads larger than this are refused with 413.
pub const UPLOAD_LIMIT: usize = 32 * 1024 * 1024;

/// Checks that may be running or waiting at once; the next upload is
/// answered 503 with `Retry-After` before its body is read, so a burst of
/// uploads holds at most this many bodies in memory.
pub const CHECK_QUEUE: usize = 16;

/// What every handler shares.
pub struct App {
    pub store: results::Store,
    /// At most this many checks run at once (each on a blocking thread), so
    /// uploads can never starve page requests.
    pub checks: tokio::sync::Semaphore,
    /// Places for checks running or waiting ([`CHECK_QUEUE`]).
    pub queue: Arc<tokio::sync::Semaphore>,
    /// The last few finished runs' timelines, most recent last, each built
    /// once however many ask at the same time: building one reads the whole
    /// history, a view of it takes milliseconds.
    timelines: std::sync::Mutex<Vec<(String, Building)>>,
}

type Building = Arc<tokio::sync::OnceCell<Arc<timeline::Columns>>>;

/// Finished runs whose timelines stay built.
const CACHED_TIMELINES: usize = 4;

impl App {
    /// A run's timeline. A finished run's is built once and kept (the
    /// report page starts building it before its script asks); a run in
    /// progress is read afresh each time.
    pub(crate) async fn timeline(&self, id: &str, dir: PathBuf) -> Result<Arc<timeline::Columns>, Error> {
        let build = |dir: PathBuf| async move {
            Ok::<_, Error>(Arc::new(tokio::task::spawn_blocking(move || timeline::for_run(&dir)).await??))
        };
        if !dir.join("results.json").is_file() {
            return build(dir).await;
        }
        let cell = {
            let mut cache = self.timelines.lock().unwrap_or_else(|e| e.into_inner());
            let cell = match cache.iter().position(|(i, _)| i == id) {
                Some(at) => cache.remove(at).1,
                None => Building::default(),
            };
            if cache.len() == CACHED_TIMELINES {
                cache.remove(0);
            }
            cache.push((id.to_string(), cell.clone()));
            cell
        };
        let columns = cell.get_or_try_init(|| build(dir)).await;
        if columns.is_err() {
            // Not kept: the next request says why again, or succeeds.
            self.timelines.lock().unwrap_or_else(|e| e.into_inner()).retain(|(i, _)| i != id);
        }
        columns.cloned()
    }
}

pub async fn app(store_dir: PathBuf) -> Result<Arc<App>, Error> {
    let store = results::Store::open(&store_dir).await?;
    // Runs made while the index was missing are picked up at start.
    store.reindex().await?;
    Ok(Arc::new(App {
        store,
        checks: tokio::sync::Semaphore::new(2),
        queue: Arc::new(tokio::sync::Semaphore::new(CHECK_QUEUE)),
        timelines: Default::default(),
    }))
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
        .route("/scenarios", get(pages::scenarios))
        .route("/margins", get(pages::margins))
        .route("/check", get(pages::check))
        .route("/api/v1/runs", get(api::runs))
        .route("/api/v1/runs/{id}", get(api::run))
        .route("/api/v1/runs/{id}/history", get(api::history_jsonl))
        .route("/api/v1/runs/{id}/timeline", get(api::timeline))
        .route("/api/v1/runs/{id}/op", get(api::op))
        .route("/api/v1/compare", get(api::compare))
        .route("/api/v1/scenarios", get(api::scenarios))
        .route("/api/v1/margins", get(api::margins))
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

/// Serves `app` on a listener already bound, until the task is dropped
/// (the API benchmark).
pub async fn serve_on(listener: tokio::net::TcpListener, app: Arc<App>) -> Result<(), Error> {
    axum::serve(listener, router(app)).await.map_err(Error::Serve)
}

/// What a report file holds: one run's report, the comparison, or the
/// scenario library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOf<'a> {
    Run(&'a str),
    Comparison,
    Scenarios,
}

/// `fencepost report RUN|--suite|--scenarios --html FILE`: a page of the
/// store as one HTML file that opens with no server (its style, script,
/// data and, for a run, whole timeline inlined); `written` is the time it
/// says it was written.
pub async fn page_html(store_dir: PathBuf, of: ReportOf<'_>, written: String) -> Result<String, Error> {
    let app = app(store_dir).await?;
    match of {
        ReportOf::Run(id) => pages::offline_page(&app, id.to_string(), written).await,
        ReportOf::Comparison => pages::offline_compare(&app, written).await,
        ReportOf::Scenarios => pages::offline_scenarios(&app, written).await,
    }
}

/// Serves until Ctrl-C. Binds where told; the CLI's default is 127.0.0.1.
pub async fn serve(bind: SocketAddr, store_dir: PathBuf) -> Result<(), Error> {
    let app = app(store_dir.clone()).await?;
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|source| Error::Bind { addr: bind, source })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr: bind, source })?;
    println!("fencepost serve: http://{addr} (store {})", store_dir.display());
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(Error::Serve)
}

/// What can go wrong serving: each variant knows its HTTP status, and the
/// API gives it as `{"error": message}`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store: a run id that is not one (404), an index or a run's file
    /// that does not read (500; the message names the file and the field).
    #[error(transparent)]
    Store(#[from] results::Error),
    // The source is not in the message: the CLI prints the chain, and it
    // said "Address already in use" twice.
    #[error("binding {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving")]
    Serve(#[source] std::io::Error),
    #[error("no run `{0}`")]
    NoRun(String),
    #[error("run `{id}` has no history: {source}")]
    NoHistory {
        id: String,
        #[source]
        source: std::io::Error,
    },
    /// A log name that is not a node's (`n1.log`).
    #[error("no log `{0}`")]
    NotALog(String),
    #[error("no log `{log}` in run `{id}`")]
    NoLog { id: String, log: String },
    #[error("run `{id}` has no operation of process {process} invoked at {invoke} ns")]
    NoOp { id: String, process: u64, invoke: u64 },
    /// A stored history that does not read.
    #[error(transparent)]
    History(checker::InputError),
    #[error("writing EDN: {0}")]
    Edn(#[source] std::io::Error),
    /// The margin studies' folder does not read.
    #[error("reading the margin studies: {0}")]
    Studies(String),
    #[error("the history is larger than the {} MiB upload limit", UPLOAD_LIMIT >> 20)]
    TooLarge,
    /// An upload body that could not be taken (other than too large).
    #[error("{}", .0.body_text())]
    Body(BytesRejection),
    #[error("unknown format `{}`; expected one of {}", .0, checker::formats::Format::NAMES.join(", "))]
    UnknownFormat(String),
    /// A model name or initial value `ModelSpec::choose` refused, in its words.
    #[error("{0}")]
    Model(#[from] checker::models::ModelError),
    /// An uploaded history that does not read, or does not fit the model.
    #[error(transparent)]
    Upload(checker::InputError),
    #[error("shutting down")]
    ShuttingDown,
    /// Every place in the check queue is taken.
    #[error("{} checks are already running or waiting; try again shortly", CHECK_QUEUE)]
    Busy,
    /// A timeline query field that is not a number, or out of range.
    #[error("query field `{field}`: `{value}` is not {}", match *field {
        "t1" => "a time after t0 (ns)",
        "px" | "charts" => "a width from 1 to 8192 pixels",
        "timeout_ms" => "a number of milliseconds",
        "process" => "a process number",
        _ => "a time in ns",
    })]
    BadQuery { field: &'static str, value: String },
    #[error("encoding JSON: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("rendering the page: {0}")]
    Template(#[source] askama::Error),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Store(results::Error::NotRunId(_) | results::Error::NoSuchRun { .. })
            | Error::NoRun(_)
            | Error::NoHistory { .. }
            | Error::NotALog(_)
            | Error::NoLog { .. }
            | Error::NoOp { .. } => StatusCode::NOT_FOUND,
            Error::History(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Body(rejection) => rejection.status(),
            Error::UnknownFormat(_) | Error::Model(_) | Error::Upload(_) | Error::BadQuery { .. } => {
                StatusCode::BAD_REQUEST
            }
            Error::ShuttingDown | Error::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Error::Store(_)
            | Error::Bind { .. }
            | Error::Serve(_)
            | Error::Edn(_)
            | Error::Studies(_)
            | Error::Encode(_)
            | Error::Task(_)
            | Error::Template(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body of the API's answer for an error.
#[derive(serde::Serialize)]
struct ErrorBody {
    error: String,
}

/// The API's answer for an error: its status and `{"error": message}`.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(ErrorBody { error: self.to_string() })).into_response();
        if matches!(self, Error::Busy) {
            // A check takes well under a second unless it runs to its deadline.
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

/// The binary reports errors as text; this keeps `?` working in its
/// `Result<_, String>` functions.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// A run's directory, or [`Error::NoRun`] for an id that is not a stored run.
pub(crate) fn run_dir(app: &App, id: &str) -> Result<PathBuf, Error> {
    let dir = app.store.run_dir(id).map_err(|_| Error::NoRun(id.to_string()))?;
    if dir.join("test.json").is_file() {
        Ok(dir)
    } else {
        Err(Error::NoRun(id.to_string()))
    }
}

/// A run's `results.json`: `None` while the run is in progress (it has
/// none yet); an error naming the file and the field if it does not read.
pub(crate) fn read_results(dir: &std::path::Path) -> Result<Option<results::RunResults>, results::Error> {
    match results::read_results(dir) {
        Ok(r) => Ok(Some(r)),
        Err(results::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
