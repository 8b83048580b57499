//! The linearizability search: Wing & Gong's algorithm with Lowe's memo
//! cache, in the shape Porcupine made popular.
//!
//! The history becomes a doubly linked list of call and return events in
//! real-time order. The search walks the list from the front: at a *call*
//! it tries to linearize that operation next (legal per the model, and the
//! resulting `(set of linearized ops, state)` never seen before); if so it
//! lifts the operation out of the list and starts again from the front. At a
//! *return* it is stuck — that operation should have taken effect already —
//! so it backtracks the most recent choice. The history is linearizable
//! exactly when the list empties.
//!
//! Speed comes from three things: states are small interned values; the
//! linearized set's hash is updated in O(1) by XOR-ing one random word per
//! operation (Zobrist hashing) instead of rehashing the bitset; and the cache
//! stores its bitsets in one flat arena, so a step allocates nothing.
//!
//! Operations whose outcome is unknown return "at infinity": the search may
//! place them anywhere after their call, including after everything else,
//! which is how "it never happened" is expressed.

use crate::models::{fx_hash, Model, Step};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One operation of a partition, encoded for a model.
#[derive(Clone, Debug)]
pub struct Operation<I, O> {
    pub call: u64,
    /// `u64::MAX` when the operation never returned (its outcome is unknown).
    pub ret: u64,
    pub input: I,
    pub output: O,
}

/// A memory budget shared by every partition searched at once.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    pub fn new(limit_bytes: usize) -> Self {
        MemoryBudget { limit: limit_bytes, used: AtomicUsize::new(0) }
    }
    pub fn limit(&self) -> usize {
        self.limit
    }
    /// Takes `bytes` from the budget; false when that would exceed it.
    fn take(&self, bytes: usize) -> bool {
        self.used.fetch_add(bytes, Ordering::Relaxed) + bytes <= self.limit
    }
    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// When to give up with `unknown`.
pub struct Limits<'a> {
    pub deadline: Option<Instant>,
    pub memory: &'a MemoryBudget,
    /// Set by the caller to stop the search early (e.g. Ctrl-C).
    pub cancel: Option<&'a AtomicBool>,
    /// Give up after this many search steps (`None`: no such limit).
    pub max_steps: Option<u64>,
}

/// The reason given when `max_steps` ran out.
pub const OUT_OF_STEPS: &str = "step budget used up";

/// A longest prefix the search could linearize, and the operation it could
/// not place after it.
#[derive(Clone, Debug)]
pub struct Partial<S> {
    /// Indices into the partition's operations, in linearization order.
    pub order: Vec<usize>,
    /// The operation whose return came before it could be linearized.
    pub stuck: usize,
    /// The model state after `order`.
    pub state: S,
}

#[derive(Clone, Debug)]
pub enum Outcome<S> {
    /// One witness order over all operations.
    Linearizable {
        order: Vec<usize>,
    },
    NotLinearizable {
        partials: Vec<Partial<S>>,
    },
    Unknown {
        reason: String,
        partials: Vec<Partial<S>>,
    },
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Loop iterations of the search.
    pub steps: u64,
    pub cache_entries: usize,
    /// Approximate bytes the cache held at its peak.
    pub cache_bytes: usize,
}

/// How many distinct longest partial linearizations to keep.
const MAX_PARTIALS: usize = 4;
const NONE: u32 = u32::MAX;

/// Visited `(linearized set, state)` pairs, in one open-addressing table.
///
/// Each slot holds the pair's hash, the state when the model can pack it
/// into a word, and the bitset — inline, so a lookup usually touches one
/// cache line. States that do not pack sit in a parallel array. This layout
/// matters: the search is bound by memory latency, not arithmetic.
struct Cache<S> {
    /// `stride` words per slot: hash (0 = empty), packed state, bitset.
    slots: Vec<u64>,
    /// Only for models whose states do not pack into a word.
    states: Vec<Option<S>>,
    packed: bool,
    stride: usize,
    mask: usize,
    len: usize,
}

impl<S: Clone + Eq> Cache<S> {
    fn new(words: usize, packed: bool) -> Self {
        let cap = 1024;
        let stride = words + 2;
        let states = if packed { Vec::new() } else { vec![None; cap] };
        Cache { slots: vec![0; cap * stride], states, packed, stride, mask: cap - 1, len: 0 }
    }

    fn bytes(&self) -> usize {
        self.slots.len() * 8 + self.states.len() * std::mem::size_of::<Option<S>>()
    }

