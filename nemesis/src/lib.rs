//! The nemesis: faults injected into a running cluster, each one verified
//! to have taken effect and verified healed, on a seeded schedule, every
//! start and stop reported for the history.
//!
//! - [`Fault`]: what to do — partitions (iptables DROP inside the nodes),
//!   kill -9 and restart, pause and resume, random packet loss.
//! - [`Nemesis`]: does and undoes faults on a cluster's [`docker::Node`]s.
//! - [`schedule`]: a seeded, periodic plan (fault, hold, heal, wait) that is
//!   the same for the same seed.
//!
//! Not yet here: clock faults (the LD_PRELOAD shim), latency (`tc netem`:
//! this machine's kernel has no `sch_netem`, see [`Nemesis::start`]),
//! client↔node partitions and client pauses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checker::gen::Rng;
use docker::{Node, NodeState};
use serde_json::{json, Value};

/// Who cannot reach whom: `grudge[a]` are the nodes `a` drops traffic from and to.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Partition,
    Kill,
    Pause,
    Loss,
}

impl FaultKind {
    pub fn parse(s: &str) -> Result<FaultKind, String> {
        Ok(match s {
            "partition" => FaultKind::Partition,
            "kill" => FaultKind::Kill,
            "pause" => FaultKind::Pause,
            "loss" => FaultKind::Loss,
            other => {
                return Err(format!(
                    "unknown fault `{other}` (known: partition, kill, pause, loss; clock, netem and client-pause are not built yet)"
                ))
            }
        })
    }
}

/// One concrete fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `kind` names the shape (one, halves, majorities-ring, bridge).
    Partition {
        kind: &'static str,
        grudge: Grudge,
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
}

impl Fault {
    /// The history's name for this fault (`partition-start` …).
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::Kill { .. } => "kill",
            Fault::Pause { .. } => "pause",
            Fault::Loss { .. } => "loss",
        }
    }

    /// What the history records about it.
    pub fn describe(&self) -> Value {
        match self {
            Fault::Partition { kind, grudge } => json!({ "kind": kind, "grudge": grudge }),
            Fault::Kill { nodes } | Fault::Pause { nodes } => json!({ "nodes": nodes }),
            Fault::Loss { nodes, probability } => json!({ "nodes": nodes, "probability": probability }),
        }
    }
}

fn shuffled(names: &[String], rng: &mut Rng) -> Vec<String> {
    let mut v = names.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v
}

/// Every node in `a` drops every node in `b`, and the other way round.
fn cut(grudge: &mut Grudge, a: &[String], b: &[String]) {
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

/// One step of a schedule: at `at`, start `fault`; `duration` later, stop it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub duration: Duration,
    pub fault: Fault,
}

/// A seeded plan: wait `interval`, inject a fault of a random kind from
/// `kinds` for `interval`, heal, and so on until `until`.
pub fn schedule(kinds: &[FaultKind], nodes: &[String], seed: u64, interval: Duration, until: Duration) -> Vec<Step> {
    let mut rng = Rng::new(seed ^ 0x006e_656d_6573_6973);
    let mut steps = Vec::new();
    let mut at = interval;
    if kinds.is_empty() || nodes.is_empty() {
        return steps;
    }
    while at + interval <= until {
        let kind = kinds[rng.below(kinds.len() as u64) as usize];
        let one = vec![nodes[rng.below(nodes.len() as u64) as usize].clone()];
        let fault = match kind {
            FaultKind::Partition if nodes.len() >= 2 => random_partition(nodes, &mut rng),
            // One node: cut it off from its clients by dropping everything
            // it receives.
            FaultKind::Partition => Fault::Loss { nodes: one, probability: 1.0 },
            FaultKind::Kill => Fault::Kill { nodes: one },
            FaultKind::Pause => Fault::Pause { nodes: one },
            FaultKind::Loss => Fault::Loss { nodes: one, probability: 0.3 },
        };
        steps.push(Step { at, duration: interval, fault });
        at += interval * 2;
    }
    steps
}

/// Reports nemesis events (`f`, value) to the history.
pub type Report = Arc<dyn Fn(&str, Value) + Send + Sync>;

