//! The nemesis: faults injected into a running cluster and its clients, each
//! one verified to have taken effect and verified healed, on a seeded
//! schedule, every start and stop reported for the history.
//!
//! - [`FaultKind`] / [`Fault`]: what to do — node partitions (one, halves,
//!   majorities ring, bridge, the current leader), client ↔ node partitions
//!   (iptables inside the nodes), kill -9 and restart, pause and resume,
//!   packet loss (iptables), clock jumps and strobes (fencepost's LD_PRELOAD
//!   shim, `docker/images/common/fptime.c`), `tc netem` delay, and client
//!   pauses (lock holders stalled through [`workloads::Stall`]).
//! - [`Nemesis`]: does and undoes faults on a cluster's [`docker::Node`]s.
//! - [`schedule`]: a seeded, periodic plan (fault, hold, heal, wait) that is
//!   the same for the same seed.

mod fault;
mod nemesis;
mod schedule;

pub use fault::{
    random_fault, random_partition, refuse_up_front, Capabilities, Fault, FaultKind, FaultOptions, Grudge,
};
pub use nemesis::{Nemesis, Phase, Report};
pub use schedule::{schedule, unplayed, Step};
