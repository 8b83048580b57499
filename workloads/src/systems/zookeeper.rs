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
use crate::client::{deadline, ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Outcome};

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

    /// Waits until our child is the lowest (`Ok(None)`), or gives up at
    /// `give_up` (`Ok(Some((path, version)))` of the lower node we were
    /// watching, which existed when we gave up).
    async fn wait_for_turn(&self, dir: &str, mine: i64, give_up: Instant) -> Outcome<Option<(String, i32)>> {
        loop {
            let children = match self.client.list_children(dir).await {
                Ok(children) => children,
                Err(e) => return classify(e),
            };
            let below =
                children.into_iter().filter_map(|c| Some((sequence_of(&c)?, c))).filter(|(s, _)| *s < mine).max();
            let Some((_, below)) = below else { return Outcome::Ok(None) };
            let below = format!("{dir}/{below}");
            let (stat, watcher) = match self.client.check_and_watch_stat(&below).await {
                Ok(watched) => watched,
                Err(e) => return classify(e),
            };
            let Some(stat) = stat else { continue };
            let left = give_up.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, watcher.changed()).await.is_err() {
                return Outcome::Ok(Some((below, stat.version)));
            }
        }
    }
}

impl ZookeeperLock {
    /// The recipe's core, shared by lock and election: queue a child under
    /// `dir` holding `data`, wait until it is the lowest. `Ok((sequence,
    /// path))` when first in line; on giving up the child is withdrawn.
    async fn queue_and_wait(&mut self, dir: &str, data: &[u8]) -> Outcome<(i64, String)> {
        let timeout = self.options.timeout;
        let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
        if let Err(e) =
            deadline(timeout, async { self.client.mkdir(dir, &persistent).await.map_or_else(classify, Outcome::Ok) })
                .await
                .into_result()
        {
            return Outcome::Fail(format!("creating {dir}: {e}"));
        }
        let ephemeral = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
        let created = deadline(timeout, async {
            match self.client.create(&format!("{dir}/n-"), data, &ephemeral).await {
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
        let path = format!("{dir}/n-{mine:010}");
        let mut give_up = Instant::now() + self.options.acquire_wait;
        loop {
            let waited = deadline(self.options.acquire_wait + timeout, self.wait_for_turn(dir, mine, give_up)).await;
            let (below, version) = match waited {
                Outcome::Ok(None) => return Outcome::Ok((mine, path)),
                Outcome::Ok(Some(watched)) => watched,
                Outcome::Fail(e) | Outcome::Info(e) => return Outcome::Info(e),
            };
            // Withdraw only while the node below us still exists, in one
            // transaction: then we were never the lowest, nobody could have
            // seen us first, and the attempt had no effect. Every node below
            // ours was created before it, so "a lower node exists now and at
            // each earlier check" means "at every moment".
            let mut withdraw = self.client.new_multi_writer();
            if withdraw.add_check_version(&below, version).and_then(|()| withdraw.add_delete(&path, None)).is_err() {
                return Outcome::Info("could not build the withdrawal".into());
            }
            match deadline(timeout, async {
                match withdraw.commit().await {
                    Ok(_) => Outcome::Ok(true),
                    Err(zookeeper_client::MultiWriteError::OperationFailed { index: 0, .. }) => Outcome::Ok(false),
                    Err(e) => Outcome::Info(e.to_string()),
                }
            })
            .await
            {
                Outcome::Ok(true) => return Outcome::Fail("busy: withdrawn before our turn".into()),
                // The node below went meanwhile: look again, without waiting;
                // we may be first in line now.
                Outcome::Ok(false) => give_up = Instant::now(),
                Outcome::Fail(e) | Outcome::Info(e) => return Outcome::Info(e),
            }
        }
    }

    /// Deletes our child: `Ok` if it was still there.
    async fn withdraw(&mut self, path: &str, lost: &std::sync::atomic::AtomicBool) -> Outcome<()> {
        if self.client.state() == SessionState::Expired {
            lost.store(true, std::sync::atomic::Ordering::Relaxed);
            return Outcome::Fail("session expired: it was already gone".into());
        }
        deadline(self.options.timeout, async {
            match self.client.delete(path, None).await {
                Ok(()) => Outcome::Ok(()),
                Err(ZkError::NoNode) => Outcome::Fail("our node is gone (session expired?)".into()),
                Err(e) => classify(e),
            }
        })
        .await
    }
}

impl LockClient for ZookeeperLock {
    fn acquire<'a>(&'a mut self, key: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            match self.queue_and_wait(&format!("/fencepost/locks/{key}"), b"").await {
                Outcome::Ok((sequence, path)) => Outcome::Ok(Grant::new(key, Some(sequence), Some(&self.node), path)),
                Outcome::Fail(e) => Outcome::Fail(e),
                Outcome::Info(e) => Outcome::Info(e),
            }
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move { self.withdraw(&grant.handle, &grant.lost).await })
    }
}

/// Election: the same queue; the leader is the lowest child, whose data is
/// the candidate's id and whose sequence number is the term.
impl ElectionClient for ZookeeperLock {
    fn campaign<'a>(&'a mut self, name: &'a str, id: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Leadership>> {
        Box::pin(async move {
            match self.queue_and_wait(&format!("/fencepost/elections/{name}"), id.as_bytes()).await {
                Outcome::Ok((term, path)) => Outcome::Ok(Leadership::new(name, term, Some(&self.node), path)),
                Outcome::Fail(e) => Outcome::Fail(e),
                Outcome::Info(e) => Outcome::Info(e),
            }
        })
    }

    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move { self.withdraw(&leadership.handle, &leadership.lost).await })
    }

    fn renew<'a>(&'a mut self, leadership: &'a Leadership, _ttl: Duration) -> BoxFuture<'a, Outcome<()>> {
        // The session is the lease: it is alive if our node still exists.
        Box::pin(async move {
            deadline(self.options.timeout, async {
                match self.client.check_stat(&leadership.handle).await {
                    Ok(Some(_)) => Outcome::Ok(()),
                    Ok(None) => {
                        leadership.lost.store(true, std::sync::atomic::Ordering::Relaxed);
                        Outcome::Fail("our node is gone (session expired?)".into())
                    }
                    Err(e) => classify(e),
                }
            })
            .await
        })
    }

    fn leader<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, Outcome<Option<Leader>>> {
        Box::pin(async move {
            let dir = format!("/fencepost/elections/{name}");
            deadline(self.options.timeout, async {
                loop {
                    let children = match self.client.list_children(&dir).await {
                        Ok(children) => children,
                        Err(ZkError::NoNode) => return Outcome::Ok(None),
                        Err(e) => return classify(e),
                    };
                    let Some((term, first)) = children.into_iter().filter_map(|c| Some((sequence_of(&c)?, c))).min()
                    else {
                        return Outcome::Ok(None);
                    };
                    match self.client.get_data(&format!("{dir}/{first}")).await {
                        Ok((data, _)) => {
                            let id = String::from_utf8_lossy(&data).into_owned();
                            return Outcome::Ok(Some(Leader { id, term: Some(term) }));
                        }
                        // The leader resigned between the two reads: look again.
                        Err(ZkError::NoNode) => continue,
                        Err(e) => return classify(e),
                    }
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
    fn names_leader(&self) -> bool {
        true
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
    fn election_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn ElectionClient>, String>> {
        let node = &nodes[process as usize % nodes.len()];
        Box::pin(async move { Ok(Box::new(ZookeeperLock::connect(node, options).await?) as Box<dyn ElectionClient>) })
    }
}
