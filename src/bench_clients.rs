//! `fencepost bench-clients`: how many lock operations each system sustains
//! with N clients and no faults, and what recording the history costs.
//!
//! For each system it runs the `lock` workload twice on one cluster, first
//! recording to a real `history.jsonl`, then with a recorder that keeps
//! nothing (`harness::bench::clients`), and reports completions per second
//! and their ratio. By default every client has its own key and holds for
//! no time, so the figure is the system's acquire/release throughput rather
//! than the workload's pacing.

use std::time::Duration;

use docker::Engine;
use workloads::Summary;

pub async fn bench_clients(
    systems: &[String],
    concurrency: usize,
    keys: usize,
    hold: Duration,
    time_limit: Duration,
) -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
    let names: Vec<String> = if systems.is_empty() {
        workloads::systems::names().into_iter().map(String::from).collect()
    } else {
        systems.to_vec()
    };
    out!(
        "lock workload, {concurrency} clients, {keys} keys, hold {} ms, {:.0} s per run, no faults",
        hold.as_millis(),
        time_limit.as_secs_f64()
    );
    out!("{:<27} {:>14} {:>14} {:>10} {:>8}", "system", "recorded op/s", "unrecorded", "overhead", "ok/s");
    for name in names {
        let system = workloads::systems::lookup(&name)?;
        let measured = harness::bench::clients(&engine, system, concurrency, keys, hold, time_limit).await?;
        let (recorded, unrecorded) = (&measured.recorded, &measured.unrecorded);
        let rate = |s: &Summary| (s.ok + s.fail + s.info) as f64 / (s.elapsed_ms as f64 / 1000.0);
        let (with, without) = (rate(recorded), rate(unrecorded));
        out!(
            "{:<27} {:>14.0} {:>14.0} {:>9.1}% {:>8.0}",
            name,
            with,
            without,
            (without / with - 1.0) * 100.0,
            recorded.ok as f64 / (recorded.elapsed_ms as f64 / 1000.0)
        );
    }
    Ok(())
}
