//! `member`: a member taken out of the cluster's membership while clients
//! run, and added back as a new member when healed (Jepsen's membership
//! nemesis). What it tests is the reconfiguration itself: a lock granted
//! through the removed member, a leader removing itself, a quorum that
//! shrinks and grows again under load.
//!
//! The system's image does the system's part (`/fencepost/member`: `list`,
//! `remove NAME`, `add NAME`, asked of a member that stays: `etcdctl
//! member`, ZooKeeper's `reconfig` as its super user). The removed node is
//! marked first, and its next start asks a peer to add it back (an etcd
//! member joins with an empty data dir: a removed member cannot reuse its
//! data). Any start does that, so a node left removed by a fencepost that
//! died is healed by `fencepost heal` too.

use std::time::{Duration, Instant};

use kit::Rng;
use node::{Node, NodeState};
use ops::faults::{FaultInfo, Reach};

use super::{not_healed, not_in_effect, shape_only, Baseline, Kind};
use crate::fault::{Capabilities, FaultOptions, Target};
use crate::nemesis::{exec, node_error, Nemesis};
use crate::{Error, FaultKind};

const TOOL: &str = "/fencepost/member";
/// `removed` before the removal; the start script makes it `joined`.
const MARK: &str = "/run/fencepost/member";
const WRITE_MARK: &str = "mkdir -p /run/fencepost && echo removed > /run/fencepost/member";
/// How long a member added back has to be seen started by the others.
const REJOIN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub nodes: Vec<String>,
}

impl Kind for Member {
    const DESCRIPTION: &'static str =
        "a member removed from the cluster's membership (etcd's member remove, ZooKeeper's reconfig -remove), added \
         back when healed";
    const PLURAL: &'static str = "membership changes";
    const REACH: Reach = Reach::Nodes;

    fn cannot_aim(target: Target) -> Option<&'static str> {
        shape_only(target).or(match target {
            Target::Majority | Target::All => Some(
                "membership changes remove members the rest agree to lose: a majority removed leaves no quorum \
                 to remove it or add it back",
            ),
            _ => None,
        })
    }

    fn size_refusal(_target: Target, nodes: usize) -> Option<String> {
        (nodes < 3).then(|| {
            format!(
                "a cluster of {nodes} node{} has no member to spare (a membership change needs three members or more)",
                if nodes == 1 { "" } else { "s" }
            )
        })
    }

    fn refusal(caps: &Capabilities) -> Option<String> {
        caps.member_refusal.clone()
    }

    async fn check(_nemesis: &Nemesis, first: &Node) -> Result<Option<String>, Error> {
        let tool = exec(first, &["test", "-x", TOOL]).await?;
        Ok((!tool.success()).then(|| format!("the node has no {TOOL}: its image cannot change the membership")))
    }

    fn draw(_: &[String], one: Vec<String>, _some: Vec<String>, _: &FaultOptions, _: &mut Rng) -> Self {
        Member { nodes: one }
    }

    fn unaimed(_: Target, _: &FaultOptions, _: &mut Rng) -> Self {
        Member { nodes: Vec::new() }
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(Member { nodes: info.targets.clone() })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo { kind: Some("remove".into()), ..FaultInfo::default() }
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let node = nemesis.node(name)?;
            nemesis.run(node, &["sh", "-c", WRITE_MARK]).await?;
            if let Err(e) = self.ask_survivors(nemesis, &["remove", name]).await {
                let _ = exec(node, &["rm", "-f", MARK]).await;
                return Err(e);
            }
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        let members = self.members(nemesis).await?;
        for name in &self.nodes {
            if members.iter().any(|m| m.name == *name) {
                let why = format!("{name} is still in the member list ({})", listed(&members));
                return Err(not_in_effect(FaultKind::Member, name, why));
            }
        }
        Ok(())
    }

    /// A removed server may have stopped itself (etcd does) or still run
    /// outside the cluster; either way it starts again, and its start
    /// script joins it back (the mark).
    async fn undo(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let node = nemesis.node(name)?;
            if node.state().await.map_err(node_error)? != NodeState::Stopped {
                node.kill().await.map_err(node_error)?;
            }
            node.start().await.map_err(node_error)?;
        }
        Ok(())
    }

    /// Healed when the others list every removed member again as a started
    /// voter; its mark goes then.
    async fn verify_healed(&self, nemesis: &Nemesis) -> Result<(), Error> {
        let deadline = Instant::now() + REJOIN;
        loop {
            let members = self.members(nemesis).await;
            let back = |m: &Vec<Listed>| self.nodes.iter().all(|n| m.iter().any(|l| l.name == *n && l.voter));
            match members {
                Ok(m) if back(&m) => break,
                Ok(m) if Instant::now() >= deadline => {
                    let name = self.nodes.first().cloned().unwrap_or_default();
                    let why = format!("not back as a started voter after {REJOIN:?}: members {}", listed(&m));
                    return Err(not_healed(FaultKind::Member, &name, why));
                }
                Err(e) if Instant::now() >= deadline => return Err(e),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        for name in &self.nodes {
            nemesis.run(nemesis.node(name)?, &["rm", "-f", MARK]).await?;
        }
        Ok(())
    }
}

/// One line of `member list`.
#[derive(Debug)]
struct Listed {
    /// `-` for a member added but not started.
    name: String,
    voter: bool,
}

fn listed(members: &[Listed]) -> String {
    let names: Vec<String> =
        members.iter().map(|m| if m.voter { m.name.clone() } else { format!("{} (learner)", m.name) }).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

impl Member {
    /// `member ARGS…` on the first node this fault leaves in the cluster
    /// that answers (another fault may have stopped some).
    async fn ask_survivors(&self, nemesis: &Nemesis, args: &[&str]) -> Result<String, Error> {
        let mut argv = vec![TOOL];
        argv.extend(args);
        let mut last = None;
        for node in nemesis.nodes().iter().filter(|n| !self.nodes.iter().any(|t| t == n.name())) {
            match nemesis.run(node, &argv).await {
                Ok(out) => return Ok(out),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Verify {
            fault: FaultKind::Member,
            node: None,
            why: "no member is left to ask".into(),
        }))
    }

    /// The membership as a member that stays sees it.
    async fn members(&self, nemesis: &Nemesis) -> Result<Vec<Listed>, Error> {
        let out = self.ask_survivors(nemesis, &["list"]).await?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let name = words.next()?.to_string();
                Some(Listed { name, voter: words.next() != Some("learner") })
            })
            .collect())
    }
}
