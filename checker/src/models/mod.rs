//! Sequential specifications as data, in the manner of Porcupine's `Model`.
//!
//! A model has two halves:
//! - [`Model`]: the pure state machine the engine searches over — an initial
//!   state and a `step` that says whether an operation with a given output is
//!   legal in a state and what state follows.
//! - [`HistoryModel`]: how the history contract's JSON ops become the model's
//!   inputs and outputs, and how to describe them to a person.
//!
//! Values are interned per partition ([`Values`]) so that states are small
//! integers and steps are branch-cheap: the hot loop never touches JSON.

pub mod kv;
pub mod lapse;
mod mutex;
mod register;

pub use kv::{Kv, KvKey, KvMap};
pub use mutex::{FencedMutex, KnossosMutex, Mutex};
pub use register::Register;

use ops::values::{CounterWrite, Grant, OpValue};
use ops::OpName;
use serde_json::Value;
use std::collections::HashMap;
use std::hash::Hash;

/// What a step does to the state.
pub enum Step<S> {
    /// The operation cannot have returned this output in this state.
    Illegal,
    /// Legal, and the state is unchanged (reads) — saves a clone.
    Same,
    /// Legal, and this is the state after it.
    To(S),
}

/// A sequential specification.
///
/// Operations with an unknown outcome (`info`, or pending at the end) must be
/// legal in every state: when their effect is impossible they simply did not
/// happen. The engine lets them linearize as late as the end of the history,
/// which covers "never happened".
pub trait Model {
    type State: Clone + Eq + Hash + Send;
    type Input: Send + Sync + PartialEq;
    type Output: Send + Sync + PartialEq;

    fn init(&self) -> Self::State;
    fn step(&self, state: &Self::State, input: &Self::Input, output: &Self::Output) -> Step<Self::State>;
    /// Heap bytes a state owns beyond its inline size, for the memory cap.
    fn heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }
    /// The state as one word, when it fits: the search cache then stores it
    /// inline, which saves a memory access per lookup. Must be injective.
    fn pack(&self, _state: &Self::State) -> Option<u64> {
        None
    }
    /// True when the operation leaves *every* state it is legal in unchanged
    /// (a read, a cas that compared unequal). The engine uses this to prune:
    /// such an op, legal now, may always be linearized now (see `engine`).
    fn read_only(&self, _input: &Self::Input, _output: &Self::Output) -> bool {
        false
    }
    /// True when the operation is legal in *every* state, as one whose
    /// outcome is unknown must be: it may have taken effect or not. The
    /// engine may then leave it out of a linearization's end, and prunes
    /// configurations that linearized more such ops to reach the same place
    /// (see `engine`). The default, false, is always safe.
    fn always_legal(&self, _input: &Self::Input, _output: &Self::Output) -> bool {
        false
    }
    /// Whether this model answers [`Model::may_reach`]; when false the
    /// engine never asks, and pays nothing for it.
    const LOOKS_AHEAD: bool = false;
    /// Whether the read `(input, output)`, still to be linearized, can be
    /// legal after `state` followed by some of the ops `between` (those that
    /// may still go before it), in any order. It must answer true whenever
    /// that is possible; a false lets the engine drop the branch at once,
    /// instead of finding out by trying every order of `between`. The
    /// default, true, is always safe.
    fn may_reach<'o>(
        &self,
        _state: &Self::State,
        _read: (&Self::Input, &Self::Output),
        _between: impl Iterator<Item = (&'o Self::Input, &'o Self::Output)>,
    ) -> bool
    where
        Self::Input: 'o,
        Self::Output: 'o,
    {
        true
    }
}

/// One paired call as a model sees it.
pub struct CallView<'a> {
    pub f: OpName,
    pub process: u64,
    pub key: Option<&'a str>,
    /// The invocation's `value`.
    pub invoke: &'a Value,
    /// The `ok` completion's `value`; `None` when the outcome is unknown.
    pub result: Option<&'a Value>,
}

