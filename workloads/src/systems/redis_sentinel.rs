//! Redis Sentinel: one primary, two replicas (asynchronous replication), and
//! a Sentinel on each of the three nodes (quorum 2) that promotes a replica
//! when the primary is down for 2 s. No persistence, as `redis`.
//!
//! Clients find the primary the way Sentinel's client guidelines say: ask a
//! Sentinel (`SENTINEL get-master-addr-by-name`), connect, check `ROLE` says
//! master; a Sentinel that does not answer, or names a node that is not a
//! primary, is passed over for the next. Each worker asks its own node's
//! Sentinel first (by slot, as other systems bind clients to members), the
//! way an application server asks the Sentinel next to it.
//!
//! Clients learn of a failover as the guidelines say, by asking again:
//! before each acquire and campaign a client asks its own Sentinel (over a
//! connection it keeps, so one round trip) and moves only when that
//! Sentinel names another node, which answers `ROLE` as a primary. And
//! after an operation on its primary errs (`READONLY` after a demotion, a
//! broken connection, a timeout) it asks all the Sentinels again. So when
//! the primary is cut off from the replicas and the other Sentinels (a
//! partition cuts node-to-node traffic; clients reach every node), the
//! clients whose Sentinel is on the majority side move to the replica it
//! promotes, while those whose Sentinel is the old primary's own keep
//! writing to it: two primaries granting the same lock, the split brain
//! Jepsen found in 2013.
//!
//! Sentinel names the primary by its address on the run network, which the
//! client cannot reach (it reaches nodes only through ports published on
//! 127.0.0.1): the client maps the address to the node that has it now
//! ([`Node::ip`]; addresses change when nodes restart in another order) and
//! connects to that node's published port. That is why this does not use
//! the `redis` crate's `sentinel` module: it connects to the address
//! Sentinel names as is, with no way to map it. (Names instead of addresses,
//! with Sentinel's `resolve-hostnames`, would need no map, but Redis 7.0's
//! Sentinel resolves a name once and keeps the address: see the image's
//! `start`.)
//!
//! The lock and election recipes are `redis`'s (the same scripts and
//! outcome classification), run against whichever node is the primary.
//!
//! `redis-sentinel:min-replicas` is the same cluster with
//! `min-replicas-to-write 1` and `min-replicas-max-lag 1` on every server: a
//! primary that has heard from no replica for over a second refuses writes
//! (`NOREPLICAS`), which bounds how long a cut-off old primary keeps granting.

use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use ::redis::{RedisError, Role};
use node::Node;

use super::redis::{self, SetNx, Writes, RELEASE, RENEW};
use super::{member, BoxFuture, Clients, Connect, Error, Layout, LogEvent, Seat, System};
use crate::client::{
    deadline, unique_value, ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Outcome,
};

/// Where each node's Sentinel listens (published beside the Redis port).
pub const SENTINEL_PORT: u16 = 26379;

/// The name the Sentinels monitor the primary under (the image's `start`).
pub const MASTER_NAME: &str = "fp";

pub const LAYOUT: Layout = Layout {
    name: "redis-sentinel",
    image: "redis-sentinel",
    nodes: 3,
    ports: &[redis::PORT, SENTINEL_PORT],
    description: "one Redis primary, two replicas, a Sentinel on each node (quorum 2), no persistence",
    names_leader: true,
    clock_refusal: None,
    durability_refusal: None,
    data_file: None,
    member_refusal: Some(
        "fencepost changes the membership of etcd and ZooKeeper only so far; Sentinel's (SENTINEL RESET, a \
         replica removed) is not one of its faults yet",
    ),
    node_env: &[],
};

/// The same cluster, with every server refusing writes unless a replica
/// acknowledged within the last second (the start script reads the
/// variables).
pub const MIN_REPLICAS_LAYOUT: Layout = Layout {
    name: "redis-sentinel:min-replicas",
    description: "redis-sentinel with min-replicas-to-write 1, min-replicas-max-lag 1 s",
    node_env: &[("FP_MIN_REPLICAS_TO_WRITE", "1"), ("FP_MIN_REPLICAS_MAX_LAG", "1")],
    ..LAYOUT
};

