//! `kv`: a map of string registers with get/put/append, as in Porcupine's kv
//! histories. Partitioned by key it is one string per partition; checked as
//! one partition (Porcupine's "KvNoPartition") the state holds every key.
//!
//! Strings are interned per partition, so a state is a short array of
//! string ids (inline, no allocation for up to 12 keys) and a get is one
//! integer comparison. An append looks its result up in a small table
//! before building a new string. This is why a `Kv` is built per partition
//! ([`HistoryModel::fresh`]): the string table is that partition's own.

use super::{show, CallView, FxHasher, HistoryModel, Model, Step, Values};
use ops::OpName;
use serde_json::Value;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::marker::PhantomData;

type Fx = BuildHasherDefault<FxHasher>;

/// How a state holds the string id of each key. A partition of one key
/// needs a single `u32`; checking all keys at once (`--no-partition`) needs
/// one id per key. Keeping the one-key state to 4 bytes keeps the search's
/// cache small, which is what its speed depends on.
pub trait Slots: Clone + Eq + std::hash::Hash + Send {
    fn new(keys: usize) -> Self;
    fn get(&self, key: usize) -> u32;
    fn with(&self, key: usize, id: u32) -> Self;
    fn ids(&self) -> Vec<u32>;
    /// The state as one word, when it fits.
    fn pack(&self) -> Option<u64> {
        None
    }
    /// How many keys this representation can hold.
    const MAX_KEYS: usize;
}

impl Slots for u32 {
    const MAX_KEYS: usize = 1;
    fn new(_: usize) -> Self {
        0
    }
    fn get(&self, _: usize) -> u32 {
        *self
    }
    fn with(&self, _: usize, id: u32) -> Self {
        id
    }
    fn ids(&self) -> Vec<u32> {
        vec![*self]
    }
    fn pack(&self) -> Option<u64> {
        Some(*self as u64)
    }
}

/// One string id per key (inline for up to 12 keys).
pub type Keys = SmallVec<[u32; 12]>;

impl Slots for Keys {
    const MAX_KEYS: usize = usize::MAX;
    fn new(keys: usize) -> Self {
        SmallVec::from_elem(0, keys)
    }
    fn get(&self, key: usize) -> u32 {
        self[key]
    }
    fn with(&self, key: usize, id: u32) -> Self {
        let mut next = Keys::from_slice(self);
        next[key] = id;
        next
    }
    fn ids(&self) -> Vec<u32> {
        self.to_vec()
    }
}

pub struct Kv<S: Slots> {
    initial: String,
    strings: RefCell<Strings>,
    slots: PhantomData<S>,
}

/// kv checked per key.
pub type KvKey = Kv<u32>;
/// kv checked as one object holding every key.
pub type KvMap = Kv<Keys>;

/// Every string the partition has seen or built; id 0 is the initial value.
///
/// Appends must not cost time proportional to the string's length, or long
/// histories slow to a crawl. So a string built by an append is stored as the
/// pair it came from, with a rolling hash of its text (`H(a+b) = H(a)·Bᵏ +
/// H(b)`), and its text is only spelled out to confirm a hash match — which
/// keeps interning exact: one text, one id.
#[derive(Default)]
struct Strings {
    nodes: Vec<Node>,
    /// Hash of text (mixed with length) → first node with it; more in `chain`.
    by_hash: HashMap<u64, u32, Fx>,
    chain: Vec<u32>,
    appends: HashMap<(u32, u32), u32, Fx>,
    keys: u32,
}

struct Node {
    hash: u64,
    /// B^len, to extend the hash when something is appended to this string's left part.
    pow: u64,
    len: usize,
    repr: Repr,
}

enum Repr {
    Text(Box<str>),
    Concat(u32, u32),
}

const BASE: u64 = 0x100_0000_01b3;
const NO_NODE: u32 = u32::MAX;

impl Strings {
    fn spell(&self, id: u32, out: &mut String) {
        spell(&self.nodes, id, out)
    }

    fn text(&self, id: u32) -> String {
        let mut s = String::with_capacity(self.nodes[id as usize].len);
        self.spell(id, &mut s);
        s
    }

    /// The id of the string `node` spells: an existing one with the same
    /// hash, length and text, or `node` added. One lookup when the hash is
    /// new, which is nearly always.
    fn add(&mut self, node: Node) -> u32 {
        let id = self.nodes.len() as u32;
        let head = match self.by_hash.entry(node.hash ^ node.len as u64) {
            Entry::Vacant(v) => {
                v.insert(id);
                NO_NODE
            }
            Entry::Occupied(mut o) => {
                let mut cur = *o.get();
                let mut want: Option<String> = None;
                while cur != NO_NODE {
                    let n = &self.nodes[cur as usize];
                    if n.hash == node.hash && n.len == node.len {
                        let want = want.get_or_insert_with(|| node.spelled(&self.nodes));
                        let mut have = String::with_capacity(n.len);
                        spell(&self.nodes, cur, &mut have);
                        if have == *want {
                            return cur;
                        }
                    }
                    cur = self.chain[cur as usize];
                }
                o.insert(id)
            }
        };
        self.chain.push(head);
        self.nodes.push(node);
        id
    }

