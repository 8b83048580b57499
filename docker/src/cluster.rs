//! A cluster: one private network per run and one container per node.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{CreateContainerOptions, KillContainerOptions, LogsOptions, StopContainerOptions};
use futures_util::StreamExt;

use node::{Backend, ExecOutput, Node, NodeState};

use crate::engine::Engine;
use crate::error::{Context, Error, Result};
use crate::{labels, reap};

/// One node of a layout, as the system's module describes it.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// `n1`, `n2`, …: also the node's DNS name on the run network.
    pub name: String,
    /// Extra environment for the image's start script.
    pub env: Vec<(String, String)>,
    /// Container ports to publish on 127.0.0.1.
    pub ports: Vec<u16>,
}

/// What to start: an image and its nodes.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub system: String,
    /// The image tag, from [`crate::images::build`].
    pub image: String,
    pub nodes: Vec<NodeSpec>,
    /// Run an init as PID 1 (the image's entrypoint is not the server).
    pub init: bool,
}

impl ClusterSpec {
    /// `count` nodes named `n1..n{count}`, each publishing `ports`. Every
    /// start script gets `FP_NODE` (its name), `FP_ID` (1-based) and
    /// `FP_NODES` (all names, space-separated) to form a cluster from.
    pub fn uniform(system: &str, image: &str, count: usize, ports: &[u16]) -> ClusterSpec {
        let names: Vec<String> = (1..=count).map(|i| format!("n{i}")).collect();
        let all = names.join(" ");
        let nodes = names
            .iter()
            .enumerate()
            .map(|(i, name)| NodeSpec {
                name: name.clone(),
                env: vec![
                    ("FP_NODE".into(), name.clone()),
                    ("FP_ID".into(), (i + 1).to_string()),
                    ("FP_NODES".into(), all.clone()),
                ],
                ports: ports.to_vec(),
            })
            .collect();
        ClusterSpec { system: system.into(), image: image.into(), nodes, init: false }
    }
}

/// A started cluster. Dropping it removes its containers and network.
#[derive(Debug)]
pub struct Cluster {
    engine: Engine,
    run_id: String,
    network: String,
    nodes: Vec<Node>,
    removed: bool,
}

/// One node's container: the [`Backend`] behind a [`Node`] of a cluster.
#[derive(Debug)]
pub struct Container {
    engine: Engine,
    name: String,
    container: String,
    network: String,
}

impl Cluster {
    /// Creates the network and the nodes and starts them. It does not wait
    /// for the service: readiness is the system's business (a real request).
    ///
    /// Leftovers of dead runs are removed first, so a crashed run costs at
    /// most one start's worth of containers.
    pub async fn start(engine: &Engine, run_id: &str, spec: &ClusterSpec) -> Result<Cluster> {
        // Another run may be reaping the same orphans at this moment (runs
        // side by side, as CI's lanes start them): what it is removing is
        // not this run's failure, and a later reap (or `cleanup`, which
        // says what it could not remove) finds what is left.
        let _ = reap::reap_leftovers(engine).await;
        let network = format!("fencepost-{run_id}");
        let mut run_labels = HashMap::new();
        run_labels.insert(labels::RUN.to_string(), run_id.to_string());
        run_labels.insert(labels::OWNER.to_string(), reap::owner_label());
        engine
            .docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("bridge".into()),
                labels: Some(run_labels.clone()),
                ..Default::default()
            })
            .await
            .context(|| format!("creating network {network}"))?;
        // From here on, Drop cleans up whatever was made if a later step fails.
        let mut cluster = Cluster {
            engine: engine.clone(),
            run_id: run_id.into(),
            network: network.clone(),
            nodes: Vec::new(),
            removed: false,
        };
        for node in &spec.nodes {
            let created = create_node(engine, run_id, &network, &run_labels, spec, node).await?;
            cluster.nodes.push(created);
        }
        for node in &cluster.nodes {
            node.start().await.map_err(|e| Error::with(format!("starting {}", node.name()), e))?;
        }
        Ok(cluster)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn network(&self) -> &str {
        &self.network
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name() == name)
    }

    /// Removes the containers and the network now, reporting failures (Drop
    /// does the same but can only ignore them).
    pub async fn remove(mut self) -> Result<()> {
        self.removed = true;
        reap::remove_run(&self.engine, &self.run_id).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        // Drop cannot await, and blocking inside the caller's runtime would
        // stall it; a short-lived thread with its own runtime and its own
        // engine connection does the removal and we wait for it.
        let run_id = self.run_id.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(async {
                    let engine = Engine::connect().await?;
                    reap::remove_run(&engine, &run_id).await
                });
            }
        })
        .join();
    }
}

