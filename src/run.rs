//! `fencepost run`: one real test end to end — images → cluster → workload
//! and nemesis → final heal and quiet period → final reads → checks →
//! `store/<run-id>/` and its index row → a one-screen summary.
//!
//! Ctrl-C stops the workload (each client finishes the cycle it is in, so
//! held locks are released), heals every fault, and still checks, stores
//! and indexes what was recorded; the containers are removed either way.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use checker::analysis::Validity;
use docker::Engine;
use serde_json::{json, Value};
use workloads::{FencedResource, Recorder, RunOptions, Workload};

use crate::analyze::{analyze, Analyzed};

pub struct RunArgs {
    pub system: String,
    pub workload: Workload,
    pub options: RunOptions,
    pub store: PathBuf,
    /// Fault kinds to mix (empty: no faults).
    pub nemesis: Vec<nemesis::FaultKind>,
    /// Time between faults, and how long each lasts (`None`: fit to the run).
    pub nemesis_interval: Option<Duration>,
    /// Fault-free time at the end, after the final heal.
    pub quiet: Duration,
    pub fault_options: nemesis::FaultOptions,
    /// Draw a progress line on the terminal.
    pub progress: bool,
    /// `host:port` of each member of an existing cluster to test instead of
    /// starting one (empty: start one in containers).
    pub endpoints: Vec<String>,
}

/// What a finished run reports to its caller.
pub struct RunOutcome {
    pub id: String,
    pub verdict: Validity,
}

/// Runs the test; returns the run id and overall verdict. An `Err` means
/// the test could not run (exit code 3).
/// Why a run cannot start, decided from the system and the options alone.
#[derive(Debug)]
pub enum Preflight {
    /// No such system: the command is wrong.
    UnknownSystem(String),
    /// The system cannot take these faults, or they do not fit the time:
    /// this combination cannot run (a suite skips it).
    Refused(String),
}

impl std::fmt::Display for Preflight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Preflight::UnknownSystem(e) | Preflight::Refused(e) => f.write_str(e),
        }
    }
}

/// Checks a run could start, touching nothing.
pub fn preflight(args: &RunArgs) -> Result<(), Preflight> {
    prepare_checked(args).map(|_| ())
}

/// The system and the fault plan, or why the run cannot be: everything that
/// depends only on the system and the options is decided here, before any
/// image, container or store is touched.
fn prepare(args: &RunArgs) -> Result<(&'static dyn workloads::System, FaultPlan), String> {
    prepare_checked(args).map_err(|e| e.to_string())
}

fn prepare_checked(args: &RunArgs) -> Result<(&'static dyn workloads::System, FaultPlan), Preflight> {
    let Some(system) = workloads::by_name(&args.system) else {
        let known: Vec<&str> = workloads::REGISTRY.iter().map(|s| s.layout().name).collect();
        return Err(Preflight::UnknownSystem(format!(
            "unknown system `{}` (known: {})",
            args.system,
            known.join(", ")
        )));
    };
    let external = !args.endpoints.is_empty();
    let node_count = if external { args.endpoints.len() } else { system.layout().nodes };
    let capabilities = nemesis::Capabilities {
        nodes: node_count,
        names_leader: system.layout().names_leader,
        clock_refusal: system.layout().clock_refusal,
        touchable: !external,
    };
    nemesis::refuse_up_front(&args.nemesis, &capabilities).map_err(|e| Preflight::Refused(format!("--nemesis {e}")))?;
    let names: Vec<String> = (1..=node_count).map(|i| format!("n{i}")).collect();
    let mut plan = FaultPlan::new(args, &names).map_err(Preflight::Refused)?;
    // A system that cannot hold a lock for --ttl says so before it starts.
    plan.notes.extend(system.ttl_note(args.options.ttl));
    Ok((system, plan))
}

/// `fencepost run … --plan`: what the run would do, without doing it.
pub fn plan_command(args: &RunArgs) -> Result<(), String> {
    let (system, plan) = prepare(args)?;
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
    if plan.steps.is_empty() {
        out!("  no faults");
    }
    for step in &plan.steps {
        out!(
            "  at {:>6}  {:<18} for {:<6} {}",
            show(step.at),
            step.kind.name(),
            show(step.duration),
            step.fault.describe()
        );
    }
    Ok(())
}

