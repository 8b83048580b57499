//! # harness — one fencepost test, as a library
//!
//! The pipeline every front end shares (`fencepost run`, `suite`, `import`,
//! `check store/RUN`, and anything embedding fencepost):
//!
//! 1. [`run::prepare`]: the system from the registry, the refusals that
//!    depend only on the system and the options, the seeded fault plan —
//!    before any image, container or file is touched.
//! 2. [`run::execute`]: the cluster (containers, SSH hosts, or an existing
//!    one), the workload and the nemesis side by side, the final heal and
//!    quiet period, the workload's final reads, the nodes' logs; one undo
//!    guard takes the cluster back on every path.
//! 3. [`run::finish`]: every checker the workload declares ([`checks`]),
//!    the typed `test.json`/`results.json` ([`results::record`]), the index.
//!
//! [`import`] stores another tool's history as a run and judges it the
//! same way. Beside the pipeline, what the binary's other commands need:
//! [`cluster`] (a system's cluster in containers, waited for until it
//! serves: `run`, `up`, `bench-clients`), [`hosts`] (SSH test hosts for
//! `up --ssh-hosts`, and healing what a killed run left: `heal`), [`soak`]
//! (the endurance run's checks), [`bench`] (client throughput per system),
//! [`speed`] (the checker's speed over the corpus), [`options`] (`run`'s
//! options as clap parses them, and a scenario's run line through the same
//! parser), [`filter`] (the store filters checked against what exists),
//! [`margin`] (how large a fault a configuration survives), [`replay`] and
//! [`shrink`] (a stored run's faults played again, and reduced).
//!
//! Nothing here prints: progress and warnings reach the caller as
//! [`run::Event`]s and results as values, so the binary only parses
//! arguments and prints.

pub mod bench;
pub mod checks;
pub mod cluster;
pub mod filter;
pub mod hosts;
pub mod import;
pub mod margin;
pub mod options;
pub mod profile;
pub mod replay;
pub mod run;
pub mod shrink;
pub mod soak;
pub mod speed;

pub use checks::{analyze, checks_for, declared_faults, declared_workload, Analyzed};
pub use cluster::{start_cluster, Started};
pub use run::{dry_run, node_tools, Event, Finished, Prepared, RunArgs, SshArgs};

use std::path::PathBuf;

/// Why a test could not be run or kept. The variants say which part failed;
/// callers print them and exit with "could not run".
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such system: the command line is wrong.
    #[error(transparent)]
    UnknownSystem(#[from] workloads::systems::UnknownSystem),
    /// The system cannot take these faults, or they do not fit the time:
    /// this combination cannot run (a suite skips it).
    #[error("{0}")]
    Refused(String),
    #[error("--endpoints: {0}")]
    Endpoints(String),
    /// An option of `run` that cannot mean what it says (the message
    /// names the flag).
    #[error("{0}")]
    Options(String),
    /// A folder given as a run's that holds no history.
    #[error("{}: a folder, but not a run's (no history.jsonl in it)", .0.display())]
    NotARun(PathBuf),
    /// A benchmark could not measure (its corpus, a process it runs).
    #[error("{0}")]
    Bench(String),
    /// A scenario that is not a valid `run` of its own.
    #[error("scenario {name}: {why}")]
    Scenario { name: String, why: String },
    /// The nemesis could not check the faults against the live cluster.
    #[error(transparent)]
    Nemesis(nemesis::Error),
    #[error(transparent)]
    Docker(#[from] docker::Error),
    /// The node file of `--nodes` (its message names the file and line).
    #[error(transparent)]
    NodeFile(#[from] ssh::FileError),
    /// An SSH host could not be reached or used, before any fault.
    #[error(transparent)]
    Host(#[from] ssh::HostError),
    #[error(transparent)]
    Store(#[from] results::Error),
    /// A node's backend failed (the engine, a command on it).
    #[error(transparent)]
    Node(#[from] node::Error),
    /// SSH test hosts could not be made ready, or healed.
    #[error("{0}")]
    TestHosts(String),
    #[error(transparent)]
    History(#[from] checker::InputError),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the run was refused for what it asked (a suite skips such a
    /// cell) rather than failing on the way.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Error::Refused(_))
    }
}

pub(crate) fn io(action: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { action, path, source }
}
