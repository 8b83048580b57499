//! What a fault is: its kind (what the user names on the command line),
//! the target rule that aims it (`kill:holder`), the concrete fault a
//! schedule picks, and what the history records about it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use kit::{Holding, Rng};
pub use ops::faults::Grudge;
use ops::faults::{FaultInfo, Reach};
use strum::{IntoStaticStr, VariantArray, VariantNames};

use crate::kinds::{partition, Partition};
pub use crate::kinds::{Fault, FaultKind};
use crate::Error;

/// A fault name no [`FaultKind`] has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault `{name}` (known: {})", known_faults())]
pub struct UnknownFault {
    pub name: String,
}

fn known_faults() -> String {
    let mut names: Vec<&str> = <FaultKind as VariantNames>::VARIANTS.to_vec();
    names.insert(1, PARTITION_LEADER);
    names.join(", ")
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
}

/// What a fault acts on (`--nemesis kill:holder`). Names are strum's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, IntoStaticStr, VariantArray, VariantNames, strum::Display,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Target {
    /// Nodes chosen by the seeded plan (one node, or a random non-empty
    /// set, as each kind did before faults could be aimed).
    Random,
    /// The node the system names as its leader (`/fencepost/role`), found
    /// when the fault starts.
    Leader,
    /// The node a replicated system names as its primary: for now the one
    /// `/fencepost/role` names, so only where the system names one.
    Primary,
    /// A random majority of the nodes (seeded, chosen when planned).
    Majority,
    /// A random minority of the nodes (seeded, chosen when planned).
    Minority,
    /// Every node.
    All,
    /// Whoever holds a lock when the fault starts: for node faults the
    /// node(s) that granted it (for Redlock, a majority of them), for
    /// client pauses the client.
    Holder,
    /// Partitions only: Jepsen's majorities ring (five nodes or more):
    /// every node sees a majority, no two nodes the same one.
    Ring,
    /// Partitions only: a minority of a third of the nodes (at least one)
    /// cut from the rest, chosen by the seeded plan.
    MinorityThird,
}

impl Target {
    pub const ALL: &'static [Target] = <Target as VariantArray>::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Resolved only when the fault starts, from the live cluster or
    /// clients; the others are decided by the seeded plan.
    pub fn is_live(self) -> bool {
        matches!(self, Target::Leader | Target::Primary | Target::Holder)
    }

    /// A partition's shape rather than a set of nodes.
    pub fn is_shape(self) -> bool {
        matches!(self, Target::Ring | Target::MinorityThird)
    }
}

/// The spelling kept for `partition:leader` (see [`FaultSpec`]).
const PARTITION_LEADER: &str = "partition-leader";

/// One fault of a `--nemesis` list: a kind and the rule that aims it.
///
/// Canonical spelling (what `test.json`, `runs`, `compare` and the
/// history use): the kind alone when the target is its default
/// ([`FaultKind::default_target`]), else `kind:target`; and
/// `partition:leader` is spelled `partition-leader`, as every run before
/// aimed faults spelled it, so old and new runs of it share a
/// comparison cell and a history name (`partition-leader-start`). Both
/// spellings parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub target: Target,
}

/// A `--nemesis` entry that is not a fault fencepost can play.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    UnknownFault(#[from] UnknownFault),
    #[error("unknown target `{target}` in `{spec}` (known: {})", <Target as VariantNames>::VARIANTS.join(", "))]
    UnknownTarget { spec: String, target: String },
    /// The kind cannot take that target on any system.
    #[error("`{spec}`: {why}")]
    CannotAim { spec: String, why: &'static str },
}

impl FaultSpec {
    pub fn new(kind: FaultKind, target: Target) -> FaultSpec {
        FaultSpec { kind, target }
    }

    /// `kind` with its default target.
    pub fn plain(kind: FaultKind) -> FaultSpec {
        FaultSpec { kind, target: kind.default_target() }
    }