pub async fn run_command(args: RunArgs) -> Result<RunOutcome, String> {
    let (system, plan) = prepare(&args)?;
    let external = !args.endpoints.is_empty();
    // Open the store first: a run that cannot be kept should not start.
    let store = results::Store::open(&args.store).await?;
    let run_id = docker::new_run_id();
    let stop = Arc::new(AtomicBool::new(false));
    let ctrl_c = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("\ninterrupted: stopping the clients, healing, then checking what was recorded");
            stop.store(true, Ordering::Relaxed);
        })
    };

    // Our own cluster in containers, or the members of an existing one.
    let (started, nodes) = if external {
        (None, external_nodes(system, &args.endpoints).await?)
    } else {
        let engine = Engine::connect().await.map_err(|e| e.to_string())?;
        let started = workloads::start_cluster(&engine, system, &run_id, Duration::from_secs(120))
            .await
            .map_err(|e| e.to_string())?;
        out!(
            "{} ({}) ready in {:.2} s; run {run_id}",
            system.layout().name,
            system.layout().description,
            started.ready_after.as_secs_f64()
        );
        let nodes = started.cluster.nodes().to_vec();
        (Some(started), nodes)
    };
    let dir = store.run_dir(&run_id)?;
    std::fs::create_dir_all(dir.join("nodes")).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut options = args.options;
    options.workload = args.workload;
    if matches!(args.workload, Workload::FencedCounter { .. }) {
        options.client.fenced = true;
    }
    let started_ms = unix_ms();
    write_json(
        &dir.join("test.json"),
        &json!({
            "run": run_id,
            "started_ms": started_ms,
            "system": system.layout().name,
            "description": system.layout().description,
            "workload": workload_name(args.workload),
            "fencing_enforced": matches!(args.workload, Workload::FencedCounter { enforce: true }),
            "image": started.as_ref().map(|s| s.image.tag.clone()),
            "endpoints": args.endpoints,
            "nodes": nodes.iter().map(|n| n.name()).collect::<Vec<_>>(),
            "concurrency": options.concurrency,
            "keys": options.keys,
            "rate": options.rate,
            "hold_ms": [options.hold.0.as_millis() as u64, options.hold.1.as_millis() as u64],
            "ttl_ms": options.ttl.as_millis() as u64,
            "time_limit_ms": options.time_limit.as_millis() as u64,
            "timeout_ms": options.client.timeout.as_millis() as u64,
            "acquire_wait_ms": options.client.acquire_wait.as_millis() as u64,
            "seed": options.seed,
            "nemesis": fault_names(&args.nemesis),
            "nemesis_interval_ms": plan.interval.as_millis() as u64,
            "quiet_ms": args.quiet.as_millis() as u64,
            "fault_options": args.fault_options,
            "fencepost": env!("CARGO_PKG_VERSION"),
        }),
    )?;

    let history_path = dir.join("history.jsonl");
    let recorder = Recorder::create(&history_path).map_err(|e| format!("creating {}: {e}", history_path.display()))?;
    // The history's time 0 on the wall clock, to place node log lines on it.
    let history_epoch_ms = unix_ms();
    let enforce = matches!(args.workload, Workload::FencedCounter { enforce: true });
    let resource = Arc::new(FencedResource::new(enforce));
    // Active faults, for the progress line.
    let active: Arc<Mutex<Vec<String>>> = Arc::default();
    let faults = {
        let recorder = recorder.clone();
        let active = active.clone();
        let report: nemesis::Report = Arc::new(move |phase, f, value| {
            let kind = match phase {
                nemesis::Phase::Begin => checker::OpType::Invoke,
                nemesis::Phase::Done => checker::OpType::Info,
            };
            recorder.nemesis(kind, f, value);
            if phase == nemesis::Phase::Begin {
                return;
            }
            let mut active = active.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(name) = f.strip_suffix("-start") {
                active.push(name.to_string());
            } else if let Some(name) = f.strip_suffix("-stop") {
                if let Some(i) = active.iter().position(|a| a == name) {
                    active.remove(i);
                }
            } else if f == "heal-all" {
                active.clear();
            }
        });
        // Against an existing cluster the nemesis acts on clients only.
        let touchable = if external { Vec::new() } else { nodes.clone() };
        nemesis::Nemesis::new(touchable, system.layout().client_port(), report).with_stall(options.stall.clone())
    };
    // What only a live node can tell (netem needs the kernel's sch_netem).
    if let Err(e) = faults.check(&args.nemesis).await {
        drop(recorder);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!("--nemesis {e}"));
    }
    let steps = plan.steps;
    let interval = plan.interval;
    for note in &plan.notes {
        out!("  note: {note}");
    }
    let nemesis_done = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let workload =
        workloads::run(system, nodes.clone(), options.clone(), recorder.clone(), resource.clone(), stop.clone());
    let playing = async {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        faults.play(&steps, t0, &nemesis_done).await
    };
    let progress = progress_line(args.progress, options.time_limit, recorder.clone(), active.clone());
    // The nemesis stops (and heals everything) when the workload ends.
    let (summary, played) = tokio::join!(
        async {
            let summary = workload.await;
            nemesis_done.store(true, Ordering::Relaxed);
            summary
        },
        playing
    );
    progress.abort();
    if args.progress {
        eprint!("\r\x1b[2K");
    }

    // Final reads, after the heal and the quiet period: what each counter
    // holds, read by a process of its own.
    for (i, c) in summary.counters.iter().enumerate() {
        let p = 1_000_000 + i as u64;
        recorder.invoke(p, "final-read", Some(&c.key), Value::Null);
        recorder.complete(p, checker::OpType::Ok, "final-read", Some(&c.key), json!(resource.read(&c.key)), None, None);
    }
    let recorded = recorder.finish().map_err(|e| format!("writing {}: {e}", history_path.display()))?;
    ctrl_c.abort();
    let mut cluster_events = Vec::new();
    if let Some(started) = started {
        for node in started.cluster.nodes() {
            let log = node.logs().await.unwrap_or_else(|e| format!("(logs unavailable: {e})"));
            for e in system.log_events(&log) {
                // Lines from before the history began (cluster start-up) are
                // not about the run.
                if let Some(ms) = e.unix_ms.checked_sub(history_epoch_ms) {
                    cluster_events.push(ClusterEvent {
                        node: node.name().to_string(),
                        time: ms * 1_000_000,
                        text: e.text,
                    });
                }
            }
            let _ = std::fs::write(dir.join("nodes").join(format!("{}.log", node.name())), log);
        }
        cluster_events.sort_by_key(|e| e.time);
        started.cluster.remove().await.map_err(|e| e.to_string())?;
    }

    let secs = summary.elapsed_ms as f64 / 1000.0;
    out!(
        "{} events recorded in {secs:.1} s ({:.0} completions/s): {} ok, {} fail, {} info; {} processes{}",
        recorded.ops,
        (summary.ok + summary.fail + summary.info) as f64 / secs.max(0.001),
        summary.ok,
        summary.fail,
        summary.info,
        summary.processes,
        if stop.load(Ordering::Relaxed) { " (interrupted)" } else { "" }
    );
    if !steps.is_empty() {
        if let Ok(kinds) = &played {
            out!("  faults injected: {}; then all healed", injected_words(kinds, &args.nemesis));
        }
    }
    for c in &summary.counters {
        out!("  counter {}: final {} after {} accepted and {} rejected writes", c.key, c.value, c.accepted, c.rejected);
    }

    let text =
        std::fs::read_to_string(&history_path).map_err(|e| format!("reading {}: {e}", history_path.display()))?;
    let history =
        checker::formats::jsonl::read(&history_path.display().to_string(), &text).map_err(|e| e.to_string())?;
    let mut analyzed: Analyzed = analyze(&history, Duration::from_secs(60))?;
    explain_outages(&mut analyzed, &cluster_events);
    // A nemesis that could not inject or heal a fault leaves the run's
    // premise broken: say so, and do not call it valid.
    if let Err(e) = &played {
        analyzed.verdict = analyzed.verdict.combine(Validity::Unknown);
        out!("  nemesis failed: {e} (verdict at best unknown)");
    }
    let nemesis_error = played.as_ref().err();
    write_json(
        &dir.join("results.json"),
        &analyzed.to_json(json!({
            "run": run_id,
            "interrupted": stop.load(Ordering::Relaxed),
            "summary": summary,
            "nemesis_error": nemesis_error,
            "nemesis_interval_ms": interval.as_millis() as u64,
            "faults_planned": steps.len(),
            "cluster_events": cluster_events,
        })),
    )?;
    analyzed.print();
    store.index(&run_id).await?;
    out!("verdict: {}   (report: {}; browse with `fencepost serve`)", analyzed.verdict.as_str(), dir.display());
    Ok(RunOutcome { id: run_id, verdict: analyzed.verdict })
}

