//! Redis: one server, no persistence (a restart forgets every lock).
//!
//! `redis:aof-always` is the same server with the append-only file on and
//! fsynced before every write is acknowledged (`appendonly yes`,
//! `appendfsync always`): a server killed and started again replays it, so
//! it keeps its lock keys, their expiry times (absolute, so a lease kept
//! running while the server was down) and the fence counters.
//! `redis:aof-everysec` fsyncs once a second, as Redis's documentation
//! recommends: a kill loses nothing the kernel holds, a power cut
//! (`lose-unsynced`) up to a second of acknowledged writes.
//!
//! Lock: `SET key value NX PX ttl` with a value no one else holds; release
//! and renew are Lua scripts that act only if the key still holds our value
//! (so a holder whose lease expired cannot delete its successor's lock). The
//! fenced variant's acquire script also `INCR`s `fence:{key}` in the same
//! atomic step and returns it as the token.

use std::time::Duration;

use node::Node;
use redis::aio::MultiplexedConnection;
use redis::{ErrorKind, RedisError, Script, ServerErrorKind};

use super::{client_address, BoxFuture, Clients, Connect, Error, Layout, Seat, System};
use crate::client::{
    deadline, unique_value, ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Outcome,
};

pub const PORT: u16 = 6379;

/// Redis's recipes over one of its layouts: [`Redis::PLAIN`] or a variant.
pub struct Redis(&'static Layout);

impl Redis {
    pub const PLAIN: Redis = Redis(&LAYOUT);
    pub const AOF_ALWAYS: Redis = Redis(&AOF_ALWAYS_LAYOUT);
    pub const AOF_EVERYSEC: Redis = Redis(&AOF_EVERYSEC_LAYOUT);
}

pub const LAYOUT: Layout = Layout {
    name: "redis",
    image: "redis",
    nodes: 1,
    ports: &[PORT],
    description: "one Redis server, no persistence",
    names_leader: false,
    clock_refusal: None,
    durability_refusal: None,
    data_file: None,
    member_refusal: Some("a lone Redis server has no membership to change"),
    node_env: &[],
};

/// The append-only file Redis 7 appends to (its base is an RDB).
const AOF: &str = "/var/lib/fencepost/redis/appendonlydir/*.incr.aof";

/// Redis with the append-only file fsynced on every write (the start script
/// reads `FP_APPENDFSYNC`; Redlock, on the same image, sets nothing).
pub const AOF_ALWAYS_LAYOUT: Layout = Layout {
    name: "redis:aof-always",
    description: "one Redis server, append-only file fsynced on every write",
    node_env: &[("FP_APPENDFSYNC", "always")],
    data_file: Some(AOF),
    ..LAYOUT
};

/// Redis with the append-only file fsynced once a second, in the background.
pub const AOF_EVERYSEC_LAYOUT: Layout = Layout {
    name: "redis:aof-everysec",
    description: "one Redis server, append-only file fsynced once a second",
    node_env: &[("FP_APPENDFSYNC", "everysec")],
    data_file: Some(AOF),
    ..LAYOUT
};

/// How a Redis server says it crashed or will not start: its bug report, a
/// failed assertion, an append-only file or RDB it cannot load.
pub(crate) const REDIS_CRASHES: &[&str] = &[
    "REDIS BUG REPORT",
    "ASSERTION FAILED",
    "Guru Meditation",
    "Bad file format reading the append only file",
    "Fatal error loading",
    "Unrecoverable error",
    "Short read or OOM loading DB",
];

/// A multiplexed connection to one Redis node, through its published port.
pub async fn connect(node: &Node, timeout: Duration) -> Result<::redis::aio::MultiplexedConnection, Error> {
    connect_to(node, PORT, timeout).await
}

/// A multiplexed connection to whatever speaks RESP on the node's
/// `container_port` (a Redis server, a Sentinel), through its published port.
pub(crate) async fn connect_to(
    node: &Node,
    container_port: u16,
    timeout: Duration,
) -> Result<::redis::aio::MultiplexedConnection, Error> {
    let address = client_address(node, container_port)?;
    let client = ::redis::Client::open(format!("redis://{address}/"))?;
    let config =
        ::redis::AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(Some(timeout));
    Ok(client.get_multiplexed_async_connection_with_config(&config).await?)
}

/// `PX` counts whole milliseconds.
pub(crate) fn sub_millisecond(ttl: Duration) -> Option<String> {
    (!ttl.subsec_nanos().is_multiple_of(1_000_000) || ttl < Duration::from_millis(1)).then(|| {
        format!("Redis keys expire in whole milliseconds: --ttl {ttl:?} is used as {} ms", ttl.as_millis().max(1))
    })
}

/// PING through a fresh connection.
pub(crate) async fn ping(node: &Node) -> Result<(), Error> {
    let mut conn = connect(node, Duration::from_secs(2)).await?;
    let pong: String = ::redis::cmd("PING").query_async(&mut conn).await?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(Error::UnexpectedAnswer { request: "PING", answer: format!("{pong:?}") })
    }
}

