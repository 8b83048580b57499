//! The fault kinds, one file each, and the one list that registers them.
//!
//! A kind's file holds everything about it ([`Kind`]): the concrete fault
//! the seeded plan draws, the targets and systems it refuses, how it is
//! aimed, injected, verified and healed, what it may leave behind on a node,
//! its words (the plural, the plan's phrasing, the help's description) and
//! how far it reaches into a client's session ([`ops::faults::Reach`]).
//! [`registry!`] below turns the list into [`FaultKind`] (the names users
//! give), [`Fault`] (one concrete fault of any kind) and the dispatch from
//! either to the kind's file, so the rest of the crate never matches on a
//! kind by hand. Jepsen's `nemesis/combined.clj` bundles a fault family the
//! same way.
//!
//! What kinds share (fencepost's iptables chains) is in [`iptables`]; what
//! a node can be left with, and how to take it away, is [`UNDO`].

use std::collections::BTreeMap;
use std::time::Duration;

use kit::Rng;
use node::Node;
use ops::faults::{FaultInfo, Reach};
use strum::{IntoStaticStr, VariantArray, VariantNames};

use crate::fault::{Capabilities, FaultOptions, Target};
use crate::nemesis::Nemesis;
use crate::Error;

pub(crate) mod iptables;

/// What one fault kind is. Every function has the kind's own answer; the
/// defaults are those of a fault on nodes at random.
pub(crate) trait Kind: Sized + Clone {
    /// What the kind does, in a sentence (`fencepost run --help`'s list).
    const DESCRIPTION: &'static str;
    /// The report's plural ("2 kills"); the singular is the kind's name.
    const PLURAL: &'static str;
    /// Whose sessions it may end: recorded in the history's value where the
    /// name alone would not tell the checkers ([`Reach::by_name`]).
    const REACH: Reach;
    /// It stalls the workload's clients rather than touching nodes.
    const ON_CLIENTS: bool = false;
    /// Which option sets how large one fault is (`fencepost margin`
    /// searches it): by default its length, the interval.
    const MAGNITUDE: Magnitude = Magnitude::Length;
    /// Aimed at the `holder`, it waits for a lock granted after it began
    /// waiting, not whoever holds one already: a power cut loses what was
    /// written last, so an old grant would long be synced.
    const FRESH_HOLDER: bool = false;

    /// The target when none is named.
    fn default_target() -> Target {
        Target::Random
    }