/// Redis Sentinel's recipes over one of its layouts.
pub struct RedisSentinel(&'static Layout);

impl RedisSentinel {
    pub const PLAIN: RedisSentinel = RedisSentinel(&LAYOUT);
    pub const MIN_REPLICAS: RedisSentinel = RedisSentinel(&MIN_REPLICAS_LAYOUT);
}

/// What a Sentinel answers for the primary's address (its announced name).
/// Connections come from [`redis::connect_to`], with the timeout as their
/// response timeout.
async fn named_primary(sentinel: &mut MultiplexedConnection) -> Result<Option<(String, u16)>, Error> {
    let mut ask = ::redis::cmd("SENTINEL");
    ask.arg("get-master-addr-by-name").arg(MASTER_NAME);
    Ok(ask.query_async(sentinel).await?)
}

fn unexpected(answer: String) -> Error {
    Error::UnexpectedAnswer { request: "SENTINEL get-master-addr-by-name", answer }
}

/// The run-network address a Sentinel names the primary by.
async fn named_address(sentinel: &mut MultiplexedConnection) -> Result<String, Error> {
    match named_primary(sentinel).await? {
        Some((ip, port)) if port == redis::PORT => Ok(ip),
        Some((ip, port)) => Err(unexpected(format!("{ip}:{port}"))),
        None => Err(unexpected("nil".into())),
    }
}

/// The node that has run-network address `ip` now (one Docker inspect per
/// node, so only when the address is new to the caller).
async fn node_at<'n>(ip: &str, nodes: &'n [Node]) -> Result<&'n Node, Error> {
    for node in nodes {
        // A node that is down has no address: it is not the one named.
        if node.ip().await.is_ok_and(|at| at == ip) {
            return Ok(node);
        }
    }
    Err(unexpected(format!("{ip}, which no running node has")))
}

/// The node a Sentinel names as the primary, mapped from its address.
pub async fn ask_sentinel<'n>(sentinel: &Node, nodes: &'n [Node], timeout: Duration) -> Result<&'n Node, Error> {
    let mut conn = redis::connect_to(sentinel, SENTINEL_PORT, timeout).await?;
    let ip = named_address(&mut conn).await?;
    node_at(&ip, nodes).await
}

/// The node's Redis as it describes itself.
async fn role(conn: &mut MultiplexedConnection) -> Result<Role, Error> {
    Ok(::redis::cmd("ROLE").query_async(conn).await?)
}

/// A connection to the primary: which node, and the address its Sentinel
/// named it by (to tell a new answer from the same one without asking
/// Docker).
struct Current {
    node: String,
    ip: String,
    conn: MultiplexedConnection,
}

/// What a client's own Sentinel said, for [`Primary::follow`].
enum Followed {
    /// The address of the primary the client uses.
    Same,
    /// The client's primary, under a new address.
    Readdressed(String),
    /// Another node, which does not answer as a primary (yet).
    NotPrimaryYet,
    /// Another node, a primary, connected.
    Moved(Current),
}

/// A connection to `node` if its Redis answers `ROLE` as a primary.
async fn connect_primary(node: &Node, ip: String, timeout: Duration) -> Result<Current, Error> {
    let mut conn = redis::connect(node, timeout).await?;
    match role(&mut conn).await? {
        Role::Primary { .. } => Ok(Current { node: node.name().to_string(), ip, conn }),
        // Named during a failover, or by a Sentinel that has not heard of
        // it yet: not one to write to.
        other => Err(Error::UnexpectedAnswer { request: "ROLE", answer: format!("{other:?}") }),
    }
}

/// The primary as the Sentinels name it, found by asking them in turn from
/// `nodes[first]`: the first named node whose `ROLE` says master, connected.
async fn find_primary(nodes: &[Node], first: usize, timeout: Duration) -> Result<Current, Error> {
    let mut last = None;
    for i in 0..nodes.len() {
        let sentinel = &nodes[(first + i) % nodes.len()];
        let found = async {
            let mut conn = redis::connect_to(sentinel, SENTINEL_PORT, timeout).await?;
            let ip = named_address(&mut conn).await?;
            let node = node_at(&ip, nodes).await?;
            connect_primary(node, ip, timeout).await
        };
        match found.await {
            Ok(primary) => return Ok(primary),
            Err(e) => last = Some(format!("{}'s Sentinel: {e}", sentinel.name())),
        }
    }
    Err(Error::NoPrimary { why: last.unwrap_or_else(|| "no nodes".into()) })
}

