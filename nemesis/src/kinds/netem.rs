//! `netem`: delay (± jitter) and loss on everything a node sends, by
//! `tc qdisc … netem` on its device (where the kernel has `sch_netem`).

use std::time::Duration;

use futures_util::future::BoxFuture;
use kit::Rng;
use node::Node;
use ops::faults::{FaultInfo, Reach};

use super::{ms, not_in_effect, Baseline, Kind, Undo};
use crate::fault::{FaultOptions, Target};
use crate::nemesis::{exec, node_error, Nemesis, EXEC};
use crate::{Error, FaultKind};

/// Delay (± jitter) and loss on everything the nodes send.
#[derive(Debug, Clone, PartialEq)]
pub struct Netem {
    pub nodes: Vec<String>,
    pub delay_ms: u64,
    pub jitter_ms: u64,
    pub loss: f64,
}

impl Netem {
    fn on(nodes: Vec<String>, options: &FaultOptions) -> Netem {
        Netem {
            nodes,
            delay_ms: ms(options.netem_delay),
            jitter_ms: ms(options.netem_jitter),
            loss: options.netem_loss,
        }
    }
}

impl Kind for Netem {
    const DESCRIPTION: &'static str =
        "delay, jitter and loss on what a node sends (tc netem: --netem-delay, --netem-jitter, --netem-loss)";
    const PLURAL: &'static str = "netem faults";
    const REACH: Reach = Reach::Nodes;
    const MAGNITUDE: super::Magnitude = super::Magnitude::NetemDelay;

    async fn check(_nemesis: &Nemesis, first: &Node) -> Result<Option<String>, Error> {
        // A zero delay on the loopback device: harmless, and tells whether
        // the kernel has netem at all.
        let argv = ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "0ms"];
        let out = exec(first, &argv).await?;
        let _ = first.exec(&["tc", "qdisc", "del", "dev", "lo", "root"], EXEC).await;
        Ok((!out.success()).then(|| unavailable(out.stderr.trim())))
    }

    fn draw(_: &[String], _one: Vec<String>, some: Vec<String>, options: &FaultOptions, _: &mut Rng) -> Self {
        Netem::on(some, options)
    }

    fn unaimed(_: Target, options: &FaultOptions, _: &mut Rng) -> Self {
        Netem::on(Vec::new(), options)
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(Netem {
            nodes: info.targets.clone(),
            delay_ms: super::field(info.delay_ms, "delay_ms")?,
            jitter_ms: super::field(info.jitter_ms, "jitter_ms")?,
            loss: super::field(info.loss, "loss")?,
        })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo {
            kind: Some("netem".into()),
            delay_ms: Some(self.delay_ms),
            jitter_ms: Some(self.jitter_ms),
            loss: Some(self.loss),
            ..FaultInfo::default()
        }
    }

    /// The connection time from the harness to each node before the delay.
    async fn baseline(&self, nemesis: &Nemesis, nodes: &[String]) -> Result<Baseline, Error> {
        let mut before = Baseline::new();
        for name in nodes {
            before.insert(name.clone(), nemesis.latency(nemesis.node(name)?).await?.unwrap_or_default());
        }
        Ok(before)
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        let (delay, jitter, loss) =
            (format!("{}ms", self.delay_ms), format!("{}ms", self.jitter_ms), format!("{}%", self.loss * 100.0));
        for name in &self.nodes {
            let node = nemesis.node(name)?;
            let device = node.device().await.map_err(node_error)?;
            let argv =
                ["tc", "qdisc", "replace", "dev", &device, "root", "netem", "delay", &delay, &jitter, "loss", &loss];
            let out = exec(node, &argv).await?;
            if !out.success() {
                return Err(Error::Inject {
                    fault: FaultKind::Netem,
                    node: name.clone(),
                    why: unavailable(out.stderr.trim()),
                });
            }
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, before: &Baseline) -> Result<(), Error> {
        let delay_ms = self.delay_ms;
        for name in &self.nodes {
            let before = before.get(name).copied().unwrap_or_default();
            let after = nemesis.latency(nemesis.node(name)?).await?;
            let wanted = before + Duration::from_millis(delay_ms / 2);
            if delay_ms > 0 && after.is_none_or(|a| a < wanted) {
                let why = format!("connecting to {name} took {after:?}, {before:?} before a {delay_ms} ms delay");
                return Err(not_in_effect(FaultKind::Netem, name, why));
            }
        }
        Ok(())
    }
}

fn unavailable(tc_error: &str) -> String {
    if tc_error.contains("qdisc kind is unknown") {
        format!("this kernel has no sch_netem (tc: {tc_error}), so delay faults cannot run here; packet loss can (--nemesis loss, through iptables)")
    } else {
        format!("tc failed: {tc_error}")
    }
}

/// A node's root qdisc is deleted (an error when there is none, which is
/// expected); a netem qdisc still there is left behind.
pub(crate) const UNDO: Undo = Undo { heal, leftovers };

fn heal<'a>(_nemesis: &'a Nemesis, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let device = node.device().await.map_err(node_error)?;
        let _ = node.exec(&["tc", "qdisc", "del", "dev", &device, "root"], EXEC).await;
        Ok(())
    })
}

fn leftovers<'a>(nemesis: &'a Nemesis, node: &'a Node) -> BoxFuture<'a, Result<Vec<String>, Error>> {
    Box::pin(async move {
        let device = node.device().await.map_err(node_error)?;
        let qdisc = nemesis.run(node, &["tc", "qdisc", "show", "dev", &device]).await?;
        if qdisc.contains("netem") {
            return Ok(vec![format!("{}: {}", node.name(), qdisc.trim())]);
        }
        Ok(Vec::new())
    })
}
