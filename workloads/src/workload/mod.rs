//! The workloads: what the clients do to a system, and who judges it.
//!
//! A workload is a [`Spec`]: which client its operations need, a
//! [`Generator`] per worker (which operation next), the checkers that judge
//! its history (as [`CheckerId`]s, from the `ops` crate, which the checker
//! crate's registry maps to functions), and its final reads. [`Workload`]
//! names them (`FromStr`/`Display` by strum) and is the registry: adding a
//! workload is one file here, a variant and its arm in [`Workload::spec`].

mod election;
mod fenced_counter;
mod lock;

use strum::{IntoStaticStr, VariantArray, VariantNames};

pub use ops::checkers::CheckerId;

use crate::generator::{ClientKind, Generator};
use crate::recorder::Recorder;
use crate::resource::FencedResource;
use crate::runner::RunOptions;

/// The workloads by name: `lock`, `fenced-counter`,
/// `fenced-counter-unfenced`, `election`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::Display,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Workload {
    /// Acquire → hold → release on a random key.
    Lock,
    /// Read-increment-write of a counter in the fenced resource while
    /// holding the lock, the resource checking tokens.
    FencedCounter,
    /// The same with the resource's token check off.
    FencedCounterUnfenced,
    /// Campaign, lead (renew, write records tagged with the term), resign;
    /// worker 0 observes who leads. Elections are `e0..e{keys-1}`.
    Election,
}

/// Every workload, in the order the CLI lists them.
pub const WORKLOADS: &[Workload] = <Workload as VariantArray>::VARIANTS;

impl Workload {
    /// The registry: each workload's spec.
    pub fn spec(self) -> &'static dyn Spec {
        match self {
            Workload::Lock => &lock::Lock,
            Workload::FencedCounter => &fenced_counter::FencedCounter { enforce: true },
            Workload::FencedCounterUnfenced => &fenced_counter::FencedCounter { enforce: false },
            Workload::Election => &election::Election,
        }
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every workload's name.
    pub fn names() -> &'static [&'static str] {
        <Workload as VariantNames>::VARIANTS
    }

    /// The checkers that judge this workload's histories.
    pub fn checkers(self) -> &'static [CheckerId] {
        self.spec().checkers()
    }

    /// Whether the fenced resource rejects writes with stale tokens.
    pub fn enforces_fencing(self) -> bool {
        self.spec().enforces_fencing()
    }

    /// The reads after the final heal and the quiet period.
    pub fn final_reads(self, resource: &FencedResource, recorder: &Recorder) {
        self.spec().final_reads(resource, recorder)
    }
}

/// The first process number of the final reads (far above any worker's).
pub const FINAL_READER: u64 = 1_000_000;

/// What a workload is.
pub trait Spec: Sync {
    /// The client its operations need.
    fn client(&self) -> ClientKind;

    /// The checkers that judge its histories.
    fn checkers(&self) -> &'static [CheckerId];

    /// Ask the system for fencing tokens where a recipe has a fenced
    /// variant (Redis).
    fn fenced_clients(&self) -> bool {
        false
    }

    /// Whether the fenced resource rejects writes with stale tokens.
    fn enforces_fencing(&self) -> bool {
        false
    }

    /// The generator of worker `slot` (of `options.concurrency`).
    fn generator(&self, slot: usize, options: &RunOptions) -> Box<dyn Generator>;

    /// After the final heal and the quiet period: each counter of the
    /// fenced resource read by a process of its own ([`FINAL_READER`] + i),
    /// as `final-read` ops. Nothing for a workload that wrote none.
    fn final_reads(&self, resource: &FencedResource, recorder: &Recorder) {
        for (i, c) in resource.summary().iter().enumerate() {
            let p = FINAL_READER + i as u64;
            recorder.invoke(p, ops::OpName::FinalRead, Some(&c.key), serde_json::Value::Null);
            let value = serde_json::Value::from(resource.read(&c.key));
            recorder.complete(p, ops::OpType::Ok, ops::OpName::FinalRead, Some(&c.key), value, None, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(Workload::names(), ["lock", "fenced-counter", "fenced-counter-unfenced", "election"]);
        for &w in WORKLOADS {
            assert_eq!(w.to_string().parse::<Workload>().unwrap(), w);
            assert!(w.checkers().contains(&CheckerId::Availability));
        }
        assert!("bogus".parse::<Workload>().is_err());
        assert_eq!(CheckerId::LinearizableFencedMutex.to_string(), "linearizable-fenced-mutex");
        assert!(Workload::FencedCounter.enforces_fencing() && !Workload::FencedCounterUnfenced.enforces_fencing());
    }
}
