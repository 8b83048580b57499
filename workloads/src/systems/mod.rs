//! One module per system under test. Each says how its cluster is laid out
//! (image, node count, ports) and how to tell a member is ready, with a real
//! request through the same Rust client its lock and election recipes use.

use std::future::Future;
use std::pin::Pin;

use docker::Node;

use crate::client::{ClientOptions, ElectionClient, LockClient};

pub mod etcd;
pub mod mysql;
pub mod postgres;
pub mod redis;
pub mod redlock;
pub mod zookeeper;

/// A boxed future, so that [`System`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait System: Send + Sync {
    /// The name users type: `fencepost up redis`.
    fn name(&self) -> &'static str;
    /// The folder under `docker/images/` its nodes run.
    fn image(&self) -> &'static str;
    /// How many nodes the layout has.
    fn nodes(&self) -> usize;
    /// Container ports published on 127.0.0.1; the first is the client port.
    fn ports(&self) -> &'static [u16];
    /// One line on how the nodes relate (for `fencepost up` and reports).
    fn describe(&self) -> &'static str;
    /// One real request to this member; `Err` carries what went wrong.
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), String>>;

    /// A lock client for `process`, connected to the node(s) its recipe
    /// uses (clustered systems spread processes over members).
    fn lock_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn LockClient>, String>>;

    /// An election client for `process`; systems without an election recipe
    /// (Redlock) answer with an error.
    fn election_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn ElectionClient>, String>> {
        let _ = (nodes, process, options);
        let name = self.name();
        Box::pin(async move { Err(format!("{name} has no election recipe")) })
    }

    fn client_port(&self) -> u16 {
        self.ports()[0]
    }

    /// Whether the system names one member as its leader (its image has a
    /// `/fencepost/role`), so that `partition-leader` can aim at it.
    fn names_leader(&self) -> bool {
        false
    }

    /// Why clock faults cannot move this system's server clock, if they
    /// cannot; known from the system alone, so a run refuses them up front.
    fn clock_refusal(&self) -> Option<&'static str> {
        None
    }

    /// What a node's own log says about leadership (elections started, won,
    /// lost), for explaining outages in the report as the system's doing.
    fn log_events(&self, log: &str) -> Vec<LogEvent> {
        let _ = log;
        Vec::new()
    }
}

/// One line of a node's log worth showing beside the history: when (Unix
/// milliseconds, as the node's clock said) and what, in words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogEvent {
    pub unix_ms: u64,
    pub text: String,
}

/// Every system fencepost knows. Adding one is adding a line here.
pub static REGISTRY: &[&dyn System] =
    &[&redis::Redis, &redlock::Redlock, &etcd::Etcd, &zookeeper::Zookeeper, &postgres::Postgres, &mysql::Mysql];

pub fn by_name(name: &str) -> Option<&'static dyn System> {
    REGISTRY.iter().copied().find(|s| s.name() == name)
}

/// The node's client address, or an error naming the missing port.
pub(crate) fn client_address(node: &Node, port: u16) -> Result<String, String> {
    node.address(port).ok_or_else(|| format!("{} publishes no port {port}", node.name()))
}