/// How a model reads and describes history ops.
pub trait HistoryModel: Model {
    /// The op names this model understands, for error messages.
    const OPS: &'static str;
    /// A new, empty instance with the same parameters, for one partition.
    /// Models that keep per-partition tables (kv's strings) start afresh.
    fn fresh(&self) -> Self;
    fn encode(&self, values: &mut Values, call: &CallView) -> Result<(Self::Input, Self::Output), String>;
    fn describe_op(&self, values: &Values, input: &Self::Input, output: &Self::Output) -> String;
    fn describe_state(&self, values: &Values, state: &Self::State) -> String;
}

/// Interns JSON values (and kv keys) of one partition to dense ids. Id 0 is
/// the model's initial value.
pub struct Values {
    ids: HashMap<String, u32>,
    list: Vec<Value>,
    keys: HashMap<String, u32>,
    key_list: Vec<String>,
}

impl Values {
    pub fn new(initial: &Value) -> Self {
        let mut v = Values { ids: HashMap::new(), list: Vec::new(), keys: HashMap::new(), key_list: Vec::new() };
        v.intern(initial);
        v
    }

    pub fn intern(&mut self, value: &Value) -> u32 {
        let text = value.to_string();
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = self.list.len() as u32;
        self.ids.insert(text, id);
        self.list.push(value.clone());
        id
    }

    pub fn value(&self, id: u32) -> &Value {
        &self.list[id as usize]
    }

    pub fn key(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.keys.get(key) {
            return id;
        }
        let id = self.key_list.len() as u32;
        self.keys.insert(key.to_string(), id);
        self.key_list.push(key.to_string());
        id
    }

    pub fn key_name(&self, id: u32) -> &str {
        self.key_list.get(id as usize).map_or("?", String::as_str)
    }
}

/// Which model to check with, and its parameters — what the CLI selects.
#[derive(Clone, Debug, PartialEq, strum::EnumDiscriminants)]
#[strum_discriminants(name(ModelName), derive(strum::EnumString, strum::IntoStaticStr, strum::VariantNames))]
#[strum_discriminants(strum(serialize_all = "kebab-case"))]
pub enum ModelSpec {
    Register { initial: Value },
    CasRegister { initial: Value },
    Kv { initial: String },
    Mutex,
    KnossosMutex,
    FencedMutex,
}

/// Why a model name and an initial value do not make a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("unknown model `{0}`; expected one of {names}", names = ModelSpec::NAMES.join(", "))]
    Unknown(String),
    #[error("model `{model}` ({from}) has no initial value; leave the initial value out")]
    NoInitial { model: &'static str, from: Origin },
    #[error("kv values are strings; the initial value {0} is not one")]
    KvInitial(Value),
    /// The initial value the history file states does not fit the model.
    #[error("{file}:{line}: the file states an initial value, but {error}")]
    StatedInitial { file: String, line: usize, error: Box<ModelError> },
}

impl ModelError {
    /// As an input error of `file` (naming the line of a setting the file
    /// states), for callers whose errors are about their input.
    pub fn in_file(self, file: &str) -> crate::InputError {
        match self {
            ModelError::StatedInitial { file, line, error } => {
                crate::InputError::at(&file, line, format!("the file states an initial value, but {error}"))
            }
            other => crate::InputError::new(file, None, other.to_string()),
        }
    }
}

/// Where the model a check used, or its initial value, came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// On the command line (`--model`, `--initial`) or in the request
    /// (`model=`, `initial=`).
    Given,
    /// In the history file (`; fencepost: initial 0`, see [`Stated`]).
    Stated,
    /// From the ops (a model only).
    Inferred,
    /// The model's own (`nil` for the registers, `""` for kv).
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Given => "given",
            Origin::Stated => "stated in the file",
            Origin::Inferred => "inferred from the ops",
            Origin::Default => "the model's default",
        })
    }
}