/// One client's way to the primary: found through the Sentinels when first
/// needed and again after any operation on it erred, and followed to the
/// node its own Sentinel names before each acquire or campaign.
struct Primary {
    nodes: Vec<Node>,
    /// The node whose Sentinel this client asks first.
    first: usize,
    timeout: Duration,
    conn: Option<Current>,
    /// Kept open to `nodes[first]`'s Sentinel for [`Primary::follow`].
    sentinel: Option<MultiplexedConnection>,
    /// After its Sentinel did not answer, when to ask it again.
    quiet_until: Option<Instant>,
}

impl Primary {
    fn new(nodes: &[Node], slot: usize, timeout: Duration) -> Primary {
        let first = nodes.iter().position(|n| n.name() == member(nodes, slot).name()).unwrap_or(0);
        Primary { nodes: nodes.to_vec(), first, timeout, conn: None, sentinel: None, quiet_until: None }
    }

    /// The way for a new client, with the primary found now, so that a
    /// worker does not start while no primary can be found (the runner
    /// retries a client that fails to connect).
    async fn found(seat: Seat<'_>) -> Result<Primary, Error> {
        let mut primary = Primary::new(seat.nodes, seat.slot, seat.options.timeout);
        primary.conn = Some(find_primary(seat.nodes, primary.first, seat.options.timeout).await?);
        Ok(primary)
    }

    /// Asks this client's own Sentinel which node is the primary and moves
    /// there if it names another node that answers as a primary. Nothing
    /// changes when the Sentinel names the same address (one round trip),
    /// names a node that is not a primary yet (mid-failover), or does not
    /// answer; the client then stays where it is, and an error there sends
    /// it to all the Sentinels ([`Primary::run`]).
    async fn follow(&mut self) {
        let Some(current) = &self.conn else { return };
        if self.quiet_until.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let (node, ip) = (current.node.clone(), current.ip.clone());
        let (nodes, first, timeout) = (&self.nodes, self.first, self.timeout);
        let sentinel = &mut self.sentinel;
        let asked = tokio::time::timeout(timeout, async {
            if sentinel.is_none() {
                *sentinel = Some(redis::connect_to(&nodes[first], SENTINEL_PORT, timeout).await?);
            }
            let Some(conn) = sentinel.as_mut() else { unreachable!("just connected") };
            let named = named_address(conn).await?;
            if named == ip {
                return Ok::<_, Error>(Followed::Same);
            }
            let at = node_at(&named, nodes).await?;
            if at.name() == node {
                return Ok(Followed::Readdressed(named));
            }
            let mut conn = redis::connect(at, timeout).await?;
            Ok(match role(&mut conn).await? {
                Role::Primary { .. } => Followed::Moved(Current { node: at.name().to_string(), ip: named, conn }),
                _ => Followed::NotPrimaryYet,
            })
        })
        .await;
        match asked {
            Ok(Ok(Followed::Same | Followed::NotPrimaryYet)) => {}
            // The same node under a new address (it restarted): keep the
            // connection, so that the next answer is `Same` again.
            Ok(Ok(Followed::Readdressed(ip))) => {
                if let Some(current) = self.conn.as_mut() {
                    current.ip = ip;
                }
            }
            Ok(Ok(Followed::Moved(moved))) => self.conn = Some(moved),
            Ok(Err(_)) | Err(_) => {
                // A Sentinel that is down or frozen would cost every acquire
                // a timeout: leave it alone for a while (the client's other
                // way to learn of a failover, an error, still works).
                self.sentinel = None;
                self.quiet_until = Some(Instant::now() + self.timeout * 4);
            }
        }
    }

