//! Faults as the history records them, typed.
//!
//! On disk a fault is a pair of `"nemesis"` ops named `<fault>-start` and
//! `<fault>-stop` (Jepsen's convention, kept so imported Jepsen histories
//! read the same), and `heal-all` ends every open fault. An aimed fault
//! whose target could not be found (nobody held a lock) is one `info` op
//! `<fault>-skip`: it never acted, so it opens no window. That string
//! convention is parsed here, once: [`FaultEvent::parse`] turns an op's `f`
//! into a typed event and [`FaultInfo`] is the op's value. The nemesis
//! writes through the same types ([`FaultEvent::f`]), so producer and
//! checkers cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Op, Process};

/// Who cannot reach whom: `grudge[a]` are the nodes `a` drops traffic from and to.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// Which end of a fault an event marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The fault is being put in place (`invoke`) or is in effect (`info`).
    Start,
    /// The fault is being healed (`invoke`) or is healed (`info`).
    Stop,
}

/// A nemesis op's `f`, typed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FaultEvent {
    /// One end of one fault; `fault` is its name as users give it
    /// (`partition`, `kill`, `client-pause`, or a Jepsen nemesis's name).
    Fault { fault: String, step: Step },
    /// Every fault still open ends.
    HealAll,
    /// A fault that was never injected: its target could not be resolved
    /// in time (the value's `skipped` says why). No window.
    Skipped { fault: String },
}

impl FaultEvent {
    pub fn start(fault: impl Into<String>) -> FaultEvent {
        FaultEvent::Fault { fault: fault.into(), step: Step::Start }
    }

    pub fn stop(fault: impl Into<String>) -> FaultEvent {
        FaultEvent::Fault { fault: fault.into(), step: Step::Stop }
    }

    /// `None` for a nemesis op that marks no fault boundary (Jepsen's
    /// nemeses also record e.g. `:check-offsets`).
    pub fn parse(f: &str) -> Option<FaultEvent> {
        if f == "heal-all" {
            return Some(FaultEvent::HealAll);
        }
        if let Some(fault) = f.strip_suffix("-start") {
            return Some(FaultEvent::start(fault));
        }
        if let Some(fault) = f.strip_suffix("-skip") {
            return Some(FaultEvent::Skipped { fault: fault.to_string() });
        }
        f.strip_suffix("-stop").map(FaultEvent::stop)
    }

    /// The event of a nemesis op; `None` for client ops and other nemesis ops.
    pub fn of(op: &Op) -> Option<FaultEvent> {
        if op.process != Process::Nemesis {
            return None;
        }
        FaultEvent::parse(&op.f)
    }

    /// The op's `f` on disk.
    pub fn f(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for FaultEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultEvent::Fault { fault, step: Step::Start } => write!(f, "{fault}-start"),
            FaultEvent::Fault { fault, step: Step::Stop } => write!(f, "{fault}-stop"),
            FaultEvent::HealAll => f.write_str("heal-all"),
            FaultEvent::Skipped { fault } => write!(f, "{fault}-skip"),
        }
    }
}

/// What a fault event's value says about the fault: its shape, its targets
/// and its own parameters. Every field is optional on disk, so values
/// written by other tools (a Jepsen `:value :majority`) read as an empty
/// description rather than an error.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultInfo {
    /// The shape: `one`, `halves`, `majorities-ring`, `bridge`, `leader`,
    /// `clients`, `jump`, `strobe`, or the fault's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The rule that chose what it acts on: `random`, `leader`, `primary`,
    /// `majority`, `minority`, `all`, `holder` (absent in histories from
    /// before faults could be aimed: those were `random`, or `leader` for
    /// `partition-leader`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The nodes it acts on.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Partitions: who drops whom.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grudge: Grudge,
    /// Loss: the share of incoming packets dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Clock: how far the servers' wall clocks move, and the strobe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strobe_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_ms: Option<u64>,
    /// Corrupt file: the data file's glob on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Corrupt file: where in the file (shares of its length) it was cut
    /// or had a bit flipped, and which bits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bits: Vec<u8>,
    /// Clock rate: how fast the servers' wall clocks run (2: twice real time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Netem: delay, jitter and loss on what the nodes send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Client pause: how many clients, for how long, and (once started)
    /// which processes were caught holding which keys. A fault aimed at
    /// the `holder`: the process and key whose grant chose its nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// A `-skip` event: why the fault was not injected ("nobody held a lock").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Whose sessions the fault may end, where its name does not say
    /// ([`Reach::by_name`]): written by the nemesis for kinds newer than
    /// this field, absent for the others and in every older history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<Reach>,
}

/// Whose sessions (an etcd lease kept alive, a ZooKeeper session, a
/// database connection) a fault may end, so that a lease checker knows
/// which holds it may cut short. The nemesis's kinds each declare theirs;
/// the history carries it in [`FaultInfo::reach`] where the fault's name
/// alone does not tell a reader that has no nemesis (the checker).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// Sessions held through the nodes it acts on (its `targets`; all of
    /// them where it names none): kills, pauses, loss, delay, client cuts.
    Nodes,
    /// Sessions held through a node on either end of a link it cuts (the
    /// `grudge`; without one, as [`Reach::Nodes`]): partitions.
    Links,
    /// The sessions of the client processes it stalls (`processes`; all of
    /// them where it names none): a process-wide pause stops a client's
    /// heartbeats too.
    Processes,
    /// None: a server's wall clock, since sessions run on monotonic time.
    Nothing,
}

impl Reach {
    /// What a fault reaches: as its value says, else as its name says.
    pub fn of(name: &str, info: &FaultInfo) -> Reach {
        info.reach.unwrap_or_else(|| Reach::by_name(name))
    }

