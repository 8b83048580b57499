//! etcd: three members forming one Raft cluster.
//!
//! Lock: the v3 `Lock` service with a lease kept alive while held. The token
//! is the lock key's create revision, which etcd's own docs recommend for
//! fencing. A client talks to one member only (workers are spread over
//! members), so a partitioned member's clients see what it does.
//!
//! `etcd:prevote` is the same cluster with every member started with
//! `--pre-vote` (etcd 3.4's default is off, 3.5's on): without it, a member
//! that rejoins after a partition campaigns with a higher term and deposes
//! the leader at every heal; with it, it first asks whether it could win.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, LockOptions, SortOrder, SortTarget, Txn, TxnOp,
};
use node::Node;
use ops::values::{KeepAlive, LeaseTerms, OpValue};
use ops::{OpName, OpType};
use tokio::task::JoinHandle;
use tonic::Code;

use super::{client_address, BoxFuture, Clients, Connect, Error, Layout, LogEvent, Seat, System};
use crate::client::{deadline, ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Orphan, Outcome};

pub const PORT: u16 = 2379;

pub const LAYOUT: Layout = Layout {
    name: "etcd",
    image: "etcd",
    nodes: 3,
    ports: &[PORT],
    description: "three etcd members, one Raft cluster",
    names_leader: true,
    clock_refusal: Some(
        "etcd is a Go binary that reads the clock without libc, so fencepost's LD_PRELOAD clock shim cannot move it",
    ),
    durability_refusal: Some(
        "etcd is a Go binary that writes and fsyncs its files without libc, so fencepost's LD_PRELOAD durability \
         shim cannot see what it has not synced",
    ),
    data_file: Some("/var/lib/fencepost/etcd/member/wal/*.wal"),
    member_refusal: None,
    node_env: &[],
};

/// etcd with pre-vote: the same image and recipes, every member started
/// with `--pre-vote` (through etcd's `ETCD_PRE_VOTE`, so the image and its
/// start script stay the same).
pub const PREVOTE_LAYOUT: Layout = Layout {
    name: "etcd:prevote",
    description: "three etcd members, one Raft cluster, --pre-vote",
    node_env: &[("ETCD_PRE_VOTE", "true")],
    ..LAYOUT
};

/// Five members: the smallest cluster in which a partition can leave every
/// member a majority of its own (`partition:ring`).
pub const FIVE_LAYOUT: Layout =
    Layout { name: "etcd:five", nodes: 5, description: "five etcd members, one Raft cluster", ..LAYOUT };

/// etcd's recipes over one of its layouts: [`Etcd::PLAIN`] or a variant.
pub struct Etcd(&'static Layout);

impl Etcd {
    pub const PLAIN: Etcd = Etcd(&LAYOUT);
    pub const PREVOTE: Etcd = Etcd(&PREVOTE_LAYOUT);
    pub const FIVE: Etcd = Etcd(&FIVE_LAYOUT);
}

/// A client that talks to exactly the given members (no endpoint discovery:
/// the members advertise names that only resolve on the run network).
pub async fn connect(nodes: &[&Node], timeout: Duration) -> Result<Client, Error> {
    let endpoints =
        nodes.iter().map(|n| client_address(n, PORT).map(|a| format!("http://{a}"))).collect::<Result<Vec<_>, _>>()?;
    let options = ConnectOptions::new().with_connect_timeout(timeout).with_timeout(timeout);
    Ok(Client::connect(endpoints, Some(options)).await?)
}

/// etcd refuses leases shorter than about 1.5 election timeouts (ours: 1 s).
const MIN_LEASE_SECS: i64 = 2;

fn lease_secs(ttl: Duration) -> i64 {
    (ttl.as_secs_f64().ceil() as i64).max(MIN_LEASE_SECS)
}

/// Maps an etcd error to an outcome by its gRPC code: the codes etcd
/// answers before applying anything (bad request, missing lease, no space,
/// too many requests, not leader…) are `Fail`; timeouts, unavailability
/// (which includes "request timed out" and "leader changed", after which
/// the proposal may still commit) and transport errors are unknown.
pub(crate) fn classify<T>(e: etcd_client::Error) -> Outcome<T> {
    use etcd_client::Error as E;
    let refused = match &e {
        E::GRpcStatus(status) => refused_code(status.code()),
        // Raised in the client before a request is built.
        E::InvalidArgs(_) | E::InvalidUri(_) | E::InvalidMetadataValue(_) | E::EndpointError(_) => true,
        _ => false,
    };
    if refused {
        Outcome::Fail(e.to_string())
    } else {
        Outcome::Info(e.to_string())
    }
}

fn refused_code(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::Unauthenticated
            | Code::ResourceExhausted
    )
}

