//! One module per system under test. Each has a [`Layout`] (the constants:
//! name, image, node count, ports, what faults it can take) and implements
//! [`System`] for the behaviour: how to tell a member is ready, with a real
//! request through the same Rust client its lock and election recipes use,
//! and those recipes: client types that [`Connect`] from a worker's [`Seat`],
//! named in [`System::clients`]. PostgreSQL and MariaDB share one recipe
//! over their own statements ([`sql`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use node::Node;

use crate::client::{ClientOptions, ElectionClient, LockClient, Orphan, Outcome};

pub mod etcd;
pub mod mysql;
pub mod postgres;
pub mod redis;
pub mod redis_sentinel;
pub mod redlock;
pub mod sql;
pub mod zookeeper;

/// A boxed future, so that [`System`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a system is, as plain constants: everything about it that needs no
/// code. Each system file has one (`LAYOUT`); a variant of a system (same
/// image, same recipes) is another `Layout` over the same behaviour, named
/// `system:variant` (`etcd:prevote`), so that runs of a system and of its
/// variants sort and read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The name users type: `fencepost up redis`, `etcd:prevote` for a
    /// variant; unique in [`REGISTRY`].
    pub name: &'static str,
    /// The folder under `docker/images/` its nodes run.
    pub image: &'static str,
    /// How many nodes the cluster has.
    pub nodes: usize,
    /// Container ports published on 127.0.0.1; the first is the client port.
    pub ports: &'static [u16],
    /// One line on how the nodes relate (for `fencepost up` and reports).
    pub description: &'static str,
    /// Whether the system names one member as its leader (its image has a
    /// `/fencepost/role`), so that faults can aim at it (`partition-leader`,
    /// `kill:leader`; `primary` targets too, until a replicated system
    /// names its primary apart).
    pub names_leader: bool,
    /// Why clock faults cannot move this system's server clock, if they
    /// cannot; known from the system alone, so a run refuses them up front.
    pub clock_refusal: Option<&'static str>,
    /// Why a power cut (`lose-unsynced`) cannot drop what this system's
    /// servers did not fsync, if it cannot: fencepost's durability shim
    /// sees only a single process writing and syncing through libc.
    pub durability_refusal: Option<&'static str>,
    /// The data file a `corrupt-file` fault corrupts: a glob on the node,
    /// the newest match taken (the log the server appends to now). Empty
    /// where the servers keep no data file (Redis without persistence).
    pub data_file: Option<&'static str>,
    /// Why a membership change (`member`) cannot run here, if it cannot:
    /// the system has no membership, or fencepost cannot change it yet.
    pub member_refusal: Option<&'static str>,
    /// Extra environment for every node's start script: how a variant of a
    /// system (same image) configures its servers differently.
    pub node_env: &'static [(&'static str, &'static str)],
}

impl Layout {
    /// The port clients connect to: the first of [`Layout::ports`].
    pub const fn client_port(&self) -> u16 {
        self.ports[0]
    }

    /// The system a variant configures: `etcd` for `etcd:prevote` and for
    /// `etcd`.
    pub fn system(&self) -> &'static str {
        self.name.split_once(':').map_or(self.name, |(system, _)| system)
    }

    /// The variant's own part: `prevote` for `etcd:prevote`, `None` for a
    /// system as it ships.
    pub fn variant(&self) -> Option<&'static str> {
        self.name.split_once(':').map(|(_, variant)| variant)
    }
}

/// A lease as a system keeps it: see [`System::lease`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub ttl: Duration,
    pub renewal: Option<Duration>,
}

/// A system name that is not in [`REGISTRY`], with what the user probably
/// meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown system `{name}`{}", hint(.name))]
pub struct UnknownSystem {
    pub name: String,
}

/// Variants' names before they were spelled `system:variant`: refused, not
/// aliased, so that a stored run and a new run of the same cluster cannot
/// carry two names (`compare` would show them as two systems).
const RENAMED: &[(&str, &str)] = &[
    ("etcd-prevote", "etcd:prevote"),
    ("redis-sentinel-min-replicas", "redis-sentinel:min-replicas"),
    // The server is MariaDB; the image folder keeps its old name.
    ("mysql", "mariadb"),
];

/// The name a variant has now, for one of its old names.
pub fn renamed(old: &str) -> Option<&'static str> {
    RENAMED.iter().find(|(was, _)| *was == old).map(|(_, now)| *now)
}

