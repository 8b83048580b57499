//! `partition-clients`: nodes cut from the clients (the harness) by
//! iptables inside the nodes, still talking to each other.

use std::time::Duration;

use kit::Rng;
use node::Node;
use ops::faults::{FaultInfo, Reach};

use super::{iptables, not_healed, not_in_effect, Baseline, Exposure, Kind};
use crate::fault::{FaultOptions, Target};
use crate::nemesis::{node_error, Nemesis};
use crate::{Error, FaultKind};

/// These nodes drop everything from and to the harness's clients.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientPartition {
    pub nodes: Vec<String>,
}

impl Kind for ClientPartition {
    const DESCRIPTION: &'static str = "nodes cut from the clients, still talking to each other";
    const PLURAL: &'static str = "client partitions";
    const REACH: Reach = Reach::Nodes;

    /// A cut holder is not paused: it lets go when its hold ends, and the
    /// service stays whole, so a second holder shows only where a hold
    /// outlives the lease the cut lets run out.
    fn blind_spot(e: &Exposure, show: &dyn Fn(Duration) -> String) -> Option<String> {
        let instead = format!("cut for {} or more (--nemesis-interval), or take a shorter --ttl", show(e.guaranteed()?));
        let ttl = e.ttl?;
        super::within_the_lease(e, "cut", &instead, show).or_else(|| {
            (e.hold_max <= ttl).then(|| {
                format!(
                    "every hold (at most {}, --hold-max) ends within the lease ({}): a holder cut off from the \
                     service lets go before its lease can run out, so no second client can be granted inside a \
                     hold; hold longer than the lease (--hold-max above {})",
                    show(e.hold_max),
                    show(ttl),
                    show(ttl)
                )
            })
        })
    }

    async fn check(nemesis: &Nemesis, _first: &Node) -> Result<Option<String>, Error> {
        iptables::check(nemesis).await
    }

    fn draw(_: &[String], _one: Vec<String>, some: Vec<String>, _: &FaultOptions, _: &mut Rng) -> Self {
        ClientPartition { nodes: some }
    }

    fn unaimed(_: Target, _: &FaultOptions, _: &mut Rng) -> Self {
        ClientPartition { nodes: Vec::new() }
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(ClientPartition { nodes: info.targets.clone() })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo { kind: Some("clients".into()), ..FaultInfo::default() }
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let node = nemesis.node(name)?;
            let source = node.client_source().await.map_err(node_error)?;
            iptables::own_chains(nemesis, node).await?;
            iptables::drop_peer(nemesis, node, &source).await?;
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        for name in &self.nodes {
            if nemesis.client_connect(nemesis.node(name)?).await?.is_some() {
                let why = format!("the harness still reaches {name}");
                return Err(not_in_effect(FaultKind::PartitionClients, name, why));
            }
        }
        Ok(())
    }

    async fn verify_healed(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            if nemesis.client_connect(nemesis.node(name)?).await?.is_none() {
                let why = format!("the harness still cannot reach {name}");
                return Err(not_healed(FaultKind::PartitionClients, name, why));
            }
        }
        Ok(())
    }
}
