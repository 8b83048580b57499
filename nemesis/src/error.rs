//! What can go wrong doing or undoing a fault, typed: callers tell a
//! refusal from a failed injection or heal by the variant, never the text.

use crate::fault::{FaultKind, FaultSpec};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// This cluster cannot take this fault, or cannot aim it where asked
    /// (decided before anything is touched): the reason is for the user.
    #[error("{fault}: {why}")]
    Refused { fault: FaultSpec, why: String },
    /// A fault or a probe named a node the cluster does not have.
    #[error("no node `{0}`")]
    NoNode(String),
    /// The node's backend (the Docker engine, the SSH connection) failed.
    #[error("{source}")]
    Node {
        #[source]
        source: node::Error,
    },
    /// A command run inside a node failed.
    #[error("{argv:?} in {node} exited {code}: {stderr}")]
    Exec { node: String, argv: Vec<String>, code: i64, stderr: String },
    /// A probe answered something it should not (a clock that is not a
    /// number, a node with no route).
    #[error("{node}: {why}")]
    Probe { node: String, why: String },
    /// Putting the fault in place failed on a node.
    #[error("{fault} on {node}: {why}")]
    Inject { fault: FaultKind, node: String, why: String },
    /// The fault was put in place but is not in effect.
    #[error("{fault} not in effect: {why}")]
    Verify { fault: FaultKind, node: Option<String>, why: String },
    /// The fault was undone but a node did not recover.
    #[error("{fault} healed but {why}")]
    Heal { fault: FaultKind, node: Option<String>, why: String },
    /// A node did not come back after healing.
    #[error("{node} {why}")]
    Recover { node: String, why: String },
    /// What healing every node left behind.
    #[error("healing left: {}", .0.join("; "))]
    Leftovers(Vec<String>),
}

impl Error {
    /// The node the error is about, where there is one.
    pub fn node(&self) -> Option<&str> {
        match self {
            Error::NoNode(node)
            | Error::Exec { node, .. }
            | Error::Probe { node, .. }
            | Error::Inject { node, .. }
            | Error::Recover { node, .. } => Some(node),
            Error::Verify { node, .. } | Error::Heal { node, .. } => node.as_deref(),
            Error::Node { source } => Some(source.node()),
            Error::Refused { .. } | Error::Leftovers(_) => None,
        }
    }
}
