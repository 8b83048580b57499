//! The checkers' registry ([`checker`]): each [`CheckerId`] (the identity
//! workloads declare and `results.json` stores, from the `ops` crate) mapped
//! to the layer of a run's verdict it answers for and the function that
//! judges a history, with what that function reads — the history, the lease
//! arithmetic's options, a model, the search's deadline.
//!
//! Adding a checker is its file in this crate (a function over a
//! [`History`] returning an [`Analysis`] with its own [`Evidence`] variant),
//! a `CheckerId` variant and its arm in [`checker`]; the harness walks the
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
use serde::{Deserialize, Serialize};

/// The three layers of a run's verdict (`results::story` tells them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// Did the service keep its promise?
    Service,
    /// Did two clients act at once, and why?
    Clients,
    /// Did the data stay safe?
    Data,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::Service, Layer::Clients, Layer::Data];

    /// The layer checker `id` answers for; `None` for one that only
    /// informs (`availability`).
    pub fn of(id: CheckerId) -> Option<Layer> {
        checker(id).layer
    }

    pub fn name(self) -> &'static str {
        match self {
            Layer::Service => "service",
            Layer::Clients => "clients",
            Layer::Data => "data",
        }
    }
}

/// What judges a history for checker `id`: the question it answers and how.
#[derive(Clone, Copy)]
pub struct Checker {
    pub id: CheckerId,
    /// The layer of a run's verdict it answers for; `None`: it only
    /// informs, and its verdict never counts toward a run's.
    pub layer: Option<Layer>,
    /// Its result over what a history's checkers share; `None` where the
    /// history holds nothing it judges (no tokens to fence, no counter, no
    /// election).
    pub judge: Judge,
}

/// A checker's function over what a history's checkers share.
pub type Judge = fn(&Inputs) -> Judged;

/// A checker's answer: its analysis, `None` where the history holds
/// nothing it judges, or the history refused.
pub type Judged = Result<Option<Analysis>, InputError>;

impl Checker {
    /// Whether its verdict counts toward a run's.
    pub fn judges(&self) -> bool {
        self.layer.is_some()
    }
}

/// The registry: one arm per checker.
pub fn checker(id: CheckerId) -> Checker {
    use Layer::{Clients, Data, Service};
    let (layer, judge): (Option<Layer>, Judge) = match id {
        CheckerId::Linearizable => (Some(Service), |i| Ok(Some(linearizable::inferred(i.history, i.timeout)?))),
        CheckerId::LinearizableMutex => (Some(Service), |i| Ok(Some(i.lease_lock(ModelSpec::Mutex)?))),
        // Grants without tokens (Redlock) have nothing to fence: no
        // fenced-mutex model either.
        CheckerId::LinearizableFencedMutex => (Some(Service), |i| match i.fencing()? {
            Some(_) => Ok(Some(i.lease_lock(ModelSpec::FencedMutex)?)),
            None => Ok(None),
        }),
        CheckerId::MutualExclusion => (Some(Clients), |i| Ok(Some(analysis::mutual_exclusion(i.history, i.leases)?))),
        CheckerId::LeaseSafety => (Some(Service), |i| Ok(Some(analysis::lease_safety(i.history, i.leases)?))),
        CheckerId::Fencing => (Some(Data), |i| Ok(i.fencing()?.cloned())),
        CheckerId::LostUpdates => (Some(Data), |i| analysis::lost_updates(i.history)),
        CheckerId::Election => (Some(Clients), |i| analysis::election(i.history, i.leases)),
        CheckerId::Availability => (None, |i| Ok(Some(analysis::availability(i.history)?))),
    };
    Checker { id, layer, judge }
}

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

/// Checker `id` over `inputs` (see [`Checker::judge`]).
pub fn judge(id: CheckerId, inputs: &Inputs) -> Result<Option<Analysis>, InputError> {
    (checker(id).judge)(inputs)
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
            assert_eq!(checker(id).id, id);
            // Two ids stored under one name answer the same question.
            assert_eq!(Layer::of(id), Layer::of(id.reported()), "{id}");
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
