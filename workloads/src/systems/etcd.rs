//! etcd: three members forming one Raft cluster.
//!
//! Lock: the v3 `Lock` service with a lease kept alive while held. The token
//! is the lock key's create revision, which etcd's own docs recommend for
//! fencing. A client talks to one member only (processes are spread over
//! members), so a partitioned member's clients see what it does.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use docker::Node;
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, LockOptions, Txn, TxnOp};
use tokio::task::JoinHandle;

use super::{client_address, BoxFuture, LogEvent, System};
use crate::client::{deadline, ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Outcome};

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

/// etcd refuses leases shorter than about 1.5 election timeouts (ours: 1 s).
const MIN_LEASE_SECS: i64 = 2;

pub struct EtcdLock {
    client: Client,
    node: String,
    options: ClientOptions,
    /// The process this client plays, so its keep-alives stall with it.
    process: u64,
    /// Keep-alive tasks by lease id, for the grants this client holds.
    keepers: HashMap<i64, JoinHandle<()>>,
}

impl EtcdLock {
    pub async fn connect(node: &Node, process: u64, options: &ClientOptions) -> Result<EtcdLock, String> {
        let client = connect(&[node], options.timeout).await?;
        let node = node.name().to_string();
        Ok(EtcdLock { client, node, options: options.clone(), process, keepers: HashMap::new() })
    }

    /// Keeps `lease` alive every third of its TTL; marks the grant lost when
    /// etcd says the lease is gone (TTL 0) or the stream breaks.
    fn keep_alive(&mut self, lease: i64, ttl_secs: i64, grant: &Grant) {
        let mut client = self.client.clone();
        let lost = grant.lost.clone();
        let (stall, process) = (self.options.stall.clone(), self.process);
        let task = tokio::spawn(async move {
            let Ok((mut keeper, mut stream)) = client.lease_keep_alive(lease).await else {
                lost.store(true, Ordering::Relaxed);
                return;
            };
            loop {
                tokio::time::sleep(Duration::from_millis((ttl_secs * 1000 / 3) as u64)).await;
                // A paused process sends no keep-alives either.
                while stall.is_stalled(process) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let alive = keeper.keep_alive().await.is_ok()
                    && matches!(stream.message().await, Ok(Some(resp)) if resp.ttl() > 0);
                if !alive {
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
            }
        });
        self.keepers.insert(lease, task);
    }

    async fn revoke(&mut self, lease: i64) -> Outcome<()> {
        if let Some(task) = self.keepers.remove(&lease) {
            task.abort();
        }
        let timeout = self.options.timeout;
        deadline(timeout, async {
            match self.client.lease_revoke(lease).await {
                Ok(_) => Outcome::Ok(()),
                Err(e) => Outcome::Info(e.to_string()),
            }
        })
        .await
    }
}

impl Drop for EtcdLock {
    fn drop(&mut self) {
        // A retired client's leases must be left to expire, not kept alive.
        for (_, task) in self.keepers.drain() {
            task.abort();
        }
    }
}

impl LockClient for EtcdLock {
    fn acquire<'a>(&'a mut self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let timeout = self.options.timeout;
            let ttl_secs = (ttl.as_secs_f64().ceil() as i64).max(MIN_LEASE_SECS);
            // No lock is taken before the lease exists: a failed grant is a `fail`.
            let lease = match deadline(timeout, async {
                self.client
                    .lease_grant(ttl_secs, None)
                    .await
                    .map_or_else(|e| Outcome::Fail(e.to_string()), |r| Outcome::Ok(r.id()))
            })
            .await
            {
                Outcome::Ok(lease) => lease,
                Outcome::Fail(e) | Outcome::Info(e) => return Outcome::Fail(format!("lease grant: {e}")),
            };
            let name = format!("fencepost/locks/{key}");
            let wait = self.options.acquire_wait + timeout;
            let locked = deadline(wait, async {
                match self.client.lock(name.as_str(), Some(LockOptions::new().with_lease(lease))).await {
                    Ok(resp) => Outcome::Ok(resp.key().to_vec()),
                    Err(e) => Outcome::Info(e.to_string()),
                }
            })
            .await;
            let lock_key = match locked {
                Outcome::Ok(k) => k,
                // Revoking the lease deletes our waiter key: whatever the
                // lock call did is undone before we answer, so it is a `fail`.
                Outcome::Fail(e) | Outcome::Info(e) => {
                    return match self.revoke(lease).await {
                        Outcome::Ok(()) => Outcome::Fail(format!("not granted ({e}); lease revoked")),
                        _ => Outcome::Info(e),
                    };
                }
            };
            let revision = deadline(timeout, async {
                match self.client.get(lock_key.clone(), None).await {
                    Ok(resp) => match resp.kvs().first() {
                        Some(kv) => Outcome::Ok(kv.create_revision()),
                        None => Outcome::Info("lock key vanished right after the grant".into()),
                    },
                    Err(e) => Outcome::Info(e.to_string()),
                }
            })
            .await;
            match revision {
                Outcome::Ok(revision) => {
                    let handle = format!("{lease}\n{}", String::from_utf8_lossy(&lock_key));
                    let grant = Grant::new(key, Some(revision), Some(&self.node), handle);
                    self.keep_alive(lease, ttl_secs, &grant);
                    Outcome::Ok(grant)
                }
                // Held, but without its token; the process retires and the
                // lease, no longer kept alive, expires.
                Outcome::Fail(e) | Outcome::Info(e) => Outcome::Info(format!("granted, token unknown: {e}")),
            }
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let Some((lease, lock_key)) = grant.handle.split_once('\n') else {
                return Outcome::Fail("not an etcd grant".into());
            };
            let lease: i64 = lease.parse().unwrap_or_default();
            let lost = grant.is_lost();
            let timeout = self.options.timeout;
            // `Unlock` is a delete of the lock key that succeeds even when
            // the key is already gone; deleting it ourselves tells us whether
            // we still held the lock.
            let unlocked = deadline(timeout, async {
                match self.client.delete(lock_key, None).await {
                    Ok(resp) if resp.deleted() > 0 => Outcome::Ok(()),
                    Ok(_) => Outcome::Fail("not the holder: the lock key is gone".into()),
                    Err(e) => Outcome::Info(e.to_string()),
                }
            })
            .await;
            let _ = self.revoke(lease).await;
            match unlocked {
                Outcome::Ok(()) if lost => Outcome::Fail("lease lost before release".into()),
                other => other,
            }
        })
    }
}