    /// Why the kind cannot be aimed at `target`, whatever the system.
    fn cannot_aim(target: Target) -> Option<&'static str> {
        shape_only(target)
    }

    /// Why a cluster of `nodes` nodes cannot take it aimed at `target`
    /// (asked before the generic "no minority" rule).
    fn size_refusal(_target: Target, _nodes: usize) -> Option<String> {
        None
    }

    /// Why this system cannot take it, known without a live node.
    fn refusal(_caps: &Capabilities) -> Option<String> {
        None
    }

    /// Why the live cluster cannot take it (a tool missing on `first` or
    /// any node); errors are the engine's.
    async fn check(_nemesis: &Nemesis, _first: &Node) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// How long the schedule lets one fault of this kind last.
    fn length(_options: &FaultOptions, interval: Duration) -> Duration {
        interval
    }

    /// Why, with this run's shape, a fault of this kind cannot show the
    /// anomaly it is there to provoke, and what would let it: said before
    /// the run, since a run that could not have failed reads as a pass.
    fn blind_spot(_exposure: &Exposure, _show: &dyn Fn(Duration) -> String) -> Option<String> {
        None
    }

    /// A fault at the kind's default target, drawn from `rng` after `one`
    /// (a random node) and `some` (a random non-empty set) were drawn for
    /// every kind alike, so that plans stay what they were.
    fn draw(nodes: &[String], one: Vec<String>, some: Vec<String>, options: &FaultOptions, rng: &mut Rng) -> Self;

    /// A fault aimed at `target`, with no nodes yet ([`Kind::aim`] adds them).
    fn unaimed(target: Target, options: &FaultOptions, rng: &mut Rng) -> Self;

    /// The nodes it acts on.
    fn targets(&self) -> Vec<String>;

    /// The same fault on `chosen` of the cluster's `nodes`.
    fn aim(&mut self, chosen: &[String], nodes: &[String]);

    /// The history's value: the shape and the fault's own parameters (the
    /// targets, the rule and the holder are added by the caller).
    fn describe(&self) -> FaultInfo;

    /// The fault a history's value describes ([`Kind::describe`] with its
    /// targets), for a replay; the error names the field missing.
    fn replayed(info: &FaultInfo) -> Result<Self, String>;

    /// What `run --plan` says of it beyond its value ("clock jumps back 1s
    /// "), durations spelled by `show`.
    fn plan_words(&self, _show: &dyn Fn(Duration) -> String) -> String {
        String::new()
    }

    /// Before anything is recorded: a fault that begins when something
    /// else happens (a holder walking into a stall) waits for it here,
    /// having reported its own start, and returns itself as caught.
    /// `window` is how long it may wait to catch something: its step's
    /// wait, so that a late catch never runs into the next fault.
    async fn catch(&self, _nemesis: &Nemesis, _info: &FaultInfo, _window: Duration) -> Result<Option<Self>, Error> {
        Ok(None)
    }

    /// Measurements taken on `nodes` before it is injected, for [`Kind::verify`].
    async fn baseline(&self, _nemesis: &Nemesis, _nodes: &[String]) -> Result<Baseline, Error> {
        Ok(Baseline::new())
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error>;

    /// Checks it took effect: an error naming what did not.
    async fn verify(&self, nemesis: &Nemesis, before: &Baseline) -> Result<(), Error>;

    /// Undone before its nodes are healed (nodes heal by [`UNDO`]).
    async fn undo(&self, _nemesis: &Nemesis) -> Result<(), Error> {
        Ok(())
    }

    /// Checks its nodes recovered, once healed.
    async fn verify_healed(&self, _nemesis: &Nemesis) -> Result<(), Error> {
        Ok(())
    }
}

/// The option that sets how large one fault of a kind is: what `fencepost
/// margin` varies to find the largest fault a configuration survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magnitude {
    /// How long it lasts: `--nemesis-interval` (a kill's downtime, a cut,
    /// a node's pause).
    Length,
    /// `--client-pause`: how long a holder stalls.
    ClientPause,
    /// `--clock-offset`: how far a clock jumps.
    ClockOffset,
    /// `--netem-delay`: the delay added to every packet.
    NetemDelay,
}

impl Magnitude {
    /// The flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            Magnitude::Length => "--nemesis-interval",
            Magnitude::ClientPause => "--client-pause",
            Magnitude::ClockOffset => "--clock-offset",
            Magnitude::NetemDelay => "--netem-delay",
        }
    }

    /// Sets it to `size` in a run's options (`interval` is
    /// `--nemesis-interval`).
    pub fn set(self, size: Duration, options: &mut FaultOptions, interval: &mut Option<Duration>) {
        match self {
            Magnitude::Length => *interval = Some(size),
            Magnitude::ClientPause => options.client_pause = size,
            Magnitude::ClockOffset => options.clock_offset = size,
            Magnitude::NetemDelay => options.netem_delay = size,
        }
    }
}

/// What of a run decides whether a fault can be seen to break a lock: the
/// lease the clients take and how often it is renewed, how long they hold
/// it, the cluster's size, and how long one fault lasts.
#[derive(Clone, Copy, Debug)]
pub struct Exposure {
    /// The lease a lock lasts unrenewed; `None` where locks last as long
    /// as the client's session (SQL advisory locks).
    pub ttl: Option<Duration>,
    /// How often a holder renews its lease, where it does (etcd's
    /// keep-alives, ZooKeeper's session pings).
    pub renewal: Option<Duration>,
    pub hold_max: Duration,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// How long one fault of the kind lasts (its downtime, cut or pause).
    pub length: Duration,
}

impl Exposure {
    /// What is surely left of a held lease at any moment: the TTL less the
    /// time since the grant (at most the longest hold) or since the last
    /// renewal, whichever is shorter.
    pub fn guaranteed(&self) -> Option<Duration> {
        let since = self.renewal.map_or(self.hold_max, |r| r.min(self.hold_max));
        Some(self.ttl?.saturating_sub(since))
    }
}