/// What a history file says about how to check it, each with its line:
/// in EDN, a comment before the first op, `; fencepost: model cas-register`
/// or `; fencepost: initial 0` (the value as EDN). Knossos's register
/// histories start from `nil` by convention; one that starts elsewhere
/// says so here, so that a bare `fencepost check FILE` checks what the file
/// means.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stated {
    pub model: Option<(ModelName, usize)>,
    pub initial: Option<(Value, usize)>,
}

/// The model a check ran with and where it and its initial value came
/// from: what every interface (the CLI's header and `--json`, the API, the
/// check page) states beside the verdict.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Choice {
    pub model: &'static str,
    pub model_from: Origin,
    /// `null` for the lock models, which have none (and then no `initial_from`).
    pub initial: Value,
    pub initial_from: Option<Origin>,
}

impl ModelSpec {
    /// Every model's name, as `--model` takes it.
    pub const NAMES: &'static [&'static str] = <ModelName as strum::VariantNames>::VARIANTS;

    /// Builds a spec from its name and an optional initial value (JSON, or
    /// EDN's `nil`).
    pub fn from_name(name: &str, initial: Option<&str>) -> Result<ModelSpec, ModelError> {
        let kind: ModelName = name.parse().map_err(|_| ModelError::Unknown(name.to_string()))?;
        Self::build(kind, initial.map(parse_initial), Origin::Given)
    }

    /// A model of `kind` starting from `initial` (its default when `None`);
    /// `from` says where the model came from, for the error.
    fn build(kind: ModelName, initial: Option<Value>, from: Origin) -> Result<ModelSpec, ModelError> {
        if initial.is_some() && !kind.has_initial() {
            return Err(ModelError::NoInitial { model: kind.into(), from });
        }
        Ok(match kind {
            ModelName::Register => ModelSpec::Register { initial: initial.unwrap_or(Value::Null) },
            ModelName::CasRegister => ModelSpec::CasRegister { initial: initial.unwrap_or(Value::Null) },
            ModelName::Kv => ModelSpec::Kv {
                initial: match initial {
                    None => String::new(),
                    Some(Value::String(s)) => s,
                    Some(other) => return Err(ModelError::KvInitial(other)),
                },
            },
            ModelName::Mutex => ModelSpec::Mutex,
            ModelName::KnossosMutex => ModelSpec::KnossosMutex,
            ModelName::FencedMutex => ModelSpec::FencedMutex,
        })
    }

    /// The one rule the CLI, the check page and the API share: the model is
    /// the one given, else the one the file states, else inferred from the
    /// ops (the first [`crate::formats::HEAD_OPS`]: `head` may be all a
    /// history checked as it is read offers); its initial value is the one
    /// given, else the one the file states, else the model's default. An
    /// initial value for a model without one is refused, never dropped.
    pub fn choose(
        head: &crate::History,
        model: Option<&str>,
        initial: Option<&str>,
    ) -> Result<(ModelSpec, Choice), ModelError> {
        let stated = &head.stated;
        let (kind, model_from) = match (model, stated.model) {
            (Some(name), _) => (name.parse().map_err(|_| ModelError::Unknown(name.to_string()))?, Origin::Given),
            (None, Some((kind, _))) => (kind, Origin::Stated),
            (None, None) => (ModelName::from(&Self::infer(head)), Origin::Inferred),
        };
        let spec = match (initial, &stated.initial) {
            (Some(text), _) => Self::build(kind, Some(parse_initial(text)), model_from)?,
            (None, Some((value, line))) => Self::build(kind, Some(value.clone()), model_from).map_err(|error| {
                ModelError::StatedInitial { file: head.file.clone(), line: *line, error: Box::new(error) }
            })?,
            (None, None) => Self::build(kind, None, model_from)?,
        };
        let origin = match (initial, &stated.initial) {
            (Some(_), _) => Origin::Given,
            (None, Some(_)) => Origin::Stated,
            (None, None) => Origin::Default,
        };
        let initial_from = kind.has_initial().then_some(origin);
        let choice = Choice { model: spec.name(), model_from, initial: spec.initial(), initial_from };
        Ok((spec, choice))
    }

    pub fn name(&self) -> &'static str {
        ModelName::from(self).into()
    }

    /// The initial value, as JSON (`null` for models without one).
    pub fn initial(&self) -> Value {
        match self {
            ModelSpec::Register { initial } | ModelSpec::CasRegister { initial } => initial.clone(),
            ModelSpec::Kv { initial } => Value::String(initial.clone()),
            _ => Value::Null,
        }
    }

    /// Ops a history may hold that are not this model's object and are left
    /// out of its check: a lock model skips the fenced resource's `read`,
    /// `write` and the run's `final-read` (fencepost's fenced-counter
    /// histories), which the lock and lost-update analyses check instead,
    /// and the harness's `revoke-orphan` (clearing what a retired client
    /// left queued; the retired acquire is `info` already).
    pub fn ignores(&self) -> &'static [OpName] {
        const BESIDE_THE_LOCK: &[OpName] = &[OpName::Read, OpName::Write, OpName::FinalRead, OpName::RevokeOrphan];
        match self {
            ModelSpec::Mutex | ModelSpec::KnossosMutex | ModelSpec::FencedMutex => BESIDE_THE_LOCK,
            _ => &[],
        }
    }

    /// The model the ops imply, whatever the file states: see
    /// [`ModelSpec::choose`] for the one a check uses.
    pub fn infer(history: &crate::History) -> ModelSpec {
        // The first ops tell which object this is; no need to read them all
        // (a history checked as it is read offers only its head).
        let head =
            || history.ops.iter().take(crate::formats::HEAD_OPS).filter(|o| o.process != crate::Process::Nemesis);
        let seen: std::collections::BTreeSet<&OpName> = head().map(|o| &o.f).collect();
        let has = |f: OpName| seen.contains(&f);
        if has(OpName::Get) || has(OpName::Put) || has(OpName::Append) {
            ModelSpec::Kv { initial: String::new() }
        } else if has(OpName::Acquire) || has(OpName::Release) {
            // Tokens or named locks mark a fencepost history, whatever its
            // format (its EDN export must infer what its JSONL does); a
            // plain EDN lock history is Knossos's owner-less mutex.
            let tokens = head().any(|o| match o.f {
                OpName::Acquire => Grant::of(&o.value).token.is_some(),
                OpName::Write => CounterWrite::of(&o.value).token.is_some(),
                _ => false,
            });
            let keyed = head().any(|o| o.key.is_some());
            if tokens {
                ModelSpec::FencedMutex
            } else if history.format == "edn" && !keyed {
                ModelSpec::KnossosMutex
            } else {
                ModelSpec::Mutex
            }
        } else if has(OpName::Cas) {
            ModelSpec::CasRegister { initial: Value::Null }
        } else {
            ModelSpec::Register { initial: Value::Null }
        }
    }
}