const ACQUIRE_FENCED: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return redis.call('INCR', KEYS[2])
end
return false";

pub(crate) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0";

pub(crate) const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// How many writes the failed command could have made before an error
/// reply: Redis does not roll a script back, so a generic `ERR` from a
/// script that writes twice may come after its first write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Writes {
    /// A plain command, or a script with at most one write.
    AtMostOne,
    /// A script with more than one write (fenced acquire, campaign).
    Several,
}

/// Error codes the server answers before running the command at all.
const REFUSED: &[&str] = &["BUSY", "OOM", "NOAUTH", "WRONGPASS", "NOREPLICAS", "MISCONF"];

/// Maps a Redis error to an outcome: a refused connection, an error raised
/// in the client, or an error reply the server gives before running the
/// command means the command did nothing; a timeout, a broken connection, a
/// reply we could not read or an unknown error code leaves it unknown.
pub(crate) fn classify<T>(e: RedisError, writes: Writes) -> Outcome<T> {
    use ServerErrorKind as S;
    let refused = match e.kind() {
        ErrorKind::Io => e.is_connection_refusal(),
        ErrorKind::AuthenticationFailed
        | ErrorKind::InvalidClientConfig
        | ErrorKind::Client
        | ErrorKind::RESP3NotSupported
        | ErrorKind::MasterNameNotFoundBySentinel
        | ErrorKind::NoValidReplicasFoundBySentinel
        | ErrorKind::EmptySentinelList
        | ErrorKind::ClusterConnectionNotFound => true,
        ErrorKind::Server(S::ResponseError) => writes == Writes::AtMostOne,
        ErrorKind::Server(
            S::ExecAbort
            | S::BusyLoading
            | S::NoScript
            | S::Moved
            | S::Ask
            | S::TryAgain
            | S::ClusterDown
            | S::CrossSlot
            | S::MasterDown
            | S::ReadOnly
            | S::NotBusy
            | S::NoSub
            | S::NoPerm,
        ) => true,
        ErrorKind::Extension => e.code().is_some_and(|code| REFUSED.contains(&code)),
        // A reply came (so the command ran) but did not parse or had the
        // wrong type; or a kind this crate version added.
        _ => false,
    };
    if refused {
        Outcome::Fail(e.to_string())
    } else {
        Outcome::Info(e.to_string())
    }
}

/// One process's lock client: one connection to the single node.
pub struct RedisLock {
    conn: MultiplexedConnection,
    node: String,
    process: u64,
    counter: u64,
    options: ClientOptions,
}

impl Connect for RedisLock {
    async fn connect(seat: Seat<'_>) -> Result<RedisLock, Error> {
        let (node, options) = (seat.server(), seat.options);
        let conn = connect(node, options.timeout).await?;
        Ok(RedisLock {
            conn,
            node: node.name().to_string(),
            process: seat.process,
            counter: 0,
            options: options.clone(),
        })
    }
}

/// What `SET NX` (or the fenced script) found: the key was free and is now
/// ours (with the token where fenced), or another value held it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetNx {
    Granted(Option<i64>),
    Busy,
}