/// A fault that ends before what is surely left of any held lease cannot
/// make one run out while it lasts. `what` names one fault ("cut"),
/// `instead` says how to make it long enough.
pub(crate) fn within_the_lease(
    e: &Exposure,
    what: &str,
    instead: &str,
    show: &dyn Fn(Duration) -> String,
) -> Option<String> {
    let (ttl, left) = (e.ttl?, e.guaranteed()?);
    (e.length < left).then(|| {
        format!(
            "each {what} lasts {}, less than is surely left of a held lease when it starts ({}: --ttl {} less {}), \
             so no lease runs out under it and it shows a second holder only if the service loses the lock \
             outright; {instead}",
            show(e.length),
            show(left),
            show(ttl),
            match e.renewal {
                Some(r) if r < e.hold_max => format!("a renewal period of {}", show(r)),
                _ => format!("the longest hold, {}", show(e.hold_max)),
            }
        )
    })
}

/// Per node, what a kind measured before injecting (a connection time).
pub(crate) type Baseline = BTreeMap<String, Duration>;

/// Something a fault can leave on a running node, with how to take it
/// away and how to see it. A node is healed by resuming or starting it,
/// then by each of these in order (the order a dry run's commands show).
pub(crate) struct Undo {
    pub heal: NodeStep<()>,
    pub leftovers: NodeStep<Vec<String>>,
}

/// A step of an [`Undo`] on one node.
pub(crate) type NodeStep<T> =
    for<'a> fn(&'a Nemesis, &'a Node) -> futures_util::future::BoxFuture<'a, Result<T, Error>>;

/// What a node is healed of, in order: fencepost's iptables rules, a
/// netem qdisc, a moved clock.
pub(crate) const UNDO: &[Undo] = &[iptables::UNDO, netem::UNDO, clock::UNDO];

