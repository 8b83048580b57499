//! The node room: one interface for what fencepost does to a server, so
//! the nemesis, the workloads and the checks never know what runs it.
//!
//! A [`Node`] is a cheap, cloneable handle: its name (`n1`…), where clients
//! reach its ports, and a [`Backend`] that does the work. Backends live
//! with what they drive: containers in the `docker` crate, SSH hosts in the
//! `ssh` crate, and [`Unmanaged`] here for a cluster fencepost may only
//! talk to (`run --endpoints`). Jepsen splits the same way: its `db` and
//! `control` namespaces reach nodes over SSH, and the nemesis only asks.
//!
//! Everything a backend runs on a node goes through [`Backend::exec`] as an
//! argv (no shell splicing); scripts that need a shell take their inputs as
//! arguments.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use async_trait::async_trait;

/// What went wrong doing something to a node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend failed (the engine, the SSH connection, a command).
    #[error("{doing} on {node}: {source}")]
    Failed {
        node: String,
        doing: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend answered, but not what was needed.
    #[error("{doing} on {node}: {why}")]
    Refused { node: String, doing: String, why: String },
    #[error("{doing} on {node} timed out after {after:?}")]
    Timeout { node: String, doing: String, after: Duration },
}

impl Error {
    pub fn failed(
        node: &str,
        doing: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Failed { node: node.to_string(), doing: doing.into(), source: Box::new(source) }
    }

    pub fn refused(node: &str, doing: impl Into<String>, why: impl Into<String>) -> Error {
        Error::Refused { node: node.to_string(), doing: doing.into(), why: why.into() }
    }

