//! `kill`: the servers killed (`kill -9`, the container stopped), started again when healed.

use std::time::Duration;

use kit::Rng;
use node::{Node, NodeState};
use ops::faults::{FaultInfo, Reach};

use super::{not_in_effect, Baseline, Exposure, Kind};
use crate::fault::{FaultOptions, Target};
use crate::nemesis::{node_error, Nemesis};
use crate::{Error, FaultKind};

#[derive(Debug, Clone, PartialEq)]
pub struct Kill {
    pub nodes: Vec<String>,
}

impl Kind for Kill {
    const DESCRIPTION: &'static str = "kill -9 of the servers, started again when healed";
    const PLURAL: &'static str = "kills";
    const REACH: Reach = Reach::Nodes;

    /// A lone server that forgets its locks on a restart shows it only
    /// when the holder still holds once it is back: a downtime at least as
    /// long as the longest hold ends every hold first. A replicated system
    /// can fail over while the node is down, so the rule is the lone
    /// server's only.
    fn blind_spot(e: &Exposure, show: &dyn Fn(Duration) -> String) -> Option<String> {
        (e.nodes == 1 && e.length >= e.hold_max).then(|| {
            format!(
                "each kill keeps its node down {}, no shorter than the longest hold ({}): every hold ends while the \
                 node is down, so a restart that forgot the lock cannot grant it to a second client inside a hold; \
                 hold longer than the downtime (--hold-min/--hold-max above {}) or kill for less (--nemesis-interval)",
                show(e.length),
                show(e.hold_max),
                show(e.length)
            )
        })
    }

    async fn check(nemesis: &Nemesis, _first: &Node) -> Result<Option<String>, Error> {
        for node in nemesis.nodes() {
            if let Err(e) = node.state().await {
                return Ok(Some(format!("the server's state cannot be read: {e}")));
            }
        }
        Ok(None)
    }

    fn draw(_: &[String], one: Vec<String>, _some: Vec<String>, _: &FaultOptions, _: &mut Rng) -> Self {
        Kill { nodes: one }
    }

    fn unaimed(_: Target, _: &FaultOptions, _: &mut Rng) -> Self {
        Kill { nodes: Vec::new() }
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(Kill { nodes: info.targets.clone() })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo { kind: Some("kill".into()), ..FaultInfo::default() }
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            nemesis.node(name)?.kill().await.map_err(node_error)?;
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        for name in &self.nodes {
            let state = nemesis.node(name)?.state().await.map_err(node_error)?;
            if state != NodeState::Stopped {
                return Err(not_in_effect(FaultKind::Kill, name, format!("{name} is {state:?}")));
            }
        }
        Ok(())
    }
}

/// Leaves `mark` on `node` (running `mark_argv`), then kills it, for the
/// kinds whose second half the image's entrypoint does on the next start
/// (a power cut, a corrupted file). A node still running after a failed
/// kill is unmarked, so a later plain restart does nothing to it.
pub(crate) async fn mark_and_kill(nemesis: &Nemesis, node: &Node, mark_argv: &[&str], mark: &str) -> Result<(), Error> {
    nemesis.run(node, mark_argv).await?;
    if let Err(e) = node.kill().await {
        let _ = crate::nemesis::exec(node, &["rm", "-f", mark]).await;
        return Err(node_error(e));
    }
    Ok(())
}
