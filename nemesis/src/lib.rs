//! The nemesis: faults injected into a running cluster and its clients, each
//! one verified to have taken effect and verified healed, on a seeded
//! schedule, every start and stop reported for the history.
//!
//! - [`FaultKind`] / [`Fault`]: what to do — node partitions (one, halves,
//!   majorities ring, bridge, the current leader), client ↔ node partitions
//!   (iptables inside the nodes), kill -9 and restart, pause and resume,
//!   packet loss (iptables), clock jumps and strobes (fencepost's LD_PRELOAD
//!   shim, `docker/images/common/fptime.c`), `tc netem` delay, and client
//!   pauses (lock holders stalled through [`kit::Stall`]). Kinds are named
//!   by strum (`FromStr`, `Display`, [`FaultKind::ALL`]).
//! - [`Nemesis`]: does and undoes faults on a cluster's [`docker::Node`]s,
//!   reporting each step through a [`Report`] as typed
//!   [`checker::faults::FaultEvent`]s and [`checker::faults::FaultInfo`]s
//!   (the history's `partition-start` and its value are written from those,
//!   in one place, by the checker crate's types). A run's early end is a
//!   [`kit::CancellationToken`].
//! - [`schedule`]: a seeded, periodic plan (fault, hold, heal, wait) that is
//!   the same for the same seed.
//! - [`Error`]: typed failures (refused, inject, verify, heal, leftovers),
//!   each naming its fault and node where it has them.
//!
//! Depends on `docker`, `checker` (the fault types of the history) and `kit`
//! only: no workload, no system client.

mod error;
mod fault;
mod nemesis;
mod schedule;

pub use error::Error;
pub use fault::{
    random_fault, random_partition, refuse_up_front, Capabilities, Fault, FaultKind, FaultOptions, Grudge, UnknownFault,
};
pub use nemesis::{Nemesis, Phase, Report};
pub use schedule::{schedule, unplayed, Step};