    fn intern(&mut self, s: &str) -> u32 {
        let (mut hash, mut pow) = (0u64, 1u64);
        for &b in s.as_bytes() {
            hash = hash.wrapping_mul(BASE).wrapping_add(b as u64 + 1);
            pow = pow.wrapping_mul(BASE);
        }
        self.add(Node { hash, pow, len: s.len(), repr: Repr::Text(s.into()) })
    }

    fn append(&mut self, base: u32, suffix: u32) -> u32 {
        if let Some(&id) = self.appends.get(&(base, suffix)) {
            return id;
        }
        let (a, b) = (&self.nodes[base as usize], &self.nodes[suffix as usize]);
        let hash = a.hash.wrapping_mul(b.pow).wrapping_add(b.hash);
        let (pow, len) = (a.pow.wrapping_mul(b.pow), a.len + b.len);
        let id = self.add(Node { hash, pow, len, repr: Repr::Concat(base, suffix) });
        self.appends.insert((base, suffix), id);
        id
    }
}

impl Strings {
    /// False only when string `a` is surely not a prefix of string `v`.
    ///
    /// Exact when `a` is a text; when it is `base + suffix`, only the
    /// suffix is compared against `v` at its place, which keeps the test
    /// O(suffix) however long the strings grow. The search asks after each
    /// append, so a wrong piece further left was caught when it was added.
    fn may_prefix(&self, a: u32, v: u32) -> bool {
        let (na, nv) = (&self.nodes[a as usize], &self.nodes[v as usize]);
        let Repr::Text(v) = &nv.repr else { return true };
        if na.len > nv.len {
            return false;
        }
        let v = v.as_bytes();
        match &na.repr {
            Repr::Text(t) => v.starts_with(t.as_bytes()),
            Repr::Concat(base, suffix) => match &self.nodes[*suffix as usize].repr {
                Repr::Text(t) => {
                    let at = self.nodes[*base as usize].len;
                    &v[at..at + t.len()] == t.as_bytes()
                }
                Repr::Concat(..) => true,
            },
        }
    }
}

fn spell(nodes: &[Node], id: u32, out: &mut String) {
    let mut stack = vec![id];
    while let Some(id) = stack.pop() {
        match &nodes[id as usize].repr {
            Repr::Text(t) => out.push_str(t),
            Repr::Concat(a, b) => {
                stack.push(*b);
                stack.push(*a);
            }
        }
    }
}

impl Node {
    /// The text of a node not yet added, from the nodes it is built on.
    fn spelled(&self, nodes: &[Node]) -> String {
        match &self.repr {
            Repr::Text(t) => t.to_string(),
            Repr::Concat(a, b) => {
                let mut s = String::with_capacity(self.len);
                spell(nodes, *a, &mut s);
                spell(nodes, *b, &mut s);
                s
            }
        }
    }
}

impl<S: Slots> Kv<S> {
    pub fn new(initial: &str) -> Self {
        let mut strings = Strings::default();
        strings.intern(initial);
        Kv { initial: initial.to_string(), strings: RefCell::new(strings), slots: PhantomData }
    }

