//! # checker — is this history linearizable, and if not, why?
//!
//! This crate is the pure heart of fencepost: no async, no Docker, no network.
//! It reads recorded histories (fencepost's JSONL, Jepsen/Knossos EDN and
//! Porcupine's logs) into one set of types ([`history`]), describes services
//! as sequential specifications ([`models`], Porcupine-style "model as
//! data"), and decides linearizability with a Wing–Gong–Lowe search
//! ([`engine`]) that checks independent keys in parallel and gives up with
//! `unknown` — never a hang — when a deadline or memory cap is hit.
//!
//! The usual entry point is [`check::check`]:
//!
//! ```
//! use checker::{formats, check::{check, CheckOptions}, models::ModelSpec};
//! let text = r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"write","value":1}
//! {"index":1,"time":2,"process":0,"type":"ok","f":"write","value":1}
//! {"index":2,"time":3,"process":1,"type":"invoke","f":"read","value":null}
//! {"index":3,"time":4,"process":1,"type":"ok","f":"read","value":1}
//! "#;
//! let history = formats::read_str("example.jsonl", text, formats::Format::Auto).unwrap();
//! let result = check(&history, &ModelSpec::Register { initial: serde_json::Value::Null },
//!                    &CheckOptions::default()).unwrap();
//! assert_eq!(result.verdict, checker::Verdict::Valid);
//! ```
//!
//! A history in a file is better checked with [`check::check_source`] over
//! [`formats::open`]: a JSONL file is then checked as it is read, so only
//! what the search needs is held, not the history.
//!
//! Whether a history held enough for a `valid` to mean anything (grants,
//! unknown outcomes, clients active during each fault) is
//! [`sufficiency::judge`].
//!
//! The lock and election checkers (`mutual-exclusion`, `lease-safety`,
//! `fencing`, …) are registered by id in [`checkers`], which the harness
//! walks: one [`evidence::Analysis`] per checker, a panicking one `unknown`.

pub mod analysis;
pub mod check;
pub mod checkers;
pub mod edn;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod faults;
pub mod formats;
pub mod gen;
pub mod history;
pub mod lease;
pub mod linearizable;
pub mod models;
pub mod precedence;
pub mod sufficiency;

pub use error::InputError;
pub use history::{History, Op, OpName, OpType, Process};

use serde::{Deserialize, Serialize};

/// The three answers every checker gives — the linearizability search, the
/// lock and election analyses, and a run as a whole. `Unknown` is never a
/// guess: the search ran out of time or memory, or the run's premise broke
/// (a fault that could not be healed), before it could decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    Unknown,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Valid, Verdict::Invalid, Verdict::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        }
    }

    /// The word for a linearizability verdict, as Knossos and Porcupine say it.
    pub fn linearizability(self) -> &'static str {
        match self {
            Verdict::Valid => "linearizable",
            Verdict::Invalid => "not-linearizable",
            Verdict::Unknown => "unknown",
        }
    }

    /// Combines verdicts: one invalid decides, otherwise one unknown does.
    pub fn combine(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }
}

/// A verdict word that is not one of `valid`, `invalid`, `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a verdict (valid, invalid, unknown)")]
pub struct NotAVerdict(pub String);

impl std::str::FromStr for Verdict {
    type Err = NotAVerdict;
    fn from_str(s: &str) -> Result<Verdict, NotAVerdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| NotAVerdict(s.to_string()))
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
