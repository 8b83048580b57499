//! Starting a system's cluster and waiting until it really serves.

use std::time::{Duration, Instant};

use docker::{images, Cluster, ClusterSpec, Engine};

use crate::systems::System;

/// A cluster that answered a real request on every member.
pub struct Started {
    pub cluster: Cluster,
    /// The image build (or the lookup that found it built).
    pub image: images::Built,
    /// From creating the network to the last member answering.
    pub ready_after: Duration,
}

/// Builds the system's image if needed, starts its layout under `run_id` and
/// waits (up to `timeout`) until every member answers its probe.
pub async fn start_cluster(
    engine: &Engine,
    system: &dyn System,
    run_id: &str,
    timeout: Duration,
) -> Result<Started, docker::Error> {
    let layout = system.layout();
    let image = images::build(engine, layout.image, false).await?;
    let mut spec = ClusterSpec::uniform(layout.name, &image.tag, layout.nodes, layout.ports);
    for node in &mut spec.nodes {
        node.env.extend(layout.node_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    let started = Instant::now();
    let cluster = Cluster::start(engine, run_id, &spec).await?;
    wait_ready(system, &cluster, timeout).await?;
    Ok(Started { cluster, image, ready_after: started.elapsed() })
}

/// [`wait_serving`] on a cluster of containers.
pub async fn wait_ready(system: &dyn System, cluster: &Cluster, timeout: Duration) -> Result<(), docker::Error> {
    wait_serving(system, cluster.nodes(), timeout).await.map_err(docker::Error::new)
}

/// Polls every member's probe until all pass in one round, or fails after
/// `timeout` naming each member that did not answer, with its last error and
/// the tail of its log. Any backend: containers or SSH hosts.
pub async fn wait_serving(system: &dyn System, nodes: &[node::Node], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut ready = vec![false; nodes.len()];
    let mut last_error = vec![String::new(); nodes.len()];
    loop {
        for (i, node) in nodes.iter().enumerate() {
            if ready[i] {
                continue;
            }
            match tokio::time::timeout(Duration::from_secs(5), system.probe(node)).await {
                Ok(Ok(())) => ready[i] = true,
                Ok(Err(e)) => last_error[i] = e.to_string(),
                Err(_) => last_error[i] = "probe timed out after 5 s".into(),
            }
        }
        if ready.iter().all(|&r| r) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut report = format!("{} cluster not ready after {timeout:?}:", system.layout().name);
            for (i, node) in nodes.iter().enumerate().filter(|(i, _)| !ready[*i]) {
                let log = node.logs().await.unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(8).collect();
                report.push_str(&format!("\n  {}: {}\n    log tail:", node.name(), last_error[i]));
                for line in tail.into_iter().rev() {
                    report.push_str(&format!("\n      {line}"));
                }
            }
            return Err(report);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