    /// The reach of the fault kinds every history before [`FaultInfo::reach`]
    /// was written with (fencepost's, by the names it gave them), and of a
    /// foreign nemesis (a Jepsen history's): its nodes. Frozen: a new kind
    /// records its reach instead of being added here.
    pub fn by_name(name: &str) -> Reach {
        match name {
            "client-pause" => Reach::Processes,
            "clock" | "clock-rate" => Reach::Nothing,
            "partition" | "partition-leader" => Reach::Links,
            _ => Reach::Nodes,
        }
    }

    /// Whether a fault described by `info` could end a session that
    /// `process` holds through `node` (`None`: unknown, so any node's fault
    /// could).
    pub fn ends_session(self, info: &FaultInfo, node: Option<&str>, process: u64) -> bool {
        let mine = |n: &String| node.is_none_or(|m| m == n);
        match self {
            Reach::Processes => info.processes.is_empty() || info.processes.contains(&process),
            Reach::Nothing => false,
            Reach::Links if !info.grudge.is_empty() => {
                info.grudge.iter().any(|(n, drops)| !drops.is_empty() && (mine(n) || drops.iter().any(mine)))
            }
            Reach::Links | Reach::Nodes => info.targets.is_empty() || info.targets.iter().any(mine),
        }
    }
}

impl FaultInfo {
    /// The value of a nemesis op, leniently: anything that is not a
    /// fencepost fault description reads as an empty one.
    pub fn of(op: &Op) -> FaultInfo {
        serde_json::from_value(op.value.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in ["partition-start", "client-pause-stop", "heal-all", "partition-leader-start", "kill-skip"] {
            assert_eq!(FaultEvent::parse(f).expect(f).f(), f);
        }
        assert_eq!(FaultEvent::parse("check-offsets"), None);
        assert_eq!(FaultEvent::parse("kill-start"), Some(FaultEvent::start("kill")));
        assert_eq!(FaultEvent::parse("clock-skip"), Some(FaultEvent::Skipped { fault: "clock".into() }));
    }

    #[test]
    fn the_target_rule_is_optional_on_disk() {
        let old: FaultInfo = serde_json::from_str(r#"{"kind":"kill","targets":["n1"]}"#).unwrap();
        assert_eq!(old.target, None);
        let aimed = FaultInfo {
            kind: Some("kill".into()),
            target: Some("holder".into()),
            targets: vec!["n1".into()],
            processes: vec![3],
            keys: vec!["k0".into()],
            ..FaultInfo::default()
        };
        let text = serde_json::to_string(&aimed).unwrap();
        assert_eq!(text, r#"{"kind":"kill","target":"holder","targets":["n1"],"processes":[3],"keys":["k0"]}"#);
        assert_eq!(serde_json::from_str::<FaultInfo>(&text).unwrap(), aimed);
    }

    #[test]
    fn foreign_values_read_as_empty() {
        let op: Op =
            serde_json::from_str(r#"{"time":1,"process":"nemesis","type":"info","f":"start","value":"majority"}"#)
                .unwrap();
        assert_eq!(FaultInfo::of(&op), FaultInfo::default());
    }

    #[test]
    fn reach_is_read_from_the_value_else_from_the_name() {
        let none = FaultInfo::default();
        assert_eq!(Reach::of("clock", &none), Reach::Nothing);
        assert_eq!(Reach::of("partition-leader", &none), Reach::Links);
        assert_eq!(Reach::of("start", &none), Reach::Nodes, "a Jepsen nemesis reaches its nodes");
        let recorded: FaultInfo = serde_json::from_str(r#"{"kind":"skew","reach":"nothing"}"#).unwrap();
        assert_eq!(Reach::of("skew", &recorded), Reach::Nothing);
        assert!(serde_json::from_str::<FaultInfo>(r#"{"reach":"everything"}"#).is_err());
    }

    #[test]
    fn sessions_end_where_the_fault_reaches() {
        let on = |targets: &[&str]| FaultInfo {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            ..FaultInfo::default()
        };
        assert!(Reach::Nodes.ends_session(&on(&["n1"]), Some("n1"), 1));
        assert!(!Reach::Nodes.ends_session(&on(&["n2"]), Some("n1"), 1));
        assert!(Reach::Nodes.ends_session(&on(&["n2"]), None, 1), "an unknown node could be any");
        assert!(!Reach::Nothing.ends_session(&on(&["n1"]), Some("n1"), 1));
        let mut grudge = Grudge::new();
        grudge.entry("n2".into()).or_default().insert("n3".into());
        let cut = FaultInfo { grudge, ..on(&["n1", "n2", "n3"]) };
        assert!(!Reach::Links.ends_session(&cut, Some("n1"), 1), "n1 kept every link");
        assert!(Reach::Links.ends_session(&cut, Some("n3"), 1));
        let paused = FaultInfo { processes: vec![4], ..FaultInfo::default() };
        assert!(Reach::Processes.ends_session(&paused, Some("n1"), 4));
        assert!(!Reach::Processes.ends_session(&paused, Some("n1"), 5));
    }

    #[test]
    fn a_partition_serialises_as_before() {
        let mut grudge = Grudge::new();
        grudge.entry("n1".into()).or_default().insert("n2".into());
        let info = FaultInfo { kind: Some("one".into()), targets: vec!["n1".into()], grudge, ..FaultInfo::default() };
        assert_eq!(serde_json::to_string(&info).unwrap(), r#"{"kind":"one","targets":["n1"],"grudge":{"n1":["n2"]}}"#);
    }
}