    /// `kill`, `kill:holder`, `partition-leader` (= `partition:leader`).
    pub fn parse(s: &str) -> Result<FaultSpec, SpecError> {
        let s = s.trim();
        let (kind, target) = match s.split_once(':') {
            Some((k, t)) => (k.trim(), Some(t.trim())),
            None => (s, None),
        };
        if kind == PARTITION_LEADER {
            return match target {
                None | Some("leader") => Ok(FaultSpec::new(FaultKind::Partition, Target::Leader)),
                Some(_) => Err(SpecError::CannotAim {
                    spec: s.to_string(),
                    why: "partition-leader is partition:leader; aim a partition elsewhere with partition:TARGET",
                }),
            };
        }
        let kind = FaultKind::parse(kind)?;
        let target = match target {
            None => kind.default_target(),
            Some(t) => Target::ALL
                .iter()
                .copied()
                .find(|x| x.name() == t)
                .ok_or_else(|| SpecError::UnknownTarget { spec: s.to_string(), target: t.to_string() })?,
        };
        if let Some(why) = kind.cannot_aim(target) {
            return Err(SpecError::CannotAim { spec: s.to_string(), why });
        }
        Ok(FaultSpec { kind, target })
    }

    /// `partition,kill:holder` → specs in canonical order (by kind, then
    /// target), each once; `none` or empty → no faults.
    pub fn parse_list(s: &str) -> Result<Vec<FaultSpec>, SpecError> {
        if s.trim().is_empty() || s.trim() == "none" {
            return Ok(Vec::new());
        }
        let mut specs: Vec<FaultSpec> = s.split(',').map(FaultSpec::parse).collect::<Result<_, _>>()?;
        specs.sort();
        specs.dedup();
        Ok(specs)
    }

    /// The canonical spelling of a list, or `none`.
    pub fn list_name(specs: &[FaultSpec]) -> String {
        if specs.is_empty() {
            return "none".into();
        }
        specs.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",")
    }

    /// The fault's name in the history (`<name>-start`): the kind's, but
    /// `partition-leader` for a partition aimed at the leader.
    pub fn history_name(self) -> &'static str {
        match (self.kind, self.target) {
            (FaultKind::Partition, Target::Leader) => PARTITION_LEADER,
            (kind, _) => kind.name(),
        }
    }
}

impl FaultSpec {
    /// The report's plural: the kind's, but `leader partitions` for
    /// `partition-leader`, which the history and the report name apart.
    pub fn plural(self) -> &'static str {
        match self.history_name() {
            PARTITION_LEADER => "leader partitions",
            _ => self.kind.plural(),
        }
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.target) {
            (FaultKind::Partition, Target::Leader) => f.write_str(PARTITION_LEADER),
            (kind, target) if target == kind.default_target() => f.write_str(kind.name()),
            (kind, target) => write!(f, "{kind}:{target}"),
        }
    }
}

impl FromStr for FaultSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<FaultSpec, SpecError> {
        FaultSpec::parse(s)
    }
}

/// Which clock faults a plan draws (`--clock-mode`). Names are strum's.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    IntoStaticStr,
    VariantArray,
    VariantNames,
    strum::Display,
    strum::EnumString,
)]
#[strum(serialize_all = "kebab-case")]
pub enum ClockMode {
    /// A jump or a strobe, either sign, drawn per fault: what every run did
    /// before the mode could be chosen, so its seeds plan the same faults.
    #[default]
    Random,
    /// Jumps of `clock_offset` ahead only: a server's leases expire early,
    /// as in Kleppmann's Redlock scenario (the granting nodes' clocks jump
    /// forward while a client holds the lock).
    Forward,
    /// Jumps of `clock_offset` back only: leases outlive their TTL.
    Backward,
    /// Strobes only (either sign).
    Strobe,
}

