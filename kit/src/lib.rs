//! The small pieces several of fencepost's crates share, kept here so that
//! none of them has to depend on a bigger one for them:
//!
//! - [`Rng`]: the seeded generator behind every random choice of a run
//!   (the workload's keys and holds, the nemesis's plan, the checker's
//!   generated histories). Pure: with [`Holders`], what the crate
//!   keeps without the `runtime` feature.
//! - [`Stall`] (`runtime`): where client pauses catch lock holders; the
//!   workload's workers pass its points, the nemesis arms and releases it.
//! - [`Holders`]: who holds which lock right now, granted by which nodes;
//!   the workers write it, aimed faults (`kill:holder`) read it. Pure.
//! - [`CancellationToken`] (`runtime`): how a run is stopped early (Ctrl-C,
//!   the workload ending before the nemesis's plan): awaited, never polled.

mod holders;
mod rng;
#[cfg(feature = "runtime")]
mod stall;

pub use holders::{Holders, Holding};
pub use rng::Rng;
#[cfg(feature = "runtime")]
pub use stall::Stall;
#[cfg(feature = "runtime")]
pub use tokio_util::sync::CancellationToken;
