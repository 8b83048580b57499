//! `fencepost run`: a real test end to end, as far as it goes today —
//! images → cluster → workload (recorded to `store/<run-id>/history.jsonl`)
//! → node logs → lock checks → summary. Faults and the richer checkers come
//! with the nemesis and checker issues.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use checker::check::{check, CheckOptions};
use checker::models::ModelSpec;
use checker::Verdict;
use docker::Engine;
use serde_json::json;
use workloads::{FencedResource, Recorder, RunOptions, Workload};

pub struct RunArgs {
    pub system: String,
    pub workload: Workload,
    pub options: RunOptions,
    pub store: PathBuf,
    /// Fault kinds to mix (empty: no faults).
    pub nemesis: Vec<nemesis::FaultKind>,
    /// Time between faults, and how long each lasts.
    pub nemesis_interval: Duration,
    /// Fault-free time at the end, after the final heal.
    pub quiet: Duration,
    pub fault_options: nemesis::FaultOptions,
}

/// Runs the test; returns the overall verdict.
pub async fn run_command(args: RunArgs) -> Result<Verdict, String> {
    let Some(system) = workloads::by_name(&args.system) else {
        let known: Vec<&str> = workloads::REGISTRY.iter().map(|s| s.name()).collect();
        return Err(format!("unknown system `{}` (known: {})", args.system, known.join(", ")));
    };
    let engine = Engine::connect().await.map_err(|e| e.to_string())?;
    let run_id = docker::new_run_id();
    let dir = args.store.join(&run_id);
    std::fs::create_dir_all(dir.join("nodes")).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let ctrl_c = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("\ninterrupted: finishing the cycles in flight, then checking what was recorded");
            stop.store(true, Ordering::Relaxed);
        })
    };

    let started = workloads::start_cluster(&engine, system, &run_id, Duration::from_secs(120))
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{} ({}) ready in {:.2} s; run {run_id}",
        system.name(),
        system.describe(),
        started.ready_after.as_secs_f64()
    );
    let mut options = args.options;
    options.workload = args.workload;
    if matches!(args.workload, Workload::FencedCounter { .. }) {
        options.client.fenced = true;
    }
    write_json(
        &dir.join("test.json"),
        &json!({
            "run": run_id,
            "system": system.name(),
            "workload": workload_name(args.workload),
            "image": started.image.tag,
            "nodes": started.cluster.nodes().iter().map(|n| n.name()).collect::<Vec<_>>(),
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
            "nemesis_interval_ms": args.nemesis_interval.as_millis() as u64,
            "quiet_ms": args.quiet.as_millis() as u64,
            "fault_options": format!("{:?}", args.fault_options),
        }),
    )?;

    let history_path = dir.join("history.jsonl");
    let recorder = Recorder::create(&history_path).map_err(|e| format!("creating {}: {e}", history_path.display()))?;
    let enforce = matches!(args.workload, Workload::FencedCounter { enforce: true });
    let resource = Arc::new(FencedResource::new(enforce));
    let faults = {
        let recorder = recorder.clone();
        let report: nemesis::Report = Arc::new(move |f, value| recorder.nemesis(f, value));
        nemesis::Nemesis::new(started.cluster.nodes().to_vec(), system.client_port(), report)
            .with_stall(options.stall.clone())
    };
    // Refuse faults this cluster cannot take before any work is done.
    if let Err(e) = faults.check(&args.nemesis).await {
        drop(recorder);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!("--nemesis {e}"));
    }
    let steps = nemesis::schedule(
        &args.nemesis,
        &faults.node_names(),
        options.seed,
        args.nemesis_interval,
        options.time_limit.saturating_sub(args.quiet),
        &args.fault_options,
    );
    let nemesis_done = Arc::new(AtomicBool::new(false));
    let t0 = std::time::Instant::now();
    let workload = workloads::run(
        system,
        started.cluster.nodes().to_vec(),
        options.clone(),
        recorder.clone(),
        resource,
        stop.clone(),
    );
    let playing = async {
        if steps.is_empty() {
            return Ok(0);
        }
        faults.play(&steps, t0, &nemesis_done).await
    };
    // The nemesis stops (and heals everything) when the workload ends.
    let (summary, played) = tokio::join!(
        async {
            let summary = workload.await;
            nemesis_done.store(true, Ordering::Relaxed);
            summary
        },
        playing
    );

    let recorded = recorder.finish().map_err(|e| format!("writing {}: {e}", history_path.display()))?;
    ctrl_c.abort();
    for node in started.cluster.nodes() {
        let log = node.logs().await.unwrap_or_else(|e| format!("(logs unavailable: {e})"));
        let _ = std::fs::write(dir.join("nodes").join(format!("{}.log", node.name())), log);
    }
    started.cluster.remove().await.map_err(|e| e.to_string())?;

    let secs = summary.elapsed_ms as f64 / 1000.0;
    println!(
        "{} ops recorded in {secs:.1} s ({:.0} completions/s): {} ok, {} fail, {} info; {} processes",
        recorded.ops,
        (summary.ok + summary.fail + summary.info) as f64 / secs.max(0.001),
        summary.ok,
        summary.fail,
        summary.info,
        summary.processes
    );
    if !steps.is_empty() {
        if let Ok(n) = &played {
            println!("  faults injected: {n} (from {}), then all healed", fault_names(&args.nemesis));
        }
    }
    for c in &summary.counters {
        println!(
            "  counter {}: final {} after {} accepted and {} rejected writes",
            c.key, c.value, c.accepted, c.rejected
        );
    }

    let text =
        std::fs::read_to_string(&history_path).map_err(|e| format!("reading {}: {e}", history_path.display()))?;
    let history =
        checker::formats::jsonl::read(&history_path.display().to_string(), &text).map_err(|e| e.to_string())?;
    let locks = history.only(&["acquire", "release", "renew"]);
    let opts = CheckOptions { timeout: Some(Duration::from_secs(60)), ..Default::default() };
    let mut verdicts = Vec::new();
    let mut overall = Verdict::Linearizable;
    let tokens = summary.ok > 0 && system_gives_tokens(&history);
    let models: &[ModelSpec] = match args.workload {
        // The election checker is not written yet: the history is recorded
        // and stored, and the verdict stays unknown rather than guessed.
        Workload::Election => {
            println!("  election: no checker yet (history stored for `fencepost check` and later analysis)");
            overall = Verdict::Unknown;
            &[]
        }
        _ if tokens => &[ModelSpec::Mutex, ModelSpec::FencedMutex],
        _ => &[ModelSpec::Mutex],
    };
    for model in models {
        let result = check(&locks, model, &opts).map_err(|e| e.to_string())?;
        println!("  linearizable ({}): {}", result.model, result.verdict.as_str());
        overall = overall.combine(result.verdict);
        verdicts.push(json!({ "checker": "linearizable", "model": result.model, "result": result }));
    }
    // A nemesis that could not inject or heal a fault leaves the run's
    // premise broken: say so, and do not call it valid.
    if let Err(e) = &played {
        overall = overall.combine(Verdict::Unknown);
        println!("  nemesis failed: {e} (verdict at best unknown)");
    }
    let nemesis_error = played.as_ref().err();
    write_json(
        &dir.join("results.json"),
        &json!({ "verdict": overall, "summary": summary, "checkers": verdicts, "nemesis_error": nemesis_error }),
    )?;
    println!("verdict: {}   ({})", overall.as_str(), dir.display());
    Ok(overall)
}

/// True when every `ok` acquire carries a token.
fn system_gives_tokens(history: &checker::History) -> bool {
    history
        .ops
        .iter()
        .filter(|op| op.f == "acquire" && op.kind == checker::OpType::Ok)
        .all(|op| op.value.get("token").is_some_and(|t| t.is_i64()))
}

fn fault_names(kinds: &[nemesis::FaultKind]) -> String {
    if kinds.is_empty() {
        return "none".into();
    }
    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
}

fn workload_name(w: Workload) -> &'static str {
    match w {
        Workload::Lock => "lock",
        Workload::FencedCounter { enforce: true } => "fenced-counter",
        Workload::FencedCounter { enforce: false } => "fenced-counter (fencing off)",
        Workload::Election => "election",
    }
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
}
