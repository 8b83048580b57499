//! `loss`: each node drops a share of its incoming packets (an iptables
//! `statistic` rule in fencepost's chain).

use kit::Rng;
use node::Node;
use ops::faults::{FaultInfo, Reach};

use super::{iptables, not_in_effect, Baseline, Kind};
use crate::fault::{FaultOptions, Target};
use crate::nemesis::Nemesis;
use crate::{Error, FaultKind};

/// Each listed node drops this share of incoming packets.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    pub nodes: Vec<String>,
    pub probability: f64,
}

impl Kind for Loss {
    const DESCRIPTION: &'static str = "a share of the packets a node receives dropped (--loss-probability)";
    const PLURAL: &'static str = "losses";
    const REACH: Reach = Reach::Nodes;

    async fn check(nemesis: &Nemesis, _first: &Node) -> Result<Option<String>, Error> {
        iptables::check(nemesis).await
    }

    fn draw(_: &[String], one: Vec<String>, _some: Vec<String>, options: &FaultOptions, _: &mut Rng) -> Self {
        Loss { nodes: one, probability: options.loss }
    }

    fn unaimed(_: Target, options: &FaultOptions, _: &mut Rng) -> Self {
        Loss { nodes: Vec::new(), probability: options.loss }
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(Loss { nodes: info.targets.clone(), probability: super::field(info.probability, "probability")? })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo { kind: Some("loss".into()), probability: Some(self.probability), ..FaultInfo::default() }
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let p = format!("{}", self.probability);
            let node = nemesis.node(name)?;
            iptables::own_chains(nemesis, node).await?;
            let argv = [
                "iptables",
                "-A",
                iptables::CHAIN_IN,
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &p,
                "-j",
                "DROP",
            ];
            nemesis.run(node, &argv).await?;
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        for name in &self.nodes {
            let rules = nemesis.run(nemesis.node(name)?, &["iptables", "-S", iptables::CHAIN_IN]).await?;
            if !rules.contains("statistic") {
                return Err(not_in_effect(FaultKind::Loss, name, format!("no loss rule installed in {name}: {rules}")));
            }
        }
        Ok(())
    }
}