/// `SET NX PX` (or the fenced script) on one connection; an error comes with
/// how many writes the command could have made, for [`classify`].
pub(crate) async fn try_set_nx(
    conn: &mut MultiplexedConnection,
    key: &str,
    value: &str,
    ttl: Duration,
    fenced: bool,
) -> Result<SetNx, (RedisError, Writes)> {
    let ttl_ms = ttl.as_millis().max(1) as u64;
    if fenced {
        let script = Script::new(ACQUIRE_FENCED);
        match script.key(key).key(format!("fence:{key}")).arg(value).arg(ttl_ms).invoke_async(conn).await {
            Ok(Some(token)) => Ok(SetNx::Granted(Some(token))),
            Ok(None) => Ok(SetNx::Busy),
            Err(e) => Err((e, Writes::Several)),
        }
    } else {
        let set: Result<Option<String>, _> =
            redis::cmd("SET").arg(key).arg(value).arg("NX").arg("PX").arg(ttl_ms).query_async(conn).await;
        match set {
            Ok(Some(_)) => Ok(SetNx::Granted(None)),
            Ok(None) => Ok(SetNx::Busy),
            Err(e) => Err((e, Writes::AtMostOne)),
        }
    }
}

/// A [`try_set_nx`] as an outcome: `Ok(Some(token))` or `Ok(None)` when
/// granted, `Fail` when the key is taken.
pub(crate) fn granted(set: Result<SetNx, (RedisError, Writes)>) -> Outcome<Option<i64>> {
    match set {
        Ok(SetNx::Granted(token)) => Outcome::Ok(token),
        Ok(SetNx::Busy) => Outcome::Busy("lock busy".into()),
        Err((e, writes)) => classify(e, writes),
    }
}

/// `SET NX PX` (or the fenced script) on one connection: `Ok(Some(token))`
/// or `Ok(None)` when granted, `Fail` when the key is taken.
pub(crate) async fn set_nx(
    conn: &mut MultiplexedConnection,
    key: &str,
    value: &str,
    ttl: Duration,
    fenced: bool,
) -> Outcome<Option<i64>> {
    granted(try_set_nx(conn, key, value, ttl, fenced).await)
}

/// Runs the compare-and-delete (or compare-and-`PEXPIRE`) script: `true`
/// when the key still held our value, `false` when it held another or none.
/// Both scripts write once at most ([`Writes::AtMostOne`]).
pub(crate) async fn try_if_ours(
    conn: &mut MultiplexedConnection,
    script: &str,
    key: &str,
    value: &str,
    ttl: Option<Duration>,
) -> Result<bool, RedisError> {
    let script = Script::new(script);
    let mut invocation = script.key(key);
    invocation.arg(value);
    if let Some(ttl) = ttl {
        invocation.arg(ttl.as_millis().max(1) as u64);
    }
    Ok(invocation.invoke_async::<i64>(conn).await? == 1)
}

/// [`try_if_ours`] as an outcome: `Ok(true)` when the key still held our
/// value, `Ok(false)` when it held another or none.
pub(crate) async fn if_ours(
    conn: &mut MultiplexedConnection,
    script: &str,
    key: &str,
    value: &str,
    ttl: Option<Duration>,
) -> Outcome<bool> {
    try_if_ours(conn, script, key, value, ttl).await.map_or_else(|e| classify(e, Writes::AtMostOne), Outcome::Ok)
}

/// `Ok(false)` from [`if_ours`]: nothing done, we were not the holder.
pub(crate) fn as_holder(acted: Outcome<bool>) -> Outcome<()> {
    match acted {
        Outcome::Ok(false) => Outcome::Fail("not the holder (expired or taken over)".into()),
        other => other.map(|_| ()),
    }
}