impl ClockMode {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A `--clock-mode` no [`ClockMode`] is called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown clock mode `{name}` (known: {})", <ClockMode as VariantNames>::VARIANTS.join(", "))]
pub struct UnknownClockMode {
    pub name: String,
}

impl ClockMode {
    pub fn parse(s: &str) -> Result<ClockMode, UnknownClockMode> {
        s.parse().map_err(|_| UnknownClockMode { name: s.to_string() })
    }
}

/// The knobs of each fault kind (the run command's per-kind options). A run
/// keeps them in its `test.json` (durations in milliseconds; the clock mode,
/// a name, in a field of its own beside them).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FaultOptions {
    /// Share of packets a `loss` fault drops.
    pub loss: f64,
    /// How far a clock jump moves a server's wall clock (the sign as
    /// `clock_mode` says), and how far a strobe flips it back and forth.
    #[serde(rename = "clock_offset_ms", serialize_with = "millis")]
    pub clock_offset: Duration,
    /// A strobing clock flips every this long.
    #[serde(rename = "clock_strobe_period_ms", serialize_with = "millis")]
    pub clock_strobe_period: Duration,
    /// How fast a `clock-rate` fault runs a server's clock: 2 is twice
    /// real time, 0.5 half.
    pub clock_rate: f64,
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
    /// The data file a `corrupt-file` fault corrupts (a glob on the node):
    /// the system's, set by the harness, not an option.
    #[serde(skip)]
    pub data_file: Option<String>,
    /// Jumps, strobes, or both, and in which direction. Kept out of the
    /// numeric map `test.json` records the others in (`Recorded::clock_mode`).
    #[serde(skip)]
    pub clock_mode: ClockMode,
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
            clock_rate: 2.0,
            netem_delay: Duration::from_millis(100),
            netem_jitter: Duration::from_millis(20),
            netem_loss: 0.0,
            client_pause: Duration::from_secs(10),
            client_pause_clients: 1,
            clock_mode: ClockMode::Random,
            data_file: None,
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
    /// Why a power cut cannot drop what the servers did not fsync, if it
    /// cannot (the system's files, or the nodes are not fencepost's images).
    pub durability_refusal: Option<String>,
    /// Why a data file cannot be corrupted, if it cannot: the servers keep
    /// none, or the nodes are not fencepost's images.
    pub corrupt_refusal: Option<String>,
    /// Why the membership cannot be changed, if it cannot.
    pub member_refusal: Option<String>,
    /// fencepost started the nodes (containers) and may touch them; false
    /// for an existing cluster given by `--endpoints`.
    pub touchable: bool,
}

/// Why `spec` cannot run on a cluster of `nodes` nodes, whatever else
/// is known about it (shared by [`refuse_up_front`] and the live check).
pub(crate) fn size_refusal(spec: FaultSpec, nodes: usize) -> Option<String> {
    if spec.kind.on_clients() {
        return None;
    }
    spec.kind.size_refusal(spec.target, nodes).or_else(|| match spec.target {
        Target::Minority if nodes < 3 => Some(format!(
            "a cluster of {nodes} node{} has no minority to aim at (a minority needs three nodes or more)",
            if nodes == 1 { "" } else { "s" }
        )),
        _ => None,
    })
}

/// Why `target` finds nothing on a system that names no leader.
pub(crate) fn no_leader(target: Target) -> String {
    match target {
        Target::Primary => {
            "this system names no primary (it is not replicated, or its image has no /fencepost/role), so there \
             is none to aim at"
                .into()
        }
        _ => "this system names no leader (its members are independent), so there is none to aim at".into(),
    }
}

/// Refuses faults this cluster cannot take, with the reason. Netem
/// (which depends on the kernel) is still asked of a live node by
/// [`crate::Nemesis::check`].
pub fn refuse_up_front(specs: &[FaultSpec], caps: &Capabilities) -> Result<(), Error> {
    for &spec in specs {
        let why = if spec.kind.on_clients() {
            None
        } else if !caps.touchable {
            Some(
                "needs access to the cluster's nodes; against an existing cluster (--endpoints) only client-pause runs"
                    .to_string(),
            )
        } else {
            size_refusal(spec, caps.nodes).or_else(|| match spec.target {
                Target::Leader | Target::Primary if !caps.names_leader => Some(no_leader(spec.target)),
                _ => spec.kind.refusal(caps),
            })
        };
        if let Some(why) = why {
            return Err(Error::Refused { fault: spec, why });
        }
    }
    Ok(())
}