impl EtcdLock {
    async fn grant_lease(&mut self, ttl: Duration) -> Result<(i64, i64), String> {
        let ttl_secs = (ttl.as_secs_f64().ceil() as i64).max(MIN_LEASE_SECS);
        let timeout = self.options.timeout;
        let granted = deadline(timeout, async {
            self.client
                .lease_grant(ttl_secs, None)
                .await
                .map_or_else(|e| Outcome::Fail(e.to_string()), |r| Outcome::Ok(r.id()))
        })
        .await;
        granted.into_result().map(|lease| (lease, ttl_secs)).map_err(|e| format!("lease grant: {e}"))
    }

    /// Deletes `key` if it is still the one created at `revision`: true when
    /// it was (we still held it), false when it was gone or replaced.
    async fn delete_if_created_at(&mut self, key: &str, revision: i64) -> Outcome<()> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, revision)])
            .and_then([TxnOp::delete(key, None)]);
        deadline(self.options.timeout, async {
            match self.client.txn(txn).await {
                Ok(resp) if resp.succeeded() => Outcome::Ok(()),
                Ok(_) => Outcome::Fail("no longer the leader: the key is gone or replaced".into()),
                Err(e) => Outcome::Info(e.to_string()),
            }
        })
        .await
    }
}

/// Election: v3 `Campaign` with a lease kept alive; the term is the leader
/// key's create revision, as `Leader` reports it to observers.
impl ElectionClient for EtcdLock {
    fn campaign<'a>(&'a mut self, name: &'a str, id: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Leadership>> {
        Box::pin(async move {
            let (lease, ttl_secs) = match self.grant_lease(ttl).await {
                Ok(granted) => granted,
                Err(e) => return Outcome::Fail(e),
            };
            let election = format!("fencepost/elections/{name}");
            let wait = self.options.acquire_wait + self.options.timeout;
            let won = deadline(wait, async {
                match self.client.campaign(election.as_str(), id, lease).await {
                    Ok(resp) => match resp.leader() {
                        Some(key) => Outcome::Ok((String::from_utf8_lossy(key.key()).into_owned(), key.rev())),
                        None => Outcome::Info("campaign answered without a leader key".into()),
                    },
                    Err(e) => Outcome::Info(e.to_string()),
                }
            })
            .await;
            match won {
                Outcome::Ok((key, term)) => {
                    let leadership = Leadership::new(name, term, Some(&self.node), key);
                    let grant =
                        Grant { lost: leadership.lost.clone(), ..Grant::new(name, Some(term), None, String::new()) };
                    self.keep_alive(lease, ttl_secs, &grant);
                    Outcome::Ok(Leadership { handle: format!("{lease}\n{}", leadership.handle), ..leadership })
                }
                Outcome::Fail(e) | Outcome::Info(e) => match self.revoke(lease).await {
                    Outcome::Ok(()) => Outcome::Fail(format!("not elected ({e}); lease revoked")),
                    _ => Outcome::Info(e),
                },
            }
        })
    }

    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let Some((lease, key)) = leadership.handle.split_once('\n') else {
                return Outcome::Fail("not an etcd leadership".into());
            };
            let lease: i64 = lease.parse().unwrap_or_default();
            let resigned = self.delete_if_created_at(key, leadership.term).await;
            let _ = self.revoke(lease).await;
            resigned
        })
    }

    fn leader<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, Outcome<Option<Leader>>> {
        Box::pin(async move {
            let election = format!("fencepost/elections/{name}");
            deadline(self.options.timeout, async {
                match self.client.leader(election.as_str()).await {
                    Ok(resp) => Outcome::Ok(resp.kv().map(|kv| Leader {
                        id: String::from_utf8_lossy(kv.value()).into_owned(),
                        term: Some(kv.create_revision()),
                    })),
                    // "election: no leader" is an answer, not a failure.
                    Err(e) if e.to_string().contains("no leader") => Outcome::Ok(None),
                    Err(e) => Outcome::Info(e.to_string()),
                }
            })
            .await
        })
    }
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
    fn names_leader(&self) -> bool {
        true
    }
    fn clock_refusal(&self) -> Option<&'static str> {
        Some("etcd is a Go binary that reads the clock without libc, so fencepost's LD_PRELOAD clock shim cannot move it")
    }
    /// Raft's own account of leadership: `raft2026/11/28 05:49:57 INFO:
    /// <member> became candidate at term 7` and the like (second resolution,
    /// UTC as the containers run).
    fn log_events(&self, log: &str) -> Vec<LogEvent> {
        log.lines().filter_map(raft_event).collect()
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
    fn lock_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn LockClient>, String>> {
        let node = &nodes[process as usize % nodes.len()];
        Box::pin(async move { Ok(Box::new(EtcdLock::connect(node, process, options).await?) as Box<dyn LockClient>) })
    }
    fn election_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn ElectionClient>, String>> {
        let node = &nodes[process as usize % nodes.len()];
        Box::pin(
            async move { Ok(Box::new(EtcdLock::connect(node, process, options).await?) as Box<dyn ElectionClient>) },
        )
    }
}