/// `; did you mean …?` for an old or misspelt variant name, then the list.
fn hint(name: &str) -> String {
    let known = names().join(", ");
    if let Some(now) = renamed(name) {
        return format!("; did you mean `{now}`? (it was renamed; known: {known})");
    }
    if let Some((system, _)) = name.split_once(':') {
        let variants: Vec<&str> =
            names().into_iter().filter(|n| n.split_once(':').is_some_and(|(s, _)| s == system)).collect();
        if !variants.is_empty() {
            return format!(" ({system}'s variants: {})", variants.join(", "));
        }
    }
    format!(" (known: {known})")
}

/// The registered system named `name`, or why there is none.
pub fn lookup(name: &str) -> Result<&'static dyn System, UnknownSystem> {
    by_name(name).ok_or_else(|| UnknownSystem { name: name.to_string() })
}

/// Why a probe failed or a client could not be made. Connecting is not an
/// operation, so these never reach a history; callers print them or retry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node does not publish the port the client needs.
    #[error("{node} publishes no port {port}")]
    NoPort { node: String, port: u16 },
    #[error(transparent)]
    Redis(#[from] ::redis::RedisError),
    #[error(transparent)]
    Etcd(#[from] etcd_client::Error),
    #[error(transparent)]
    Zookeeper(#[from] zookeeper_client::Error),
    /// A ZooKeeper request on one path failed (`op` is what it did).
    #[error("{op} {path}: {source}")]
    ZookeeperPath {
        op: &'static str,
        path: String,
        #[source]
        source: zookeeper_client::Error,
    },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// The member answered a probe, but not as a healthy one does.
    #[error("{request} answered {answer}")]
    UnexpectedAnswer { request: &'static str, answer: String },
    /// Redlock needs a majority of its nodes to accept connections.
    #[error("fewer than a majority of Redlock nodes accept connections ({connected} of {nodes})")]
    NoMajority { connected: usize, nodes: usize },
    /// No Sentinel named a primary that answers as one (`why`: the last
    /// Sentinel asked and what went wrong).
    #[error("no primary found through the Sentinels: {why}")]
    NoPrimary { why: String },
    /// The system has no election recipe (Redlock).
    #[error("{system} has no election recipe")]
    NoElectionRecipe { system: &'static str },
    /// A client program (`--client`, `--client-cmd`) that could not be
    /// started or did not answer its `init`.
    #[error("client `{name}`: {why}")]
    Adapter { name: String, why: String },
}

/// A system's behaviour; its constants are its [`Layout`].
pub trait System: Send + Sync {
    /// The constants: name, image, nodes, ports, leader, clock, environment.
    fn layout(&self) -> &'static Layout;
    /// One real request to this member; `Err` says what went wrong.
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), Error>>;

    /// The client types that play this system's lock recipe and, where it
    /// has one, its election recipe.
    fn clients(&self) -> Clients;

    /// A lock client for `process`, played by worker `slot`, connected to
    /// the node(s) its recipe uses (see [`Seat`]).
    fn lock_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        slot: usize,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn LockClient>, Error>> {
        (self.clients().lock)(Seat { nodes, process, slot, options })
    }

    /// An election client for `process` (bound as [`System::lock_client`]);
    /// systems without an election recipe (Redlock) answer
    /// [`Error::NoElectionRecipe`].
    fn election_client<'a>(
        &'a self,
        nodes: &'a [Node],
        process: u64,
        slot: usize,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn ElectionClient>, Error>> {
        match self.clients().election {
            Some(make) => make(Seat { nodes, process, slot, options }),
            None => {
                let system = self.layout().name;
                Box::pin(async move { Err(Error::NoElectionRecipe { system }) })
            }
        }
    }

    /// What in a node's own log says its server crashed, could not start or
    /// found its files corrupt (a panic, a fatal error, a failed assertion):
    /// substrings, as Jepsen's `log-file-pattern` looks for. A run reports
    /// every line that has one.
    fn crash_patterns(&self) -> &'static [&'static str] {
        &[]
    }

    /// What a node's own log says about leadership (elections started, won,
    /// lost), for explaining outages in the report as the system's doing.
    fn log_events(&self, log: &str) -> Vec<LogEvent> {
        let _ = log;
        Vec::new()
    }

    /// The lease a lock lasts when its holder goes quiet, as this system
    /// uses `--ttl` (rounded, clamped), and how often a holder renews it;
    /// `None` where a lock lasts exactly as long as the holder's
    /// connection (the SQL advisory locks). What says whether a fault can
    /// outlast a lease (`nemesis::FaultKind::blind_spot`).
    fn lease(&self, ttl: Duration) -> Option<Lease> {
        Some(Lease { ttl, renewal: None })
    }

    /// `None` when the recipes hold a lock or leadership for `ttl` (their
    /// lease or session length); otherwise what they do instead, in one
    /// sentence the caller can print, so that nobody reads a `--ttl` into a
    /// run that ignored it.
    fn ttl_note(&self, ttl: Duration) -> Option<String> {
        let _ = ttl;
        None
    }

    /// Removes what a retired client left behind ([`Orphan`]), through any
    /// member that answers: `Ok(true)` when this call removed it,
    /// `Ok(false)` when it was already gone.
    fn revoke_orphan<'a>(
        &'a self,
        nodes: &'a [Node],
        orphan: &'a Orphan,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Outcome<bool>> {
        let _ = (nodes, orphan, options);
        let name = self.layout().name;
        Box::pin(async move { Outcome::Fail(format!("{name} leaves nothing to revoke")) })
    }
}

/// What a client is made for: the run's nodes, the process it plays, the
/// worker (`slot`) that plays it, and the client settings.
#[derive(Debug, Clone, Copy)]
pub struct Seat<'a> {
    pub nodes: &'a [Node],
    pub process: u64,
    pub slot: usize,
    pub options: &'a ClientOptions,
}