/// The registry. Each line is `KindName => FaultVariant(module::Type)`:
/// the name users give (strum's kebab-case of `KindName`), the variant of
/// [`Fault`] and the kind's file. The order is the order runs name and
/// sort kinds in: a new kind goes last.
macro_rules! registry {
    ($( $(#[$doc:meta])* $Kind:ident => $Variant:ident($module:ident::$Type:ident), )*) => {
        $(pub(crate) mod $module;)*
        $(pub use $module::$Type;)*

        /// A fault as users name it (`--nemesis partition,kill`). The names
        /// are strum's (kebab-case of the variant): [`FaultKind::name`],
        /// `Display` and `FromStr` all read the one table.
        /// `partition-leader` is not a kind but the spelling of
        /// `partition:leader` ([`crate::FaultSpec`]).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, IntoStaticStr, VariantArray, VariantNames,
            strum::Display,
        )]
        #[strum(serialize_all = "kebab-case")]
        pub enum FaultKind {
            $($(#[$doc])* $Kind,)*
        }

        /// One concrete fault. A fault aimed at a live target (the leader,
        /// the holder) is planned with no nodes yet and filled in when it
        /// starts ([`Fault::aimed_at`]).
        #[derive(Debug, Clone, PartialEq)]
        pub enum Fault {
            $($Variant($Type),)*
        }

        $(impl From<$Type> for Fault {
            fn from(fault: $Type) -> Fault {
                Fault::$Variant(fault)
            }
        })*

        impl FaultKind {
            pub fn description(self) -> &'static str {
                match self { $(FaultKind::$Kind => <$Type as Kind>::DESCRIPTION,)* }
            }

            /// "kills", "client pauses": the report's plural.
            pub fn plural(self) -> &'static str {
                match self { $(FaultKind::$Kind => <$Type as Kind>::PLURAL,)* }
            }

            /// Whose sessions a fault of this kind may end.
            pub fn reach(self) -> Reach {
                match self { $(FaultKind::$Kind => <$Type as Kind>::REACH,)* }
            }

            /// Which option sets how large one fault of this kind is.
            pub fn magnitude(self) -> Magnitude {
                match self { $(FaultKind::$Kind => <$Type as Kind>::MAGNITUDE,)* }
            }

            /// Aimed at the holder, it waits for a new grant ([`Kind::FRESH_HOLDER`]).
            pub fn fresh_holder(self) -> bool {
                match self { $(FaultKind::$Kind => <$Type as Kind>::FRESH_HOLDER,)* }
            }

            /// It stalls clients (the holder), touching no node.
            pub fn on_clients(self) -> bool {
                match self { $(FaultKind::$Kind => <$Type as Kind>::ON_CLIENTS,)* }
            }

            /// The target a kind takes when none is named.
            pub fn default_target(self) -> Target {
                match self { $(FaultKind::$Kind => <$Type as Kind>::default_target(),)* }
            }

            pub(crate) fn cannot_aim(self, target: Target) -> Option<&'static str> {
                match self { $(FaultKind::$Kind => <$Type as Kind>::cannot_aim(target),)* }
            }

            pub(crate) fn size_refusal(self, target: Target, nodes: usize) -> Option<String> {
                match self { $(FaultKind::$Kind => <$Type as Kind>::size_refusal(target, nodes),)* }
            }

            pub(crate) fn refusal(self, caps: &Capabilities) -> Option<String> {
                match self { $(FaultKind::$Kind => <$Type as Kind>::refusal(caps),)* }
            }

            pub(crate) async fn check(self, nemesis: &Nemesis, first: &Node) -> Result<Option<String>, Error> {
                match self { $(FaultKind::$Kind => <$Type as Kind>::check(nemesis, first).await,)* }
            }

            pub(crate) fn length(self, options: &FaultOptions, interval: Duration) -> Duration {
                match self { $(FaultKind::$Kind => <$Type as Kind>::length(options, interval),)* }
            }

            /// Why a fault of this kind cannot show its anomaly in a run
            /// of this shape, and what would let it ([`Kind::blind_spot`]).
            pub fn blind_spot(self, exposure: &Exposure, show: &dyn Fn(Duration) -> String) -> Option<String> {
                match self { $(FaultKind::$Kind => <$Type as Kind>::blind_spot(exposure, show),)* }
            }

            pub(crate) fn draw(
                self,
                nodes: &[String],
                one: Vec<String>,
                some: Vec<String>,
                options: &FaultOptions,
                rng: &mut Rng,
            ) -> Fault {
                match self {
                    $(FaultKind::$Kind => Fault::$Variant(<$Type as Kind>::draw(nodes, one, some, options, rng)),)*
                }
            }

            /// The fault `info` describes, as a replay injects it again.
            pub fn replayed(self, info: &FaultInfo) -> Result<Fault, String> {
                match self { $(FaultKind::$Kind => Ok(Fault::$Variant(<$Type as Kind>::replayed(info)?)),)* }
            }

            pub(crate) fn unaimed(self, target: Target, options: &FaultOptions, rng: &mut Rng) -> Fault {
                match self { $(FaultKind::$Kind => Fault::$Variant(<$Type as Kind>::unaimed(target, options, rng)),)* }
            }
        }

        impl Fault {
            /// The kind this fault is one of.
            pub fn kind(&self) -> FaultKind {
                match self { $(Fault::$Variant(_) => FaultKind::$Kind,)* }
            }

            /// The nodes this fault acts on.
            pub fn targets(&self) -> Vec<String> {
                match self { $(Fault::$Variant(f) => f.targets(),)* }
            }

            /// The same fault on `chosen` of the cluster's `nodes`: a
            /// partition cuts them from the rest; every other node fault
            /// acts on them.
            pub fn aimed_at(&self, chosen: &[String], nodes: &[String]) -> Fault {
                let mut fault = self.clone();
                match &mut fault { $(Fault::$Variant(f) => f.aim(chosen, nodes),)* }
                fault
            }

            /// What the history records about it: the kind, the targets,
            /// and the fault's own parameters (for partitions, the grudge).
            pub fn describe(&self) -> FaultInfo {
                let info = match self { $(Fault::$Variant(f) => f.describe(),)* };
                FaultInfo { targets: self.targets(), ..info }
            }

            /// What `run --plan` says of it beside its value, durations
            /// spelled by `show`.
            pub fn plan_words(&self, show: &dyn Fn(Duration) -> String) -> String {
                match self { $(Fault::$Variant(f) => f.plan_words(show),)* }
            }

            pub(crate) async fn catch(
                &self,
                nemesis: &Nemesis,
                info: &FaultInfo,
                window: Duration,
            ) -> Result<Option<Fault>, Error> {
                match self { $(Fault::$Variant(f) => Ok(f.catch(nemesis, info, window).await?.map(Fault::$Variant)),)* }
            }

            pub(crate) async fn baseline(&self, nemesis: &Nemesis, nodes: &[String]) -> Result<Baseline, Error> {
                match self { $(Fault::$Variant(f) => f.baseline(nemesis, nodes).await,)* }
            }

            pub(crate) async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
                match self { $(Fault::$Variant(f) => f.inject(nemesis).await,)* }
            }

            pub(crate) async fn verify(&self, nemesis: &Nemesis, before: &Baseline) -> Result<(), Error> {
                match self { $(Fault::$Variant(f) => f.verify(nemesis, before).await,)* }
            }

            pub(crate) async fn undo(&self, nemesis: &Nemesis) -> Result<(), Error> {
                match self { $(Fault::$Variant(f) => f.undo(nemesis).await,)* }
            }

            pub(crate) async fn verify_healed(&self, nemesis: &Nemesis) -> Result<(), Error> {
                match self { $(Fault::$Variant(f) => f.verify_healed(nemesis).await,)* }
            }
        }
    };
}

