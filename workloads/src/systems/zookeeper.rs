//! ZooKeeper: three servers forming one ensemble.
//!
//! Lock: the recipe from ZooKeeper's docs. Each contender creates an
//! `EPHEMERAL_SEQUENTIAL` child under the lock's node; the lowest sequence
//! holds the lock; every other contender watches only the child just below
//! its own (no herd effect) and re-checks when it goes. The token is the
//! sequence number. The child dies with the session, so a session that
//! expires (a partition, a paused client) ends ownership without telling the
//! holder until it next talks to the ensemble. The session timeout is the
//! run's TTL (within the servers' bounds, [`SESSION_BOUNDS`]): it is how long
//! a holder cut off from the ensemble keeps the lock.
//!
//! `zookeeper:no-fsync` is the same ensemble with `forceSync=no`: the
//! servers acknowledge a transaction once it is written to their log, not
//! once it is fsynced, so a power cut (`lose-unsynced`) on a quorum can
//! lose what they acknowledged.

use std::time::{Duration, Instant};

use node::Node;
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError, SessionState};

use super::{client_address, BoxFuture, Clients, Connect, Error, Layout, Seat, System};
use crate::client::{deadline, ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Outcome};

pub const PORT: u16 = 2181;

/// ZooKeeper's recipes over one of its layouts: [`Zookeeper::PLAIN`] or a
/// variant.
pub struct Zookeeper(&'static Layout);

impl Zookeeper {
    pub const PLAIN: Zookeeper = Zookeeper(&LAYOUT);
    pub const NO_FSYNC: Zookeeper = Zookeeper(&NO_FSYNC_LAYOUT);
}

pub const LAYOUT: Layout = Layout {
    name: "zookeeper",
    image: "zookeeper",
    nodes: 3,
    ports: &[PORT],
    description: "three ZooKeeper servers, one ensemble",
    names_leader: true,
    clock_refusal: None,
    durability_refusal: None,
    data_file: Some("/var/lib/fencepost/zookeeper/version-2/log.*"),
    member_refusal: None,
    node_env: &[],
};

/// Transaction logs written but not fsynced before a server acknowledges.
pub const NO_FSYNC_LAYOUT: Layout = Layout {
    name: "zookeeper:no-fsync",
    description: "three ZooKeeper servers, one ensemble, forceSync=no (logs not fsynced)",
    node_env: &[("FP_FORCE_SYNC", "no")],
    ..LAYOUT
};

/// A session through exactly this member.
pub async fn connect(node: &Node, session_timeout: Duration) -> Result<Client, Error> {
    let address = client_address(node, PORT)?;
    Ok(Client::connector()
        .with_session_timeout(session_timeout)
        .with_connection_timeout(Duration::from_secs(2))
        .connect(&address)
        .await?)
}

/// The shortest and longest sessions our servers grant: 2 and 20 ticks of
/// the image's `tickTime=1000` (ZooKeeper's defaults for min/max session
/// timeout).
pub const SESSION_BOUNDS: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(20));

