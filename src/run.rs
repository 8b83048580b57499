//! `fencepost run`: the harness's pipeline with a progress line and a
//! one-screen summary. Ctrl-C stops the workload; the harness still heals,
//! checks, stores and indexes what was recorded.

use std::time::{Duration, Instant};

use checker::Verdict;
use harness::run::{self as pipeline, injected_words, show, Event, Executed, Live, Prepared, RunArgs};

use crate::analyze::print_checkers;

/// `fencepost run … --plan`: what the run would do, without doing it.
pub fn plan_command(args: RunArgs) -> Result<(), harness::Error> {
    let prepared = pipeline::prepare(args)?;
    let (args, system, plan) = (&prepared.args, prepared.system, &prepared.plan);
    out!(
        "{} ({}): {} clients for {}, the last {} without faults",
        system.layout().name,
        system.layout().description,
        args.options.concurrency,
        show(args.options.time_limit),
        show(args.quiet)
    );
    for note in &plan.notes {
        out!("  note: {note}");
    }
    for why in &plan.blind_spots {
        out!("  blind spot: {why}");
    }
    if plan.steps.is_empty() {
        out!("  no faults");
    }
    for step in &plan.steps {
        let live = match step.spec.target {
            nemesis::Target::Holder if step.spec.kind.fresh_holder() && step.wait.is_zero() => {
                " (the node granting the next lock after it starts; skipped if none is granted then)".to_string()
            }
            nemesis::Target::Holder if step.spec.kind.fresh_holder() => {
                format!(" (the node granting the next lock after it starts; waits up to {} for one)", show(step.wait))
            }
            nemesis::Target::Holder if step.wait.is_zero() => {
                " (the holder when it starts; skipped if nobody holds a lock then)".to_string()
            }
            nemesis::Target::Holder => format!(" (the holder when it starts; waits up to {} for one)", show(step.wait)),
            t if t.is_live() => format!(" (the {t} when it starts)"),
            _ => String::new(),
        };
        let what = step.fault.plan_words(&show);
        out!(
            "  at {:>6}  {:<24} for {:<6} {what}{}{live}",
            show(step.at),
            step.spec.to_string(),
            show(step.duration),
            serde_json::to_string(&step.aimed().describe()).unwrap_or_default()
        );
    }
    Ok(())
}

/// `run --replay RUN`: RUN's arguments, refused when other options are
/// given (they would make a different run than the one replayed).
pub async fn replay_args(opts: &harness::options::RunOpts, of: String) -> anyhow::Result<RunArgs> {
    let store = results::Store::open(&opts.store).await?;
    let args = harness::replay::args(&store, &of)?;
    let given = opts.args(args.system.clone())?.command();
    if given.len() > 1 {
        anyhow::bail!(
            "--replay takes every option from run {of}; only --store may be given with it, not: {}",
            given[1..].join(" ")
        );
    }
    Ok(args)
}

/// What a finished run reports to its caller.
pub struct RunOutcome {
    pub id: String,
    pub verdict: Verdict,
}

/// What a caller beside the printing wants to see of a run as it goes
/// (`fencepost soak` samples memory and checks the recorder's counts): the
/// run itself stays `run`'s, so what is measured is what `run` does.
pub trait Watch: Sync {
    /// The workload started; `live` stays readable after the run.
    fn started(&self, _live: &Live) {}
    /// The workload ended and the cluster is gone; the history is not yet
    /// checked.
    fn executed(&self, _executed: &Executed) {}
}

/// `run` itself watches nothing.
impl Watch for () {}

/// Runs the prepared test and prints its summary; an `Err` means it could
/// not run.
pub async fn run_command(prepared: Prepared, progress: bool) -> Result<RunOutcome, harness::Error> {
    run_watched(prepared, progress, &()).await
}