fn is_not_found(e: &etcd_client::Error) -> bool {
    matches!(e, etcd_client::Error::GRpcStatus(status) if status.code() == Code::NotFound)
}

/// Revokes `lease`: `Ok(true)` when this call did, `Ok(false)` when etcd no
/// longer knew it (expired or revoked before).
async fn revoke_lease(client: &mut Client, lease: i64, timeout: Duration) -> Outcome<bool> {
    deadline(timeout, async {
        match client.lease_revoke(lease).await {
            Ok(_) => Outcome::Ok(true),
            Err(e) if is_not_found(&e) => Outcome::Ok(false),
            Err(e) => classify(e),
        }
    })
    .await
}

pub struct EtcdLock {
    client: Client,
    node: String,
    options: ClientOptions,
    /// The process this client plays, so its keep-alives stall with it.
    process: u64,
    /// Keep-alive tasks by lease id, for the grants this client holds.
    keepers: HashMap<i64, JoinHandle<()>>,
    /// Leases that may still own a key in a lock or election queue (ours,
    /// held or waiting), with the lock or election it is for; a lease leaves
    /// once it is revoked or its key is known to be gone. What is left when
    /// the process retires is an orphan: not kept alive any more, but
    /// blocking everyone queued behind it until it expires.
    queued: HashMap<i64, String>,
}

impl Connect for EtcdLock {
    async fn connect(seat: Seat<'_>) -> Result<EtcdLock, Error> {
        let client = connect(&[seat.member()], seat.options.timeout).await?;
        Ok(EtcdLock {
            client,
            node: seat.member().name().to_string(),
            options: seat.options.clone(),
            process: seat.process,
            keepers: HashMap::new(),
            queued: HashMap::new(),
        })
    }
}

impl EtcdLock {
    /// Keeps `lease` (held for `key`) alive every third of its TTL; marks
    /// a leadership `lost` when etcd says the lease is gone (TTL 0) or the
    /// stream breaks (its default `renew` answers from that flag; a lock's
    /// release asks the server instead, so a grant passes `None`). Each keep-alive is recorded (`keep-alive`, `of_process`), its
    /// acknowledgement with the TTL etcd renewed the lease for: what extends
    /// the lease's guaranteed window.
    fn keep_alive(&mut self, key: &str, lease: i64, ttl_secs: i64, lost: Option<Arc<AtomicBool>>) {
        let mut client = self.client.clone();
        let (stall, process) = (self.options.stall.clone(), self.process);
        let background = self.options.background.clone();
        let key = key.to_string();
        let task = tokio::spawn(async move {
            let mark_lost = || {
                if let Some(lost) = &lost {
                    lost.store(true, Ordering::Relaxed);
                }
            };
            let Ok((mut keeper, mut stream)) = client.lease_keep_alive(lease).await else {
                mark_lost();
                return;
            };
            // This task's own process, taken at its first keep-alive: most
            // holds end before one is due.
            let mut recorded: Option<u64> = None;
            let asked = KeepAlive { of_process: Some(process), lease: Some(lease), ..Default::default() };
            loop {
                tokio::time::sleep(Duration::from_millis((ttl_secs * 1000 / 3) as u64)).await;
                // A paused process sends no keep-alives either.
                while stall.is_stalled(process) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let me = *recorded.get_or_insert_with(|| background.process());
                let recorder = background.recorder();
                recorder.invoke(me, OpName::KeepAlive, Some(&key), asked.to_value());
                let renewed = match keeper.keep_alive().await {
                    Ok(()) => match stream.message().await {
                        Ok(Some(resp)) if resp.ttl() > 0 => Ok(resp.ttl()),
                        Ok(Some(_)) => Err((OpType::Fail, "the lease is gone (TTL 0)".to_string())),
                        Ok(None) => Err((OpType::Info, "the keep-alive stream ended".to_string())),
                        Err(e) => Err((OpType::Info, e.to_string())),
                    },
                    Err(e) => Err((OpType::Info, e.to_string())),
                };
                match renewed {
                    Ok(ttl) => {
                        let terms = LeaseTerms::lease(ttl as u64 * 1000);
                        let value = KeepAlive { terms, ..asked.clone() }.to_value();
                        recorder.complete(me, OpType::Ok, OpName::KeepAlive, Some(&key), value, None, None);
                    }
                    Err((kind, error)) => {
                        let value = asked.to_value();
                        recorder.complete(me, kind, OpName::KeepAlive, Some(&key), value, None, Some(&error));
                        mark_lost();
                        return;
                    }
                }
            }
        });
        self.keepers.insert(lease, task);
    }

