//! The container room of fencepost: everything that touches the Docker engine.
//!
//! - [`images`] builds the shared base `fencepost/common` from
//!   `docker/images/common/` (the clock shim, the nemesis's tools, the
//!   entrypoint) on `debian:bookworm-slim` — bootstrapped with `debootstrap`
//!   when no registry can supply it — and then one image per system from
//!   `docker/images/<system>/` `FROM` that base (all embedded in the binary).
//!   Tags are a SHA-256 of the folder and the base's tag, so an unchanged
//!   image is never rebuilt and a changed one never reuses a stale tag.
//! - [`Cluster`] is one run's private network plus its nodes `n1..nN`, each a
//!   container whose ports are published on 127.0.0.1 only.
//! - [`Container`] is a node's [`node::Backend`]: exec (argv only), kill -9,
//!   stop, start, pause (the cgroup freezer), logs, its network address.
//! - Every container and network carries the run id and the owning process in
//!   its labels. Dropping a cluster removes it; [`reap_leftovers`] removes what
//!   runs whose process died (SIGKILL, crash) left behind.
//!
//! The crate talks to the engine with bollard. It knows nothing about Redis or
//! etcd: layouts and readiness probes live with each system in `workloads`.

mod cluster;
mod engine;
mod error;
pub mod images;
mod reap;

pub use cluster::{Cluster, ClusterSpec, Container, NodeSpec};
pub use engine::Engine;
pub use error::{Error, Result};
pub use reap::{reap_leftovers, remove_run, run_resources, RunResources};

/// Label keys every fencepost container and network carries.
pub mod labels {
    /// The run id; everything of one run shares it.
    pub const RUN: &str = "fencepost.run";
    /// `<pid>:<start time in clock ticks>` of the process that owns the run;
    /// the start time tells a live owner from a recycled pid.
    pub const OWNER: &str = "fencepost.owner";
    /// The node name (`n1`…) on containers.
    pub const NODE: &str = "fencepost.node";
    /// The system under test on containers.
    pub const SYSTEM: &str = "fencepost.system";
}

/// A run id that is unique on this machine and sorts by start time.
pub fn new_run_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{}-{}", now.as_secs(), std::process::id(), n)
}
