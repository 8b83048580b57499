//! The systems fencepost tests and the load it puts on them.
//!
//! - [`systems`]: one module per system: its [`Layout`] (constants: name,
//!   image, nodes, ports, which faults it can take), how to tell it is ready
//!   (a real request to every member through the client fencepost uses), and
//!   its lock and election clients ([`LockClient`], [`ElectionClient`]).
//! - [`workload`]: the workloads (`lock`, `fenced-counter`,
//!   `fenced-counter-unfenced`, `election`), each a [`Spec`]: a
//!   [`Generator`] per worker, the checkers that judge it ([`CheckerId`]),
//!   its final reads. [`Workload`] names them (strum) and is the registry.
//! - [`generator`]: the operations ([`Op`]), how a client performs each,
//!   and the [`Generator`] trait: what to do, apart from how.
//! - [`runner`]: the generic [`Worker`]s: Jepsen's process rules, recording,
//!   pacing, stall points, orphan revocation, seeded; stopped by a
//!   [`CancellationToken`].
//! - [`resource`]: the fenced resource (Kleppmann's storage service).
//! - [`recorder`]: every operation, streamed to `history.jsonl` by a writer
//!   thread; recording never blocks an async task.
//! - [`Stall`] (from the `kit` crate): where the nemesis pauses clients.
//!
//! Adding a vendor touches one file in `src/systems/`, one folder under
//! `docker/images/` (a Dockerfile `FROM` the common base, its start script)
//! and one line in [`systems::REGISTRY`]; adding a workload one file in `src/workload/` and its variant and arm in
//! [`Workload::spec`] (`docs/ARCHITECTURE.md`, "Adding a workload").

pub mod client;
pub mod cluster;
pub mod external;
pub mod generator;
pub mod recorder;
pub mod resource;
pub mod runner;
pub mod systems;
pub mod workload;

pub use client::{
    ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Orphan, Outcome, RELEASED_BY_SESSION_LOST,
    RELEASED_BY_UNDONE,
};
pub use cluster::wait_serving;
pub use generator::{ClientKind, Done, Generator, Op};
pub use kit::{CancellationToken, Stall};
pub use recorder::{Counts, Recorder};
pub use resource::FencedResource;
pub use runner::{run, RunOptions, Summary, Worker, REVOKER};
pub use systems::{by_name, Layout, LogEvent, System, REGISTRY};
pub use workload::{CheckerId, Spec, Workload, FINAL_READER, WORKLOADS};