impl ModelName {
    /// Whether the model starts from a value one may choose.
    pub fn has_initial(self) -> bool {
        matches!(self, ModelName::Register | ModelName::CasRegister | ModelName::Kv)
    }
}

/// An initial value as the CLI and the API take it: JSON, or EDN's `nil`;
/// anything else is a string (`--initial abc` for kv).
fn parse_initial(text: &str) -> Value {
    match text {
        "nil" => Value::Null,
        text => serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// A tiny, fast, non-cryptographic hasher (FxHash's mixing step). State
/// hashes feed the search cache, whose keys are already randomised.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        // The multiply only carries entropy upwards; fold the high half down
        // so that tables indexing by low bits see every input bit.
        let h = self.0;
        (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (h >> 32)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64)
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64)
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64)
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64)
    }
}

pub fn fx_hash<T: Hash + ?Sized>(t: &T) -> u64 {
    use std::hash::Hasher;
    let mut h = FxHasher::default();
    t.hash(&mut h);
    h.finish()
}

/// Short text for a JSON value in descriptions: `nil` for null, strings bare.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::String(s) if s.len() > 40 => format!("{:?}…", &s[..s.floor_char_boundary(40)]),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod choice_tests {
    use super::*;
    use serde_json::json;

    fn register(stated: Stated) -> crate::History {
        let text =
            "[{:process 0, :type :invoke, :f :cas, :value [0 1]}\n{:process 0, :type :ok, :f :cas, :value [0 1]}]";
        let mut h = crate::formats::edn::read("h.edn", text, false).unwrap();
        h.stated = stated;
        h
    }

    fn chosen(h: &crate::History, model: Option<&str>, initial: Option<&str>) -> (ModelSpec, Choice) {
        ModelSpec::choose(h, model, initial).unwrap()
    }

    #[test]
    fn given_beats_stated_beats_inferred_or_default() {
        let bare = register(Stated::default());
        let (spec, c) = chosen(&bare, None, None);
        assert_eq!(spec, ModelSpec::CasRegister { initial: Value::Null });
        assert_eq!((c.model_from, c.initial_from), (Origin::Inferred, Some(Origin::Default)));
        // An initial value without a model: kept, the model still inferred.
        let (spec, c) = chosen(&bare, None, Some("0"));
        assert_eq!(spec, ModelSpec::CasRegister { initial: json!(0) });
        assert_eq!((c.model_from, c.initial_from, c.initial), (Origin::Inferred, Some(Origin::Given), json!(0)));

        let stated = register(Stated { model: Some((ModelName::CasRegister, 1)), initial: Some((json!(0), 2)) });
        let (spec, c) = chosen(&stated, None, None);
        assert_eq!(spec, ModelSpec::CasRegister { initial: json!(0) });
        assert_eq!((c.model_from, c.initial_from), (Origin::Stated, Some(Origin::Stated)));
        let (spec, c) = chosen(&stated, Some("register"), Some("nil"));
        assert_eq!(spec, ModelSpec::Register { initial: Value::Null });
        assert_eq!((c.model_from, c.initial_from), (Origin::Given, Some(Origin::Given)));

        // The lock models have no initial value: none is reported, and one
        // given or stated is refused (a stated one naming its line).
        let (_, c) = chosen(&bare, Some("mutex"), None);
        assert_eq!((c.initial, c.initial_from), (Value::Null, None));
        assert_eq!(
            ModelSpec::choose(&bare, Some("mutex"), Some("0")).unwrap_err(),
            ModelError::NoInitial { model: "mutex", from: Origin::Given }
        );
        let e = ModelSpec::choose(&stated, Some("mutex"), None).unwrap_err();
        assert_eq!(e.to_string(), "h.edn:2: the file states an initial value, but model `mutex` (given) has no initial value; leave the initial value out");
        let input = e.in_file("h.edn");
        assert_eq!((input.file.as_str(), input.line), ("h.edn", Some(2)));
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_come_from_the_variants() {
        assert_eq!(ModelSpec::NAMES, ["register", "cas-register", "kv", "mutex", "knossos-mutex", "fenced-mutex"]);
        for name in ModelSpec::NAMES {
            assert_eq!(ModelSpec::from_name(name, None).unwrap().name(), *name);
        }
        assert_eq!(
            ModelSpec::from_name("mutex", Some("1")),
            Err(ModelError::NoInitial { model: "mutex", from: Origin::Given })
        );
        assert!(matches!(ModelSpec::from_name("regster", None), Err(ModelError::Unknown(_))));
        assert_eq!(ModelSpec::from_name("kv", Some("1")), Err(ModelError::KvInitial(serde_json::json!(1))));
        assert_eq!(crate::formats::Format::NAMES, ["auto", "jsonl", "edn", "porcupine-etcd", "porcupine-kv"]);
        assert_eq!(crate::formats::Format::parse("json"), Some(crate::formats::Format::Jsonl));
    }
}
