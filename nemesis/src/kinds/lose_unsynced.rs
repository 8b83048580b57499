//! `lose-unsynced`: a power cut. The servers are killed, and every write to
//! their data files since that file's last fsync is lost before they start
//! again, as after a power cut or a kernel crash (Jepsen's LazyFS
//! `lose-unfsynced-writes!`). A plain `kill` keeps what the kernel's page
//! cache holds, so a server that acknowledges before it syncs shows what it
//! risks only here.
//!
//! Two halves: the durability shim preloaded into the server
//! (`docker/images/common/fpsync.c`) keeps, per data file, a shadow copy
//! of what its last fsync made durable; the nemesis marks the node and
//! kills it; when the node starts again its entrypoint copies each shadow
//! over its file (`common/lose-unsynced`) and logs what was lost.

use std::time::Duration;

use kit::Rng;
use node::{Node, NodeState};
use ops::faults::{FaultInfo, Reach};

use super::{not_healed, not_in_effect, Baseline, Exposure, Kind};
use crate::fault::{Capabilities, FaultOptions, Target};
use crate::nemesis::{exec, node_error, Nemesis};
use crate::{Error, FaultKind};

/// Left on a node before its kill; its entrypoint drops what was not
/// synced, then removes it.
pub(crate) const MARK: &str = "/run/fencepost/lose-unsynced";
const TOOL: &str = "/fencepost/lose-unsynced";

#[derive(Debug, Clone, PartialEq)]
pub struct LoseUnsynced {
    pub nodes: Vec<String>,
}

impl Kind for LoseUnsynced {
    const DESCRIPTION: &'static str =
        "a power cut: the servers killed, and what their data files had not fsynced lost before they start again";
    const PLURAL: &'static str = "power cuts";
    const REACH: Reach = Reach::Nodes;
    const FRESH_HOLDER: bool = true;

    fn refusal(caps: &Capabilities) -> Option<String> {
        caps.durability_refusal.clone()
    }

    /// A power cut is a kill first: a lone server's downtime must leave a
    /// hold running for a forgotten grant to show.
    fn blind_spot(e: &Exposure, show: &dyn Fn(Duration) -> String) -> Option<String> {
        super::Kill::blind_spot(e, show)
    }

    async fn check(nemesis: &Nemesis, first: &Node) -> Result<Option<String>, Error> {
        let tool = exec(first, &["test", "-x", TOOL]).await?;
        if !tool.success() {
            return Ok(Some(format!("the node has no {TOOL}: it is not one of fencepost's images")));
        }
        for node in nemesis.nodes() {
            if let Err(e) = node.state().await {
                return Ok(Some(format!("the server's state cannot be read: {e}")));
            }
        }
        Ok(None)
    }

    fn draw(_: &[String], one: Vec<String>, _some: Vec<String>, _: &FaultOptions, _: &mut Rng) -> Self {
        LoseUnsynced { nodes: one }
    }

    fn unaimed(_: Target, _: &FaultOptions, _: &mut Rng) -> Self {
        LoseUnsynced { nodes: Vec::new() }
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(LoseUnsynced { nodes: info.targets.clone() })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo { kind: Some("power-cut".into()), ..FaultInfo::default() }
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            super::kill::mark_and_kill(nemesis, nemesis.node(name)?, &["touch", MARK], MARK).await?;
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        for name in &self.nodes {
            let state = nemesis.node(name)?.state().await.map_err(node_error)?;
            if state != NodeState::Stopped {
                return Err(not_in_effect(FaultKind::LoseUnsynced, name, format!("{name} is {state:?}")));
            }
        }
        Ok(())
    }

    /// Started again, the node's entrypoint has dropped the unsynced
    /// writes and removed the mark.
    async fn verify_healed(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let marked = exec(nemesis.node(name)?, &["test", "-e", MARK]).await?;
            if marked.success() {
                let why = format!("{name} started again without dropping its unsynced writes ({MARK} is still there)");
                return Err(not_healed(FaultKind::LoseUnsynced, name, why));
            }
        }
        Ok(())
    }
}