impl Fault {
    /// The history's name for this fault (`partition` in `partition-start`
    /// …): the kind's, except that a leader isolation keeps the name it
    /// had before faults could be aimed, so imports and reports still tell
    /// it from a partition.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition(Partition { kind: "leader", .. }) => PARTITION_LEADER,
            other => other.kind().name(),
        }
    }
}

/// A fault with the rule that aimed it, and, for `holder`, whose grant
/// chose its nodes: what the nemesis starts, stops and records.
#[derive(Debug, Clone, PartialEq)]
pub struct Aimed {
    pub fault: Fault,
    pub target: Target,
    /// `holder` node faults: the (process, key) whose grant named the nodes.
    pub holder: Option<(u64, String)>,
}

impl Aimed {
    pub fn new(fault: Fault, target: Target) -> Aimed {
        Aimed { fault, target, holder: None }
    }

    pub fn spec(&self) -> FaultSpec {
        FaultSpec::new(self.fault.kind(), self.target)
    }

    pub fn name(&self) -> &'static str {
        self.fault.name()
    }

    /// A live target whose nodes are not known yet.
    pub(crate) fn unresolved(&self) -> bool {
        self.target.is_live() && !self.fault.kind().on_clients() && self.fault.targets().is_empty()
    }

    /// [`Fault::describe`], with the rule and (for `holder`) the process
    /// and key it resolved to.
    pub fn describe(&self) -> FaultInfo {
        let mut info = self.fault.describe();
        info.target = Some(self.target.name().to_string());
        if let Some((process, key)) = &self.holder {
            info.processes = vec![*process];
            info.keys = vec![key.clone()];
        }
        // Recorded only where the name alone does not tell the checkers,
        // so the kinds that predate the field record what they always did.
        let reach = self.fault.kind().reach();
        if Reach::by_name(self.name()) != reach {
            info.reach = Some(reach);
        }
        info
    }
}

/// A fault built by hand is aimed the way its shape says: at the leader
/// for a leader isolation, at the holder for a client pause, else random.
impl From<Fault> for Aimed {
    fn from(fault: Fault) -> Aimed {
        let target = match &fault {
            Fault::Partition(Partition { kind: "leader", .. }) => Target::Leader,
            other => other.kind().default_target(),
        };
        Aimed::new(fault, target)
    }
}

impl From<&Fault> for Aimed {
    fn from(fault: &Fault) -> Aimed {
        fault.clone().into()
    }
}

impl From<&Aimed> for Aimed {
    fn from(aimed: &Aimed) -> Aimed {
        aimed.clone()
    }
}

pub(crate) fn shuffled(names: &[String], rng: &mut Rng) -> Vec<String> {
    let mut v = names.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v
}

/// The smallest majority of `n` nodes.
fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// The nodes a `majority`, `minority` or `all` target picks from `nodes`
/// (seeded, sorted); empty for the other targets, which the plan does not
/// decide.
pub fn aim_at_share(target: Target, nodes: &[String], rng: &mut Rng) -> Vec<String> {
    let size = match target {
        Target::Majority => majority(nodes.len()),
        Target::Minority => (nodes.len().saturating_sub(1)) / 2,
        Target::All => nodes.len(),
        _ => return Vec::new(),
    };
    let mut chosen = shuffled(nodes, rng)[..size.min(nodes.len())].to_vec();
    chosen.sort();
    chosen
}