impl<'a> Seat<'a> {
    /// The member this worker talks to, for recipes that talk to one.
    /// By slot, not process: a retired process continues as `process +
    /// concurrency`, and binding by process would crowd the workers onto
    /// fewer members with every retirement ([`member`]).
    pub fn member(&self) -> &'a Node {
        member(self.nodes, self.slot)
    }

    /// The server of a one-node system.
    pub fn server(&self) -> &'a Node {
        &self.nodes[0]
    }
}

/// A recipe's client type: how one connects for a worker's [`Seat`].
pub trait Connect: Sized + Send + 'static {
    fn connect<'a>(seat: Seat<'a>) -> impl Future<Output = Result<Self, Error>> + Send + 'a;
}

type MakeLock = for<'a> fn(Seat<'a>) -> BoxFuture<'a, Result<Box<dyn LockClient>, Error>>;
type MakeElection = for<'a> fn(Seat<'a>) -> BoxFuture<'a, Result<Box<dyn ElectionClient>, Error>>;

/// Which client types play a system's recipes ([`System::clients`]): what
/// [`System::lock_client`] and [`System::election_client`] connect.
#[derive(Clone, Copy)]
pub struct Clients {
    lock: MakeLock,
    election: Option<MakeElection>,
}

impl Clients {
    /// `L` plays the lock recipe; there is no election recipe.
    pub fn lock<L: LockClient + Connect>() -> Clients {
        Clients { lock: make_lock::<L>, election: None }
    }

    /// `E` plays the election recipe.
    pub fn election<E: ElectionClient + Connect>(self) -> Clients {
        Clients { election: Some(make_election::<E>), ..self }
    }

    /// One client type plays both recipes.
    pub fn both<C: LockClient + ElectionClient + Connect>() -> Clients {
        Clients::lock::<C>().election::<C>()
    }
}

fn make_lock<L: LockClient + Connect>(seat: Seat<'_>) -> BoxFuture<'_, Result<Box<dyn LockClient>, Error>> {
    Box::pin(async move { Ok(Box::new(L::connect(seat).await?) as Box<dyn LockClient>) })
}

fn make_election<E: ElectionClient + Connect>(seat: Seat<'_>) -> BoxFuture<'_, Result<Box<dyn ElectionClient>, Error>> {
    Box::pin(async move { Ok(Box::new(E::connect(seat).await?) as Box<dyn ElectionClient>) })
}

/// One line of a node's log worth showing beside the history: when (Unix
/// milliseconds, as the node's clock said) and what, in words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogEvent {
    pub unix_ms: u64,
    pub text: String,
}

/// Every system fencepost knows. Adding one is adding a line here (help
/// texts, defaults and the per-system tests all read this list).
pub static REGISTRY: &[&dyn System] = &[
    &redis::Redis::PLAIN,
    &redis::Redis::AOF_ALWAYS,
    &redis::Redis::AOF_EVERYSEC,
    &redlock::Redlock,
    &redis_sentinel::RedisSentinel::PLAIN,
    &redis_sentinel::RedisSentinel::MIN_REPLICAS,
    &etcd::Etcd::PLAIN,
    &etcd::Etcd::PREVOTE,
    &etcd::Etcd::FIVE,
    &zookeeper::Zookeeper::PLAIN,
    &zookeeper::Zookeeper::NO_FSYNC,
    &postgres::Postgres,
    &mysql::Mysql,
];

pub fn by_name(name: &str) -> Option<&'static dyn System> {
    REGISTRY.iter().copied().find(|s| s.layout().name == name)
}