async fn create_node(
    engine: &Engine,
    run_id: &str,
    network: &str,
    run_labels: &HashMap<String, String>,
    spec: &ClusterSpec,
    node: &NodeSpec,
) -> Result<Node> {
    let container = format!("fencepost-{run_id}-{}", node.name);
    let mut ports = BTreeMap::new();
    let mut bindings = HashMap::new();
    for &port in &node.ports {
        // A fixed host port (not an engine-chosen one) survives restarts, so
        // clients keep their address across kill/start. Finding a free one
        // and releasing it leaves a small race with other fencepost runs,
        // which we accept; see `free_port` for the race we do not.
        let host_port = free_port().context(|| format!("finding a free port for {}:{port}", node.name))?;
        ports.insert(port, host_port);
        bindings.insert(
            format!("{port}/tcp"),
            Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(host_port.to_string()) }]),
        );
    }
    let mut node_labels = run_labels.clone();
    node_labels.insert(labels::NODE.into(), node.name.clone());
    node_labels.insert(labels::SYSTEM.into(), spec.system.clone());
    let mut endpoints = HashMap::new();
    endpoints
        .insert(network.to_string(), EndpointSettings { aliases: Some(vec![node.name.clone()]), ..Default::default() });
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        hostname: Some(node.name.clone()),
        env: Some(node.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(node_labels),
        exposed_ports: Some(node.ports.iter().map(|p| format!("{p}/tcp")).collect()),
        host_config: Some(HostConfig {
            network_mode: Some(network.to_string()),
            port_bindings: Some(bindings),
            // iptables and tc inside the node, for the nemesis.
            cap_add: Some(vec!["NET_ADMIN".into()]),
            // A tiny init as PID 1 reaps what the image's own processes
            // leave (an SSH host's daemonised server killed with -9).
            init: spec.init.then_some(true),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig { endpoints_config: Some(endpoints) }),
        ..Default::default()
    };
    engine
        .docker
        .create_container(Some(CreateContainerOptions { name: Some(container.clone()), ..Default::default() }), body)
        .await
        .context(|| format!("creating container {container} from {}", spec.image))?;
    let backend =
        Container { engine: engine.clone(), name: node.name.clone(), container, network: network.to_string() };
    Ok(Node::new(&node.name, "127.0.0.1", ports, Arc::new(backend)))
}