    /// Inserts the pair; false when it was already there.
    fn insert(&mut self, key: u64, bits: &[u64], state: &S, packed: u64) -> bool {
        if (self.len + 1) * 4 > (self.mask + 1) * 3 {
            self.grow();
        }
        let key = key | 1;
        let mut i = (key >> 11) as usize & self.mask;
        loop {
            let base = i * self.stride;
            let k = self.slots[base];
            if k == 0 {
                self.slots[base] = key;
                self.slots[base + 1] = packed;
                self.slots[base + 2..base + self.stride].copy_from_slice(bits);
                if !self.packed {
                    self.states[i] = Some(state.clone());
                }
                self.len += 1;
                return true;
            }
            if k == key
                && self.slots[base + 1] == packed
                && self.slots[base + 2..base + self.stride] == *bits
                && (self.packed || self.states[i].as_ref() == Some(state))
            {
                return false;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self) {
        let cap = (self.mask + 1) * 2;
        let old_slots = std::mem::replace(&mut self.slots, vec![0; cap * self.stride]);
        let mut old_states = std::mem::take(&mut self.states);
        if !self.packed {
            self.states = vec![None; cap];
        }
        self.mask = cap - 1;
        for (j, old) in old_slots.chunks_exact(self.stride).enumerate() {
            let key = old[0];
            if key == 0 {
                continue;
            }
            let mut i = (key >> 11) as usize & self.mask;
            while self.slots[i * self.stride] != 0 {
                i = (i + 1) & self.mask;
            }
            self.slots[i * self.stride..(i + 1) * self.stride].copy_from_slice(old);
            if !self.packed {
                self.states[i] = old_states[j].take();
            }
        }
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Decides whether `ops` (one partition) are linearizable under `model`.
pub fn search<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    limits: &Limits,
) -> (Outcome<M::State>, Stats) {
    let n = ops.len();
    let mut stats = Stats::default();
    if n == 0 {
        return (Outcome::Linearizable { order: Vec::new() }, stats);
    }

    // Events in real-time order; at equal times calls come first, so that
    // touching intervals count as concurrent (the conservative reading).
    let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.call, 0, i as u32));
        events.push((op.ret, 1, i as u32));
    }
    events.sort_unstable();

    // The linked list: node 2i is op i's call, 2i+1 its return.
    let head = 2 * n as u32;
    let tail = head + 1;
    let mut next = vec![NONE; 2 * n + 2];
    let mut prev = vec![NONE; 2 * n + 2];
    let mut last = head;
    for &(_, kind, op) in &events {
        let node = 2 * op + kind as u32;
        next[last as usize] = node;
        prev[node as usize] = last;
        last = node;
    }
    next[last as usize] = tail;
    prev[tail as usize] = last;

    let lift = |next: &mut [u32], prev: &mut [u32], op: u32| {
        for node in [2 * op, 2 * op + 1] {
            let (p, nx) = (prev[node as usize], next[node as usize]);
            next[p as usize] = nx;
            prev[nx as usize] = p;
        }
    };
    // Reinserts in the reverse order of `lift`, so the saved links are exact.
    let unlift = |next: &mut [u32], prev: &mut [u32], op: u32| {
        for node in [2 * op + 1, 2 * op] {
            let (p, nx) = (prev[node as usize], next[node as usize]);
            next[p as usize] = node;
            prev[nx as usize] = node;
        }
    };

    // Identical operations that never return are interchangeable: of two
    // such twins, the one invoked first can always be linearized in the
    // other's place. So an op may be chosen only after its earlier twin —
    // which prunes the symmetric orders that timed-out writes multiply.
    let mut twin = vec![NONE; n];
    let unknown: Vec<usize> = (0..n).filter(|&i| ops[i].ret == u64::MAX).collect();
    if unknown.len() <= 4096 {
        for (a, &x) in unknown.iter().enumerate() {
            let earlier = unknown[..a].iter().rev().filter(|&&y| ops[y].call <= ops[x].call);
            if let Some(&y) =
                earlier.into_iter().find(|&&y| ops[y].input == ops[x].input && ops[y].output == ops[x].output)
            {
                twin[x] = y as u32;
            }
        }
    }

    let zobrist: Vec<u64> = (0..n as u64).map(|i| splitmix(i ^ 0x5EED)).collect();
    let words = n.div_ceil(64);
    let mut bits = vec![0u64; words];
    let mut hash = 0u64;
    let mut cache: Cache<M::State> = Cache::new(words, model.pack(&model.init()).is_some());
    let mut charged = 0usize; // bytes taken from the shared budget
    let mut pending = cache.bytes(); // bytes used but not yet taken

    let mut state = model.init();
    let mut calls: Vec<(u32, Option<M::State>, bool)> = Vec::with_capacity(n);
    let mut partials: Vec<Partial<M::State>> = Vec::new();
    let mut best_depth = 0usize;
    let mut entry = next[head as usize];