/// The names of every registered system, in registry order.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|s| s.layout().name).collect()
}

/// The member worker `slot` talks to, for recipes that talk to one: slots
/// go round-robin over the members, so `concurrency` workers stay spread as
/// evenly as they started, however many of their processes retired
/// ([`Seat::member`]).
pub fn member(nodes: &[Node], slot: usize) -> &Node {
    &nodes[slot % nodes.len()]
}

/// The node's client address, or an error naming the missing port.
pub(crate) fn client_address(node: &Node, port: u16) -> Result<String, Error> {
    node.address(port).ok_or_else(|| Error::NoPort { node: node.name().to_string(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retirements_do_not_move_workers_between_members() {
        let nodes: Vec<Node> = (1..=3).map(|i| Node::unmanaged(&format!("n{i}"), "127.0.0.1", 1, 1000 + i)).collect();
        let concurrency = 5u64;
        // Retire workers unevenly, as faults do: worker 0 many times, 3 never.
        let mut processes: Vec<u64> = (0..concurrency).collect();
        for (worker, retirements) in [(0, 7), (1, 1), (2, 4), (4, 2)] {
            processes[worker] += retirements * concurrency;
        }
        let mut per_node = [0; 3];
        for p in processes {
            let slot = (p % concurrency) as usize;
            per_node[nodes.iter().position(|n| n.name() == member(&nodes, slot).name()).unwrap()] += 1;
        }
        assert_eq!(per_node, [2, 2, 1]);
    }

    #[test]
    fn the_prevote_variant_is_registered_beside_etcd() {
        let variant = by_name("etcd:prevote").unwrap().layout();
        assert_eq!(variant.image, "etcd");
        assert_eq!((variant.system(), variant.variant()), ("etcd", Some("prevote")));
        let plain = by_name("etcd").unwrap().layout();
        assert_eq!((plain.node_env, plain.system(), plain.variant()), (&[][..], "etcd", None));
    }

    #[test]
    fn every_variant_configures_a_registered_system_on_its_image() {
        for layout in REGISTRY.iter().map(|s| s.layout()).filter(|l| l.variant().is_some()) {
            let system = by_name(layout.system()).unwrap_or_else(|| panic!("{}: no system", layout.name));
            assert_eq!(system.layout().image, layout.image, "{}", layout.name);
            let plain = system.layout();
            let differs = !layout.node_env.is_empty() || layout.nodes != plain.nodes;
            assert!(differs, "{}: a variant configures something or sizes the cluster", layout.name);
        }
    }

    #[test]
    fn old_variant_names_are_refused_with_the_new_one() {
        for (old, new) in RENAMED {
            assert!(by_name(new).is_some(), "{new}");
            let e = lookup(old).err().unwrap().to_string();
            assert!(e.starts_with(&format!("unknown system `{old}`; did you mean `{new}`?")), "{e}");
        }
        let e = lookup("etcd:pre-vote").err().unwrap().to_string();
        assert_eq!(e, "unknown system `etcd:pre-vote` (etcd's variants: etcd:prevote, etcd:five)");
        let e = lookup("nope").err().unwrap().to_string();
        assert!(e.starts_with("unknown system `nope` (known: redis, redis:aof-always, "), "{e}");
    }

    #[test]
    fn layouts_are_unique_by_name_and_publish_a_client_port() {
        let names = names();
        for (i, system) in REGISTRY.iter().enumerate() {
            let layout = system.layout();
            assert!(!names[..i].contains(&layout.name), "{} registered twice", layout.name);
            assert!(layout.nodes >= 1 && !layout.ports.is_empty(), "{layout:?}");
            assert_eq!(layout.client_port(), layout.ports[0]);
        }
    }
}
