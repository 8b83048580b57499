//! The systems fencepost tests and the load it puts on them.
//!
//! - [`systems`]: one module per system: how its cluster is laid out, how to
//!   tell it is ready (a real request to every member through the client
//!   fencepost uses), and its lock client ([`LockClient`]).
//! - [`runner`]: many clients at once, Jepsen's process rules, seeded.
//! - [`resource`]: the fenced resource (Kleppmann's storage service).
//! - [`stall`]: where the nemesis pauses clients that hold a lock.
//! - [`recorder`]: every operation, streamed to `history.jsonl`.
//!
//! Adding a vendor touches one file in `src/systems/`, one Dockerfile under
//! `docker/images/` and one line in [`systems::REGISTRY`].

pub mod client;
pub mod cluster;
pub mod generator;
pub mod recorder;
pub mod resource;
pub mod runner;
pub mod systems;
pub mod workload;

pub use client::{
    ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Orphan, Outcome, RELEASED_BY_SESSION_LOST,
};
pub use cluster::{start_cluster, wait_ready, Started};
pub use generator::{ClientKind, Done, Generator, Op};
pub use kit::{CancellationToken, Stall};
pub use recorder::{Counts, Recorder};
pub use resource::FencedResource;
pub use runner::{run, RunOptions, Summary, Worker, REVOKER};
pub use systems::{by_name, LogEvent, System, REGISTRY};
pub use workload::{CheckerId, Spec, Workload, FINAL_READER, WORKLOADS};