    /// Stops keeping `lease` alive and revokes it (deleting any key it owns).
    async fn revoke(&mut self, lease: i64) -> Outcome<bool> {
        if let Some(task) = self.keepers.remove(&lease) {
            task.abort();
        }
        let revoked = revoke_lease(&mut self.client, lease, self.options.timeout).await;
        if let Outcome::Ok(_) = revoked {
            self.queued.remove(&lease);
        }
        revoked
    }

    /// A lease for `ttl` (rounded up to etcd's whole seconds).
    async fn grant_lease(&mut self, ttl: Duration) -> Result<LeaseGrant, String> {
        let ttl_secs = lease_secs(ttl);
        let granted = deadline(self.options.timeout, async {
            self.client.lease_grant(ttl_secs, None).await.map_or_else(classify, |r| {
                let revision = r.header().map_or(0, |h| h.revision());
                Outcome::Ok(LeaseGrant { id: r.id(), ttl_secs: r.ttl(), revision })
            })
        })
        .await;
        // Whatever happened, no key is attached to a lease yet: no lock or
        // leadership was taken.
        granted.into_result().map_err(|e| format!("lease grant: {e}"))
    }

    /// After a lock or campaign call on `lease` (queued under `queue`) did
    /// not answer with a grant: revoke the lease, which deletes the waiter
    /// key it may have queued. A refusal stays `Fail`. An unanswered call
    /// may have made our key first in line (the lock taken, the election
    /// won, seen by observers) before the revoke: `Fail` only when a key
    /// queued before our lease existed is still there after the revoke
    /// (it was ahead of ours for our key's whole life), else `Undone`; a
    /// revoke that went unanswered leaves it unknown, and the lease in
    /// `queued` for the orphan revoker.
    async fn withdraw<T>(&mut self, lease: &LeaseGrant, queue: &str, failed: Outcome<T>, what: &str) -> Outcome<T> {
        let (e, definite) = match failed {
            Outcome::Ok(v) => return Outcome::Ok(v),
            Outcome::Fail(e) | Outcome::Busy(e) => (e, true),
            Outcome::Info(e) | Outcome::SessionLost(e) | Outcome::Undone(e) => (e, false),
        };
        match self.revoke(lease.id).await {
            Outcome::Ok(_) if definite => Outcome::Fail(format!("{what} ({e}); lease revoked")),
            Outcome::Ok(_) if self.queued_before(queue, lease.revision).await => {
                Outcome::Busy(format!("{what} ({e}); lease revoked behind an older contender"))
            }
            Outcome::Ok(_) => Outcome::Undone(format!("unanswered ({e}); lease revoked, ending whatever it took")),
            _ if definite => {
                // Refused before any key was put: the lease owns nothing.
                self.queued.remove(&lease.id);
                Outcome::Fail(e)
            }
            _ => Outcome::Info(e),
        }
    }

    /// Whether the oldest key queued under `queue` now was created at or
    /// before `revision` (our lease's grant, so before our key). A key
    /// deleted and put again gets a new create revision: this one existed
    /// all along, ahead of any key our lease put since. Unknown is `false`.
    async fn queued_before(&mut self, queue: &str, revision: i64) -> bool {
        if revision <= 0 {
            return false;
        }
        let prefix = format!("{queue}/");
        let oldest = GetOptions::new().with_prefix().with_sort(SortTarget::Create, SortOrder::Ascend).with_limit(1);
        let found = deadline(self.options.timeout, async {
            match self.client.get(prefix.as_str(), Some(oldest)).await {
                Ok(resp) => Outcome::Ok(resp.kvs().first().map(|kv| kv.create_revision())),
                Err(e) => classify(e),
            }
        })
        .await;
        matches!(found, Outcome::Ok(Some(created)) if created <= revision)
    }

    fn take_orphans(&mut self) -> Vec<Orphan> {
        self.queued.drain().map(|(lease, key)| Orphan { key, lease }).collect()
    }