registry! {
    /// Node ↔ node: one node, halves, majorities ring, bridge; or, aimed, a
    /// chosen set of nodes (the leader, the holder's) cut from the rest.
    Partition => Partition(partition::Partition),
    /// Nodes cut from the clients (the harness), still talking to each other.
    PartitionClients => ClientPartition(partition_clients::ClientPartition),
    Kill => Kill(kill::Kill),
    Pause => Pause(pause::Pause),
    Loss => Loss(loss::Loss),
    Clock => Clock(clock::Clock),
    Netem => Netem(netem::Netem),
    ClientPause => ClientPause(client_pause::ClientPause),
    /// A power cut: a kill that also loses what was not fsynced.
    LoseUnsynced => LoseUnsynced(lose_unsynced::LoseUnsynced),
    /// Servers' wall clocks run fast or slow by a factor (`--clock-rate`).
    ClockRate => ClockRate(clock_rate::ClockRate),
    /// A stopped server's data file truncated or bit-flipped.
    CorruptFile => CorruptFile(corrupt_file::CorruptFile),
    /// A member removed from the cluster, added back when healed.
    Member => Member(member::Member),
}

/// `--nemesis`'s help, its list of kinds read from the registry (no
/// closing full stop: clap drops the one of a doc comment, and this read as one).
pub fn nemesis_help() -> String {
    format!(
        "Faults to mix, comma-separated, or none: KIND[:TARGET]. Kinds: {}. Targets: random (the default; \
         client-pause: holder), leader, primary (where the system names one), majority, minority, all, holder \
         (whoever holds a lock when the fault starts: the node(s) that granted it, for Redlock a majority of them; \
         for client-pause the client; for lose-unsynced the next lock granted; waited for up to one interval, else recorded as skipped). partition-leader \
         is partition:leader",
        <FaultKind as VariantNames>::VARIANTS.join(", ")
    )
}

/// A partition's shapes (`ring`, `minority-third`) aim no other kind.
pub(crate) fn shape_only(target: Target) -> Option<&'static str> {
    target.is_shape().then_some("that target is a partition's shape (partition:ring, partition:minority-third)")
}

/// A field a replayed fault needs from its recorded value.
pub(crate) fn field<T>(value: Option<T>, name: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("the recorded fault has no `{name}`"))
}

/// `d` in whole milliseconds, as faults record durations.
pub(crate) fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// `kind` is not in effect on `node`.
pub(crate) fn not_in_effect(kind: FaultKind, node: &str, why: String) -> Error {
    Error::Verify { fault: kind, node: Some(node.to_string()), why }
}

/// `kind` was undone but `node` did not recover.
pub(crate) fn not_healed(kind: FaultKind, node: &str, why: String) -> Error {
    Error::Heal { fault: kind, node: Some(node.to_string()), why }
}