/// The holding a `holder` node fault aims at, and the nodes it acts on:
/// one of the locks held now (seeded choice), and of the nodes that
/// granted it, those in the cluster — or, where more than a majority of
/// the cluster granted it (Redlock), a majority of them: enough to break
/// the lock, no more. `None` when nobody holds a lock granted by a node of
/// this cluster.
pub fn aim_at_holder(holdings: &[Holding], nodes: &[String], rng: &mut Rng) -> Option<(Holding, Vec<String>)> {
    let candidates: Vec<(&Holding, Vec<String>)> = holdings
        .iter()
        .map(|h| (h, h.nodes.iter().filter(|n| nodes.contains(n)).cloned().collect::<Vec<String>>()))
        .filter(|(_, granted)| !granted.is_empty())
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let (holding, granted) = &candidates[rng.below(candidates.len() as u64) as usize];
    let m = majority(nodes.len());
    let mut chosen = if granted.len() > m { shuffled(granted, rng)[..m].to_vec() } else { granted.clone() };
    chosen.sort();
    Some(((*holding).clone(), chosen))
}

/// A random partition of `nodes` of one of the classic shapes.
pub fn random_partition(nodes: &[String], rng: &mut Rng) -> Fault {
    Fault::Partition(partition::random(nodes, rng))
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
    kind.draw(nodes, one, some, options, rng)
}

