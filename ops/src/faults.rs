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
    fn a_partition_serialises_as_before() {
        let mut grudge = Grudge::new();
        grudge.entry("n1".into()).or_default().insert("n2".into());
        let info = FaultInfo { kind: Some("one".into()), targets: vec!["n1".into()], grudge, ..FaultInfo::default() };
        assert_eq!(serde_json::to_string(&info).unwrap(), r#"{"kind":"one","targets":["n1"],"grudge":{"n1":["n2"]}}"#);
    }
}
