//! What a fault is: its kind (what the user names on the command line), the
//! concrete fault a schedule picks, and what the history records about it.

use std::str::FromStr;
use std::time::Duration;

use checker::faults::FaultInfo;
pub use checker::faults::Grudge;
use kit::Rng;
use strum::{IntoStaticStr, VariantArray, VariantNames};

use crate::Error;

/// A fault as users name it (`--nemesis partition,kill`). The names are
/// strum's (kebab-case of the variant): [`FaultKind::name`], `Display` and
/// `FromStr` all read the one table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, IntoStaticStr, VariantArray, VariantNames, strum::Display,
)]
#[strum(serialize_all = "kebab-case")]
pub enum FaultKind {
    /// Node ↔ node: one node, halves, majorities ring, bridge.
    Partition,
    /// The node the system names as its leader, cut from the others.
    PartitionLeader,
    /// Nodes cut from the clients (the harness), still talking to each other.
    PartitionClients,
    Kill,
    Pause,
    Loss,
    Clock,
    Netem,
    ClientPause,
}

/// A fault name no [`FaultKind`] has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault `{name}` (known: {})", <FaultKind as VariantNames>::VARIANTS.join(", "))]
pub struct UnknownFault {
    pub name: String,
}

impl FromStr for FaultKind {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<FaultKind, UnknownFault> {
        FaultKind::ALL.iter().copied().find(|k| k.name() == s).ok_or_else(|| UnknownFault { name: s.to_string() })
    }
}

impl FaultKind {
    /// Every kind, in the order runs name them.
    pub const ALL: &'static [FaultKind] = <FaultKind as VariantArray>::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Result<FaultKind, UnknownFault> {
        s.parse()
    }

    /// `partition,kill` → kinds; `none` or empty → no faults.
    pub fn parse_list(s: &str) -> Result<Vec<FaultKind>, UnknownFault> {
        if s.trim().is_empty() || s.trim() == "none" {
            return Ok(Vec::new());
        }
        let mut kinds: Vec<FaultKind> = s.split(',').map(|k| k.trim().parse()).collect::<Result<_, _>>()?;
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }
}

/// The knobs of each fault kind (the run command's per-kind options). A run
/// keeps them in its `test.json` (durations in milliseconds).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FaultOptions {
    /// Share of packets a `loss` fault drops.
    pub loss: f64,
    /// How far a clock jump moves a server's wall clock (the sign is random),
    /// and how far a strobe flips it back and forth.
    #[serde(rename = "clock_offset_ms", serialize_with = "millis")]
    pub clock_offset: Duration,
    /// A strobing clock flips every this long.
    #[serde(rename = "clock_strobe_period_ms", serialize_with = "millis")]
    pub clock_strobe_period: Duration,
    #[serde(rename = "netem_delay_ms", serialize_with = "millis")]
    pub netem_delay: Duration,
    #[serde(rename = "netem_jitter_ms", serialize_with = "millis")]
    pub netem_jitter: Duration,
    /// Share of packets `netem` also drops.
    pub netem_loss: f64,
    /// How long a paused client stalls (make it longer than the lease).
    #[serde(rename = "client_pause_ms", serialize_with = "millis")]
    pub client_pause: Duration,
    /// How many lock holders one client pause catches.
    pub client_pause_clients: usize,
}

impl FaultOptions {
    /// The default client pause for a lease of `ttl`: half as long again
    /// (at least a second more), so the lease surely runs out while the
    /// holder sleeps, yet short enough to fit a 15 s run.
    pub fn default_client_pause(ttl: Duration) -> Duration {
        (ttl * 3 / 2).max(ttl + Duration::from_secs(1))
    }
}

