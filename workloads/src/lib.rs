//! The systems fencepost tests and the load it puts on them.
//!
//! - [`systems`]: one module per system: its [`Layout`] (constants: name,
//!   image, nodes, ports, which faults it can take), how to tell it is ready
//!   (a real request to every member through the client fencepost uses), and
//!   its lock and election clients ([`LockClient`], [`ElectionClient`]).
//! - [`runner`]: many clients at once, Jepsen's process rules, seeded.
//! - [`resource`]: the fenced resource (Kleppmann's storage service).
//! - [`stall`]: where the nemesis pauses clients that hold a lock.
//! - [`recorder`]: every operation, streamed to `history.jsonl`.
//!
//! Adding a vendor touches one file in `src/systems/`, one folder under
//! `docker/images/` (a Dockerfile `FROM` the common base, its start script)
//! and one line in [`systems::REGISTRY`].

pub mod client;
pub mod cluster;
pub mod recorder;
pub mod resource;
pub mod runner;
pub mod stall;
pub mod systems;

pub use client::{
    ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Orphan, Outcome, RELEASED_BY_SESSION_LOST,
};
pub use cluster::{start_cluster, wait_ready, Started};
pub use recorder::{Counts, Recorder};
pub use resource::FencedResource;
pub use runner::{run, RunOptions, Summary, Workload};
pub use stall::Stall;
pub use systems::{by_name, Layout, LogEvent, System, REGISTRY};