    /// Runs `op` on the primary with the client's deadline: the name of the
    /// node it ran on and the outcome. `Fail` when no primary could be found
    /// (nothing was sent); an error reply is classified as `redis` does, and
    /// an error or a timeout makes the next operation ask the Sentinels again.
    async fn run<T>(
        &mut self,
        op: impl AsyncFnOnce(&mut MultiplexedConnection) -> Result<T, (RedisError, Writes)>,
    ) -> (Option<String>, Outcome<T>) {
        if self.conn.is_none() {
            match find_primary(&self.nodes, self.first, self.timeout).await {
                Ok(found) => self.conn = Some(found),
                Err(e) => return (None, Outcome::Fail(e.to_string())),
            }
        }
        let Some(Current { node, conn, .. }) = self.conn.as_mut() else { unreachable!("just connected") };
        let node = node.clone();
        let mut answered = false;
        let outcome = deadline(self.timeout, async {
            match op(conn).await {
                Ok(v) => {
                    answered = true;
                    Outcome::Ok(v)
                }
                Err((e, writes)) => redis::classify(e, writes),
            }
        })
        .await;
        if !answered {
            self.conn = None;
        }
        (Some(node), outcome)
    }
}

/// One process's lock client: `redis`'s lock on the current primary.
pub struct SentinelLock {
    primary: Primary,
    process: u64,
    counter: u64,
    options: ClientOptions,
}

impl Connect for SentinelLock {
    async fn connect(seat: Seat<'_>) -> Result<SentinelLock, Error> {
        let primary = Primary::found(seat).await?;
        Ok(SentinelLock { primary, process: seat.process, counter: 0, options: seat.options.clone() })
    }
}

impl LockClient for SentinelLock {
    fn acquire<'a>(&'a mut self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let value = unique_value(self.process, &mut self.counter);
            let fenced = self.options.fenced;
            // SET NX cannot wait; with an acquire wait, poll until it passes
            // (which also waits out a failover: finding no primary is a Fail).
            self.primary.follow().await;
            let give_up = Instant::now() + self.options.acquire_wait;
            loop {
                let (node, set) =
                    self.primary.run(async |conn| redis::try_set_nx(conn, key, &value, ttl, fenced).await).await;
                let set = match set {
                    Outcome::Ok(SetNx::Granted(token)) => Outcome::Ok(token),
                    Outcome::Ok(SetNx::Busy) => Outcome::Busy("lock busy".into()),
                    other => other.map(|_| None),
                };
                if matches!(set, Outcome::Fail(_) | Outcome::Busy(_)) && Instant::now() < give_up {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                return set.map(|token| Grant::new(key, token, node.as_deref(), value).leased(ttl));
            }
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let (key, value) = (&grant.key, &grant.handle);
            let (_, released) = self.primary.run(async |conn| if_ours(conn, RELEASE, key, value, None).await).await;
            redis::as_holder(released)
        })
    }

    fn renew<'a>(&'a mut self, grant: &'a Grant, ttl: Duration) -> BoxFuture<'a, Outcome<Option<Duration>>> {
        Box::pin(async move {
            let (key, value) = (&grant.key, &grant.handle);
            let (_, renewed) = self.primary.run(async |conn| if_ours(conn, RENEW, key, value, Some(ttl)).await).await;
            redis::as_holder(renewed).map(|()| Some(ttl))
        })
    }
}

/// [`redis::try_if_ours`] with the error as [`Primary::run`] takes it.
async fn if_ours(
    conn: &mut MultiplexedConnection,
    script: &str,
    key: &str,
    value: &str,
    ttl: Option<Duration>,
) -> Result<bool, (RedisError, Writes)> {
    redis::try_if_ours(conn, script, key, value, ttl).await.map_err(|e| (e, Writes::AtMostOne))
}

/// One process's election client: `redis`'s lease election on the current
/// primary.
pub struct SentinelElection {
    primary: Primary,
    options: ClientOptions,
}

impl Connect for SentinelElection {
    async fn connect(seat: Seat<'_>) -> Result<SentinelElection, Error> {
        Ok(SentinelElection { primary: Primary::found(seat).await?, options: seat.options.clone() })
    }
}

