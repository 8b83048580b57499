//! `fencepost soak`: an endurance run (its checks are `harness::soak`). The test runs exactly as `fencepost
//! run` runs it (same pipeline, stored and indexed like any run); beside it
//! this process's resident memory is sampled, and afterwards four things are
//! checked:
//!
//! - memory: RSS stays flat after the warm-up (the harness runs in this
//!   process, so this process's RSS is the harness's);
//! - history: every completion the recorder counted is in `history.jsonl`;
//! - index and report: the index lists the run with its verdict, and the web
//!   app (in this process, on a loopback port) serves its report page and
//!   its timeline;
//! - leftovers: no container or network of the run is left, and the
//!   nemesis's final heal left nothing.
//!
//! The run's own verdict is printed but not judged: a violation found in the
//! system under test is a finding, not a failure of the harness.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::run::{Executed, Live, Prepared};
use harness::soak::{
    clock, history_check, index_check, leftovers_check, memory_check, ms, status_mib, Check, Sample, State,
};

use crate::run::{run_watched, Watch};
/// How long one request to the report may take: a long run's timeline is
/// built from its whole history on the first request.
const HTTP_DEADLINE: Duration = Duration::from_secs(300);

/// How to sample and judge the memory curve.
pub struct SoakOptions {
    /// Time between samples.
    pub sample: Duration,
    /// The memory curve is judged from the first sample at or after this.
    pub warm_up: Duration,
}

/// What the run leaves for the checks, taken when its workload has ended.
struct AfterRun {
    dir: PathBuf,
    recorded_events: u64,
    warnings: Vec<String>,
    nemesis_leftovers: Vec<String>,
    nemesis_error: Option<String>,
    rss_mib: Option<f64>,
    hwm_mib: Option<f64>,
}