    /// Ends a hold (lock key or leader key): `ended` is how deleting the
    /// key went (`Ok(false)`: it was already gone, and `gone` says why);
    /// then revokes the lease. A revoke that removed a live lease removed
    /// the key with it, so the hold ended within this call even if the
    /// delete went unanswered or was refused.
    async fn end_hold(&mut self, lease: i64, ended: Outcome<bool>, gone: &str) -> Outcome<()> {
        let revoked = matches!(self.revoke(lease).await, Outcome::Ok(true));
        match ended {
            Outcome::Ok(deleted) => {
                self.queued.remove(&lease);
                if deleted {
                    Outcome::Ok(())
                } else {
                    Outcome::Fail(gone.into())
                }
            }
            _ if revoked => Outcome::Ok(()),
            Outcome::Fail(e) | Outcome::Busy(e) => Outcome::Fail(e),
            Outcome::Info(e) | Outcome::SessionLost(e) | Outcome::Undone(e) => Outcome::Info(e),
        }
    }
}

/// A lease as etcd granted it.
struct LeaseGrant {
    id: i64,
    ttl_secs: i64,
    /// The store's revision when it was granted: every key put with it was
    /// created later.
    revision: i64,
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
            let granted = match self.grant_lease(ttl).await {
                Ok(granted) => granted,
                Err(e) => return Outcome::Fail(e),
            };
            let (lease, ttl_secs) = (granted.id, granted.ttl_secs);
            self.queued.insert(lease, key.to_string());
            let name = format!("fencepost/locks/{key}");
            let wait = self.options.acquire_wait + timeout;
            let locked = deadline(wait, async {
                match self.client.lock(name.as_str(), Some(LockOptions::new().with_lease(lease))).await {
                    Ok(resp) => Outcome::Ok(resp.key().to_vec()),
                    Err(e) => classify(e),
                }
            })
            .await;
            let lock_key = match self.withdraw(&granted, &name, locked, "not granted").await.into_value() {
                Ok(k) => k,
                Err(other) => return other,
            };
            let revision = deadline(timeout, async {
                match self.client.get(lock_key.clone(), None).await {
                    Ok(resp) => match resp.kvs().first() {
                        Some(kv) => Outcome::Ok(kv.create_revision()),
                        None => Outcome::Info("lock key vanished right after the grant".into()),
                    },
                    Err(e) => classify(e),
                }
            })
            .await;
            match revision {
                Outcome::Ok(revision) => {
                    let handle = format!("{lease}\n{}", String::from_utf8_lossy(&lock_key));
                    let grant = Grant::new(key, Some(revision), Some(&self.node), handle)
                        .leased(Duration::from_secs(ttl_secs as u64));
                    self.keep_alive(key, lease, ttl_secs, None);
                    Outcome::Ok(grant)
                }
                // Held, but without its token. Giving it back at once ends
                // the grant before we answer: it was held until the revoke,
                // so `Undone`, not `Fail`; failing that, the process retires
                // and its lease is an orphan.
                Outcome::Fail(e)
                | Outcome::Busy(e)
                | Outcome::Info(e)
                | Outcome::SessionLost(e)
                | Outcome::Undone(e) => match self.revoke(lease).await {
                    Outcome::Ok(_) => Outcome::Undone(format!("granted, token unknown ({e}); lease revoked")),
                    _ => Outcome::Info(format!("granted, token unknown: {e}")),
                },
            }
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let Some((lease, lock_key)) = grant.handle.split_once('\n') else {
                return Outcome::Fail("not an etcd grant".into());
            };
            let lease: i64 = lease.parse().unwrap_or_default();
            // `Unlock` is a delete of the lock key that succeeds even when
            // the key is already gone; deleting it ourselves tells us whether
            // we still held the lock. (A lease the keep-alive gave up on may
            // still be alive: the delete, not that flag, says.)
            let unlocked = deadline(self.options.timeout, async {
                match self.client.delete(lock_key, None).await {
                    Ok(resp) => Outcome::Ok(resp.deleted() > 0),
                    Err(e) => classify(e),
                }
            })
            .await;
            self.end_hold(lease, unlocked, "not the holder: the lock key is gone").await
        })
    }

    fn orphans(&mut self) -> Vec<Orphan> {
        self.take_orphans()
    }
}

