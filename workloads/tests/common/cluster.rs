//! A system's cluster in containers for these tests. The harness starts
//! clusters (`harness::cluster`), but this crate's tests cannot use it: the
//! harness links its own copy of `workloads`, whose `System` is another type.

use std::time::Duration;

use docker::{images, Cluster, ClusterSpec, Engine};
use workloads::System;

pub struct Started {
    pub cluster: Cluster,
}

/// The image, the layout under `run_id`, and every member answering its probe.
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
    let cluster = Cluster::start(engine, run_id, &spec).await?;
    workloads::wait_serving(system, cluster.nodes(), timeout).await.map_err(docker::Error::new)?;
    Ok(Started { cluster })
}
