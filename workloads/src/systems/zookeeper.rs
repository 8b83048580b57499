//! ZooKeeper: three servers forming one ensemble.

use std::time::Duration;

use docker::Node;
use zookeeper_client::{Acls, Client, CreateMode};

use super::{client_address, BoxFuture, System};

pub const PORT: u16 = 2181;

pub struct Zookeeper;

/// A session through exactly this member.
pub async fn connect(node: &Node, session_timeout: Duration) -> Result<Client, String> {
    let address = client_address(node, PORT)?;
    Client::connector()
        .with_session_timeout(session_timeout)
        .with_connection_timeout(Duration::from_secs(2))
        .connect(&address)
        .await
        .map_err(|e| e.to_string())
}

impl System for Zookeeper {
    fn name(&self) -> &'static str {
        "zookeeper"
    }
    fn image(&self) -> &'static str {
        "zookeeper"
    }
    fn nodes(&self) -> usize {
        3
    }
    fn ports(&self) -> &'static [u16] {
        &[PORT]
    }
    fn describe(&self) -> &'static str {
        "three ZooKeeper servers, one ensemble"
    }
    /// A session through this member that creates (and deletes) an
    /// ephemeral node: a write, so it needs the ensemble's quorum.
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let client = connect(node, Duration::from_secs(4)).await?;
            let path = format!("/fencepost-ready-{}", node.name());
            let options = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
            match client.create(&path, b"", &options).await {
                Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
                Err(e) => return Err(format!("creating {path}: {e}")),
            }
            client.delete(&path, None).await.map_err(|e| format!("deleting {path}: {e}"))
        })
    }
}