/// Does and undoes faults on a cluster's nodes.
pub struct Nemesis {
    nodes: Vec<Node>,
    /// A container port every node's server listens on, for probes.
    port: u16,
    report: Report,
}

const EXEC: Duration = Duration::from_secs(10);
const RECOVER: Duration = Duration::from_secs(90);

impl Nemesis {
    pub fn new(nodes: Vec<Node>, port: u16, report: Report) -> Nemesis {
        Nemesis { nodes, port, report }
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name().to_string()).collect()
    }

    fn node(&self, name: &str) -> Result<&Node, String> {
        self.nodes.iter().find(|n| n.name() == name).ok_or_else(|| format!("no node `{name}`"))
    }

    async fn run(&self, node: &Node, argv: &[&str]) -> Result<String, String> {
        let out = node.exec(argv, EXEC).await.map_err(|e| e.to_string())?;
        if out.success() {
            Ok(out.stdout)
        } else {
            Err(format!("{argv:?} in {} exited {}: {}", node.name(), out.code, out.stderr.trim()))
        }
    }

    /// Can `from` open a TCP connection to `to`'s server within a second?
    /// The script is constant; address and port arrive as arguments.
    pub async fn reaches(&self, from: &Node, to: &Node) -> Result<bool, String> {
        let ip = to.ip().await.map_err(|e| e.to_string())?;
        let port = self.port.to_string();
        let argv = ["timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/$0/$1", ip.as_str(), port.as_str()];
        Ok(from.exec(&argv, EXEC).await.map_err(|e| e.to_string())?.success())
    }

    /// Injects `fault`, checks it took effect, and reports `<name>-start`.
    pub async fn start(&self, fault: &Fault) -> Result<(), String> {
        match fault {
            Fault::Partition { grudge, .. } => {
                for (a, drops) in grudge {
                    let node = self.node(a)?;
                    for b in drops {
                        let ip = self.node(b)?.ip().await.map_err(|e| e.to_string())?;
                        self.run(node, &["iptables", "-A", "INPUT", "-s", &ip, "-j", "DROP"]).await?;
                        self.run(node, &["iptables", "-A", "OUTPUT", "-d", &ip, "-j", "DROP"]).await?;
                    }
                }
                (self.report)(&format!("{}-start", fault.name()), fault.describe());
                // Probe every cut pair at once: each blocked probe waits out
                // its one-second timeout.
                let pairs: Vec<(&String, &String)> =
                    grudge.iter().flat_map(|(a, d)| d.iter().map(move |b| (a, b))).collect();
                let probes = pairs.iter().map(|(a, b)| async move { self.reaches(self.node(a)?, self.node(b)?).await });
                for ((a, b), reached) in pairs.iter().zip(futures_util::future::join_all(probes).await) {
                    if reached? {
                        return Err(format!("partition not in effect: {a} still reaches {b}"));
                    }
                }
                return Ok(());
            }
            Fault::Kill { nodes } => {
                for name in nodes {
                    let node = self.node(name)?;
                    node.kill().await.map_err(|e| e.to_string())?;
                    if node.state().await.map_err(|e| e.to_string())? != NodeState::Stopped {
                        return Err(format!("{name} still runs after kill -9"));
                    }
                }
            }
            Fault::Pause { nodes } => {
                for name in nodes {
                    let node = self.node(name)?;
                    node.pause().await.map_err(|e| e.to_string())?;
                    if node.state().await.map_err(|e| e.to_string())? != NodeState::Paused {
                        return Err(format!("{name} is not paused"));
                    }
                }
            }
            Fault::Loss { nodes, probability } => {
                for name in nodes {
                    let p = format!("{probability}");
                    let node = self.node(name)?;
                    let argv = [
                        "iptables",
                        "-A",
                        "INPUT",
                        "-m",
                        "statistic",
                        "--mode",
                        "random",
                        "--probability",
                        &p,
                        "-j",
                        "DROP",
                    ];
                    self.run(node, &argv).await?;
                    let rules = self.run(node, &["iptables", "-S", "INPUT"]).await?;
                    if !rules.contains("statistic") {
                        return Err(format!("loss rule not installed in {name}: {rules}"));
                    }
                }
            }
        }
        (self.report)(&format!("{}-start", fault.name()), fault.describe());
        Ok(())
    }

    /// Undoes `fault`, checks the nodes recovered, and reports `<name>-stop`.
    pub async fn stop(&self, fault: &Fault) -> Result<(), String> {
        let touched: Vec<String> = match fault {
            Fault::Partition { grudge, .. } => grudge.keys().cloned().collect(),
            Fault::Kill { nodes } | Fault::Pause { nodes } | Fault::Loss { nodes, .. } => nodes.clone(),
        };
        for name in &touched {
            self.heal_node(self.node(name)?).await?;
        }
        if let Fault::Partition { grudge, .. } = fault {
            let pairs: Vec<(&String, &String)> =
                grudge.iter().flat_map(|(a, d)| d.iter().map(move |b| (a, b))).collect();
            let probes = pairs.iter().map(|(a, b)| async move { self.reaches(self.node(a)?, self.node(b)?).await });
            for ((a, b), reached) in pairs.iter().zip(futures_util::future::join_all(probes).await) {
                if !reached? {
                    return Err(format!("partition healed but {a} still cannot reach {b}"));
                }
            }
        }
        (self.report)(&format!("{}-stop", fault.name()), fault.describe());
        Ok(())
    }

    /// Brings one node back whatever was done to it: resumed, started,
    /// its iptables rules flushed; then waits until its server listens.
    async fn heal_node(&self, node: &Node) -> Result<(), String> {
        match node.state().await.map_err(|e| e.to_string())? {
            NodeState::Paused => node.unpause().await.map_err(|e| e.to_string())?,
            NodeState::Stopped => node.start().await.map_err(|e| e.to_string())?,
            NodeState::Running => {}
        }
        self.run(node, &["iptables", "-F", "INPUT"]).await?;
        self.run(node, &["iptables", "-F", "OUTPUT"]).await?;
        let deadline = Instant::now() + RECOVER;
        let port = self.port.to_string();
        loop {
            let argv = ["timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", port.as_str()];
            if node.exec(&argv, EXEC).await.is_ok_and(|o| o.success()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("{} does not listen on {} {:?} after healing", node.name(), self.port, RECOVER));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Heals every node (the final heal before a quiet period and reads).
    pub async fn heal_all(&self) -> Result<(), String> {
        for node in &self.nodes {
            self.heal_node(node).await?;
        }
        (self.report)("heal-all", json!({ "nodes": self.node_names() }));
        Ok(())
    }

    /// Plays `steps` from `t0`, then heals everything. Stops early (healing)
    /// when `stop` is set. Returns how many faults were injected.
    pub async fn play(&self, steps: &[Step], t0: Instant, stop: &AtomicBool) -> Result<usize, String> {
        let mut injected = 0;
        let result = async {
            for step in steps {
                if !sleep_until(t0 + step.at, stop).await {
                    break;
                }
                injected += 1;
                self.start(&step.fault).await?;
                let healed_at = Instant::now() + step.duration;
                sleep_until(healed_at, stop).await;
                self.stop(&step.fault).await?;
            }
            Ok::<_, String>(())
        }
        .await;
        let healed = self.heal_all().await;
        result.and(healed).map(|()| injected)
    }
}

/// Sleeps until `t` unless `stop` is set first; false when stopped.
async fn sleep_until(t: Instant, stop: &AtomicBool) -> bool {
    while Instant::now() < t {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        tokio::time::sleep((t - Instant::now()).min(Duration::from_millis(50))).await;
    }
    !stop.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let kinds = [FaultKind::Partition, FaultKind::Kill, FaultKind::Pause, FaultKind::Loss];
        let a = schedule(&kinds, &names(5), 42, Duration::from_secs(2), Duration::from_secs(60));
        let b = schedule(&kinds, &names(5), 42, Duration::from_secs(2), Duration::from_secs(60));
        let c = schedule(&kinds, &names(5), 43, Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 15);
        assert!(a.windows(2).all(|w| w[0].at + w[0].duration < w[1].at), "faults do not overlap");
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
}
