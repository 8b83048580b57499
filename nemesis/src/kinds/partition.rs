//! `partition`: node ↔ node links cut with iptables inside the nodes. At
//! random, one of the classic shapes (one node alone, halves, a majorities
//! ring, a bridge); aimed, the chosen nodes (the leader, the holder's, a
//! majority…) cut from the rest.

use std::time::Duration;

use kit::Rng;
use node::Node;
use ops::faults::{FaultInfo, Grudge, Reach};

use super::{iptables, not_healed, not_in_effect, Baseline, Exposure, Kind};
use crate::FaultKind;
use crate::fault::{shuffled, FaultOptions, Target};
use crate::nemesis::{ip, Nemesis};
use crate::Error;

/// `kind` names the shape: one, halves, majorities-ring, bridge; for an
/// aimed partition the target (leader, primary, majority, minority,
/// holder), whose nodes are cut from the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub kind: &'static str,
    pub grudge: Grudge,
}

impl Kind for Partition {
    const DESCRIPTION: &'static str =
        "node-to-node links cut (one node, halves, a majorities ring, a bridge; aimed: the chosen nodes from the rest)";
    const PLURAL: &'static str = "partitions";
    const REACH: Reach = Reach::Links;

    fn blind_spot(e: &Exposure, show: &dyn Fn(Duration) -> String) -> Option<String> {
        let instead = format!("cut for {} or more (--nemesis-interval), or take a shorter --ttl", show(e.guaranteed()?));
        super::within_the_lease(e, "cut", &instead, show)
    }

    fn cannot_aim(target: Target) -> Option<&'static str> {
        match target {
            Target::All => {
                Some("a partition needs a side left standing: cut a `majority` or `minority` from the rest instead")
            }
            _ => None,
        }
    }

    fn size_refusal(target: Target, nodes: usize) -> Option<String> {
        match target {
            Target::Ring if nodes < 5 => Some(format!(
                "a majorities ring needs five nodes or more (a cluster of {nodes} has no two distinct majorities to \
                 leave each node); take a five-node variant (etcd:five)"
            )),
            Target::Leader | Target::Primary if nodes < 2 => {
                Some(format!("a one-node cluster has no {target} to isolate"))
            }
            _ if nodes < 2 => Some(
                "a one-node cluster has no node-to-node links to cut (partition-clients cuts it from its clients)"
                    .into(),
            ),
            _ => None,
        }
    }

    async fn check(nemesis: &Nemesis, _first: &Node) -> Result<Option<String>, Error> {
        iptables::check(nemesis).await
    }

    fn draw(nodes: &[String], _one: Vec<String>, _some: Vec<String>, _: &FaultOptions, rng: &mut Rng) -> Self {
        random(nodes, rng)
    }

    fn unaimed(target: Target, _: &FaultOptions, _: &mut Rng) -> Self {
        Partition { kind: target.name(), grudge: Grudge::new() }
    }

    fn targets(&self) -> Vec<String> {
        self.grudge.keys().cloned().collect()
    }

    fn aim(&mut self, chosen: &[String], nodes: &[String]) {
        let rest: Vec<String> = nodes.iter().filter(|n| !chosen.contains(n)).cloned().collect();
        self.grudge = Grudge::new();
        cut(&mut self.grudge, chosen, &rest);
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        let named = info.kind.as_deref().unwrap_or_default();
        let kind = SHAPES.iter().copied().chain(Target::ALL.iter().map(|t| t.name())).find(|k| *k == named);
        let kind = kind.ok_or_else(|| format!("`kind` {named:?} is no partition's shape or target"))?;
        Ok(Partition { kind, grudge: info.grudge.clone() })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo { kind: Some(self.kind.to_string()), grudge: self.grudge.clone(), ..FaultInfo::default() }
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for (a, drops) in &self.grudge {
            let node = nemesis.node(a)?;
            iptables::own_chains(nemesis, node).await?;
            for b in drops {
                let ip = ip(nemesis.node(b)?).await?;
                iptables::drop_peer(nemesis, node, &ip).await?;
            }
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        for (a, b, reached) in nemesis.probe_pairs(&self.grudge).await {
            if reached? {
                return Err(not_in_effect(FaultKind::Partition, a, format!("{a} still reaches {b}")));
            }
        }
        Ok(())
    }

    async fn verify_healed(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for (a, b, reached) in nemesis.probe_pairs(&self.grudge).await {
            if !reached? {
                return Err(not_healed(FaultKind::Partition, a, format!("{a} still cannot reach {b}")));
            }
        }
        Ok(())
    }
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

/// The classic shapes; the last two need five nodes.
const SHAPES: &[&str] = &["one", "halves", "majorities-ring", "bridge", "minority-third"];

/// A partition of the shape `target` names (`ring`, `minority-third`).
pub(crate) fn shaped(target: Target, nodes: &[String], rng: &mut Rng) -> Partition {
    let order = shuffled(nodes, rng);
    let mut grudge = Grudge::new();
    if target == Target::Ring {
        ring(&mut grudge, &order);
        return Partition { kind: "majorities-ring", grudge };
    }
    let third = (nodes.len() / 3).max(1);
    cut(&mut grudge, &order[..third], &order[third..]);
    Partition { kind: "minority-third", grudge }
}

/// Jepsen's majorities ring over `order`: each node sees itself and its
/// ring neighbours (a majority of five), a different majority for every
/// node, and drops the rest.
fn ring(grudge: &mut Grudge, order: &[String]) {
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

/// A random partition of `nodes` of one of the classic shapes.
pub(crate) fn random(nodes: &[String], rng: &mut Rng) -> Partition {
    let order = shuffled(nodes, rng);
    let mut grudge = Grudge::new();
    // The four classic shapes only: a seed plans what it always did.
    let shapes = if nodes.len() >= 5 { &SHAPES[..4] } else { &SHAPES[..2] };
    let kind = shapes[rng.below(shapes.len() as u64) as usize];
    match kind {
        "one" => cut(&mut grudge, &order[..1], &order[1..]),
        "halves" => {
            let half = order.len() / 2;
            cut(&mut grudge, &order[..half], &order[half..]);
        }
        "majorities-ring" => ring(&mut grudge, &order),
        _ => {
            // Two halves that cannot talk, and one node (the bridge) that
            // talks to both.
            let rest = &order[1..];
            let half = rest.len() / 2;
            cut(&mut grudge, &rest[..half], &rest[half..]);
        }
    }
    Partition { kind, grudge }
}