impl EtcdLock {
    /// Deletes `key` if it is still the one created at `revision`:
    /// `Ok(true)` when it was (we still held it), `Ok(false)` when it was
    /// gone or replaced.
    async fn delete_if_created_at(&mut self, key: &str, revision: i64) -> Outcome<bool> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, revision)])
            .and_then([TxnOp::delete(key, None)]);
        deadline(self.options.timeout, async {
            match self.client.txn(txn).await {
                Ok(resp) => Outcome::Ok(resp.succeeded()),
                Err(e) => classify(e),
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
            let granted = match self.grant_lease(ttl).await {
                Ok(granted) => granted,
                Err(e) => return Outcome::Fail(e),
            };
            let (lease, ttl_secs) = (granted.id, granted.ttl_secs);
            self.queued.insert(lease, name.to_string());
            let election = format!("fencepost/elections/{name}");
            let wait = self.options.acquire_wait + self.options.timeout;
            let won = deadline(wait, async {
                match self.client.campaign(election.as_str(), id, lease).await {
                    Ok(resp) => match resp.leader() {
                        Some(key) => Outcome::Ok((String::from_utf8_lossy(key.key()).into_owned(), key.rev())),
                        None => Outcome::Info("campaign answered without a leader key".into()),
                    },
                    Err(e) => classify(e),
                }
            })
            .await;
            let (key, term) = match self.withdraw(&granted, &election, won, "not elected").await.into_value() {
                Ok(won) => won,
                Err(other) => return other,
            };
            let leadership = Leadership::new(name, term, Some(&self.node), format!("{lease}\n{key}"))
                .leased(Duration::from_secs(ttl_secs as u64));
            self.keep_alive(name, lease, ttl_secs, Some(leadership.lost.clone()));
            Outcome::Ok(leadership)
        })
    }

    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let Some((lease, key)) = leadership.handle.split_once('\n') else {
                return Outcome::Fail("not an etcd leadership".into());
            };
            let lease: i64 = lease.parse().unwrap_or_default();
            let resigned = self.delete_if_created_at(key, leadership.term).await;
            self.end_hold(lease, resigned, "no longer the leader: the key is gone or replaced").await
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
                    // etcd answers "election: no leader" as NotFound: an
                    // answer, not a failure.
                    Err(e) if is_not_found(&e) => Outcome::Ok(None),
                    Err(e) => classify(e),
                }
            })
            .await
        })
    }

    fn orphans(&mut self) -> Vec<Orphan> {
        self.take_orphans()
    }
}

