//! `register` (read/write) and `cas-register` (plus compare-and-set).

use super::{show, CallView, HistoryModel, Model, Step, Values};
use ops::OpName;
use serde_json::Value;

/// A single register. Its state is the interned id of the value it holds.
pub struct Register {
    pub cas: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum In {
    Read,
    Write(u32),
    Cas(u32, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// A read returned this value.
    Read(u32),
    /// A cas executed: `true` it swapped, `false` it compared unequal.
    Cas(bool),
    /// A write completed (writes return nothing).
    Done,
    /// The outcome is unknown (`info`, pending, or a read whose value was not recorded).
    Unknown,
}

impl Model for Register {
    type State = u32;
    type Input = In;
    type Output = Out;

    fn init(&self) -> u32 {
        0
    }

    fn pack(&self, s: &u32) -> Option<u64> {
        Some(*s as u64)
    }

    fn read_only(&self, input: &In, output: &Out) -> bool {
        matches!((input, output), (In::Read, _) | (In::Cas(..), Out::Cas(false)))
    }

    fn always_legal(&self, _: &In, output: &Out) -> bool {
        *output == Out::Unknown
    }

    fn step(&self, &s: &u32, input: &In, output: &Out) -> Step<u32> {
        match (*input, *output) {
            (In::Read, Out::Read(v)) if v != s => Step::Illegal,
            (In::Read, _) => Step::Same,
            (In::Write(v), _) => Step::To(v),
            (In::Cas(from, to), Out::Cas(true)) if s == from => Step::To(to),
            (In::Cas(from, _), Out::Cas(false)) if s != from => Step::Same,
            (In::Cas(_, _), Out::Cas(_)) => Step::Illegal,
            (In::Cas(from, to), _) => {
                if s == from {
                    Step::To(to)
                } else {
                    Step::Same
                }
            }
        }
    }
}

impl HistoryModel for Register {
    const OPS: &'static str = "read, write, cas";

    fn fresh(&self) -> Self {
        Register { cas: self.cas }
    }

    fn encode(&self, values: &mut Values, call: &CallView) -> Result<(In, Out), String> {
        match &call.f {
            OpName::Read => Ok((In::Read, call.result.map_or(Out::Unknown, |v| Out::Read(values.intern(v))))),
            OpName::Write => Ok((
                In::Write(values.intern(call.invoke)),
                if call.result.is_some() { Out::Done } else { Out::Unknown },
            )),
            OpName::Cas if self.cas => {
                let pair = match call.invoke {
                    Value::Array(a) if a.len() == 2 => (values.intern(&a[0]), values.intern(&a[1])),
                    other => return Err(format!("cas value {other}: expected [from, to]")),
                };
                let out = match call.result {
                    None => Out::Unknown,
                    Some(Value::Bool(false)) => Out::Cas(false),
                    Some(_) => Out::Cas(true),
                };
                Ok((In::Cas(pair.0, pair.1), out))
            }
            OpName::Cas => Err("model `register` has no cas; use --model cas-register".into()),
            other => Err(format!(
                "op `{other}` is unknown to model `{}`; expected one of: {}",
                if self.cas { "cas-register" } else { "register" },
                if self.cas { Self::OPS } else { "read, write" }
            )),
        }
    }

    fn describe_op(&self, values: &Values, input: &In, output: &Out) -> String {
        let v = |id: u32| show(values.value(id));
        match (input, output) {
            (In::Read, Out::Read(x)) => format!("read → {}", v(*x)),
            (In::Read, _) => "read → ?".into(),
            (In::Write(x), Out::Unknown) => format!("write {} (outcome unknown)", v(*x)),
            (In::Write(x), _) => format!("write {}", v(*x)),
            (In::Cas(f, t), Out::Cas(true)) => format!("cas {}→{} (swapped)", v(*f), v(*t)),
            (In::Cas(f, t), Out::Cas(false)) => format!("cas {}→{} (compared unequal)", v(*f), v(*t)),
            (In::Cas(f, t), _) => format!("cas {}→{} (outcome unknown)", v(*f), v(*t)),
        }
    }

    fn describe_state(&self, values: &Values, s: &u32) -> String {
        format!("register holds {}", show(values.value(*s)))
    }
}