/// A node log line placed on the history's clock (ns since its start).
#[derive(Debug, Clone, serde::Serialize)]
struct ClusterEvent {
    node: String,
    time: u64,
    text: String,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Adds to each outage what the nodes' logs say happened in it (an etcd
/// member campaigning and refused, a ZooKeeper ensemble looking for a
/// leader): the system's own doing, told apart from the harness's.
fn explain_outages(analyzed: &mut Analyzed, events: &[ClusterEvent]) {
    const SHOWN: usize = 6;
    let Some(availability) = analyzed.checkers.iter_mut().find(|c| c.checker == "availability") else { return };
    let Some(outages) = availability.evidence.get_mut("outages").and_then(Value::as_array_mut) else { return };
    for outage in outages {
        let (Some(start), Some(end)) = (outage["start"].as_u64(), outage["end"].as_u64()) else { continue };
        // Log times have a second's resolution on some systems (etcd's raft).
        let during: Vec<&ClusterEvent> =
            events.iter().filter(|e| e.time + 1_000_000_000 >= start && e.time <= end).collect();
        if during.is_empty() {
            continue;
        }
        let mut words: Vec<String> = during
            .iter()
            .take(SHOWN)
            .map(|e| format!("{} {} at t={:.1} s", e.node, e.text, e.time as f64 / 1e9))
            .collect();
        if during.len() > SHOWN {
            words.push(format!("and {} more", during.len() - SHOWN));
        }
        let text = format!("{}; the nodes' logs: {}", outage["text"].as_str().unwrap_or(""), words.join(", "));
        outage["text"] = json!(text);
        outage["cluster_events"] = json!(during.iter().map(|e| json!(e)).collect::<Vec<_>>());
    }
}

/// The nemesis's schedule for a run, decided before anything starts.
struct FaultPlan {
    steps: Vec<nemesis::Step>,
    interval: Duration,
    /// What the user should know about how the plan differs from the ask.
    notes: Vec<String>,
}

impl FaultPlan {
    /// Faults fit between the start and the quiet period. Without
    /// `--nemesis-interval` the interval is a quarter of that room (at most
    /// 5 s), which leaves room for two faults of any kind but the longest
    /// client pauses; an interval given that leaves no room is shrunk, with
    /// a note; a plan that cannot fit even one fault is refused.
    fn new(args: &RunArgs, nodes: &[String]) -> Result<FaultPlan, String> {
        let time_limit = args.options.time_limit;
        let room = time_limit.saturating_sub(args.quiet);
        let auto = (room / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
        let mut interval = args.nemesis_interval.unwrap_or(auto);
        let plan =
            |interval| nemesis::schedule(&args.nemesis, nodes, args.options.seed, interval, room, &args.fault_options);
        let mut steps = plan(interval);
        let mut notes = Vec::new();
        if steps.is_empty() && !args.nemesis.is_empty() {
            // Faults were asked for: fit at least one rather than run without.
            let asked = interval;
            interval = (room / 3).max(Duration::from_millis(200));
            steps = plan(interval);
            if steps.is_empty() {
                return Err(format!(
                    "--nemesis: no fault fits in --time-limit {} less the quiet period {} (a client pause lasts {}); give the run more time",
                    show(time_limit),
                    show(args.quiet),
                    show(args.fault_options.client_pause)
                ));
            }
            notes.push(format!(
                "--nemesis-interval {} leaves no room for a fault before the quiet period; using {}",
                show(asked),
                show(interval)
            ));
        }
        let unplayed = nemesis::unplayed(&args.nemesis, &steps);
        if !steps.is_empty() && !unplayed.is_empty() {
            notes.push(format!(
                "no room for {} in this run (give it more --time-limit or a shorter --nemesis-interval)",
                fault_names(&unplayed)
            ));
        }
        Ok(FaultPlan { steps, interval, notes })
    }
}

/// A duration as a person writes it: `250ms`, `4s`, `2.5s`.
pub fn show(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", (d.as_millis() as f64 / 1000.0))
    }
}

/// "2 partitions, 1 kill (asked for partition,kill)".
fn injected_words(kinds: &[nemesis::FaultKind], asked: &[nemesis::FaultKind]) -> String {
    if kinds.is_empty() {
        return format!("none (asked for {})", fault_names(asked));
    }
    let mut counts: Vec<(nemesis::FaultKind, usize)> = Vec::new();
    for k in kinds {
        match counts.iter_mut().find(|(c, _)| c == k) {
            Some((_, n)) => *n += 1,
            None => counts.push((*k, 1)),
        }
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{n} {}", if *n == 1 { k.name().to_string() } else { plural(k.name()) }))
        .collect();
    format!("{} (asked for {})", parts.join(", "), fault_names(asked))
}

fn plural(name: &str) -> String {
    match name {
        "loss" => "losses".into(),
        "client-pause" => "client pauses".into(),
        "partition-clients" => "client partitions".into(),
        "partition-leader" => "leader partitions".into(),
        "clock" => "clock faults".into(),
        "netem" => "netem faults".into(),
        other => format!("{other}s"),
    }
}

/// The members of an existing cluster, each checked to answer as `system`.
async fn external_nodes(
    system: &'static dyn workloads::System,
    endpoints: &[String],
) -> Result<Vec<docker::Node>, String> {
    let engine = Engine::offline().map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let (host, port) = endpoint
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| format!("--endpoints: `{endpoint}` is not host:port"))?;
        let node = docker::Node::external(&engine, &format!("n{}", i + 1), host, system.layout().client_port(), port);
        match tokio::time::timeout(Duration::from_secs(5), system.probe(&node)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(format!("--endpoints: {endpoint} does not answer as {}: {e}", system.layout().name))
            }
            Err(_) => return Err(format!("--endpoints: {endpoint} did not answer within 5 s")),
        }
        nodes.push(node);
    }
    out!("{} at {} (an existing cluster: no containers, no node faults)", system.layout().name, endpoints.join(", "));
    Ok(nodes)
}

/// Redraws one status line every 250 ms: elapsed, completions per second,
/// counts by outcome, active faults.
fn progress_line(
    on: bool,
    limit: Duration,
    recorder: Recorder,
    active: Arc<Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !on {
            return;
        }
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
            let c = recorder.counts();
            let done = c.ok + c.fail + c.info;
            let faults = active.lock().map(|a| a.join(",")).unwrap_or_default();
            bar.set_position(t0.elapsed().as_millis() as u64);
            bar.set_message(format!(
                "{:.0} ops/s  ok {}  fail {}  info {}  faults: {}",
                done as f64 / t0.elapsed().as_secs_f64().max(0.001),
                c.ok,
                c.fail,
                c.info,
                if faults.is_empty() { "none" } else { &faults }
            ));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

pub fn fault_names(kinds: &[nemesis::FaultKind]) -> String {
    if kinds.is_empty() {
        return "none".into();
    }
    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
}

pub fn workload_name(w: Workload) -> &'static str {
    match w {
        Workload::Lock => "lock",
        Workload::FencedCounter { enforce: true } => "fenced-counter",
        Workload::FencedCounter { enforce: false } => "fenced-counter-unfenced",
        Workload::Election => "election",
    }
}

pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
}