impl System for Etcd {
    fn crash_patterns(&self) -> &'static [&'static str] {
        &["\"level\":\"fatal\"", "\"level\":\"panic\"", "panic: ", "fatal error: ", " C | "]
    }

    fn layout(&self) -> &'static Layout {
        self.0
    }
    /// Raft's own account of leadership: `raft2026/11/28 05:49:57 INFO:
    /// <member> became candidate at term 7` and the like (second resolution,
    /// UTC as the containers run).
    fn log_events(&self, log: &str) -> Vec<LogEvent> {
        log.lines().filter_map(raft_event).collect()
    }
    /// What `etcdctl endpoint health` does: a linearizable read through this
    /// member, which only succeeds once the cluster has a leader and quorum.
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut client = connect(&[node], Duration::from_secs(2)).await?;
            client.get("health", None).await?;
            Ok(())
        })
    }
    fn clients(&self) -> Clients {
        Clients::both::<EtcdLock>()
    }
    /// Whole seconds, renewed every third of them.
    fn lease(&self, ttl: Duration) -> Option<super::Lease> {
        let ttl = Duration::from_secs(lease_secs(ttl) as u64);
        Some(super::Lease { ttl, renewal: Some(ttl / 3) })
    }
    fn ttl_note(&self, ttl: Duration) -> Option<String> {
        let secs = lease_secs(ttl);
        (Duration::from_secs(secs as u64) != ttl).then(|| {
            format!("etcd leases last whole seconds, at least {MIN_LEASE_SECS}: --ttl {ttl:?} is used as {secs} s")
        })
    }
    /// Through whichever member answers, so that a partition that cut off
    /// the orphan's own member does not keep it alive.
    fn revoke_orphan<'a>(
        &'a self,
        nodes: &'a [Node],
        orphan: &'a Orphan,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Outcome<bool>> {
        Box::pin(async move {
            let all: Vec<&Node> = nodes.iter().collect();
            // Not connected: nothing was sent.
            let mut client = match deadline(options.timeout, async {
                connect(&all, options.timeout).await.map_or_else(|e| Outcome::Fail(e.to_string()), Outcome::Ok)
            })
            .await
            .into_value()
            {
                Ok(client) => client,
                Err(Outcome::Info(e)) => return Outcome::Fail(format!("connecting: {e}")),
                Err(other) => return other,
            };
            revoke_lease(&mut client, orphan.lease, options.timeout).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(e: etcd_client::Error) -> &'static str {
        match classify::<()>(e) {
            Outcome::Ok(()) => "ok",
            Outcome::Fail(_) | Outcome::Busy(_) => "fail",
            Outcome::Info(_) => "info",
            Outcome::SessionLost(_) => "session-lost",
            Outcome::Undone(_) => "undone",
        }
    }

    fn status(code: Code, message: &str) -> etcd_client::Error {
        etcd_client::Error::GRpcStatus(tonic::Status::new(code, message))
    }

    #[test]
    fn codes_etcd_answers_before_applying_are_fail() {
        assert_eq!(outcome(status(Code::NotFound, "etcdserver: requested lease not found")), "fail");
        assert_eq!(outcome(status(Code::ResourceExhausted, "etcdserver: mvcc: database space exceeded")), "fail");
        assert_eq!(outcome(status(Code::InvalidArgument, "etcdserver: key is not provided")), "fail");
        assert_eq!(outcome(status(Code::FailedPrecondition, "etcdserver: not leader")), "fail");
        assert_eq!(outcome(etcd_client::Error::InvalidArgs("no".into())), "fail");
    }

    #[test]
    fn timeouts_and_unavailability_are_info() {
        assert_eq!(outcome(status(Code::Unavailable, "etcdserver: request timed out")), "info");
        assert_eq!(outcome(status(Code::Unavailable, "etcdserver: leader changed")), "info");
        assert_eq!(outcome(status(Code::DeadlineExceeded, "context deadline exceeded")), "info");
        assert_eq!(outcome(status(Code::Cancelled, "context canceled")), "info");
        assert_eq!(outcome(status(Code::Unknown, "transport is closing")), "info");
        assert_eq!(outcome(etcd_client::Error::IoError(std::io::ErrorKind::ConnectionReset.into())), "info");
    }

    #[test]
    fn no_leader_is_told_by_its_code() {
        assert!(is_not_found(&status(Code::NotFound, "etcdserver: election: no leader")));
        assert!(!is_not_found(&status(Code::Unavailable, "etcdserver: no leader")));
    }

    #[test]
    fn ttl_notes() {
        assert_eq!(Etcd::PLAIN.ttl_note(Duration::from_secs(5)), None);
        assert!(Etcd::PLAIN.ttl_note(Duration::from_millis(1500)).unwrap().contains("2 s"));
        assert!(Etcd::PLAIN.ttl_note(Duration::from_millis(3500)).unwrap().contains("4 s"));
        assert_eq!(Etcd::PREVOTE.ttl_note(Duration::from_secs(3)), None);
        let (plain, prevote) = (Etcd::PLAIN.layout(), Etcd::PREVOTE.layout());
        assert_eq!(prevote.node_env, &[("ETCD_PRE_VOTE", "true")]);
        assert_eq!(
            (prevote.image, prevote.nodes, prevote.ports, prevote.names_leader, prevote.clock_refusal),
            (plain.image, plain.nodes, plain.ports, plain.names_leader, plain.clock_refusal)
        );
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
mod log_tests {
    use super::*;

    #[test]
    fn raft_lines_become_leadership_events() {
        let log = "raft2026/11/28 05:49:56 INFO: ddb6 became follower at term 5\n\
                   raft2026/11/28 05:49:57 INFO: ddb6 became candidate at term 7\n\
                   raft2026/11/28 05:49:57 INFO: ddb6 [logterm: 2, index: 520, vote: 0] rejected MsgVote from 8025 [logterm: 2, index: 446] at term 6\n\
                   2026-11-28 05:49:45.858150 I | embed: name = n1\n\
                   raft2026/11/28 05:49:58 INFO: raft.node: ddb6 lost leader ddb6 at term 8\n";
        let events = Etcd::PLAIN.log_events(log);
        let texts: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            ["campaigned (term 7)", "refused a vote (the candidate's log was behind)", "lost its leader (term 8)"]
        );
        assert_eq!(events[0].unix_ms % 1000, 0);
        assert_eq!(events[2].unix_ms - events[0].unix_ms, 1000);
    }
}
