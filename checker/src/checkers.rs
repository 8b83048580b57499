//! The checkers' registry: each [`CheckerId`] (the identity workloads
//! declare and `results.json` stores, from the `ops` crate) mapped to the
//! function that judges a history and what that function reads — the
//! history, the lease arithmetic's options, a model, the search's deadline
//! ([`judge`]).
//!
//! Adding a checker is its file in this crate (a function over a
//! [`History`] returning an [`Analysis`] with its own [`Evidence`] variant),
//! a `CheckerId` variant and its line in [`judge`]; the harness walks the
//! ids a workload declares, each through [`safely`], so a checker that
//! panics answers `unknown` for itself alone and the others still judge
//! (Jepsen's `check-safe`).
//!
//! [`Evidence`]: crate::evidence::Evidence

use std::any::Any;
use std::cell::OnceCell;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

pub use ops::checkers::CheckerId;

use crate::analysis::{self, Analysis};
use crate::lease::LeaseOptions;
use crate::linearizable::{self, Lapses};
use crate::models::{lapse, ModelSpec};
use crate::{History, InputError};

/// What the checkers of one history read, and what more than one of them
/// derives from it (the fencing analysis, a lease lock's lapses), worked
/// out once, by the first checker that needs it.
pub struct Inputs<'a> {
    pub history: &'a History,
    /// The lease arithmetic of `mutual-exclusion`, `lease-safety`,
    /// `election` and the lock models' lapses.
    pub leases: &'a LeaseOptions,
    /// The linearizability search stops here with `unknown`.
    pub timeout: Duration,
    fencing: OnceCell<Option<Analysis>>,
    leased: OnceCell<Leased>,
}

/// A lock history read as a lease lock's: with the lapses its grants may
/// take (`None` when none may lapse: the history itself).
struct Leased {
    history: Option<History>,
    lapses: Lapses,
}

impl<'a> Inputs<'a> {
    pub fn new(history: &'a History, leases: &'a LeaseOptions, timeout: Duration) -> Inputs<'a> {
        Inputs { history, leases, timeout, fencing: OnceCell::new(), leased: OnceCell::new() }
    }

    /// `fencing`'s result (`None` where no grant carries a token).
    fn fencing(&self) -> Result<Option<&Analysis>, InputError> {
        if let Some(fencing) = self.fencing.get() {
            return Ok(fencing.as_ref());
        }
        let fencing = analysis::fencing(self.history)?;
        Ok(self.fencing.get_or_init(|| fencing).as_ref())
    }

    /// The lock ops against `model`, as a lease lock: a grant may lapse once
    /// its promise ended (see [`crate::models::lapse`]).
    fn lease_lock(&self, model: ModelSpec) -> Result<Analysis, InputError> {
        let leased = match self.leased.get() {
            Some(leased) => leased,
            None => {
                let lapses = lapse::lapses(self.history, self.leases)?;
                let history = (!lapses.is_empty()).then(|| lapse::with_lapses(self.history, &lapses));
                self.leased.get_or_init(|| Leased { history, lapses: Lapses::of(&lapses) })
            }
        };
        let history = leased.history.as_ref().unwrap_or(self.history);
        linearizable::lease_lock(history, &model, self.timeout, leased.lapses)
    }
}

/// The registry: checker `id` over `inputs`. `None` where the history holds
/// nothing it judges (no tokens to fence, no counter, no election).
pub fn judge(id: CheckerId, inputs: &Inputs) -> Result<Option<Analysis>, InputError> {
    let (history, leases) = (inputs.history, inputs.leases);
    Ok(match id {
        CheckerId::Linearizable => Some(linearizable::inferred(history, inputs.timeout)?),
        CheckerId::LinearizableMutex => Some(inputs.lease_lock(ModelSpec::Mutex)?),
        // Grants without tokens (Redlock) have nothing to fence: no
        // fenced-mutex model either.
        CheckerId::LinearizableFencedMutex => match inputs.fencing()? {
            Some(_) => Some(inputs.lease_lock(ModelSpec::FencedMutex)?),
            None => None,
        },
        CheckerId::MutualExclusion => Some(analysis::mutual_exclusion(history, leases)?),
        CheckerId::LeaseSafety => Some(analysis::lease_safety(history, leases)?),
        CheckerId::Fencing => inputs.fencing()?.cloned(),
        CheckerId::LostUpdates => analysis::lost_updates(history)?,
        CheckerId::Election => analysis::election(history, leases)?,
        CheckerId::Availability => Some(analysis::availability(history)?),
    })
}

/// Runs `judge`, checker `id`'s work. A panic in it (a bug in the checker,
/// not in the history) becomes `id`'s `unknown` with the panic's message,
/// so the other checkers still judge and the run is not lost; input it
/// refused stays an error.
pub fn safely(
    id: CheckerId,
    judge: impl FnOnce() -> Result<Option<Analysis>, InputError>,
) -> Result<Option<Analysis>, InputError> {
    match panic::catch_unwind(AssertUnwindSafe(judge)) {
        Ok(judged) => judged,
        Err(payload) => Ok(Some(Analysis::panicked(id, message(payload.as_ref())))),
    }
}

/// What `panic!` said (a `&str` or a `String`; anything else has no words).
fn message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Evidence;
    use crate::Verdict;

    fn history() -> History {
        let text = r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":1,"time":2,"process":0,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":2,"time":5,"process":0,"type":"invoke","f":"release","key":"k0","value":null}
{"index":3,"time":6,"process":0,"type":"ok","f":"release","key":"k0","value":null}
"#;
        crate::formats::jsonl::read("lock.jsonl", text).unwrap()
    }

    #[test]
    fn every_checker_is_registered_under_the_name_it_reports() {
        let h = history();
        let leases = LeaseOptions::default();
        let inputs = Inputs::new(&h, &leases, Duration::from_secs(5));
        for &id in CheckerId::ALL {
            let judged = judge(id, &inputs).unwrap();
            // Nothing to judge is allowed (no counter, no election here);
            // an answer is always under the id's reported name.
            if let Some(a) = judged {
                assert_eq!(a.id(), id.reported(), "{id}");
                assert_eq!(a.validity, Verdict::Valid, "{id}: {}", a.summary);
            }
        }
        let Some(fenced) = judge(CheckerId::LinearizableFencedMutex, &inputs).unwrap() else { panic!("tokens") };
        let Evidence::Linearizable(result) = &fenced.evidence else { panic!("{fenced:?}") };
        assert_eq!(result.model, "fenced-mutex");
    }

    #[test]
    fn a_panic_is_that_checkers_unknown_and_an_error_stays_an_error() {
        let a = safely(CheckerId::Fencing, || panic!("token {} out of range", 7)).unwrap().unwrap();
        assert_eq!(a.validity, Verdict::Unknown);
        assert_eq!(a.id(), CheckerId::Fencing);
        assert_eq!(a.summary, "fencing: unknown (the checker failed: token 7 out of range)");
        let a = safely(CheckerId::Election, || std::panic::panic_any(3_u8)).unwrap().unwrap();
        assert!(a.summary.ends_with("(the checker failed: a panic without a message)"), "{}", a.summary);
        let refused = safely(CheckerId::Fencing, || Err(InputError::new("h.jsonl", Some(3), "no key")));
        assert_eq!(refused.unwrap_err().to_string(), "h.jsonl:3: no key");
    }
}
