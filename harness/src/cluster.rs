//! Starting a system's cluster in containers and waiting until it really
//! serves: the container backend of a run (`execute`), `fencepost up` and
//! `bench-clients`. What "serving" means is the system's own probe
//! ([`workloads::wait_serving`]), which any backend shares.

use std::time::{Duration, Instant};

use docker::{images, Cluster, ClusterSpec, Engine};
use workloads::System;

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

/// [`workloads::wait_serving`] on a cluster of containers.
pub async fn wait_ready(system: &dyn System, cluster: &Cluster, timeout: Duration) -> Result<(), docker::Error> {
    workloads::wait_serving(system, cluster.nodes(), timeout).await.map_err(docker::Error::new)
}
