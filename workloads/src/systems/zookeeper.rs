//! ZooKeeper: three servers forming one ensemble.
//!
//! Lock: the recipe from ZooKeeper's docs. Each contender creates an
//! `EPHEMERAL_SEQUENTIAL` child under the lock's node; the lowest sequence
//! holds the lock; every other contender watches only the child just below
//! its own (no herd effect) and re-checks when it goes. The token is the
//! sequence number. The child dies with the session, so a session that
//! expires (a partition, a paused client) ends ownership without telling the
//! holder until it next talks to the ensemble.

use std::time::{Duration, Instant};

use docker::Node;
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError, SessionState};

use super::{client_address, BoxFuture, System};
use crate::client::{deadline, ClientOptions, Grant, LockClient, Outcome};

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

/// Errors after which the request may or may not have been applied.
fn classify<T>(e: ZkError) -> Outcome<T> {
    match e {
        ZkError::ConnectionLoss | ZkError::Timeout | ZkError::SessionExpired | ZkError::ClientClosed => {
            Outcome::Info(e.to_string())
        }
        _ => Outcome::Fail(e.to_string()),
    }
}

fn sequence_of(child: &str) -> Option<i64> {
    child.rsplit('-').next()?.parse().ok()
}

pub struct ZookeeperLock {
    client: Client,
    node: String,
    options: ClientOptions,
}

impl ZookeeperLock {
    pub async fn connect(node: &Node, options: &ClientOptions) -> Result<ZookeeperLock, String> {
        let client = connect(node, options.session_timeout).await?;
        Ok(ZookeeperLock { client, node: node.name().to_string(), options: options.clone() })
    }

    /// Waits until our child is the lowest, or gives up at `give_up`.
    async fn wait_for_turn(&self, dir: &str, mine: i64, give_up: Instant) -> Outcome<()> {
        loop {
            let children = match self.client.list_children(dir).await {
                Ok(children) => children,
                Err(e) => return classify(e),
            };
            let below =
                children.into_iter().filter_map(|c| Some((sequence_of(&c)?, c))).filter(|(s, _)| *s < mine).max();
            let Some((_, below)) = below else { return Outcome::Ok(()) };
            let (stat, watcher) = match self.client.check_and_watch_stat(&format!("{dir}/{below}")).await {
                Ok(watched) => watched,
                Err(e) => return classify(e),
            };
            if stat.is_none() {
                continue;
            }
            let left = give_up.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, watcher.changed()).await.is_err() {
                return Outcome::Fail("lock busy".into());
            }
        }
    }
}

impl LockClient for ZookeeperLock {
    fn acquire<'a>(&'a mut self, key: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let timeout = self.options.timeout;
            let dir = format!("/fencepost/locks/{key}");
            let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
            if let Err(e) = deadline(timeout, async {
                self.client.mkdir(&dir, &persistent).await.map_or_else(classify, Outcome::Ok)
            })
            .await
            .into_result()
            {
                return Outcome::Fail(format!("creating {dir}: {e}"));
            }
            let ephemeral = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
            let created = deadline(timeout, async {
                match self.client.create(&format!("{dir}/lock-"), b"", &ephemeral).await {
                    Ok((_, sequence)) => Outcome::Ok(sequence.into_i64()),
                    Err(e) => classify(e),
                }
            })
            .await;
            let mine = match created {
                Outcome::Ok(sequence) => sequence,
                Outcome::Fail(e) => return Outcome::Fail(e),
                Outcome::Info(e) => return Outcome::Info(e),
            };
            let path = format!("{dir}/lock-{mine:010}");
            let give_up = Instant::now() + self.options.acquire_wait;
            match deadline(self.options.acquire_wait + timeout, self.wait_for_turn(&dir, mine, give_up)).await {
                Outcome::Ok(()) => Outcome::Ok(Grant::new(key, Some(mine), Some(&self.node), path)),
                // Withdraw: once our child is deleted we never held the lock.
                Outcome::Fail(e) | Outcome::Info(e) => match deadline(timeout, async {
                    self.client.delete(&path, None).await.map_or_else(classify, Outcome::Ok)
                })
                .await
                {
                    Outcome::Ok(()) => Outcome::Fail(e),
                    _ => Outcome::Info(e),
                },
            }
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            if self.client.state() == SessionState::Expired {
                grant.lost.store(true, std::sync::atomic::Ordering::Relaxed);
                return Outcome::Fail("session expired: the lock was already gone".into());
            }
            let timeout = self.options.timeout;
            deadline(timeout, async {
                match self.client.delete(&grant.handle, None).await {
                    Ok(()) => Outcome::Ok(()),
                    Err(ZkError::NoNode) => Outcome::Fail("lock node gone (session expired?)".into()),
                    Err(e) => classify(e),
                }
            })
            .await
        })
    }
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
    fn lock_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn LockClient>, String>> {
        let node = &nodes[process as usize % nodes.len()];
        Box::pin(async move { Ok(Box::new(ZookeeperLock::connect(node, options).await?) as Box<dyn LockClient>) })
    }
}