impl ElectionClient for SentinelElection {
    fn campaign<'a>(&'a mut self, name: &'a str, id: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Leadership>> {
        Box::pin(async move {
            self.primary.follow().await;
            let give_up = Instant::now() + self.options.acquire_wait;
            loop {
                let (node, won) = self
                    .primary
                    .run(async |conn| redis::try_campaign(conn, name, id, ttl).await.map_err(|e| (e, Writes::Several)))
                    .await;
                let won = match won {
                    Outcome::Ok(Some(term)) => Outcome::Ok(term),
                    Outcome::Ok(None) => Outcome::Busy("another candidate leads".into()),
                    other => other.map(|_| 0),
                };
                if matches!(won, Outcome::Fail(_) | Outcome::Busy(_)) && Instant::now() < give_up {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let node = node.unwrap_or_default();
                return won.map(|term| redis::leadership(name, id, &node, term, ttl));
            }
        })
    }

    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let (key, value) = (format!("election:{}", leadership.name), &leadership.handle);
            let (_, resigned) = self.primary.run(async |conn| if_ours(conn, RELEASE, &key, value, None).await).await;
            redis::as_holder(resigned)
        })
    }

    fn renew<'a>(&'a mut self, leadership: &'a Leadership, ttl: Duration) -> BoxFuture<'a, Outcome<Option<Duration>>> {
        Box::pin(async move {
            let (key, value) = (format!("election:{}", leadership.name), &leadership.handle);
            let (_, renewed) = self.primary.run(async |conn| if_ours(conn, RENEW, &key, value, Some(ttl)).await).await;
            redis::as_holder(renewed).map(|()| Some(ttl))
        })
    }

    fn leader<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, Outcome<Option<Leader>>> {
        Box::pin(async move {
            let read = async |conn: &mut MultiplexedConnection| {
                redis::try_leader(conn, name).await.map_err(|e| (e, Writes::AtMostOne))
            };
            self.primary.run(read).await.1
        })
    }
}

/// Serving, for a node: its Redis answers, as a primary or as a replica
/// whose link to its primary is up; its Sentinel names a primary, sees
/// enough Sentinels to authorize a failover (`SENTINEL CKQUORUM`), and knows
/// every other Sentinel and every replica. Without the last, a primary killed
/// in the first seconds is never replaced: a Sentinel learns replicas only
/// from the primary's `INFO` (every 10 s, so the first answer may list none
/// yet), and a failover needs a majority of Sentinels that know each other.
async fn probe(node: &Node, nodes: usize) -> Result<(), Error> {
    let timeout = Duration::from_secs(2);
    let mut conn = redis::connect(node, timeout).await?;
    match role(&mut conn).await? {
        Role::Primary { .. } => {}
        Role::Replica { replication_state, .. } if replication_state == "connected" => {}
        other => return Err(Error::UnexpectedAnswer { request: "ROLE", answer: format!("{other:?}") }),
    }
    let mut sentinel = redis::connect_to(node, SENTINEL_PORT, timeout).await?;
    if named_primary(&mut sentinel).await?.is_none() {
        return Err(Error::UnexpectedAnswer { request: "SENTINEL get-master-addr-by-name", answer: "nil".into() });
    }
    ::redis::cmd("SENTINEL").arg("ckquorum").arg(MASTER_NAME).query_async::<String>(&mut sentinel).await?;
    // `SENTINEL MASTER` answers a flat list of field, value, field, value.
    let fields: Vec<String> =
        ::redis::cmd("SENTINEL").arg("master").arg(MASTER_NAME).query_async(&mut sentinel).await?;
    let count = |name: &str| {
        let at = fields.chunks_exact(2).find(|pair| pair[0] == name);
        at.and_then(|pair| pair[1].parse::<usize>().ok()).unwrap_or(0)
    };
    let (replicas, sentinels) = (count("num-slaves"), count("num-other-sentinels"));
    if replicas + 1 < nodes || sentinels + 1 < nodes {
        let answer = format!("knows {replicas} replicas and {sentinels} other Sentinels of {nodes} nodes");
        return Err(Error::UnexpectedAnswer { request: "SENTINEL MASTER", answer });
    }
    Ok(())
}