    fn text(&self, id: u32) -> String {
        self.strings.borrow().text(id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Get,
    Put(u32),
    Append(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct In {
    key: u32,
    op: Op,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    Got(u32),
    Done,
    Unknown,
}

impl<S: Slots> Model for Kv<S> {
    type State = S;
    type Input = In;
    type Output = Out;

    fn init(&self) -> S {
        S::new(self.strings.borrow().keys as usize)
    }

    fn step(&self, s: &S, input: &In, output: &Out) -> Step<S> {
        let k = input.key as usize;
        match (input.op, *output) {
            (Op::Get, Out::Got(v)) if s.get(k) != v => Step::Illegal,
            (Op::Get, _) => Step::Same,
            (Op::Put(v), _) => Step::To(s.with(k, v)),
            (Op::Append(a), _) => Step::To(s.with(k, self.strings.borrow_mut().append(s.get(k), a))),
        }
    }

    fn pack(&self, s: &S) -> Option<u64> {
        s.pack()
    }

    fn read_only(&self, input: &In, _: &Out) -> bool {
        matches!(input.op, Op::Get)
    }

    fn always_legal(&self, _: &In, output: &Out) -> bool {
        *output == Out::Unknown
    }

    const LOOKS_AHEAD: bool = true;

    /// Appends only lengthen a key's string, so a get still ahead can read
    /// `v` only if the key's string now is a prefix of `v` — or if a put
    /// that may still come first starts `v` afresh.
    fn may_reach<'o>(&self, s: &S, read: (&In, &Out), between: impl Iterator<Item = (&'o In, &'o Out)>) -> bool {
        let (In { key, op: Op::Get }, Out::Got(v)) = read else { return true };
        let strings = self.strings.borrow();
        strings.may_prefix(s.get(*key as usize), *v)
            || between.into_iter().any(|(i, _)| match i.op {
                Op::Put(p) => i.key == *key && strings.may_prefix(p, *v),
                _ => false,
            })
    }

    fn heap_bytes(&self, s: &S) -> usize {
        let n = s.ids().len();
        if n > 12 {
            n * 4
        } else {
            0
        }
    }
}

fn text(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Err(format!("{what} value {other}: expected a string")),
    }
}

impl<S: Slots> HistoryModel for Kv<S> {
    const OPS: &'static str = "get, put, append";

    fn fresh(&self) -> Self {
        Kv::new(&self.initial)
    }

    fn encode(&self, values: &mut Values, call: &CallView) -> Result<(In, Out), String> {
        let done = if call.result.is_some() { Out::Done } else { Out::Unknown };
        let mut strings = self.strings.borrow_mut();
        let (op, out) = match &call.f {
            OpName::Get => (
                Op::Get,
                match call.result {
                    Some(v) => Out::Got(strings.intern(&text(v, "get result")?)),
                    None => Out::Unknown,
                },
            ),
            OpName::Put => (Op::Put(strings.intern(&text(call.invoke, "put")?)), done),
            OpName::Append => (Op::Append(strings.intern(&text(call.invoke, "append")?)), done),
            other => return Err(format!("op `{other}` is unknown to model `kv`; expected one of: {}", Self::OPS)),
        };
        let key = values.key(call.key.unwrap_or(""));
        if key as usize >= S::MAX_KEYS {
            return Err(format!(
                "key `{}` in a partition of one key: check kv per key, or with --no-partition",
                call.key.unwrap_or("")
            ));
        }
        strings.keys = strings.keys.max(key + 1);
        Ok((In { key, op }, out))
    }

    fn describe_op(&self, values: &Values, input: &In, output: &Out) -> String {
        let key = values.key_name(input.key);
        let s = |id: u32| show(&Value::String(self.text(id)));
        match (input.op, output) {
            (Op::Get, Out::Got(v)) => format!("get {key} → {}", s(*v)),
            (Op::Get, _) => format!("get {key} → ?"),
            (Op::Put(v), _) => format!("put {key} {}", s(v)),
            (Op::Append(a), _) => format!("append {key} {}", s(a)),
        }
    }

    fn describe_state(&self, values: &Values, st: &S) -> String {
        let parts: Vec<String> = st
            .ids()
            .into_iter()
            .enumerate()
            .map(|(k, v)| format!("{}={}", values.key_name(k as u32), show(&Value::String(self.text(v)))))
            .collect();
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `may_reach` may answer true when it cannot tell, never false when
    /// the read can still be met.
    #[test]
    fn a_get_ahead_rules_out_only_states_it_cannot_extend() {
        let kv = KvKey::new("");
        let id = |s: &str| kv.strings.borrow_mut().intern(s);
        let (a, b, c, ab, abc, p) = (id("a"), id("b"), id("c"), id("ab"), id("abc"), id("pa"));
        let append = |s: u32, x: u32| match kv.step(&s, &In { key: 0, op: Op::Append(x) }, &Out::Done) {
            Step::To(s) => s,
            _ => unreachable!("an append is always legal"),
        };
        let get = |v: u32| (In { key: 0, op: Op::Get }, Out::Got(v));
        let put = (In { key: 0, op: Op::Put(p) }, Out::Done);
        let appended_a = append(0, a);
        let ac = append(appended_a, c);
        let reach = |s: u32, read: u32, between: &[(In, Out)]| {
            let (i, o) = get(read);
            kv.may_reach(&s, (&i, &o), between.iter().map(|(i, o)| (i, o)))
        };

        assert!(reach(appended_a, abc, &[]), "a is a prefix of abc");
        assert!(reach(append(appended_a, b), abc, &[]), "so is a+b");
        assert!(!reach(ac, abc, &[]), "a+c is not");
        assert!(!reach(ac, ab, &[]), "nor a prefix of a shorter string");
        assert!(!reach(ab, a, &[]), "a longer string never shrinks");
        let pab = id("pab");
        assert!(reach(ac, pab, &[put]), "a put of pa may come first and start pab afresh");
        assert!(!reach(ac, abc, &[put]), "but a put of pa cannot start abc");
        let other_key = (In { key: 1, op: Op::Put(p) }, Out::Done);
        assert!(!reach(ac, pab, &[other_key]), "a put on another key does not help");
        assert!(reach(ac, ac, &[]), "a state reads itself");
    }
}
