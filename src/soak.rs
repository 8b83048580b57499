//! `fencepost soak`: an endurance run. The test runs exactly as `fencepost
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

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checker::history::{OpType, Process};
use harness::run::{Executed, Live, Prepared};

use crate::bench::status_mib;
use crate::run::{run_watched, Watch};

/// RSS after the warm-up may grow by this much and still count as flat…
const FLAT_MIB: f64 = 16.0;
/// …or by this share of the RSS at the end of the warm-up, whichever is larger.
const FLAT_SHARE: f64 = 0.10;
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

/// One point of the memory curve.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Since the workload started.
    elapsed: Duration,
    rss_mib: f64,
    /// Client completions (ok, fail, info) recorded so far.
    completions: u64,
    /// Completions per second since the previous sample.
    rate: f64,
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

/// One check's outcome, for the summary.
struct Check {
    name: &'static str,
    state: State,
    text: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Passed,
    Failed,
    /// Not measurable in this run (shorter than the warm-up, no containers).
    Skipped,
}

impl State {
    fn word(self) -> &'static str {
        match self {
            State::Passed => "ok",
            State::Failed => "FAILED",
            State::Skipped => "skipped",
        }
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
    checks.push(leftovers_check(in_containers, &outcome.id, &after).await);

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

/// Flat: from the first sample at or after the warm-up, RSS never grows by
/// more than [`FLAT_MIB`] or [`FLAT_SHARE`] of it, whichever is larger.
fn memory_check(samples: &[Sample], warm_up: Duration) -> Check {
    let Some(first) = samples.iter().position(|s| s.elapsed >= warm_up) else {
        return Check {
            name: "memory",
            state: State::Skipped,
            text: format!("no sample at or after {} (the run is shorter)", clock(warm_up)),
        };
    };
    let base = samples[first];
    let Some(top) = samples[first + 1..].iter().max_by(|a, b| a.rss_mib.total_cmp(&b.rss_mib)) else {
        return Check {
            name: "memory",
            state: State::Skipped,
            text: format!("no sample after the one at {} to compare with", clock(base.elapsed)),
        };
    };
    let growth = top.rss_mib - base.rss_mib;
    let allowed = FLAT_MIB.max(base.rss_mib * FLAT_SHARE);
    let flat = growth <= allowed;
    Check {
        name: "memory",
        state: if flat { State::Passed } else { State::Failed },
        text: format!(
            "{}: RSS {:.1} MiB at {}, at most {:.1} MiB after (at {}): {:+.1} MiB, {:+.1} % (flat up to +{allowed:.1} MiB)",
            if flat { "flat" } else { "grew" },
            base.rss_mib,
            clock(base.elapsed),
            top.rss_mib,
            clock(top.elapsed),
            growth,
            100.0 * growth / base.rss_mib.max(f64::MIN_POSITIVE),
        ),
    }
}

/// Completions by type in a history file.
#[derive(Default, Debug)]
struct HistoryCounts {
    events: u64,
    ok: u64,
    fail: u64,
    info: u64,
}

/// The two fields of a history line the count needs; serde skips the rest
/// (values, errors) without building them.
#[derive(serde::Deserialize)]
struct Line {
    process: Process,
    #[serde(rename = "type")]
    kind: OpType,
}

/// Counts the client completions of a history line by line: a full-rate
/// run's history can be gigabytes, so it is never held whole.
fn count_history(path: &Path) -> anyhow::Result<HistoryCounts> {
    use anyhow::Context;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let (mut counts, mut line, mut number) = (HistoryCounts::default(), String::new(), 0u64);
    loop {
        line.clear();
        number += 1;
        if reader.read_line(&mut line).with_context(|| format!("reading {}", path.display()))? == 0 {
            return Ok(counts);
        }
        if line.trim().is_empty() {
            continue;
        }
        let op: Line =
            serde_json::from_str(&line).with_context(|| format!("{}:{number}: not an op", path.display()))?;
        counts.events += 1;
        if op.process == Process::Nemesis {
            continue;
        }
        match op.kind {
            OpType::Ok => counts.ok += 1,
            OpType::Fail => counts.fail += 1,
            OpType::Info => counts.info += 1,
            OpType::Invoke => {}
        }
    }
}

/// Every completion the recorder counted (client processes, as it counts
/// them: workers, background keep-alives, final reads) is in the file.
fn history_check(path: &Path, recorder: workloads::Counts, recorded_events: u64) -> Check {
    let started = Instant::now();
    let history = match count_history(path) {
        Ok(h) => h,
        Err(e) => return Check { name: "history", state: State::Failed, text: format!("{e:#}") },
    };
    let took = started.elapsed();
    let fewer = history.ok < recorder.ok || history.fail < recorder.fail || history.info < recorder.info;
    let same = history.ok == recorder.ok && history.fail == recorder.fail && history.info == recorder.info;
    let verdict = if fewer {
        "MISSING completions"
    } else if same {
        "complete"
    } else {
        "complete, with more than counted"
    };
    Check {
        name: "history",
        state: if fewer { State::Failed } else { State::Passed },
        text: format!(
            "{verdict}: recorder ok {} fail {} info {}; history.jsonl ok {} fail {} info {} ({} events, the recorder wrote {recorded_events}; read in {:.1} s)",
            recorder.ok,
            recorder.fail,
            recorder.info,
            history.ok,
            history.fail,
            history.info,
            history.events,
            took.as_secs_f64()
        ),
    }
}

/// The index lists the run among its system's runs, with the verdict the
/// run reached.
async fn index_check(store_dir: &Path, system: &str, id: &str, verdict: checker::Verdict) -> Check {
    let started = Instant::now();
    let listed = async {
        let store = results::Store::open(store_dir).await?;
        let filter = results::Filter { system: Some(system.to_string()), ..Default::default() };
        let rows = store.list(&filter).await?;
        Ok::<_, results::Error>((rows.len(), rows.into_iter().find(|r| r.id == id)))
    }
    .await;
    let took = ms(started.elapsed());
    let (state, text) = match listed {
        Err(e) => (State::Failed, format!("{e}")),
        Ok((n, None)) => (State::Failed, format!("run {id} is not among the {n} runs of {system} listed ({took})")),
        Ok((n, Some(row))) if row.verdict == verdict => (
            State::Passed,
            format!(
                "listed ({n} run{} of {system}): verdict {}, {} ops ({took})",
                if n == 1 { "" } else { "s" },
                row.verdict.as_str(),
                row.ops
            ),
        ),
        Ok((_, Some(row))) => (
            State::Failed,
            format!("listed with verdict {}, but the run's is {} ({took})", row.verdict.as_str(), verdict.as_str()),
        ),
    };
    Check { name: "index", state, text }
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
        let head = format!("GET {path} HTTP/1.1\r\nHost: fencepost\r\nConnection: close\r\n\r\n");
        let started = Instant::now();
        let answer = tokio::time::timeout(HTTP_DEADLINE, crate::bench_api::request(addr, &head, b"")).await;
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

/// Nothing of the run is left: no container or network labelled with its
/// id, nothing the nemesis's final heal found, nothing its teardown could
/// not remove.
async fn leftovers_check(in_containers: bool, id: &str, after: &AfterRun) -> Check {
    let mut left: Vec<String> = after.warnings.clone();
    left.extend(after.nemesis_leftovers.iter().map(|l| format!("after the final heal: {l}")));
    let docker = if in_containers {
        let resources = async { docker::run_resources(&docker::Engine::connect().await?, id).await }.await;
        match resources {
            Ok(r) => {
                left.extend(r.containers.iter().map(|c| format!("container {c}")));
                left.extend(r.networks.iter().map(|n| format!("network {n}")));
                "no container or network labelled with the run"
            }
            Err(e) => {
                left.push(format!("could not list the run's containers: {e}"));
                ""
            }
        }
    } else {
        "no containers (an existing cluster or SSH hosts)"
    };
    if left.is_empty() {
        Check {
            name: "leftovers",
            state: State::Passed,
            text: format!("none: {docker}; the nemesis healed everything"),
        }
    } else {
        Check { name: "leftovers", state: State::Failed, text: left.join("; ") }
    }
}

/// `1m 30s` style, to the second (`0s` at the start).
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m {s:02}s"),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "unknown".to_string(), |v| format!("{v:.1} MiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(secs: u64, rss_mib: f64) -> Sample {
        Sample { elapsed: Duration::from_secs(secs), rss_mib, completions: 0, rate: 0.0 }
    }

    #[test]
    fn memory_is_judged_after_the_warm_up_against_the_larger_allowance() {
        let warm = Duration::from_secs(60);
        // Growth before the warm-up does not count; 15 MiB after it is flat.
        let flat = [sample(0, 10.0), sample(30, 80.0), sample(60, 100.0), sample(90, 115.0), sample(120, 101.0)];
        assert!(memory_check(&flat, warm).state == State::Passed);
        // 10 % of 500 MiB is the allowance above 16 MiB.
        let big = [sample(60, 500.0), sample(70, 549.0)];
        assert!(memory_check(&big, warm).state == State::Passed);
        let grew = [sample(60, 100.0), sample(70, 117.0)];
        let check = memory_check(&grew, warm);
        assert!(check.state == State::Failed && check.text.starts_with("grew"), "{}", check.text);
        // Too short to judge.
        let short = [sample(0, 10.0), sample(60, 10.0)];
        assert!(memory_check(&short, warm).state == State::Skipped);
    }

    #[test]
    fn history_counts_client_completions_only() {
        let dir = std::env::temp_dir().join(format!("fencepost-soak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        std::fs::write(
            &path,
            concat!(
                "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"acquire\",\"key\":\"k0\",\"value\":{\"ttl_ms\":5000}}\n",
                "{\"index\":1,\"time\":2,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill-start\",\"value\":{}}\n",
                "{\"index\":2,\"time\":3,\"process\":0,\"type\":\"ok\",\"f\":\"acquire\",\"key\":\"k0\",\"value\":{\"token\":1},\"node\":\"n1\"}\n",
                "\n",
                "{\"index\":3,\"time\":4,\"process\":3000000,\"type\":\"info\",\"f\":\"keep-alive\",\"value\":null}\n",
            ),
        )
        .unwrap();
        let counts = count_history(&path).unwrap();
        assert_eq!((counts.events, counts.ok, counts.fail, counts.info), (4, 1, 0, 1));
        let recorder = workloads::Counts { invoke: 1, ok: 1, fail: 0, info: 1 };
        assert!(history_check(&path, recorder, 4).state == State::Passed);
        let more = workloads::Counts { ok: 2, ..recorder };
        assert!(history_check(&path, more, 4).state == State::Failed);
        std::fs::write(&path, "{\"process\":0,\"type\":\"ok\"\n").unwrap();
        let check = history_check(&path, recorder, 1);
        assert!(check.state == State::Failed && check.text.contains(":1:"), "{}", check.text);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