/// One raft log line as a leadership event, or `None` for the rest.
fn raft_event(line: &str) -> Option<LogEvent> {
    let rest = line.strip_prefix("raft")?;
    let (stamp, message) = rest.split_once(" INFO: ")?;
    let text = if let Some(term) = message.split(" became candidate at term ").nth(1) {
        format!("campaigned (term {term})")
    } else if let Some(term) = message.split(" became leader at term ").nth(1) {
        format!("became leader (term {term})")
    } else if let Some(term) = message.split(" lost leader ").nth(1).and_then(|m| m.split(" at term ").nth(1)) {
        format!("lost its leader (term {term})")
    } else if message.contains(" rejected MsgVote from ") {
        "refused a vote (the candidate's log was behind)".to_string()
    } else {
        return None;
    };
    let when = humantime::parse_rfc3339_weak(&stamp.trim().replace('/', "-")).ok()?;
    let unix_ms = when.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64;
    Some(LogEvent { unix_ms, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_lines_become_leadership_events() {
        let log = "raft2026/11/28 05:49:56 INFO: ddb6 became follower at term 5\n\
                   raft2026/11/28 05:49:57 INFO: ddb6 became candidate at term 7\n\
                   raft2026/11/28 05:49:57 INFO: ddb6 [logterm: 2, index: 520, vote: 0] rejected MsgVote from 8025 [logterm: 2, index: 446] at term 6\n\
                   2026-11-28 05:49:45.858150 I | embed: name = n1\n\
                   raft2026/11/28 05:49:58 INFO: raft.node: ddb6 lost leader ddb6 at term 8\n";
        let events = Etcd.log_events(log);
        let texts: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            ["campaigned (term 7)", "refused a vote (the candidate's log was behind)", "lost its leader (term 8)"]
        );
        assert_eq!(events[0].unix_ms % 1000, 0);
        assert_eq!(events[2].unix_ms - events[0].unix_ms, 1000);
    }
}