/// Maps a ZooKeeper error to an outcome. The server's error replies refuse
/// the request as a whole (ZooKeeper applies a write entirely or not at
/// all), as do the client's own argument checks: `Fail`. An expired session
/// took its ephemeral nodes with it: `SessionLost`. The rest (connection
/// loss, timeouts, the client's `Custom` errors such as "no response from
/// connection in 2000ms", a closed client whose session lives on until it
/// expires, and variants this crate may add) leave the request unknown.
pub(crate) fn classify<T>(e: ZkError) -> Outcome<T> {
    match e {
        ZkError::NoNode
        | ZkError::NodeExists
        | ZkError::BadVersion
        | ZkError::NotEmpty
        | ZkError::NoAuth
        | ZkError::InvalidAcl
        | ZkError::AuthFailed
        | ZkError::BadArguments(_)
        | ZkError::NoChildrenForEphemerals
        | ZkError::SessionMoved
        | ZkError::NotReadOnly
        | ZkError::NoWatcher
        | ZkError::QuotaExceeded
        | ZkError::Throttled
        | ZkError::MarshallingError
        | ZkError::Unimplemented
        | ZkError::ReconfigDisabled
        | ZkError::UnexpectedErrorCode(_) => Outcome::Fail(e.to_string()),
        ZkError::SessionExpired => Outcome::SessionLost(e.to_string()),
        _ => Outcome::Info(e.to_string()),
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

impl Connect for ZookeeperLock {
    async fn connect(seat: Seat<'_>) -> Result<ZookeeperLock, Error> {
        let (node, options) = (seat.member(), seat.options);
        let client = connect(node, options.session_timeout).await?;
        Ok(ZookeeperLock { client, node: node.name().to_string(), options: options.clone() })
    }
}

impl ZookeeperLock {
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
        let mine = match created.into_value() {
            Ok(sequence) => sequence,
            Err(other) => return other,
        };
        let path = format!("{dir}/n-{mine:010}");
        let mut give_up = Instant::now() + self.options.acquire_wait;
        loop {
            let waited = deadline(self.options.acquire_wait + timeout, self.wait_for_turn(dir, mine, give_up)).await;
            // Our node is queued and may be first by now: anything but an
            // answer is unknown.
            let (below, version) = match waited.unknown_unless_ok().into_value() {
                Ok(None) => return Outcome::Ok((mine, path)),
                Ok(Some(watched)) => watched,
                Err(other) => return other,
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
            let withdrawn = deadline(timeout, async {
                match withdraw.commit().await {
                    Ok(_) => Outcome::Ok(true),
                    Err(zookeeper_client::MultiWriteError::OperationFailed { index: 0, .. }) => Outcome::Ok(false),
                    Err(e) => classify(e.into()),
                }
            })
            .await;
            match withdrawn.unknown_unless_ok().into_value() {
                Ok(true) => return Outcome::Busy("busy: withdrawn before our turn".into()),
                // The node below went meanwhile: look again, without waiting;
                // we may be first in line now.
                Ok(false) => give_up = Instant::now(),
                Err(other) => return other,
            }
        }
    }

    /// Deletes our child: `Ok` if it was still there. A leadership's `lost`
    /// is set when the session is found gone.
    async fn withdraw(&mut self, path: &str, lost: Option<&std::sync::atomic::AtomicBool>) -> Outcome<()> {
        let mark_lost = || {
            if let Some(lost) = lost {
                lost.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        };
        // The server deleted our node when the session expired (maybe long
        // before this call): released, by the session's end.
        if self.client.state() == SessionState::Expired {
            mark_lost();
            return Outcome::SessionLost("session expired: our node went with it".into());
        }
        let deleted = deadline(self.options.timeout, async {
            match self.client.delete(path, None).await {
                Ok(()) => Outcome::Ok(()),
                // In a live session only someone else deletes our node.
                Err(ZkError::NoNode) => Outcome::Fail("our node is gone".into()),
                Err(e) => classify(e),
            }
        })
        .await;
        if let Outcome::SessionLost(_) = deleted {
            mark_lost();
        }
        deleted
    }
}

impl LockClient for ZookeeperLock {
    fn acquire<'a>(&'a mut self, key: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let node = self.node.clone();
            let queued = self.queue_and_wait(&format!("/fencepost/locks/{key}"), b"").await;
            queued.map(|(sequence, path)| Grant::new(key, Some(sequence), Some(&node), path))
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move { self.withdraw(&grant.handle, None).await })
    }
}

/// Election: the same queue; the leader is the lowest child, whose data is
/// the candidate's id and whose sequence number is the term.
impl ElectionClient for ZookeeperLock {
    fn campaign<'a>(&'a mut self, name: &'a str, id: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Leadership>> {
        Box::pin(async move {
            let node = self.node.clone();
            let queued = self.queue_and_wait(&format!("/fencepost/elections/{name}"), id.as_bytes()).await;
            queued.map(|(term, path)| Leadership::new(name, term, Some(&node), path))
        })
    }

    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move { self.withdraw(&leadership.handle, Some(&leadership.lost)).await })
    }

    fn renew<'a>(&'a mut self, leadership: &'a Leadership, _ttl: Duration) -> BoxFuture<'a, Outcome<Option<Duration>>> {
        // The session is the lease: it is alive if our node still exists.
        Box::pin(async move {
            deadline(self.options.timeout, async {
                match self.client.check_stat(&leadership.handle).await {
                    Ok(Some(_)) => Outcome::Ok(None),
                    // The server answered, so the session lives: someone
                    // deleted our node.
                    Ok(None) => {
                        leadership.lost.store(true, std::sync::atomic::Ordering::Relaxed);
                        Outcome::Fail("our node is gone".into())
                    }
                    Err(e) => {
                        let outcome = classify(e);
                        if let Outcome::SessionLost(_) = outcome {
                            leadership.lost.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        outcome
                    }
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
    fn crash_patterns(&self) -> &'static [&'static str] {
        &[
            "FATAL",
            "Unable to load database on disk",
            "Exception in thread \"main\"",
            "Unexpected exception, exiting abnormally",
        ]
    }

    fn layout(&self) -> &'static Layout {
        self.0
    }
    /// A session through this member that creates (and deletes) an
    /// ephemeral node: a write, so it needs the ensemble's quorum.
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let client = connect(node, Duration::from_secs(4)).await?;
            let path = format!("/fencepost-ready-{}", node.name());
            let options = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
            match client.create(&path, b"", &options).await {
                Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
                Err(source) => return Err(Error::ZookeeperPath { op: "creating", path, source }),
            }
            client.delete(&path, None).await.map_err(|source| Error::ZookeeperPath { op: "deleting", path, source })
        })
    }
    fn clients(&self) -> Clients {
        Clients::both::<ZookeeperLock>()
    }
    /// The session is the lease: clients ask for `ttl` as their session
    /// timeout and the servers clamp it to their bounds.
    /// The session, within its bounds, kept alive by the client's pings
    /// (a third of it apart).
    fn lease(&self, ttl: Duration) -> Option<super::Lease> {
        let ttl = ttl.clamp(SESSION_BOUNDS.0, SESSION_BOUNDS.1);
        Some(super::Lease { ttl, renewal: Some(ttl / 3) })
    }
    fn ttl_note(&self, ttl: Duration) -> Option<String> {
        let (min, max) = SESSION_BOUNDS;
        let used = ttl.clamp(min, max);
        (used != ttl).then(|| {
            format!("ZooKeeper sessions (the recipe's lease) last {min:?} to {max:?} here: --ttl {ttl:?} is used as {used:?}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(e: ZkError) -> &'static str {
        match classify::<()>(e) {
            Outcome::Ok(()) => "ok",
            Outcome::Fail(_) | Outcome::Busy(_) => "fail",
            Outcome::Info(_) => "info",
            Outcome::SessionLost(_) => "session-lost",
            Outcome::Undone(_) => "undone",
        }
    }

    #[test]
    fn server_refusals_are_fail() {
        for e in [ZkError::NoNode, ZkError::NodeExists, ZkError::BadVersion, ZkError::Throttled, ZkError::SessionMoved]
        {
            assert_eq!(outcome(e.clone()), "fail", "{e:?}");
        }
    }

    #[test]
    fn an_expired_session_released_what_it_held() {
        assert_eq!(outcome(ZkError::SessionExpired), "session-lost");
    }

    #[test]
    fn lost_connections_timeouts_and_the_rest_are_info() {
        // `Custom` ("no response from connection in 2000ms") cannot be built
        // outside the crate; it falls in the same catch-all arm as these.
        for e in [
            ZkError::ConnectionLoss,
            ZkError::Timeout,
            ZkError::ClientClosed,
            ZkError::NoHosts,
            ZkError::UnexpectedError("no response from connection in 2000ms".into()),
            ZkError::RuntimeInconsistent,
        ] {
            assert_eq!(outcome(e.clone()), "info", "{e:?}");
        }
    }

    #[test]
    fn ttl_notes_name_the_session_bounds() {
        assert_eq!(Zookeeper::PLAIN.ttl_note(Duration::from_secs(5)), None);
        assert!(Zookeeper::PLAIN.ttl_note(Duration::from_secs(1)).unwrap().contains("used as 2s"));
        assert!(Zookeeper::PLAIN.ttl_note(Duration::from_secs(60)).unwrap().contains("used as 20s"));
    }
}
