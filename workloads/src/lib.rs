//! The systems fencepost tests, one module each under [`systems`]: how the
//! system's cluster is laid out, how to tell it is ready (a real request to
//! every member through the client fencepost uses), and, as the project
//! grows, its lock and election clients.
//!
//! Adding a vendor touches one file in `src/systems/`, one Dockerfile under
//! `docker/images/` and one line in [`systems::REGISTRY`].

pub mod cluster;
pub mod systems;

pub use cluster::{start_cluster, wait_ready, Started};
pub use systems::{by_name, System, REGISTRY};
