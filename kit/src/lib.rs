//! The small pieces several of fencepost's crates share, kept here so that
//! none of them has to depend on a bigger one for them:
//!
//! - [`Rng`]: the seeded generator behind every random choice of a run
//!   (the workload's keys and holds, the nemesis's plan, the checker's
//!   generated histories). Pure; the only piece without the `runtime`
//!   feature.
//! - [`Stall`] (`runtime`): where client pauses catch lock holders; the
//!   workload's workers pass its points, the nemesis arms and releases it.
//! - [`CancellationToken`] (`runtime`): how a run is stopped early (Ctrl-C,
//!   the workload ending before the nemesis's plan): awaited, never polled.

mod rng;
#[cfg(feature = "runtime")]
mod stall;

pub use rng::Rng;
#[cfg(feature = "runtime")]
pub use stall::Stall;
#[cfg(feature = "runtime")]
pub use tokio_util::sync::CancellationToken;