/// Watches the run: starts the sampler with the workload and stops it when
/// the workload ends.
struct Sampler {
    every: Duration,
    samples: Arc<Mutex<Vec<Sample>>>,
    live: Mutex<Option<Live>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    after: Mutex<Option<AfterRun>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watch for Sampler {
    fn started(&self, live: &Live) {
        *lock(&self.live) = Some(live.clone());
        let (live, every, samples) = (live.clone(), self.every, self.samples.clone());
        *lock(&self.task) = Some(tokio::spawn(async move {
            let t0 = tokio::time::Instant::now();
            let mut ticks = tokio::time::interval_at(t0, every);
            // A stalled runtime takes its next sample late rather than a
            // burst of samples at once.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut previous: Option<Sample> = None;
            loop {
                ticks.tick().await;
                let c = live.counts();
                let (elapsed, completions) = (t0.elapsed(), c.ok + c.fail + c.info);
                let rate = previous.map_or(0.0, |p| {
                    (completions - p.completions) as f64 / (elapsed - p.elapsed).as_secs_f64().max(0.001)
                });
                let rss_mib = status_mib("VmRSS").unwrap_or(0.0);
                let sample = Sample { elapsed, rss_mib, completions, rate };
                out!(
                    "  soak {:>7}  RSS {:>7.1} MiB  {:>10} completions  {:>8.0}/s",
                    clock(elapsed),
                    rss_mib,
                    completions,
                    rate
                );
                lock(&samples).push(sample);
                previous = Some(sample);
            }
        }));
    }

    fn executed(&self, executed: &Executed) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
        let (nemesis_leftovers, nemesis_error) = match &executed.played {
            Ok(_) => (Vec::new(), None),
            Err(nemesis::Error::Leftovers(left)) => (left.clone(), None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        *lock(&self.after) = Some(AfterRun {
            dir: executed.dir.clone(),
            recorded_events: executed.recorded_ops,
            warnings: executed.warnings.clone(),
            nemesis_leftovers,
            nemesis_error,
            rss_mib: status_mib("VmRSS"),
            hwm_mib: status_mib("VmHWM"),
        });
    }
}

/// Runs the soak; `Ok(true)` when every check passed, `Ok(false)` when one
/// failed, `Err` when the test could not run.
pub async fn soak(prepared: Prepared, options: SoakOptions) -> anyhow::Result<bool> {
    let store_dir = prepared.args.store.clone();
    let system = prepared.system.layout().name;
    let in_containers = prepared.args.endpoints.is_empty() && prepared.args.ssh.is_none();
    let clients = prepared.args.options.concurrency;
    let sampler = Sampler {
        every: options.sample,
        samples: Arc::default(),
        live: Mutex::default(),
        task: Mutex::default(),
        after: Mutex::default(),
    };
    out!(
        "soak: {system}, {clients} clients for {}; memory every {}, judged from {}",
        clock(prepared.args.options.time_limit),
        clock(options.sample),
        clock(options.warm_up)
    );
    // No progress line: the samples are the progress, and a redrawn
    // stderr line would tear them on a terminal.
    let outcome = run_watched(prepared, false, &sampler).await?;
    let checked_hwm = status_mib("VmHWM");
    let samples = lock(&sampler.samples).clone();
    let after = lock(&sampler.after).take().ok_or_else(|| anyhow::anyhow!("the run ended without its workload"))?;
    let recorder = lock(&sampler.live).as_ref().map(Live::counts).unwrap_or_default();

    out!();
    out!("memory curve (RSS of this process; the harness runs in it):");
    out!("  {:>8}  {:>9}  {:>12}  {:>13}", "elapsed", "RSS MiB", "completions", "completions/s");
    for s in &samples {
        out!("  {:>8}  {:>9.1}  {:>12}  {:>13.0}", clock(s.elapsed), s.rss_mib, s.completions, s.rate);
    }

    let mut checks = vec![memory_check(&samples, options.warm_up)];
    checks.push(history_check(&after.dir.join("history.jsonl"), recorder, after.recorded_events));
    checks.push(index_check(&store_dir, system, &outcome.id, outcome.verdict).await);
    checks.push(report_check(&store_dir, &outcome.id).await);
    checks.push(leftovers_check(in_containers, &outcome.id, &after.warnings, &after.nemesis_leftovers).await);

    out!();
    out!("soak summary: {system}, run {} (verdict {}), {} clients", outcome.id, outcome.verdict.as_str(), clients);
    if let Some(e) = &after.nemesis_error {
        out!("  note: the nemesis failed ({e}): the run's verdict is at best unknown");
    }
    for c in &checks {
        out!("  {:<10} {:<7} {}", c.name, c.state.word(), c.text);
    }
    // The peaks after the run are the checkers' and the report's, which
    // read the whole history: not the harness's steady state, but what a
    // machine running a long soak must have.
    out!(
        "  peak RSS   {} by the workload's end (RSS then {}), {} after the checkers, {} after the report",
        mib(after.hwm_mib),
        mib(after.rss_mib),
        mib(checked_hwm),
        mib(status_mib("VmHWM"))
    );
    let failed: Vec<&str> = checks.iter().filter(|c| c.state == State::Failed).map(|c| c.name).collect();
    let skipped: Vec<&str> = checks.iter().filter(|c| c.state == State::Skipped).map(|c| c.name).collect();
    if failed.is_empty() && skipped.is_empty() {
        out!("soak: passed");
    } else if failed.is_empty() {
        // A skipped check is not a failure, but must not read as a pass.
        out!("soak: passed, but not measured: {}", skipped.join(", "));
    } else {
        out!("soak: FAILED: {}", failed.join(", "));
    }
    Ok(failed.is_empty())
}

/// The web app, started here on a loopback port over the same store,
/// serves the run's report page and its timeline.
async fn report_check(store_dir: &Path, id: &str) -> Check {
    let failed = |text: String| Check { name: "report", state: State::Failed, text };
    let started = Instant::now();
    let app = match web::app(store_dir.to_path_buf()).await {
        Ok(app) => app,
        Err(e) => return failed(format!("the web app would not start: {e}")),
    };
    let opened = ms(started.elapsed());
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return failed(format!("binding 127.0.0.1:0: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return failed(format!("binding 127.0.0.1:0: {e}")),
    };
    let server = tokio::spawn(web::serve_on(listener, app));
    let (mut words, mut ok) = (vec![format!("app up in {opened}")], true);
    for path in [format!("/runs/{id}"), format!("/api/v1/runs/{id}/timeline")] {
        let started = Instant::now();
        let answer = tokio::time::timeout(HTTP_DEADLINE, web::probe::get(addr, &path)).await;
        let took = ms(started.elapsed());
        match answer {
            Ok(Ok(a)) => {
                ok &= a.status == 200 && !a.body.is_empty();
                words.push(format!("GET {path} {} {} bytes {took}", a.status, a.body.len()));
            }
            Ok(Err(e)) => {
                ok = false;
                words.push(format!("GET {path}: {e:#}"));
            }
            Err(_) => {
                ok = false;
                words.push(format!("GET {path}: no answer in {}", clock(HTTP_DEADLINE)));
            }
        }
    }
    server.abort();
    Check { name: "report", state: if ok { State::Passed } else { State::Failed }, text: words.join("; ") }
}

fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "unknown".to_string(), |v| format!("{v:.1} MiB"))
}