    /// The node the error is about.
    pub fn node(&self) -> &str {
        match self {
            Error::Failed { node, .. } | Error::Refused { node, .. } | Error::Timeout { node, .. } => node,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The result of running a command on a node.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

/// The server's state as the backend sees it: a container's, or the server
/// process's on a host (SIGSTOPped is `Paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Running,
    Paused,
    Stopped,
}

/// What runs a node's server. Every method names the node in its errors.
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug {
    /// `docker`, `ssh`, `unmanaged`: for messages and the run's record.
    fn kind(&self) -> &'static str;
    /// Runs `argv` on the node (as root: a backend that needs sudo adds
    /// it) and returns its exit code and output; fails after `timeout`.
    async fn exec(&self, argv: &[&str], timeout: Duration) -> Result<ExecOutput>;
    async fn state(&self) -> Result<NodeState>;
    /// kill -9 of the server.
    async fn kill(&self) -> Result<()>;
    /// A clean stop: SIGTERM, then SIGKILL after `grace`.
    async fn stop(&self, grace: Duration) -> Result<()>;
    /// Starts a stopped (or killed) server; a running one is left alone.
    async fn start(&self) -> Result<()>;
    /// Freezes the server (SIGSTOP or the cgroup freezer).
    async fn pause(&self) -> Result<()>;
    async fn unpause(&self) -> Result<()>;
    /// Everything the server logged since fencepost first saw it.
    async fn logs(&self) -> Result<String>;
    /// The address the other nodes reach this one at: what a partition cuts.
    async fn ip(&self) -> Result<String>;
    /// The address the harness's own connections (clients, probes) arrive
    /// from, as the node sees them: what a client partition cuts.
    async fn client_source(&self) -> Result<String>;
    /// A TCP port on the node that faults must never cut, because the
    /// backend itself arrives through it (sshd's); `None` for containers.
    fn control_port(&self) -> Option<u16> {
        None
    }
    /// The folder holding the system's node tools (`role`, `server-time`).
    fn tools(&self) -> &str;
    /// The network device that carries peer traffic, for netem.
    async fn device(&self) -> Result<String>;
}

/// A node's handle: cheap to clone, shared by clients and the nemesis.
#[derive(Debug, Clone)]
pub struct Node {
    name: String,
    /// Where clients reach it (127.0.0.1 for containers).
    host: String,
    /// Server port → the port clients dial on `host`.
    ports: BTreeMap<u16, u16>,
    backend: Arc<dyn Backend>,
}

impl Node {
    pub fn new(name: &str, host: &str, ports: BTreeMap<u16, u16>, backend: Arc<dyn Backend>) -> Node {
        Node { name: name.to_string(), host: host.to_string(), ports, backend }
    }

    /// A member of a cluster fencepost may only talk to (`run --endpoints`):
    /// clients reach its `server_port` at `host:port`; every operation on
    /// the node itself is refused.
    pub fn unmanaged(name: &str, host: &str, server_port: u16, port: u16) -> Node {
        Node::new(name, host, BTreeMap::from([(server_port, port)]), Arc::new(Unmanaged { name: name.to_string() }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// The port clients dial for `server_port`.
    pub fn host_port(&self, server_port: u16) -> Option<u16> {
        self.ports.get(&server_port).copied()
    }

    /// `host:port` where clients reach `server_port`.
    pub fn address(&self, server_port: u16) -> Option<String> {
        self.host_port(server_port).map(|p| format!("{}:{p}", self.host))
    }

    pub async fn exec(&self, argv: &[&str], timeout: Duration) -> Result<ExecOutput> {
        self.backend.exec(argv, timeout).await
    }

    pub async fn state(&self) -> Result<NodeState> {
        self.backend.state().await
    }

    pub async fn kill(&self) -> Result<()> {
        self.backend.kill().await
    }

    pub async fn stop(&self, grace: Duration) -> Result<()> {
        self.backend.stop(grace).await
    }

    pub async fn start(&self) -> Result<()> {
        self.backend.start().await
    }

    pub async fn pause(&self) -> Result<()> {
        self.backend.pause().await
    }

    pub async fn unpause(&self) -> Result<()> {
        self.backend.unpause().await
    }

    pub async fn logs(&self) -> Result<String> {
        self.backend.logs().await
    }

    pub async fn ip(&self) -> Result<String> {
        self.backend.ip().await
    }

    pub async fn client_source(&self) -> Result<String> {
        self.backend.client_source().await
    }

    pub fn control_port(&self) -> Option<u16> {
        self.backend.control_port()
    }

    /// The path of the system's node tool `name` (`role`, `server-time`).
    pub fn tool(&self, name: &str) -> String {
        format!("{}/{name}", self.backend.tools())
    }

    pub async fn device(&self) -> Result<String> {
        self.backend.device().await
    }
}

/// A node fencepost did not start and cannot reach except as a client.
#[derive(Debug)]
pub struct Unmanaged {
    name: String,
}

impl Unmanaged {
    fn refuse<T>(&self, doing: &str) -> Result<T> {
        Err(Error::refused(
            &self.name,
            doing,
            "this node is reached only as a client (--endpoints); give a node file (--nodes) to let fencepost act on it",
        ))
    }
}

#[async_trait]
impl Backend for Unmanaged {
    fn kind(&self) -> &'static str {
        "unmanaged"
    }
    async fn exec(&self, argv: &[&str], _: Duration) -> Result<ExecOutput> {
        self.refuse(&format!("running {argv:?}"))
    }
    async fn state(&self) -> Result<NodeState> {
        self.refuse("reading its state")
    }
    async fn kill(&self) -> Result<()> {
        self.refuse("killing it")
    }
    async fn stop(&self, _: Duration) -> Result<()> {
        self.refuse("stopping it")
    }
    async fn start(&self) -> Result<()> {
        self.refuse("starting it")
    }
    async fn pause(&self) -> Result<()> {
        self.refuse("pausing it")
    }
    async fn unpause(&self) -> Result<()> {
        self.refuse("resuming it")
    }
    async fn logs(&self) -> Result<String> {
        self.refuse("reading its logs")
    }
    async fn ip(&self) -> Result<String> {
        self.refuse("finding its address")
    }
    async fn client_source(&self) -> Result<String> {
        self.refuse("finding where clients come from")
    }
    fn tools(&self) -> &str {
        ""
    }
    async fn device(&self) -> Result<String> {
        self.refuse("finding its network device")
    }
}