    let give_up = |reason: String, charged: usize, partials, stats: Stats| {
        limits.memory.give_back(charged);
        (Outcome::Unknown { reason, partials }, stats)
    };

    while next[head as usize] != tail {
        stats.steps += 1;
        if stats.steps & 0x3FF == 0 {
            if pending > 0 {
                let ok = limits.memory.take(pending);
                charged += pending;
                pending = 0;
                if !ok {
                    stats.cache_bytes = charged;
                    let mib = limits.memory.limit() >> 20;
                    return give_up(format!("memory cap of {mib} MiB reached"), charged, partials, stats);
                }
            }
            if let Some(d) = limits.deadline {
                if Instant::now() >= d {
                    stats.cache_bytes = charged;
                    let reason = format!("deadline reached after {} search steps", stats.steps);
                    return give_up(reason, charged, partials, stats);
                }
            }
            if limits.max_steps.is_some_and(|m| stats.steps >= m) {
                stats.cache_bytes = charged;
                return give_up(OUT_OF_STEPS.into(), charged, partials, stats);
            }
            if limits.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                stats.cache_bytes = charged;
                return give_up(
                    "stopped early: the verdict was already decided, or the check was cancelled".into(),
                    charged,
                    partials,
                    stats,
                );
            }
        }

        let op = entry >> 1;
        if entry & 1 == 0 {
            // A call: try to linearize this operation next.
            let t = twin[op as usize];
            if t != NONE && bits[(t / 64) as usize] & (1u64 << (t % 64)) == 0 {
                entry = next[entry as usize];
                continue;
            }
            let o = &ops[op as usize];
            let new_state = match model.step(&state, &o.input, &o.output) {
                Step::Illegal => None,
                Step::Same => Some(None),
                Step::To(s) => Some(Some(s)),
            };
            let Some(new_state) = new_state else {
                entry = next[entry as usize];
                continue;
            };
            let read_only = model.read_only(&o.input, &o.output);
            let (w, b) = ((op / 64) as usize, 1u64 << (op % 64));
            bits[w] |= b;
            let h = hash ^ zobrist[op as usize];
            let s = new_state.as_ref().unwrap_or(&state);
            let key = h ^ fx_hash(s).rotate_left(29);
            let before = cache.bytes();
            let inserted = cache.insert(key, &bits, s, model.pack(s).unwrap_or(0));
            pending += cache.bytes() - before;
            if inserted {
                pending += model.heap_bytes(s);
                let old = new_state.map(|s| std::mem::replace(&mut state, s));
                calls.push((op, old, read_only));
                hash = h;
                lift(&mut next, &mut prev, op);
                entry = next[head as usize];
                continue;
            }
            bits[w] &= !b;
            if !read_only {
                entry = next[entry as usize];
                continue;
            }
            // A legal read-only op whose configuration already failed: see
            // below why nothing else at this level can succeed either.
        } else {
            // A return: this operation had to be linearized by now. Remember
            // how far we got, then undo the latest choice.
            let depth = calls.len();
            if depth > best_depth {
                best_depth = depth;
                partials.clear();
            }
            if depth == best_depth && partials.len() < MAX_PARTIALS && !partials.iter().any(|p| p.stuck == op as usize)
            {
                partials.push(Partial {
                    order: calls.iter().map(|c| c.0 as usize).collect(),
                    stuck: op as usize,
                    state: state.clone(),
                });
            }
        }

        // Backtrack. A read-only op (one that changes no state it is legal
        // in) that was legal when chosen never needs an alternative: any
        // linearization that places it later can move it to this point —
        // everything that had to precede it is already linearized, and
        // taking it out of its later place changes no state. So when the
        // branch that chose it fails, so does its whole level, and we keep
        // undoing until we undo a choice that did change something.
        loop {
            let Some((top, old, read_only)) = calls.pop() else {
                stats.cache_entries = cache.len;
                stats.cache_bytes = charged + pending;
                limits.memory.give_back(charged);
                return (Outcome::NotLinearizable { partials }, stats);
            };
            if let Some(s) = old {
                state = s;
            }
            bits[(top / 64) as usize] &= !(1u64 << (top % 64));
            hash ^= zobrist[top as usize];
            unlift(&mut next, &mut prev, top);
            if !read_only {
                entry = next[2 * top as usize];
                break;
            }
        }
    }
    stats.cache_entries = cache.len;
    stats.cache_bytes = charged + pending;
    limits.memory.give_back(charged);
    (Outcome::Linearizable { order: calls.iter().map(|c| c.0 as usize).collect() }, stats)
}

/// A deadline `timeout` from now, or none.
pub fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}
