//! `corrupt-file`: a data file of a stopped server truncated or bit-flipped
//! before it starts again (Jepsen's `nemesis/file.clj`). The system's
//! reaction is the finding: it refuses to start and says why, repairs the
//! file, or starts having lost acknowledged state (which the checkers see).
//!
//! The nemesis marks the node with what to do and kills it; the image's
//! entrypoint corrupts the newest file matching the system's
//! `Layout::data_file` (`docker/images/common/corrupt-file`), keeping the
//! original aside. A server that does not start with the file within
//! [`START`] is started once more, and the entrypoint puts the original
//! back, so the run goes on; the node's log tells which happened.

use std::time::Duration;

use kit::Rng;
use node::{Node, NodeState};
use ops::faults::{FaultInfo, Reach};

use super::{not_healed, not_in_effect, Baseline, Exposure, Kind};
use crate::fault::{Capabilities, FaultOptions, Target};
use crate::nemesis::{exec, node_error, Nemesis};
use crate::{Error, FaultKind};

const MARK: &str = "/run/fencepost/corrupt-file";
const RESTORE: &str = "/run/fencepost/corrupt-file.restore";
const TOOL: &str = "/fencepost/corrupt-file";
/// How long a server has to start with its corrupted file before the
/// nemesis takes it as a refusal and puts the file back.
const START: Duration = Duration::from_secs(20);
/// How long a server that listens must stay up to count as started: some
/// bind their port before they load their files (ZooKeeper does).
const SETTLE: Duration = Duration::from_secs(3);
/// Bits flipped by one `bitflip`.
const FLIPS: usize = 4;
/// `sh -c` writes the mark from its arguments, never spliced in.
/// (`/run/fencepost` exists only where a shim is preloaded.)
const WRITE_MARK: &str = r#"mkdir -p /run/fencepost && printf '%s\n' "$*" > /run/fencepost/corrupt-file"#;

#[derive(Debug, Clone, PartialEq)]
pub struct CorruptFile {
    pub nodes: Vec<String>,
    /// The data file's glob on the node (the system's `Layout::data_file`).
    pub file: String,
    /// Where: for a truncation the one share of the file kept, for bit
    /// flips the shares of its length at which a byte has a bit flipped.
    pub at: Vec<f64>,
    /// The bits flipped, one per share; empty for a truncation.
    pub bits: Vec<u8>,
}

impl CorruptFile {
    fn drawn(nodes: Vec<String>, options: &FaultOptions, rng: &mut Rng) -> CorruptFile {
        let file = options.data_file.clone().unwrap_or_default();
        let share = |rng: &mut Rng| rng.below(1_000_000) as f64 / 1e6;
        if rng.below(2) == 0 {
            // Keep between half and all but the last bytes: the tail is
            // what a torn write leaves.
            CorruptFile { nodes, file, at: vec![0.5 + share(rng) / 2.0], bits: Vec::new() }
        } else {
            let at = (0..FLIPS).map(|_| share(rng)).collect();
            let bits = (0..FLIPS).map(|_| rng.below(8) as u8).collect();
            CorruptFile { nodes, file, at, bits }
        }
    }

    fn mode(&self) -> &'static str {
        if self.bits.is_empty() {
            "truncate"
        } else {
            "bitflip"
        }
    }

    /// The mark's words: `MODE GLOB POINT…`.
    fn mark(&self) -> Vec<String> {
        let mut words = vec![self.mode().to_string(), self.file.clone()];
        if self.bits.is_empty() {
            words.extend(self.at.iter().map(|a| format!("{a:.6}")));
        } else {
            words.extend(self.at.iter().zip(&self.bits).map(|(a, b)| format!("{a:.6}:{b}")));
        }
        words
    }
}

impl Kind for CorruptFile {
    const DESCRIPTION: &'static str =
        "a stopped server's data file truncated or bit-flipped before it starts again; how it reacts is the finding";
    const PLURAL: &'static str = "corrupted files";
    const REACH: Reach = Reach::Nodes;

    fn refusal(caps: &Capabilities) -> Option<String> {
        caps.corrupt_refusal.clone()
    }

    /// A corrupted file comes with a kill: a lone server's downtime must
    /// leave a hold running for a forgotten grant to show.
    fn blind_spot(e: &Exposure, show: &dyn Fn(Duration) -> String) -> Option<String> {
        super::Kill::blind_spot(e, show)
    }

    async fn check(_nemesis: &Nemesis, first: &Node) -> Result<Option<String>, Error> {
        let tool = exec(first, &["test", "-x", TOOL]).await?;
        Ok((!tool.success()).then(|| format!("the node has no {TOOL}: it is not one of fencepost's images")))
    }

    fn draw(_: &[String], one: Vec<String>, _some: Vec<String>, options: &FaultOptions, rng: &mut Rng) -> Self {
        CorruptFile::drawn(one, options, rng)
    }

    fn unaimed(_: Target, options: &FaultOptions, rng: &mut Rng) -> Self {
        CorruptFile::drawn(Vec::new(), options, rng)
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(CorruptFile {
            nodes: info.targets.clone(),
            file: super::field(info.file.clone(), "file")?,
            at: info.at.clone(),
            bits: info.bits.clone(),
        })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo {
            kind: Some(self.mode().into()),
            file: Some(self.file.clone()),
            at: self.at.clone(),
            bits: self.bits.clone(),
            ..FaultInfo::default()
        }
    }

    fn plan_words(&self, _show: &dyn Fn(Duration) -> String) -> String {
        match self.at.as_slice() {
            [keep] if self.bits.is_empty() => format!("{} cut to {:.0} % ", self.file, keep * 100.0),
            at => format!("{} with {} bits flipped ", self.file, at.len()),
        }
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        let words = self.mark();
        let mut argv = vec!["sh", "-c", WRITE_MARK, "corrupt-file"];
        argv.extend(words.iter().map(String::as_str));
        for name in &self.nodes {
            super::kill::mark_and_kill(nemesis, nemesis.node(name)?, &argv, MARK).await?;
        }
        Ok(())
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        for name in &self.nodes {
            let state = nemesis.node(name)?.state().await.map_err(node_error)?;
            if state != NodeState::Stopped {
                return Err(not_in_effect(FaultKind::CorruptFile, name, format!("{name} is {state:?}")));
            }
        }
        Ok(())
    }

    /// Starts each node with its corrupted file. A server that starts (it
    /// listens, and still does [`SETTLE`] later) keeps it (and its restore mark goes, so no later restart undoes
    /// what it wrote since); one that does not within [`START`] is
    /// started again, and the entrypoint puts the original back.
    async fn undo(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let node = nemesis.node(name)?;
            node.start().await.map_err(node_error)?;
            if nemesis.listens_within(node, START).await? {
                tokio::time::sleep(SETTLE).await;
                if nemesis.listens_within(node, Duration::from_secs(1)).await? {
                    nemesis.run(node, &["rm", "-f", RESTORE]).await?;
                    continue;
                }
            }
            if node.state().await.map_err(node_error)? != NodeState::Stopped {
                node.kill().await.map_err(node_error)?;
            }
            node.start().await.map_err(node_error)?;
        }
        Ok(())
    }

    async fn verify_healed(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let left = exec(nemesis.node(name)?, &["sh", "-c", "test -e $0 || test -e $1", MARK, RESTORE]).await?;
            if left.success() {
                let why = format!("{name} kept a corrupt-file mark ({MARK} or {RESTORE})");
                return Err(not_healed(FaultKind::CorruptFile, name, why));
            }
        }
        Ok(())
    }
}