impl Default for FaultOptions {
    fn default() -> Self {
        FaultOptions {
            loss: 0.3,
            clock_offset: Duration::from_secs(60),
            clock_strobe_period: Duration::from_millis(100),
            netem_delay: Duration::from_millis(100),
            netem_jitter: Duration::from_millis(20),
            netem_loss: 0.0,
            client_pause: Duration::from_secs(10),
            client_pause_clients: 1,
        }
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// What a cluster can take, known from the system and the run's options
/// alone, so that [`refuse_up_front`] answers before any image is built or
/// container started.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub nodes: usize,
    /// The system names one member as leader (`/fencepost/role`).
    pub names_leader: bool,
    /// Why the server's clock cannot be moved, if it cannot.
    pub clock_refusal: Option<&'static str>,
    /// fencepost started the nodes (containers) and may touch them; false
    /// for an existing cluster given by `--endpoints`.
    pub touchable: bool,
}

/// Refuses fault kinds this cluster cannot take, with the reason. Netem
/// (which depends on the kernel) is still asked of a live node by
/// [`crate::Nemesis::check`].
pub fn refuse_up_front(kinds: &[FaultKind], caps: &Capabilities) -> Result<(), Error> {
    for &kind in kinds {
        let why = match kind {
            FaultKind::ClientPause => None,
            _ if !caps.touchable => Some(
                "needs access to the cluster's nodes; against an existing cluster (--endpoints) only client-pause runs"
                    .to_string(),
            ),
            FaultKind::Partition if caps.nodes < 2 => Some(
                "a one-node cluster has no node-to-node links to cut (partition-clients cuts it from its clients)"
                    .into(),
            ),
            FaultKind::PartitionLeader if caps.nodes < 2 => Some("a one-node cluster has no leader to isolate".into()),
            FaultKind::PartitionLeader if !caps.names_leader => {
                Some("this system names no leader (its members are independent), so there is none to isolate".into())
            }
            FaultKind::Clock => caps.clock_refusal.map(str::to_string),
            _ => None,
        };
        if let Some(why) = why {
            return Err(Error::Refused { kind, why });
        }
    }
    Ok(())
}

/// One concrete fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `kind` names the shape (one, halves, majorities-ring, bridge, leader).
    Partition {
        kind: &'static str,
        grudge: Grudge,
    },
    /// Resolved when it starts into a `Partition` of kind `leader`.
    IsolateLeader,
    /// These nodes drop everything from and to the harness's clients.
    ClientPartition {
        nodes: Vec<String>,
    },
    Kill {
        nodes: Vec<String>,
    },
    Pause {
        nodes: Vec<String>,
    },
    /// Each listed node drops this share of incoming packets.
    Loss {
        nodes: Vec<String>,
        probability: f64,
    },
    /// These servers' wall clocks move by `offset_ms`, plus `strobe_ms`
    /// during every other `period_ms` when strobing.
    Clock {
        nodes: Vec<String>,
        offset_ms: i64,
        strobe_ms: i64,
        period_ms: u64,
    },
    /// Delay (± jitter) and loss on everything the nodes send.
    Netem {
        nodes: Vec<String>,
        delay_ms: u64,
        jitter_ms: u64,
        loss: f64,
    },
    /// Lock holders stall for `duration_ms`; once started, `stalled` names
    /// the (process, key) caught.
    ClientPause {
        clients: usize,
        duration_ms: u64,
        stalled: Vec<(u64, String)>,
    },
}

impl Fault {
    /// The kind this fault is one of; the history names it by the kind the
    /// user asked for, so imports and reports can tell a leader isolation
    /// from a partition.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Partition { kind: "leader", .. } | Fault::IsolateLeader => FaultKind::PartitionLeader,
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::ClientPartition { .. } => FaultKind::PartitionClients,
            Fault::Kill { .. } => FaultKind::Kill,
            Fault::Pause { .. } => FaultKind::Pause,
            Fault::Loss { .. } => FaultKind::Loss,
            Fault::Clock { .. } => FaultKind::Clock,
            Fault::Netem { .. } => FaultKind::Netem,
            Fault::ClientPause { .. } => FaultKind::ClientPause,
        }
    }

    /// The history's name for this fault (`partition` in `partition-start` …).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The nodes this fault acts on.
    pub fn targets(&self) -> Vec<String> {
        match self {
            Fault::Partition { grudge, .. } => grudge.keys().cloned().collect(),
            Fault::IsolateLeader | Fault::ClientPause { .. } => Vec::new(),
            Fault::ClientPartition { nodes }
            | Fault::Kill { nodes }
            | Fault::Pause { nodes }
            | Fault::Loss { nodes, .. }
            | Fault::Clock { nodes, .. }
            | Fault::Netem { nodes, .. } => nodes.clone(),
        }
    }

    /// What the history records about it: the kind, the targets, and the
    /// fault's own parameters (for partitions, the grudge).
    pub fn describe(&self) -> FaultInfo {
        let info = FaultInfo { targets: self.targets(), ..FaultInfo::default() };
        let kind = |k: &str| Some(k.to_string());
        match self {
            Fault::Partition { kind: shape, grudge } => FaultInfo { kind: kind(shape), grudge: grudge.clone(), ..info },
            Fault::IsolateLeader => FaultInfo { kind: kind("leader"), ..info },
            Fault::ClientPartition { .. } => FaultInfo { kind: kind("clients"), ..info },
            Fault::Kill { .. } | Fault::Pause { .. } => FaultInfo { kind: kind(self.name()), ..info },
            Fault::Loss { probability, .. } => {
                FaultInfo { kind: kind("loss"), probability: Some(*probability), ..info }
            }
            Fault::Clock { offset_ms, strobe_ms, period_ms, .. } => FaultInfo {
                kind: kind(if *strobe_ms != 0 { "strobe" } else { "jump" }),
                offset_ms: Some(*offset_ms),
                strobe_ms: Some(*strobe_ms),
                period_ms: Some(*period_ms),
                ..info
            },
            Fault::Netem { delay_ms, jitter_ms, loss, .. } => FaultInfo {
                kind: kind("netem"),
                delay_ms: Some(*delay_ms),
                jitter_ms: Some(*jitter_ms),
                loss: Some(*loss),
                ..info
            },
            Fault::ClientPause { clients, duration_ms, stalled } => FaultInfo {
                kind: kind("client-pause"),
                clients: Some(*clients),
                duration_ms: Some(*duration_ms),
                processes: stalled.iter().map(|(p, _)| *p).collect(),
                keys: stalled.iter().map(|(_, k)| k.clone()).collect(),
                ..info
            },
        }
    }
}