/// [`run_command`], telling `watch` when the workload starts and ends.
pub async fn run_watched(prepared: Prepared, progress: bool, watch: &dyn Watch) -> Result<RunOutcome, harness::Error> {
    let stop = workloads::CancellationToken::new();
    let ctrl_c = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("\ninterrupted: stopping the clients, healing, then checking what was recorded");
            stop.cancel();
        })
    };
    let (system, limit, asked, endpoints) = (
        prepared.system,
        prepared.args.options.time_limit,
        prepared.args.nemesis.clone(),
        prepared.args.endpoints.join(", "),
    );
    let on_hosts =
        prepared.args.ssh.as_ref().map(|s| format!(" on the SSH hosts of {}", s.file.display())).unwrap_or_default();
    let planned = !prepared.plan.steps.is_empty();
    let replay = prepared.args.replay.as_ref().map(|r| r.of.clone());
    let store = prepared.args.store.clone();
    let line: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>> = Default::default();
    let on_event = |event: Event| match event {
        Event::ClusterReady { after, run } => {
            out!(
                "{} ({}){on_hosts} ready in {:.2} s; run {run}",
                system.layout().name,
                system.layout().description,
                after.as_secs_f64()
            )
        }
        Event::ExternalCluster => {
            out!("{} at {endpoints} (an existing cluster: no containers, no node faults)", system.layout().name)
        }
        Event::Note(note) => out!("  note: {note}"),
        Event::BlindSpot(why) => out!("  blind spot: {why}"),
        Event::Warning(warning) => {
            // The run is over when something is left behind: the
            // progress line goes first so the warning is not torn.
            stop_line(&line);
            eprintln!("warning: {warning}");
        }
        Event::Started(live) => {
            watch.started(&live);
            if progress {
                *line.lock().unwrap_or_else(|e| e.into_inner()) = Some(progress_line(limit, live));
            }
        }
    };
    let executed = pipeline::execute(prepared, stop.clone(), &on_event).await;
    stop_line(&line);
    ctrl_c.abort();
    let executed = executed?;
    watch.executed(&executed);
    let s = &executed.summary;
    // The history's span, as the checkers' figures count it: an interrupted
    // run has one duration, not the clients' and the history's.
    let secs = executed.recorded_ns as f64 / 1e9;
    out!(
        "{} events recorded in {secs:.1} s ({:.0} completions/s): {} ok, {} busy, {} fail, {} info; {} processes{}",
        executed.recorded_ops,
        (s.ok + s.fail + s.info) as f64 / secs.max(0.001),
        s.ok,
        s.busy,
        s.fail - s.busy.min(s.fail),
        s.info,
        s.processes,
        if executed.interrupted { " (interrupted)" } else { "" }
    );
    if planned {
        if let Ok(played) = &executed.played {
            out!("  faults injected: {}; then all healed", injected_words(played, &asked));
        }
    }
    for c in &s.counters {
        out!("  counter {}: final {} after {} accepted and {} rejected writes", c.key, c.value, c.accepted, c.rejected);
    }
    if let Err(e) = &executed.played {
        out!("  nemesis failed: {e} (verdict at best unknown)");
    }
    for c in &executed.node_crashes {
        out!("  crash: {}'s log: {}", c.node, c.line);
    }
    let finished = pipeline::finish(executed, Duration::from_secs(60)).await?;
    print_checkers(&finished.results.checkers);
    crate::analyze::print_verdict(&finished.results, finished.verdict());
    if let Some(of) = &replay {
        let store = results::Store::open(&store).await?;
        out!("replay: {}", harness::replay::outcome(&store, of, &finished.results)?.words(of));
    }
    out!("report: {} (browse with `fencepost serve`)", finished.dir.display());
    out!("run it again: fencepost run --replay {} --store {}", finished.id, store.display());
    Ok(RunOutcome { verdict: finished.verdict(), id: finished.id })
}

/// Stops the progress line, if it runs, and clears it.
fn stop_line(line: &std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>) {
    if let Some(line) = line.lock().unwrap_or_else(|e| e.into_inner()).take() {
        line.abort();
        eprint!("\r\x1b[2K");
    }
}

/// Redraws one status line every 250 ms: elapsed, completions per second,
/// counts by outcome, active faults.
fn progress_line(limit: Duration, live: Live) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(limit.as_millis() as u64),
            indicatif::ProgressDrawTarget::stderr_with_hz(4),
        );
        let style = indicatif::ProgressStyle::with_template("{elapsed:>4} [{bar:20}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let t0 = Instant::now();
        loop {
            let c = live.counts();
            let done = c.ok + c.fail + c.info;
            let faults = live.active_faults().join(",");
            bar.set_position(t0.elapsed().as_millis() as u64);
            bar.set_message(format!(
                "{:.0} ops/s  ok {}  busy {}  fail {}  info {}  faults: {}",
                done as f64 / t0.elapsed().as_secs_f64().max(0.001),
                c.ok,
                c.busy,
                c.fail - c.busy.min(c.fail),
                c.info,
                if faults.is_empty() { "none" } else { &faults }
            ));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}
