//! etcd: three members forming one Raft cluster.

use std::time::Duration;

use docker::Node;
use etcd_client::{Client, ConnectOptions};

use super::{client_address, BoxFuture, System};

pub const PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;

pub struct Etcd;

/// A client that talks to exactly the given members (no endpoint discovery:
/// the members advertise names that only resolve on the run network).
pub async fn connect(nodes: &[&Node], timeout: Duration) -> Result<Client, String> {
    let endpoints =
        nodes.iter().map(|n| client_address(n, PORT).map(|a| format!("http://{a}"))).collect::<Result<Vec<_>, _>>()?;
    let options = ConnectOptions::new().with_connect_timeout(timeout).with_timeout(timeout);
    Client::connect(endpoints, Some(options)).await.map_err(|e| e.to_string())
}

impl System for Etcd {
    fn name(&self) -> &'static str {
        "etcd"
    }
    fn image(&self) -> &'static str {
        "etcd"
    }
    fn nodes(&self) -> usize {
        3
    }
    fn ports(&self) -> &'static [u16] {
        &[PORT]
    }
    fn describe(&self) -> &'static str {
        "three etcd members, one Raft cluster"
    }
    /// What `etcdctl endpoint health` does: a linearizable read through this
    /// member, which only succeeds once the cluster has a leader and quorum.
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut client = connect(&[node], Duration::from_secs(2)).await?;
            client.get("health", None).await.map_err(|e| e.to_string())?;
            Ok(())
        })
    }
}