/// A port free on 127.0.0.1 now, below the kernel's ephemeral range. A port
/// the kernel hands out for `:0` comes from that range, which is also where
/// every outgoing connection takes its local port: with the clients opening
/// thousands of connections, one took a node's port between our check and
/// Docker's bind (or while a killed node was down), and the node failed to
/// start with "port is already allocated".
fn free_port() -> std::io::Result<u16> {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = 10_000u16.min(ephemeral_low / 2);
    let span = u64::from(ephemeral_low.saturating_sub(low)).max(1);
    // One cursor per process, from a random start: this process never hands
    // out a port twice (until it has gone round), and concurrent runs
    // rarely try the same ports.
    static CURSOR: OnceLock<AtomicU64> = OnceLock::new();
    let cursor = CURSOR.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        AtomicU64::new(hasher.finish())
    });
    for _ in 0..span.min(2_000) {
        let port = low + (cursor.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    // Everything tried is taken: fall back to the kernel's choice.
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

impl Container {
    /// The container's name in the engine.
    pub fn container(&self) -> &str {
        &self.container
    }

    async fn inspect(&self) -> Result<bollard::models::ContainerInspectResponse, bollard::errors::Error> {
        self.engine.docker.inspect_container(&self.container, None).await
    }

    fn failed(&self, doing: &str) -> impl FnOnce(bollard::errors::Error) -> node::Error + '_ {
        let doing = doing.to_string();
        move |e| node::Error::failed(&self.name, doing, e)
    }
}

#[node::async_trait]
impl Backend for Container {
    fn kind(&self) -> &'static str {
        "docker"
    }

    /// Runs `argv` in the container (no shell: arguments reach the program
    /// as given).
    async fn exec(&self, argv: &[&str], timeout: Duration) -> node::Result<ExecOutput> {
        let doing = format!("running {argv:?}");
        let run = async {
            let exec = self
                .engine
                .docker
                .create_exec(
                    &self.container,
                    bollard::exec::CreateExecOptions {
                        cmd: Some(argv.iter().map(|s| s.to_string()).collect()),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .map_err(self.failed(&doing))?;
            let mut out = ExecOutput { code: -1, stdout: String::new(), stderr: String::new() };
            if let bollard::exec::StartExecResults::Attached { mut output, .. } =
                self.engine.docker.start_exec(&exec.id, None).await.map_err(self.failed(&doing))?
            {
                while let Some(chunk) = output.next().await {
                    match chunk.map_err(self.failed(&doing))? {
                        bollard::container::LogOutput::StdErr { message } => {
                            out.stderr.push_str(&String::from_utf8_lossy(&message))
                        }
                        other => out.stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
                    }
                }
            }
            let inspected = self.engine.docker.inspect_exec(&exec.id).await.map_err(self.failed(&doing))?;
            out.code = inspected.exit_code.unwrap_or(-1);
            Ok(out)
        };
        tokio::time::timeout(timeout, run).await.map_err(|_| node::Error::Timeout {
            node: self.name.clone(),
            doing: doing.clone(),
            after: timeout,
        })?
    }

    async fn state(&self) -> node::Result<NodeState> {
        let state = self.inspect().await.map_err(self.failed("inspecting its container"))?.state.unwrap_or_default();
        Ok(if state.paused == Some(true) {
            NodeState::Paused
        } else if state.running == Some(true) {
            NodeState::Running
        } else {
            NodeState::Stopped
        })
    }

    /// kill -9 of the server: the container's main process is the server.
    async fn kill(&self) -> node::Result<()> {
        self.engine
            .docker
            .kill_container(&self.container, Some(KillContainerOptions { signal: "SIGKILL".into() }))
            .await
            .map_err(self.failed("killing it"))
    }

    async fn stop(&self, grace: Duration) -> node::Result<()> {
        self.engine
            .docker
            .stop_container(
                &self.container,
                Some(StopContainerOptions { t: Some(grace.as_secs() as i32), ..Default::default() }),
            )
            .await
            .map_err(self.failed("stopping it"))
    }

    async fn start(&self) -> node::Result<()> {
        match self.engine.docker.start_container(&self.container, None).await {
            Ok(()) => Ok(()),
            // 304: already running.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(node::Error::failed(&self.name, "starting it", e)),
        }
    }

    /// Freezes every process of the container (cgroup freezer), like SIGSTOP.
    async fn pause(&self) -> node::Result<()> {
        // The cgroup freezer can fail to freeze a task caught mid-syscall
        // ("OCI runtime pause failed: unable to freeze"); it is asked again
        // a few times before the fault is called failed.
        let mut tries = 0;
        loop {
            match self.engine.docker.pause_container(&self.container).await {
                Ok(()) => return Ok(()),
                Err(_) if tries < 3 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(self.failed("pausing it")(e)),
            }
        }
    }

    async fn unpause(&self) -> node::Result<()> {
        self.engine.docker.unpause_container(&self.container).await.map_err(self.failed("resuming it"))
    }

    /// Everything the server wrote to stdout and stderr, since its first start.
    async fn logs(&self) -> node::Result<String> {
        let mut stream = self.engine.docker.logs(
            &self.container,
            Some(LogsOptions { stdout: true, stderr: true, tail: "all".into(), ..Default::default() }),
        );
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(self.failed("reading its logs"))?;
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok(text)
    }

    /// The node's address on the run network (changes across restarts).
    async fn ip(&self) -> node::Result<String> {
        let info = self.inspect().await.map_err(self.failed("inspecting its container"))?;
        info.network_settings
            .and_then(|s| s.networks)
            .and_then(|mut n| n.remove(&self.network))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| {
                node::Error::refused(
                    &self.name,
                    "finding its address",
                    format!("none on {} (is it running?)", self.network),
                )
            })
    }

    /// Clients reach a container through the port Docker publishes on
    /// 127.0.0.1; inside, their packets come from the network's gateway.
    async fn client_source(&self) -> node::Result<String> {
        let info = self.inspect().await.map_err(self.failed("inspecting its container"))?;
        info.network_settings
            .and_then(|s| s.networks)
            .and_then(|mut n| n.remove(&self.network))
            .and_then(|e| e.gateway)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| {
                node::Error::refused(
                    &self.name,
                    "finding its gateway",
                    format!("none on {} (is it running?)", self.network),
                )
            })
    }

    fn tools(&self) -> &str {
        "/fencepost"
    }

    async fn device(&self) -> node::Result<String> {
        Ok("eth0".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ports_are_free_distinct_and_below_the_ephemeral_range() {
        let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .map_or(32768, |r| r.split_whitespace().next().unwrap().parse().unwrap());
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for p in ports {
            assert!(p < low, "{p} is in the ephemeral range from {low}");
            TcpListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap();
        }
    }
}