/// The fault `spec` plans on `nodes`: a random one; one on the share a
/// `majority`/`minority`/`all` target picks; or, for a live target, one
/// with no nodes yet, filled in when it starts.
pub fn planned_fault(spec: FaultSpec, nodes: &[String], options: &FaultOptions, rng: &mut Rng) -> Fault {
    // A kind at its default target draws as it did before faults could be
    // aimed: the same seed plans the same faults.
    if spec.target == spec.kind.default_target() {
        return random_fault(spec.kind, nodes, options, rng);
    }
    if spec.target.is_shape() {
        return Fault::Partition(crate::kinds::partition::shaped(spec.target, nodes, rng));
    }
    let chosen = aim_at_share(spec.target, nodes, rng);
    let fault = spec.kind.unaimed(spec.target, options, rng);
    if chosen.is_empty() {
        fault
    } else {
        fault.aimed_at(&chosen, nodes)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::kinds::partition::cut;
    use crate::kinds::{ClientPartition, ClientPause, Clock, Kill, Loss, Netem};

    pub(crate) fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn partitions_have_the_classic_shapes() {
        let mut rng = Rng::new(1);
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            let Fault::Partition(Partition { kind, grudge }) = random_partition(&names(5), &mut rng) else {
                unreachable!()
            };
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
        let plain = |k| FaultSpec::plain(k);
        assert_eq!(FaultSpec::parse_list("none"), Ok(vec![]));
        assert_eq!(
            FaultSpec::parse_list("kill, partition,kill"),
            Ok(vec![plain(FaultKind::Partition), plain(FaultKind::Kill)])
        );
        let e = FaultSpec::parse_list("partition,bogus").unwrap_err();
        assert_eq!(e, SpecError::UnknownFault(UnknownFault { name: "bogus".into() }));
        let e = e.to_string();
        assert!(e.contains("`bogus`") && e.contains("client-pause") && e.contains("partition-leader"), "{e}");
    }

    #[test]
    fn specs_parse_with_targets_and_print_canonically() {
        let spec = |s: &str| FaultSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(spec("kill:holder"), FaultSpec::new(FaultKind::Kill, Target::Holder));
        assert_eq!(spec(" clock:majority "), FaultSpec::new(FaultKind::Clock, Target::Majority));
        // Both spellings of a leader isolation are one spec, spelled the old way.
        assert_eq!(spec("partition:leader"), spec("partition-leader"));
        assert_eq!(spec("partition:leader").to_string(), "partition-leader");
        assert_eq!(spec("partition:leader").history_name(), "partition-leader");
        assert_eq!(spec("partition:holder").history_name(), "partition");
        // The default target is not spelled out.
        assert_eq!(spec("kill:random").to_string(), "kill");
        assert_eq!(spec("client-pause:holder").to_string(), "client-pause");
        assert_eq!(spec("client-pause").target, Target::Holder);
        assert_eq!(spec("kill:all").to_string(), "kill:all");
        for &kind in FaultKind::ALL {
            for &target in Target::ALL {
                let Ok(s) = FaultSpec::parse(&format!("{kind}:{target}")) else { continue };
                assert_eq!(FaultSpec::parse(&s.to_string()), Ok(s), "{s} round-trips");
            }
        }
        // Canonical order and spelling: by kind, then target; duplicates once.
        let list = FaultSpec::parse_list("kill:holder,partition:leader,kill,client-pause:holder,client-pause").unwrap();
        assert_eq!(FaultSpec::list_name(&list), "partition-leader,kill,kill:holder,client-pause");
        assert_eq!(FaultSpec::list_name(&[]), "none");
    }

    #[test]
    fn wrong_targets_are_named_and_impossible_ones_refused_with_the_reason() {
        let e = FaultSpec::parse("kill:leaderr").unwrap_err();
        assert_eq!(e, SpecError::UnknownTarget { spec: "kill:leaderr".into(), target: "leaderr".into() });
        let text = e.to_string();
        assert!(
            text.contains("unknown target `leaderr`") && text.contains("holder") && text.contains("minority"),
            "{text}"
        );
        assert!(matches!(FaultSpec::parse("kil:holder"), Err(SpecError::UnknownFault(_))));
        for (s, why) in [
            ("client-pause:leader", "clients, not nodes"),
            ("client-pause:all", "clients, not nodes"),
            ("client-pause:random", "always catches a client holding"),
            ("partition:all", "a side left standing"),
            ("partition-leader:holder", "partition:TARGET"),
        ] {
            match FaultSpec::parse(s) {
                Err(e @ SpecError::CannotAim { .. }) => assert!(e.to_string().contains(why), "{s}: {e}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }

    fn caps(nodes: usize, names_leader: bool) -> Capabilities {
        Capabilities {
            nodes,
            names_leader,
            clock_refusal: None,
            durability_refusal: None,
            corrupt_refusal: None,
            member_refusal: None,
            touchable: true,
        }
    }

    #[test]
    fn targets_a_system_cannot_give_are_refused_up_front() {
        let refused = |s: &str, c: &Capabilities| {
            let specs = FaultSpec::parse_list(s).unwrap();
            refuse_up_front(&specs, c).err().map(|e| e.to_string())
        };
        // Redlock: five independent nodes, no leader.
        let e = refused("kill:leader", &caps(5, false)).unwrap();
        assert!(e.starts_with("kill:leader: ") && e.contains("names no leader"), "{e}");
        assert!(refused("clock:primary", &caps(5, false)).unwrap().contains("names no primary"));
        assert!(refused("partition-leader", &caps(5, false)).unwrap().contains("names no leader"));
        assert_eq!(refused("kill:holder,clock:majority,pause:minority,kill:all", &caps(5, false)), None);
        // One Redis: no minority, no links, no leader.
        assert!(refused("kill:minority", &caps(1, false)).unwrap().contains("no minority"));
        assert!(refused("partition:holder", &caps(1, false)).unwrap().contains("one-node cluster"));
        assert!(refused("partition-leader", &caps(1, false)).unwrap().contains("no leader"));
        assert_eq!(refused("kill:holder,kill:majority,kill:all,client-pause", &caps(1, false)), None);
        // etcd names its leader.
        assert_eq!(refused("kill:leader,partition:leader,pause:primary", &caps(3, true)), None);
        let endpoints = Capabilities { touchable: false, ..caps(3, true) };
        assert!(refused("kill:holder", &endpoints).unwrap().contains("--endpoints"));
        assert_eq!(refused("client-pause", &endpoints), None);
    }

    #[test]
    fn shares_are_majorities_minorities_or_everyone() {
        let mut rng = Rng::new(5);
        for n in 1..=7 {
            let nodes = names(n);
            for _ in 0..20 {
                let maj = aim_at_share(Target::Majority, &nodes, &mut rng);
                let min = aim_at_share(Target::Minority, &nodes, &mut rng);
                assert_eq!(maj.len(), n / 2 + 1, "{maj:?}");
                assert_eq!(min.len(), (n - 1) / 2, "{min:?}");
                assert!(2 * maj.len() > n && 2 * min.len() < n);
                for set in [&maj, &min] {
                    assert!(set.windows(2).all(|w| w[0] < w[1]) && set.iter().all(|x| nodes.contains(x)), "{set:?}");
                }
            }
            assert_eq!(aim_at_share(Target::All, &nodes, &mut rng), nodes);
            assert!(aim_at_share(Target::Holder, &nodes, &mut rng).is_empty());
        }
        // Seeded: the same seed picks the same majority.
        assert_eq!(
            aim_at_share(Target::Majority, &names(5), &mut Rng::new(9)),
            aim_at_share(Target::Majority, &names(5), &mut Rng::new(9))
        );
    }

    #[test]
    fn the_holder_is_found_from_the_registry() {
        let holding = |process, key: &str, nodes: &[&str]| Holding {
            process,
            key: key.into(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
        };
        let mut rng = Rng::new(1);
        // Nobody holds, or only through nodes this cluster does not have.
        assert_eq!(aim_at_holder(&[], &names(5), &mut rng), None);
        assert_eq!(aim_at_holder(&[holding(1, "k0", &[])], &names(1), &mut rng), None);
        assert_eq!(aim_at_holder(&[holding(1, "k0", &["n9"])], &names(1), &mut rng), None);
        // One Redis: its one node.
        let (h, nodes) = aim_at_holder(&[holding(7, "k0", &["n1"])], &names(1), &mut rng).unwrap();
        assert_eq!((h.process, h.key.as_str(), nodes), (7, "k0", vec!["n1".to_string()]));
        // Redlock granted by exactly a majority: all of them.
        let granted = holding(3, "k0", &["n1", "n4", "n5"]);
        let (_, nodes) = aim_at_holder(std::slice::from_ref(&granted), &names(5), &mut rng).unwrap();
        assert_eq!(nodes, ["n1", "n4", "n5"]);
        // Granted by all five: a majority of them, no more.
        for seed in 0..20 {
            let all = holding(4, "k0", &["n1", "n2", "n3", "n4", "n5"]);
            let (_, nodes) = aim_at_holder(&[all], &names(5), &mut Rng::new(seed)).unwrap();
            assert_eq!(nodes.len(), 3, "{nodes:?}");
        }
        // Two holders of two keys: each gets its turn, its own nodes.
        let two = [holding(1, "k0", &["n1"]), holding(2, "k1", &["n3"])];
        let mut seen = BTreeSet::new();
        for seed in 0..20 {
            let (h, nodes) = aim_at_holder(&two, &names(3), &mut Rng::new(seed)).unwrap();
            assert_eq!(nodes, [if h.process == 1 { "n1" } else { "n3" }]);
            seen.insert(h.process);
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn aimed_faults_record_their_rule_and_holder() {
        let o = FaultOptions::default();
        let mut rng = Rng::new(2);
        let spec = FaultSpec::parse("clock:holder").unwrap();
        let template = planned_fault(spec, &names(5), &o, &mut rng);
        assert!(template.targets().is_empty(), "resolved when it starts: {template:?}");
        let chosen = ["n1".to_string(), "n2".into(), "n4".into()];
        let aimed =
            Aimed { fault: template.aimed_at(&chosen, &names(5)), target: spec.target, holder: Some((6, "k0".into())) };
        let info = aimed.describe();
        assert_eq!(info.target.as_deref(), Some("holder"));
        assert_eq!(
            (info.targets.as_slice(), info.processes.as_slice(), info.keys.as_slice()),
            (&chosen[..], &[6][..], &["k0".to_string()][..])
        );
        assert_eq!(aimed.spec(), spec);
        // A partition aimed at the holder cuts its nodes from the rest.
        let p = planned_fault(FaultSpec::parse("partition:holder").unwrap(), &names(5), &o, &mut rng);
        let Fault::Partition(Partition { kind: "holder", grudge }) = p.aimed_at(&chosen, &names(5)) else { panic!() };
        assert_eq!(grudge["n1"].iter().collect::<Vec<_>>(), ["n3", "n5"]);
        assert_eq!(grudge["n3"].iter().collect::<Vec<_>>(), ["n1", "n2", "n4"]);
        // A majority is chosen by the plan.
        let k = planned_fault(FaultSpec::parse("kill:majority").unwrap(), &names(5), &o, &mut rng);
        assert_eq!(k.targets().len(), 3);
        // Built by hand: a leader isolation is aimed at the leader.
        let leader: Aimed = Fault::Partition(Partition { kind: "leader", grudge: Grudge::new() }).into();
        assert_eq!((leader.target, leader.name()), (Target::Leader, "partition-leader"));
        assert!(leader.unresolved());
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
                Fault::Partition(Partition { kind: "one", grudge }),
                json!({"kind": "one", "grudge": {"n1": ["n2"], "n2": ["n1"]}, "targets": ["n1", "n2"]}),
            ),
            (ClientPartition { nodes: n1() }.into(), json!({"kind": "clients", "targets": ["n1"]})),
            (Kill { nodes: n1() }.into(), json!({"kind": "kill", "targets": ["n1"]})),
            (
                Loss { nodes: n1(), probability: 0.3 }.into(),
                json!({"kind": "loss", "probability": 0.3, "targets": ["n1"]}),
            ),
            (
                Clock { nodes: n1(), offset_ms: -60_000, strobe_ms: 0, period_ms: 0 }.into(),
                json!({"kind": "jump", "offset_ms": -60_000, "strobe_ms": 0, "period_ms": 0, "targets": ["n1"]}),
            ),
            (
                Netem { nodes: n1(), delay_ms: 100, jitter_ms: 20, loss: 0.0 }.into(),
                json!({"kind": "netem", "delay_ms": 100, "jitter_ms": 20, "loss": 0.0, "targets": ["n1"]}),
            ),
            (
                ClientPause { clients: 1, duration_ms: 10, stalled: vec![(3, "k0".into())] }.into(),
                json!({"kind": "client-pause", "clients": 1, "duration_ms": 10, "processes": [3], "keys": ["k0"], "targets": []}),
            ),
        ];
        for (fault, before) in cases {
            let fault: Fault = fault;
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

    /// The kinds that predate `reach` record none: their name tells the
    /// checkers, so their values stay what they were.
    #[test]
    fn the_registry_agrees_with_the_checkers_table_of_old_kinds() {
        let mut rng = Rng::new(4);
        for &kind in FaultKind::ALL {
            assert_eq!(kind.reach(), Reach::by_name(kind.name()), "{kind}");
            let aimed = Aimed::from(random_fault(kind, &names(3), &FaultOptions::default(), &mut rng));
            assert_eq!(aimed.describe().reach, None, "{kind}");
            assert!(!kind.plural().is_empty() && !kind.description().is_empty(), "{kind}");
        }
        // The report's plurals, as the harness spelled them before kinds had files.
        let before = |name: &str| match name {
            "loss" => "losses".to_string(),
            "client-pause" => "client pauses".into(),
            "partition-clients" => "client partitions".into(),
            "partition-leader" => "leader partitions".into(),
            "clock" => "clock faults".into(),
            "netem" => "netem faults".into(),
            other => format!("{other}s"),
        };
        // Kinds newer than that spelling have their own.
        let old = FaultKind::ALL.iter().filter(|k| {
            !matches!(k, FaultKind::LoseUnsynced | FaultKind::ClockRate | FaultKind::CorruptFile | FaultKind::Member)
        });
        for &kind in old {
            for &target in Target::ALL {
                let Ok(spec) = FaultSpec::parse(&format!("{kind}:{target}")) else { continue };
                assert_eq!(spec.plural(), before(spec.history_name()), "{spec}");
            }
        }
        let leader = FaultSpec::parse("partition-leader").unwrap();
        assert_eq!(Reach::by_name(leader.history_name()), FaultKind::Partition.reach());
    }
}
