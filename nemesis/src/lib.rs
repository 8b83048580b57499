//! The nemesis: faults injected into a running cluster and its clients, each
//! one verified to have taken effect and verified healed, on a seeded
//! schedule, every start and stop reported for the history.
//!
//! - [`FaultSpec`] (`kill:holder`): a [`FaultKind`] and the [`Target`]
//!   that aims it — chance (the default), the leader or primary the system
//!   names, a majority, a minority, every node, or whoever holds a lock
//!   when the fault starts (read from the workers' [`kit::Holders`]). A
//!   target that cannot be found in time is recorded as skipped.
//! - [`FaultKind`] / [`Fault`]: what to do — node partitions (one, halves,
//!   majorities ring, bridge, an aimed set cut from the rest), client ↔ node partitions
//!   (iptables inside the nodes), kill -9 and restart, pause and resume,
//!   packet loss (iptables), clock jumps, strobes and rates (fencepost's
//!   LD_PRELOAD shim, `docker/images/common/fptime.c`), power cuts that lose
//!   what was not fsynced (the durability shim, `common/fpsync.c`), `tc
//!   netem` delay, and client pauses (lock holders stalled through
//!   [`kit::Stall`]). Each kind is one
//!   file of `kinds/` (its plan, refusals, aim, inject, verify, heal,
//!   leftovers, words and reach), registered by one line in `kinds/mod.rs`,
//!   which makes [`FaultKind`] and [`Fault`]. Kinds are named by strum
//!   (`FromStr`, `Display`, [`FaultKind::ALL`]).
//! - [`Nemesis`]: does and undoes faults on a cluster's [`node::Node`]s,
//!   reporting each step through a [`Report`] as typed
//!   [`ops::faults::FaultEvent`]s and [`ops::faults::FaultInfo`]s
//!   (the history's `partition-start` and its value are written from those,
//!   in one place, by the history contract's types). A run's early end is a
//!   [`kit::CancellationToken`].
//! - [`schedule`]: a seeded, periodic plan (fault, hold, heal, wait) that is
//!   the same for the same seed.
//! - [`Error`]: typed failures (refused, inject, verify, heal, leftovers),
//!   each naming its fault and node where it has them.
//!
//! Depends on `node` (the node interface, whatever backend drives it),
//! `ops` (the fault types of the history) and `kit` only: no Docker, no
//! SSH, no workload, no system client.

mod error;
mod fault;
mod kinds;
mod nemesis;
mod schedule;

pub use error::Error;
pub use fault::{
    aim_at_holder, aim_at_share, planned_fault, random_fault, random_partition, refuse_up_front, Aimed, Capabilities,
    ClockMode, Fault, FaultKind, FaultOptions, FaultSpec, Grudge, SpecError, Target, UnknownClockMode, UnknownFault,
};
pub use kinds::{
    nemesis_help, ClientPartition, ClientPause, Clock, ClockRate, CorruptFile, Exposure, Kill, LoseUnsynced, Loss,
    Magnitude, Member, Netem, Partition, Pause,
};
pub use nemesis::{Nemesis, Phase, Played, Report};
pub use schedule::{schedule, unplayed, Step};