impl LockClient for RedisLock {
    fn acquire<'a>(&'a mut self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let value = unique_value(self.process, &mut self.counter);
            let timeout = self.options.timeout;
            // SET NX cannot wait; with an acquire wait, poll until it passes.
            let give_up = std::time::Instant::now() + self.options.acquire_wait;
            loop {
                let set = deadline(timeout, set_nx(&mut self.conn, key, &value, ttl, self.options.fenced)).await;
                if matches!(set, Outcome::Fail(_) | Outcome::Busy(_)) && std::time::Instant::now() < give_up {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                let node = self.node.clone();
                return set.map(|token| Grant::new(key, token, Some(&node), value).leased(ttl));
            }
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let timeout = self.options.timeout;
            as_holder(deadline(timeout, if_ours(&mut self.conn, RELEASE, &grant.key, &grant.handle, None)).await)
        })
    }

    fn renew<'a>(&'a mut self, grant: &'a Grant, ttl: Duration) -> BoxFuture<'a, Outcome<Option<Duration>>> {
        Box::pin(async move {
            let timeout = self.options.timeout;
            let renewed = deadline(timeout, if_ours(&mut self.conn, RENEW, &grant.key, &grant.handle, Some(ttl))).await;
            as_holder(renewed).map(|()| Some(ttl))
        })
    }
}

/// Lease election: the leader key holds `candidate|term` with a TTL; the
/// term comes from `INCR` of a term counter in the same script, so terms
/// only grow. A leader renews with compare-and-`PEXPIRE` and resigns with
/// compare-and-delete, both on the exact `candidate|term` value.
const CAMPAIGN: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
    return false
end
local term = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. term, 'PX', ARGV[2])
return term";

/// One campaign round: `Some(term)` when we became the leader, `None` when
/// another candidate leads. The script writes twice ([`Writes::Several`]).
pub(crate) async fn try_campaign(
    conn: &mut MultiplexedConnection,
    name: &str,
    id: &str,
    ttl: Duration,
) -> Result<Option<i64>, RedisError> {
    let script = Script::new(CAMPAIGN);
    let mut invocation = script.key(format!("election:{name}"));
    invocation.key(format!("term:{name}")).arg(id).arg(ttl.as_millis().max(1) as u64);
    invocation.invoke_async::<Option<i64>>(conn).await
}

/// The leadership a campaign round won: `term`, leased for `ttl`.
pub(crate) fn leadership(name: &str, id: &str, node: &str, term: i64, ttl: Duration) -> Leadership {
    Leadership::new(name, term, Some(node), format!("{id}|{term}")).leased(ttl)
}

/// The current leader of `name`, from the leader key's `candidate|term`.
pub(crate) async fn try_leader(conn: &mut MultiplexedConnection, name: &str) -> Result<Option<Leader>, RedisError> {
    let value: Option<String> = redis::cmd("GET").arg(format!("election:{name}")).query_async(conn).await?;
    Ok(value.map(|value| {
        let (id, term) = value.rsplit_once('|').unwrap_or((value.as_str(), ""));
        Leader { id: id.to_string(), term: term.parse().ok() }
    }))
}

pub struct RedisElection {
    conn: MultiplexedConnection,
    node: String,
    options: ClientOptions,
}

impl Connect for RedisElection {
    async fn connect(seat: Seat<'_>) -> Result<RedisElection, Error> {
        let (node, options) = (seat.server(), seat.options);
        let conn = connect(node, options.timeout).await?;
        Ok(RedisElection { conn, node: node.name().to_string(), options: options.clone() })
    }
}