impl System for RedisSentinel {
    fn crash_patterns(&self) -> &'static [&'static str] {
        super::redis::REDIS_CRASHES
    }

    fn layout(&self) -> &'static Layout {
        self.0
    }
    fn ttl_note(&self, ttl: Duration) -> Option<String> {
        redis::sub_millisecond(ttl)
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(probe(node, self.0.nodes))
    }
    fn clients(&self) -> Clients {
        Clients::lock::<SentinelLock>().election::<SentinelElection>()
    }
    /// Sentinel's failover steps and the servers' role changes, e.g.
    /// `1:X 28 Nov 2026 10:58:57.043 # +switch-master fp n1 6379 n2 6379`.
    fn log_events(&self, log: &str) -> Vec<LogEvent> {
        log.lines().filter_map(log_event).collect()
    }
}

/// One line of a node's log as a leadership event, if it is one.
fn log_event(line: &str) -> Option<LogEvent> {
    // `<pid>:<role> <day> <month> <year> <h:m:s.ms> <level> <message>`; role
    // X is the Sentinel, M/S the server as primary/replica.
    let mut fields = line.splitn(7, ' ');
    let (_, day, month, year, time, _) =
        (fields.next()?, fields.next()?, fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    let message = fields.next()?;
    let words: Vec<&str> = message.split_whitespace().collect();
    let text = match words.as_slice() {
        ["+sdown", "master", MASTER_NAME, host, ..] => format!("its Sentinel sees primary {host} down"),
        ["+odown", "master", MASTER_NAME, host, ..] => format!("Sentinels agree primary {host} is down"),
        ["+elected-leader", "master", MASTER_NAME, host, ..] => {
            format!("its Sentinel leads the failover of {host}")
        }
        ["+switch-master", MASTER_NAME, old, _, new, _] => format!("Sentinel: primary {old} → {new}"),
        ["+convert-to-slave", "slave", _, host, ..] => format!("Sentinel turns {host} into a replica"),
        ["+tilt", ..] => "its Sentinel entered TILT mode (its clock jumped or it stalled)".to_string(),
        ["-tilt", ..] => "its Sentinel left TILT mode".to_string(),
        ["MASTER", "MODE", "enabled", ..] => "its Redis became a primary".to_string(),
        _ => return None,
    };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let stamp = format!("{year}-{month:02}-{:02} {time}", day.parse::<u32>().ok()?);
    let when = humantime::parse_rfc3339_weak(&stamp).ok()?;
    let unix_ms = when.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64;
    Some(LogEvent { unix_ms, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_min_replicas_variant_is_the_same_cluster_with_two_settings() {
        let (plain, variant) = (&LAYOUT, &MIN_REPLICAS_LAYOUT);
        assert_eq!(
            (variant.image, variant.nodes, variant.ports, variant.names_leader, variant.clock_refusal),
            (plain.image, plain.nodes, plain.ports, plain.names_leader, plain.clock_refusal)
        );
        assert!(plain.node_env.is_empty());
        let names: Vec<&str> = variant.node_env.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["FP_MIN_REPLICAS_TO_WRITE", "FP_MIN_REPLICAS_MAX_LAG"]);
        assert_eq!(super::super::by_name(variant.name).unwrap().layout(), variant);
    }

    #[test]
    fn failover_lines_become_leadership_events() {
        let log = "1:X 28 Nov 2026 10:58:57.043 # +sdown master fp n1 6379\n\
                   1:X 28 Nov 2026 10:58:57.100 # +odown master fp n1 6379 #quorum 2/2\n\
                   1:X 28 Nov 2026 10:58:57.200 * Sentinel new configuration saved on disk\n\
                   1:X 28 Nov 2026 10:58:58.543 # +switch-master fp n1 6379 n2 6379\n\
                   1:M 28 Nov 2026 10:58:58.600 * MASTER MODE enabled (user request from 'id=5 addr=n3:1')\n\
                   1:X 28 Nov 2026 10:59:09.000 # +convert-to-slave slave n1:6379 n1 6379 @ fp n2 6379\n";
        let events = RedisSentinel::PLAIN.log_events(log);
        let texts: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "its Sentinel sees primary n1 down",
                "Sentinels agree primary n1 is down",
                "Sentinel: primary n1 → n2",
                "its Redis became a primary",
                "Sentinel turns n1 into a replica",
            ]
        );
        assert_eq!(events[2].unix_ms - events[0].unix_ms, 1500);
        assert_eq!(events[0].unix_ms % 1000, 43);
    }
}
