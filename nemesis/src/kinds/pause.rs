//! `pause`: the servers paused (frozen), resumed when healed.

use kit::Rng;
use node::{Node, NodeState};
use ops::faults::{FaultInfo, Reach};

use super::{not_in_effect, Baseline, Kind};
use crate::fault::{FaultOptions, Target};
use crate::nemesis::{node_error, Nemesis};
use crate::{Error, FaultKind};

#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub nodes: Vec<String>,
}

impl Kind for Pause {
    const DESCRIPTION: &'static str = "the servers paused (frozen), resumed when healed";
    const PLURAL: &'static str = "pauses";
    const REACH: Reach = Reach::Nodes;

    async fn check(nemesis: &Nemesis, _first: &Node) -> Result<Option<String>, Error> {
        for node in nemesis.nodes() {
            if let Err(e) = node.state().await {
                return Ok(Some(format!("the server's state cannot be read: {e}")));
            }
        }
        Ok(None)
    }

    fn draw(_: &[String], one: Vec<String>, _some: Vec<String>, _: &FaultOptions, _: &mut Rng) -> Self {
        Pause { nodes: one }
    }

    fn unaimed(_: Target, _: &FaultOptions, _: &mut Rng) -> Self {
        Pause { nodes: Vec::new() }
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(Pause { nodes: info.targets.clone() })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo { kind: Some("pause".into()), ..FaultInfo::default() }
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            nemesis.node(name)?.pause().await.map_err(node_error)?;
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        for name in &self.nodes {
            let state = nemesis.node(name)?.state().await.map_err(node_error)?;
            if state != NodeState::Paused {
                return Err(not_in_effect(FaultKind::Pause, name, format!("{name} is {state:?}")));
            }
        }
        Ok(())
    }
}