pub(crate) fn shuffled(names: &[String], rng: &mut Rng) -> Vec<String> {
    let mut v = names.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v
}

/// Every node in `a` drops every node in `b`, and the other way round.
pub(crate) fn cut(grudge: &mut Grudge, a: &[String], b: &[String]) {
    for x in a {
        for y in b {
            grudge.entry(x.clone()).or_default().insert(y.clone());
            grudge.entry(y.clone()).or_default().insert(x.clone());
        }
    }
}

/// A random partition of `nodes` of one of the classic shapes.
pub fn random_partition(nodes: &[String], rng: &mut Rng) -> Fault {
    let order = shuffled(nodes, rng);
    let mut grudge = Grudge::new();
    let shapes: &[&'static str] =
        if nodes.len() >= 5 { &["one", "halves", "majorities-ring", "bridge"] } else { &["one", "halves"] };
    let kind = shapes[rng.below(shapes.len() as u64) as usize];
    match kind {
        "one" => cut(&mut grudge, &order[..1], &order[1..]),
        "halves" => {
            let half = order.len() / 2;
            cut(&mut grudge, &order[..half], &order[half..]);
        }
        "majorities-ring" => {
            // Each node sees itself and its two ring neighbours: a majority
            // of five, but a different majority for every node.
            let n = order.len();
            for i in 0..n {
                for j in 0..n {
                    let d = (i + n - j) % n;
                    if d > 1 && d < n - 1 {
                        grudge.entry(order[i].clone()).or_default().insert(order[j].clone());
                    }
                }
            }
        }
        _ => {
            // Two halves that cannot talk, and one node (the bridge) that
            // talks to both.
            let rest = &order[1..];
            let half = rest.len() / 2;
            cut(&mut grudge, &rest[..half], &rest[half..]);
        }
    }
    Fault::Partition { kind, grudge }
}

/// A random fault of `kind` on `nodes`.
pub fn random_fault(kind: FaultKind, nodes: &[String], options: &FaultOptions, rng: &mut Rng) -> Fault {
    let one = vec![nodes[rng.below(nodes.len() as u64) as usize].clone()];
    // A random non-empty subset, for faults that may hit several nodes.
    let some = {
        let order = shuffled(nodes, rng);
        let n = 1 + rng.below(order.len() as u64) as usize;
        let mut some = order[..n].to_vec();
        some.sort();
        some
    };
    let ms = |d: Duration| d.as_millis() as u64;
    match kind {
        FaultKind::Partition => random_partition(nodes, rng),
        FaultKind::PartitionLeader => Fault::IsolateLeader,
        FaultKind::PartitionClients => Fault::ClientPartition { nodes: some },
        FaultKind::Kill => Fault::Kill { nodes: one },
        FaultKind::Pause => Fault::Pause { nodes: one },
        FaultKind::Loss => Fault::Loss { nodes: one, probability: options.loss },
        FaultKind::Clock => {
            let sign = if rng.below(2) == 0 { 1 } else { -1 };
            let offset = ms(options.clock_offset) as i64;
            if rng.below(2) == 0 {
                Fault::Clock { nodes: some, offset_ms: sign * offset, strobe_ms: 0, period_ms: 0 }
            } else {
                let period_ms = ms(options.clock_strobe_period).max(1);
                Fault::Clock { nodes: some, offset_ms: 0, strobe_ms: sign * offset, period_ms }
            }
        }
        FaultKind::Netem => Fault::Netem {
            nodes: some,
            delay_ms: ms(options.netem_delay),
            jitter_ms: ms(options.netem_jitter),
            loss: options.netem_loss,
        },
        FaultKind::ClientPause => Fault::ClientPause {
            clients: options.client_pause_clients.max(1),
            duration_ms: ms(options.client_pause),
            stalled: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    pub(crate) fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn partitions_have_the_classic_shapes() {
        let mut rng = Rng::new(1);
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            let Fault::Partition { kind, grudge } = random_partition(&names(5), &mut rng) else { unreachable!() };
            seen.insert(kind);
            // Symmetric: a drops b iff b drops a.
            for (a, drops) in &grudge {
                for b in drops {
                    assert!(grudge[b].contains(a), "{kind}: {a} drops {b} but not back");
                }
            }
            if kind == "majorities-ring" {
                assert!(grudge.values().all(|d| d.len() == 2), "each node sees itself and two neighbours");
            }
            if kind == "one" {
                assert_eq!(grudge.values().filter(|d| d.len() == 4).count(), 1);
            }
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
    }

    #[test]
    fn kinds_parse_by_name_and_unknown_ones_are_named() {
        for &k in FaultKind::ALL {
            assert_eq!(FaultKind::parse(k.name()), Ok(k));
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(FaultKind::ClientPause.name(), "client-pause");
        assert_eq!(FaultKind::PartitionLeader.name(), "partition-leader");
        assert_eq!(FaultKind::parse_list("none"), Ok(vec![]));
        assert_eq!(FaultKind::parse_list("kill, partition,kill"), Ok(vec![FaultKind::Partition, FaultKind::Kill]));
        let e = FaultKind::parse_list("partition,bogus").unwrap_err();
        assert_eq!(e.name, "bogus");
        let e = e.to_string();
        assert!(e.contains("`bogus`") && e.contains("client-pause"), "{e}");
    }

    /// The history's values are what `describe` wrote before it was typed
    /// (a client pause not yet started no longer lists empty
    /// `processes`/`keys`: readers default them).
    #[test]
    fn descriptions_serialise_as_before() {
        use serde_json::json;
        let mut grudge = Grudge::new();
        cut(&mut grudge, &["n1".to_string()], &["n2".to_string()]);
        let n1 = || vec!["n1".to_string()];
        let cases = [
            (
                Fault::Partition { kind: "one", grudge },
                json!({"kind": "one", "grudge": {"n1": ["n2"], "n2": ["n1"]}, "targets": ["n1", "n2"]}),
            ),
            (Fault::IsolateLeader, json!({"kind": "leader", "targets": []})),
            (Fault::ClientPartition { nodes: n1() }, json!({"kind": "clients", "targets": ["n1"]})),
            (Fault::Kill { nodes: n1() }, json!({"kind": "kill", "targets": ["n1"]})),
            (
                Fault::Loss { nodes: n1(), probability: 0.3 },
                json!({"kind": "loss", "probability": 0.3, "targets": ["n1"]}),
            ),
            (
                Fault::Clock { nodes: n1(), offset_ms: -60_000, strobe_ms: 0, period_ms: 0 },
                json!({"kind": "jump", "offset_ms": -60_000, "strobe_ms": 0, "period_ms": 0, "targets": ["n1"]}),
            ),
            (
                Fault::Netem { nodes: n1(), delay_ms: 100, jitter_ms: 20, loss: 0.0 },
                json!({"kind": "netem", "delay_ms": 100, "jitter_ms": 20, "loss": 0.0, "targets": ["n1"]}),
            ),
            (
                Fault::ClientPause { clients: 1, duration_ms: 10, stalled: vec![(3, "k0".into())] },
                json!({"kind": "client-pause", "clients": 1, "duration_ms": 10, "processes": [3], "keys": ["k0"], "targets": []}),
            ),
        ];
        for (fault, before) in cases {
            let now = serde_json::to_value(fault.describe()).unwrap();
            assert_eq!(now.to_string(), before.to_string(), "{fault:?}");
        }
    }

    #[test]
    fn descriptions_name_kind_and_targets() {
        let mut rng = Rng::new(3);
        for &kind in FaultKind::ALL {
            let d = random_fault(kind, &names(3), &FaultOptions::default(), &mut rng).describe();
            assert!(d.kind.is_some(), "{kind:?}: {d:?}");
            let d = serde_json::to_value(&d).unwrap();
            assert!(d["kind"].is_string() && d["targets"].is_array(), "{kind:?}: {d}");
        }
    }
}
