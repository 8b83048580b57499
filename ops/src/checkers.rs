//! Which checkers judge a history: each checker's one identity.
//!
//! A workload declares the checkers that judge it, the checker crate's
//! registry (`checker::checkers`) maps each to the function that judges a
//! history, `results.json` stores each result under its id, and the
//! scenario library and the vendor story name checkers by it. It lives in
//! this leaf crate because all of them share it: the workloads declare
//! what judges them without pulling in the checker's search.

use serde::{Deserialize, Serialize};
use strum::VariantArray;

/// A checker, by the name a person, `results.json` and the index know it by
/// (kebab-case: `mutual-exclusion`, `linearizable-fenced-mutex`).
///
/// The order is the one results and expectations are listed in.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum CheckerId {
    /// Linearizability against the model the history's ops imply (another
    /// tool's register or kv history). Every linearizability result is
    /// stored under this name, whichever model it was checked against.
    Linearizable,
    /// The lock ops against a mutex, as a lease lock.
    LinearizableMutex,
    /// … against a mutex whose grants carry increasing tokens (where the
    /// system gives tokens).
    LinearizableFencedMutex,
    /// The client's view: no two processes held one lock at once.
    MutualExclusion,
    /// The service's view: no grant inside another's guaranteed window.
    LeaseSafety,
    Fencing,
    LostUpdates,
    Election,
    /// Informs only: outages, latencies, recoveries.
    Availability,
}

impl CheckerId {
    /// Every checker.
    pub const ALL: &'static [CheckerId] = <CheckerId as VariantArray>::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The checker whose name its result is stored and expected under: the
    /// lock models' linearizability results are `linearizable` (the model
    /// is named inside their evidence), every other checker is itself.
    pub fn reported(self) -> CheckerId {
        match self {
            CheckerId::LinearizableMutex | CheckerId::LinearizableFencedMutex => CheckerId::Linearizable,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case_and_round_trip() {
        assert_eq!(CheckerId::LinearizableFencedMutex.to_string(), "linearizable-fenced-mutex");
        assert_eq!(CheckerId::MutualExclusion.name(), "mutual-exclusion");
        for &id in CheckerId::ALL {
            assert_eq!(id.name().parse::<CheckerId>(), Ok(id));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{id}\""));
            assert_eq!(serde_json::from_str::<CheckerId>(&json).unwrap(), id);
            assert_eq!(id.reported().reported(), id.reported());
        }
        assert!("lease-saftey".parse::<CheckerId>().is_err());
        assert_eq!(CheckerId::LinearizableMutex.reported(), CheckerId::Linearizable);
    }
}