impl ElectionClient for RedisElection {
    fn campaign<'a>(&'a mut self, name: &'a str, id: &'a str, ttl: Duration) -> BoxFuture<'a, Outcome<Leadership>> {
        Box::pin(async move {
            let give_up = std::time::Instant::now() + self.options.acquire_wait;
            loop {
                let won = deadline(self.options.timeout, async {
                    match try_campaign(&mut self.conn, name, id, ttl).await {
                        Ok(Some(term)) => Outcome::Ok(term),
                        Ok(None) => Outcome::Busy("another candidate leads".into()),
                        Err(e) => classify(e, Writes::Several),
                    }
                })
                .await;
                if matches!(won, Outcome::Fail(_) | Outcome::Busy(_)) && std::time::Instant::now() < give_up {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                return won.map(|term| leadership(name, id, &self.node, term, ttl));
            }
        })
    }

    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let key = format!("election:{}", leadership.name);
            as_holder(
                deadline(self.options.timeout, if_ours(&mut self.conn, RELEASE, &key, &leadership.handle, None)).await,
            )
        })
    }

    fn renew<'a>(&'a mut self, leadership: &'a Leadership, ttl: Duration) -> BoxFuture<'a, Outcome<Option<Duration>>> {
        Box::pin(async move {
            let key = format!("election:{}", leadership.name);
            as_holder(
                deadline(self.options.timeout, if_ours(&mut self.conn, RENEW, &key, &leadership.handle, Some(ttl)))
                    .await,
            )
            .map(|()| Some(ttl))
        })
    }

    fn leader<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, Outcome<Option<Leader>>> {
        Box::pin(async move {
            deadline(self.options.timeout, async {
                try_leader(&mut self.conn, name).await.map_or_else(|e| classify(e, Writes::AtMostOne), Outcome::Ok)
            })
            .await
        })
    }
}

impl System for Redis {
    fn crash_patterns(&self) -> &'static [&'static str] {
        REDIS_CRASHES
    }

    fn layout(&self) -> &'static Layout {
        self.0
    }
    fn ttl_note(&self, ttl: Duration) -> Option<String> {
        sub_millisecond(ttl)
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(ping(node))
    }
    fn clients(&self) -> Clients {
        Clients::lock::<RedisLock>().election::<RedisElection>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(e: RedisError, writes: Writes) -> &'static str {
        match classify::<()>(e, writes) {
            Outcome::Ok(()) => "ok",
            Outcome::Fail(_) | Outcome::Busy(_) => "fail",
            Outcome::Info(_) => "info",
            Outcome::SessionLost(_) => "session-lost",
            Outcome::Undone(_) => "undone",
        }
    }

    fn server_reply(reply: &[u8]) -> RedisError {
        redis::parse_redis_value(reply).and_then(|v| v.extract_error()).expect_err("an error reply")
    }

    #[test]
    fn refusals_before_running_are_fail() {
        for kind in [ServerErrorKind::ReadOnly, ServerErrorKind::BusyLoading, ServerErrorKind::NoScript] {
            assert_eq!(outcome((ErrorKind::Server(kind), "refused").into(), Writes::Several), "fail", "{kind:?}");
        }
        assert_eq!(outcome(server_reply(b"-BUSY Redis is busy running a script\r\n"), Writes::Several), "fail");
        assert_eq!(outcome(server_reply(b"-OOM command not allowed\r\n"), Writes::Several), "fail");
        assert_eq!(outcome(server_reply(b"-READONLY You can't write against a replica\r\n"), Writes::Several), "fail");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(outcome(refused.into(), Writes::AtMostOne), "fail");
        assert_eq!(outcome((ErrorKind::Client, "bad arguments").into(), Writes::AtMostOne), "fail");
    }

    #[test]
    fn a_generic_error_from_a_script_that_writes_twice_is_unknown() {
        let err = || server_reply(b"-ERR user_script:3: something failed\r\n");
        assert_eq!(outcome(err(), Writes::AtMostOne), "fail");
        assert_eq!(outcome(err(), Writes::Several), "info");
    }

    #[test]
    fn timeouts_broken_connections_and_unknown_codes_are_info() {
        for kind in [std::io::ErrorKind::TimedOut, std::io::ErrorKind::ConnectionReset, std::io::ErrorKind::BrokenPipe]
        {
            assert_eq!(outcome(std::io::Error::from(kind).into(), Writes::AtMostOne), "info", "{kind:?}");
        }
        assert_eq!(outcome(server_reply(b"-NEWTHING not known to us\r\n"), Writes::AtMostOne), "info");
        assert_eq!(outcome((ErrorKind::UnexpectedReturnType, "ran, but").into(), Writes::AtMostOne), "info");
    }

    #[test]
    fn ttl_notes_only_for_sub_millisecond_ttls() {
        assert_eq!(sub_millisecond(Duration::from_millis(2500)), None);
        assert!(sub_millisecond(Duration::from_micros(2500)).is_some());
    }
}
