//! `fencepost bench-clients`' measurement: how many lock operations a
//! system sustains with N clients and no faults, and what recording the
//! history costs. The caller prints.

use std::sync::Arc;
use std::time::Duration;

use docker::Engine;
use workloads::{FencedResource, Recorder, RunOptions, Summary, Workload};

use crate::{io, Error};

/// One system's two runs of the `lock` workload on one cluster.
pub struct Throughput {
    /// Recording to a real `history.jsonl`.
    pub recorded: Summary,
    /// With a recorder that keeps nothing.
    pub unrecorded: Summary,
}

/// Starts `system`'s cluster, runs the `lock` workload on it twice
/// (recorded, then not), and removes it.
pub async fn clients(
    engine: &Engine,
    system: &'static dyn workloads::System,
    concurrency: usize,
    keys: usize,
    hold: Duration,
    time_limit: Duration,
) -> Result<Throughput, Error> {
    let run_id = docker::new_run_id();
    let started = crate::start_cluster(engine, system, &run_id, Duration::from_secs(120)).await?;
    let options = RunOptions {
        workload: Workload::Lock,
        concurrency,
        keys,
        hold: (hold, hold),
        time_limit,
        ..Default::default()
    };
    let dir = std::env::temp_dir().join(format!("fencepost-bench-{run_id}"));
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let history = dir.join("history.jsonl");
    let recorder = Recorder::create(&history).map_err(io("creating", &history))?;
    let nodes = started.cluster.nodes().to_vec();
    let recorded = once(system, &nodes, &options, recorder.clone()).await;
    recorder.finish().map_err(io("writing", &history))?;
    let unrecorded = once(system, &nodes, &options, Recorder::discard()).await;
    let _ = std::fs::remove_dir_all(&dir);
    started.cluster.remove().await?;
    Ok(Throughput { recorded, unrecorded })
}

async fn once(
    system: &'static dyn workloads::System,
    nodes: &[node::Node],
    options: &RunOptions,
    recorder: Recorder,
) -> Summary {
    let resource = Arc::new(FencedResource::new(true));
    workloads::run(system, nodes.to_vec(), options.clone(), recorder, resource, workloads::CancellationToken::new())
        .await
}
