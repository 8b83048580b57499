//! Lock models.
//!
//! - [`Mutex`]: owner-aware — only the process holding the lock may release
//!   (or renew) it. Owners are process numbers, Jepsen-style: a holder whose
//!   process was retired after an `info` keeps the lock in the model.
//! - [`KnossosMutex`]: Knossos's owner-less mutex, for foreign histories.
//! - [`FencedMutex`]: owner-aware, and every grant returns a fencing token
//!   that must exceed every earlier grant's token.
//!
//! The owner-aware models are lease locks when the history carries `lapse`
//! ops (see [`super::lapse`]): a lapse of process `p` frees the lock if `p`
//! holds it and changes nothing otherwise.

use super::{show, CallView, HistoryModel, Model, Step, Values};
use ops::values::{Grant, Lapse, OpValue};
use ops::OpName;
use serde_json::Value;

const FREE: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum In {
    Acquire(u64),
    Release(u64),
    Renew(u64),
    /// The grant of this process may end by itself (its lease ran out).
    Lapse(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    Ok,
    /// A grant with this fencing token.
    Token(i64),
    Unknown,
}

fn lock_op(call: &CallView, model: &str) -> Result<In, String> {
    Ok(match &call.f {
        OpName::Acquire => In::Acquire(call.process),
        OpName::Release => In::Release(call.process),
        OpName::Renew => In::Renew(call.process),
        OpName::Lapse => match Lapse::of(call.invoke).of_process {
            Some(p) => In::Lapse(p),
            None => return Err(format!("lapse {}: expected {{\"of_process\": N}}, the holder", show(call.invoke))),
        },
        other => {
            return Err(format!(
                "op `{other}` is unknown to model `{model}`; expected one of: acquire, release, renew, lapse"
            ))
        }
    })
}

/// `Ok` when the call completed, `Unknown` when its outcome is not known.
fn completed(call: &CallView) -> Out {
    if call.result.is_some() {
        Out::Ok
    } else {
        Out::Unknown
    }
}

fn describe(input: &In, output: &Out) -> String {
    let unknown = if *output == Out::Unknown { " (outcome unknown)" } else { "" };
    match (input, output) {
        (In::Acquire(p), Out::Token(t)) => format!("process {p} acquires (token {t})"),
        (In::Acquire(p), _) => format!("process {p} acquires{unknown}"),
        (In::Release(p), _) => format!("process {p} releases{unknown}"),
        (In::Renew(p), _) => format!("process {p} renews{unknown}"),
        (In::Lapse(p), _) => format!("process {p}'s grant lapses (its lease or session ended) or is released late"),
    }
}

fn owner_text(owner: u64) -> String {
    if owner == FREE {
        "lock is free".into()
    } else {
        format!("lock held by process {owner}")
    }
}

pub struct Mutex;

impl Model for Mutex {
    type State = u64;
    type Input = In;
    type Output = Out;

    fn init(&self) -> u64 {
        FREE
    }

    fn read_only(&self, input: &In, _: &Out) -> bool {
        matches!(input, In::Renew(_))
    }

    fn always_legal(&self, _: &In, output: &Out) -> bool {
        *output == Out::Unknown
    }

    fn pack(&self, s: &u64) -> Option<u64> {
        Some(*s)
    }

    fn step(&self, &owner: &u64, input: &In, output: &Out) -> Step<u64> {
        let known = *output != Out::Unknown;
        match *input {
            In::Acquire(p) if owner == FREE => Step::To(p),
            In::Release(p) if owner == p => Step::To(FREE),
            In::Renew(p) if owner == p => Step::Same,
            In::Lapse(p) if owner == p => Step::To(FREE),
            In::Lapse(_) => Step::Same,
            // An unknown outcome whose effect is impossible did not happen.
            _ if !known => Step::Same,
            _ => Step::Illegal,
        }
    }
}

impl HistoryModel for Mutex {
    const OPS: &'static str = "acquire, release, renew, lapse";

    fn fresh(&self) -> Self {
        Mutex
    }

    fn encode(&self, _: &mut Values, call: &CallView) -> Result<(In, Out), String> {
        Ok((lock_op(call, "mutex")?, completed(call)))
    }
    fn describe_op(&self, _: &Values, i: &In, o: &Out) -> String {
        describe(i, o)
    }
    fn describe_state(&self, _: &Values, s: &u64) -> String {
        owner_text(*s)
    }
}

pub struct KnossosMutex;

impl Model for KnossosMutex {
    type State = bool;
    type Input = In;
    type Output = Out;

    fn init(&self) -> bool {
        false
    }

    fn read_only(&self, input: &In, _: &Out) -> bool {
        matches!(input, In::Renew(_))
    }

    fn always_legal(&self, _: &In, output: &Out) -> bool {
        *output == Out::Unknown
    }

    fn pack(&self, s: &bool) -> Option<u64> {
        Some(*s as u64)
    }

    fn step(&self, &locked: &bool, input: &In, output: &Out) -> Step<bool> {
        match (*input, locked) {
            (In::Acquire(_), false) => Step::To(true),
            (In::Release(_), true) => Step::To(false),
            (In::Renew(_), true) => Step::Same,
            _ if *output == Out::Unknown => Step::Same,
            _ => Step::Illegal,
        }
    }
}

impl HistoryModel for KnossosMutex {
    const OPS: &'static str = "acquire, release";

    fn fresh(&self) -> Self {
        KnossosMutex
    }

    fn encode(&self, _: &mut Values, call: &CallView) -> Result<(In, Out), String> {
        match lock_op(call, "knossos-mutex")? {
            // Without owners there is no telling whose grant lapsed.
            In::Lapse(_) => {
                Err("op `lapse` needs an owner-aware model (mutex, fenced-mutex), not `knossos-mutex`".into())
            }
            op => Ok((op, completed(call))),
        }
    }
    fn describe_op(&self, _: &Values, i: &In, o: &Out) -> String {
        describe(i, o)
    }
    fn describe_state(&self, _: &Values, s: &bool) -> String {
        if *s { "lock is held" } else { "lock is free" }.into()
    }
}

pub struct FencedMutex;

/// Owner, and the highest token granted so far (`i64::MIN` before any).
pub type FencedState = (u64, i64);

impl Model for FencedMutex {
    type State = FencedState;
    type Input = In;
    type Output = Out;

    fn init(&self) -> FencedState {
        (FREE, i64::MIN)
    }

    fn read_only(&self, input: &In, _: &Out) -> bool {
        matches!(input, In::Renew(_))
    }

    fn always_legal(&self, _: &In, output: &Out) -> bool {
        *output == Out::Unknown
    }

    fn step(&self, &(owner, max): &FencedState, input: &In, output: &Out) -> Step<FencedState> {
        match (*input, *output) {
            (In::Acquire(p), Out::Token(t)) if owner == FREE && t > max => Step::To((p, t)),
            // A grant whose token we never saw: it is above `max`, but by how
            // much is unknown, so later grants are only held to `max`.
            (In::Acquire(p), Out::Unknown) if owner == FREE => Step::To((p, max)),
            (In::Release(p), _) if owner == p => Step::To((FREE, max)),
            (In::Renew(p), _) if owner == p => Step::Same,
            (In::Lapse(p), _) if owner == p => Step::To((FREE, max)),
            (In::Lapse(_), _) => Step::Same,
            (_, Out::Unknown) => Step::Same,
            _ => Step::Illegal,
        }
    }
}

impl HistoryModel for FencedMutex {
    const OPS: &'static str = "acquire (with a token), release, renew, lapse";

    fn fresh(&self) -> Self {
        FencedMutex
    }

    fn encode(&self, _: &mut Values, call: &CallView) -> Result<(In, Out), String> {
        let input = lock_op(call, "fenced-mutex")?;
        let out = match (input, call.result) {
            (_, None) => Out::Unknown,
            (In::Acquire(_), Some(v)) => {
                let token = match v {
                    Value::Number(_) => v.as_i64(),
                    Value::Object(_) => Grant::of(v).token,
                    _ => None,
                };
                match token {
                    Some(t) => Out::Token(t),
                    None => {
                        return Err(format!(
                            "acquire result {}: expected a fencing token (an integer or {{\"token\": N}})",
                            show(v)
                        ))
                    }
                }
            }
            _ => Out::Ok,
        };
        Ok((input, out))
    }
    fn describe_op(&self, _: &Values, i: &In, o: &Out) -> String {
        describe(i, o)
    }
    fn describe_state(&self, _: &Values, &(owner, max): &FencedState) -> String {
        if max == i64::MIN {
            owner_text(owner)
        } else {
            format!("{}; highest token granted {max}", owner_text(owner))
        }
    }
}
