//! The linearizability search: Wing & Gong's algorithm with Lowe's memo
//! cache, in the shape Porcupine made popular.
//!
//! The history becomes a doubly linked list of call and return events in
//! real-time order. The search walks the list from the front: at a *call*
//! it tries to linearize that operation next (legal per the model, and the
//! resulting `(set of linearized ops, state)` never seen before); if so it
//! lifts the operation out of the list and starts again from the front. At a
//! *return* it is stuck — that operation should have taken effect already —
//! so it notes how far it got and backtracks the most recent choice. The
//! history is linearizable exactly when the list empties, and not when there
//! is no choice left to undo.
//!
//! The code reads in that order: `Search::run` is the loop, and its
//! steps are `Search::try_call` (with `Search::read_ruled_out`, below),
//! `Search::backtrack`, `Longest::stuck` (the evidence) and
//! `Search::limit_reached`.
//!
//! Speed comes from three things: states are small interned values; the
//! linearized set's hash is updated in O(1) by XOR-ing one random word per
//! operation (Zobrist hashing) instead of rehashing the bitset; and the cache
//! stores its bitsets in one flat arena, so a step allocates nothing.
//!
//! Operations whose outcome is unknown return "at infinity": the search may
//! place them anywhere after their call, including after everything else,
//! which is how "it never happened" is expressed.
//!
//! Beyond Porcupine, such an operation is *deferred* when the model says it
//! is legal in every state (`Model::always_legal`). It never blocks the
//! walk — it precedes nothing in real time — so the search tries it only
//! after the completed operations that could go next, and stops as soon as
//! every completed operation is placed (the deferred ones left over go
//! last). And a configuration that reached the same completed operations
//! and state with a *subset* of the deferred ones already placed explored
//! everything this one could: whatever follows here can follow there, with
//! the extra deferred operations moved to the end. The cache therefore
//! prunes by that subset order, not only by equality. On Jepsen's etcd logs,
//! with a dozen timed-out writes each, this is where most of the search went.
//!
//! And a model may look ahead (`Model::may_reach`): before an op that
//! changes the state is placed, the engine finds the first read still
//! waiting in the list and asks whether the new state, followed by some of
//! the ops called before that read returned, can still make it legal. kv
//! answers from its strings: appends only lengthen them, so a state that is
//! not a prefix of what the read saw is dead unless a put may come between.
//! Without this, the search tries every order of concurrent appends until
//! each meets the read that rules it out; on Porcupine's c50-ok it took the
//! search from about 1,080,000 steps to 29,000.
//!
//! Why pruning stays exact, even by a configuration still being explored:
//! suppose the search fails although some configuration it visited could
//! be completed, and take one, C, with the shortest completion σ. The
//! search tried σ's first step from C (the walk tries every op that may go
//! next), so it either visited the result, or pruned it because a visited
//! configuration covers it — and either can be completed in one step fewer
//! than C: a contradiction. (A read-only op that ends its level, see
//! `Search::backtrack`, fits too: it can be moved to the front of σ. And a
//! configuration the model's look-ahead rules out has no completion at all,
//! so it cannot be C's successor on σ.)

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

/// A prefix the search linearized, and an operation it then got stuck on:
/// one whose return came before it could be placed. The search keeps the
/// longest such prefix per stuck operation (see `Longest`).
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
    /// `partials`: for up to [`MAX_PARTIALS`] distinct stuck operations,
    /// the longest prefix seen stuck on each, longest first.
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

/// How many stuck operations keep their longest prefix: enough to show
/// that a failure has more than one face, few enough that the evidence of a
/// long history stays small.
pub const MAX_PARTIALS: usize = 8;
/// How often (in steps) `Search::limit_reached` runs: reading the clock and
/// the shared memory counter on every step would cost more than the step.
const LIMITS_EVERY: u64 = 1024;
const NONE: u32 = u32::MAX;

/// Decides whether `ops` (one partition) are linearizable under `model`.
pub fn search<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    limits: &Limits,
) -> (Outcome<M::State>, Stats) {
    if ops.is_empty() {
        return (Outcome::Linearizable { order: Vec::new() }, Stats::default());
    }
    let mut search = Search::new(model, ops, limits);
    let outcome = search.run();
    (outcome, search.stats())
}

/// One choice on the search stack: an operation linearized next, and what
/// undoing it takes.
struct Frame<S> {
    op: u32,
    /// For a deferred op, the return event that bounded the walk when it was
    /// chosen (see [`At::Deferred`]); `NONE` for any other op.
    boundary: u32,
    /// The state before `op`; `None` when `op` left it unchanged, which
    /// saves a clone on every read.
    undo: Option<S>,
    /// See [`Search::backtrack`] for why this matters.
    read_only: bool,
}

/// What trying an operation's call led to.
enum Tried {
    /// Linearized: start again from the front of the list.
    Placed,
    /// Not now (illegal, its twin first, or already explored): try the
    /// next event.
    Skipped,
    /// A listed read-only op, legal here, whose configuration already
    /// failed: nothing else at this level can succeed either, so backtrack.
    DeadEnd,
}

/// Where the walk is.
#[derive(Clone, Copy)]
enum At {
    /// At an event of the list of operations that are not deferred.
    Listed(Event),
    /// Past the list's first return, `boundary`: trying the deferred ops,
    /// in call order, that were called before it.
    Deferred { op: u32, boundary: Event },
}

/// The search's whole state, so that each step below is a method that
/// names what it does.
struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [Operation<M::Input, M::Output>],
    limits: &'a Limits<'a>,
    /// The events of the ops that are not deferred, not yet lifted out, in
    /// real-time order.
    events: Events,
    /// The deferred ops not yet linearized, in call order.
    deferred: Deferred,
    /// How many ops of `events` are not linearized yet: the search has
    /// succeeded when none is left.
    listed_left: usize,
    /// Per op, the earlier twin it must wait for, or `NONE` (see [`twins`]).
    twins: Vec<u32>,
    linearized: Linearized,
    /// `(linearized, state)` configurations already explored.
    cache: Cache<M::State>,
    /// Heap bytes of the states in the cache, for the memory cap.
    heap: usize,
    /// Bytes taken from the shared budget so far; given back on drop.
    taken: usize,
    state: M::State,
    stack: Vec<Frame<M::State>>,
    /// Scratch for `read_ruled_out`, kept to save an allocation a step.
    between: Vec<u32>,
    longest: Longest<M::State>,
    steps: u64,
}

impl<'a, M: Model> Search<'a, M> {
    fn new(model: &'a M, ops: &'a [Operation<M::Input, M::Output>], limits: &'a Limits<'a>) -> Self {
        let init = model.init();
        let deferred: Vec<bool> =
            ops.iter().map(|o| o.ret == u64::MAX && model.always_legal(&o.input, &o.output)).collect();
        let linearized = Linearized::new(&deferred);
        let listed_left = deferred.iter().filter(|&&d| !d).count();
        Search {
            model,
            ops,
            limits,
            events: Events::new(ops, &deferred),
            deferred: Deferred::new(ops, &deferred),
            listed_left,
            twins: twins(ops),
            cache: Cache::new(linearized.listed_words, linearized.bits.len(), model.pack(&init).is_some()),
            linearized,
            heap: 0,
            taken: 0,
            state: init,
            stack: Vec::with_capacity(ops.len()),
            between: Vec::new(),
            longest: Longest::new(ops.len()),
            steps: 0,
        }
    }

    /// Walks the list of events from the front: at a call, try to linearize
    /// that operation next; at a return, that operation should already have
    /// been linearized — unless a deferred op placed first helps, so try
    /// those; when none does, the search is stuck here: remember how far it
    /// got, and backtrack.
    fn run(&mut self) -> Outcome<M::State> {
        let mut at = At::Listed(self.events.first());
        while self.listed_left > 0 {
            self.steps += 1;
            if self.steps.is_multiple_of(LIMITS_EVERY) {
                if let Some(reason) = self.limit_reached() {
                    return Outcome::Unknown { reason, partials: self.longest.take() };
                }
            }
            let tried = match at {
                At::Listed(event) if event.is_call() => self.try_call(event.op(), NONE),
                At::Listed(boundary) => {
                    at = At::Deferred { op: self.deferred.first(), boundary };
                    continue;
                }
                At::Deferred { op, boundary } if self.called_before(op, boundary) => self.try_call(op, boundary.0),
                At::Deferred { boundary, .. } => {
                    self.longest.stuck(boundary.op(), &self.stack, None, &self.state);
                    Tried::DeadEnd
                }
            };
            match (tried, at) {
                (Tried::Placed, _) => {
                    at = At::Listed(self.events.first());
                    continue;
                }
                (Tried::Skipped, At::Listed(event)) => {
                    at = At::Listed(self.events.after(event));
                    continue;
                }
                (Tried::Skipped, At::Deferred { op, boundary }) => {
                    at = At::Deferred { op: self.deferred.after(op), boundary };
                    continue;
                }
                (Tried::DeadEnd, _) => {}
            }
            match self.backtrack() {
                Some(resume) => at = resume,
                None => return Outcome::NotLinearizable { partials: self.longest.take() },
            }
        }
        // The deferred ops left over are legal anywhere: last, in call order.
        let mut order: Vec<usize> = self.stack.iter().map(|f| f.op as usize).collect();
        order.extend(self.deferred.remaining().map(|op| op as usize));
        Outcome::Linearizable { order }
    }

    /// Whether deferred `op` (or the end of their list) was called before
    /// the return `boundary`; calls first at equal times, as in [`Events`].
    #[inline]
    fn called_before(&self, op: u32, boundary: Event) -> bool {
        op != self.deferred.tail && self.ops[op as usize].call <= self.ops[boundary.op() as usize].ret
    }

    /// Tries to linearize `op` next: legal in the current state, and the
    /// configuration it leads to not explored before.
    /// `boundary` is the return that bounds a deferred op's walk, or `NONE`.
    fn try_call(&mut self, op: u32, boundary: u32) -> Tried {
        let twin = self.twins[op as usize];
        if twin != NONE && !self.linearized.contains(twin) {
            return Tried::Skipped;
        }
        let o = &self.ops[op as usize];
        let next = match self.model.step(&self.state, &o.input, &o.output) {
            Step::Illegal => return Tried::Skipped,
            Step::Same => None,
            Step::To(s) => Some(s),
        };
        if M::LOOKS_AHEAD {
            if let Some(s) = &next {
                if let Some(read) = self.read_ruled_out(op, s) {
                    // What the search would have found at that read's
                    // return, had it gone on: the evidence names the read.
                    self.longest.stuck(read, &self.stack, Some(op), s);
                    return Tried::Skipped;
                }
            }
        }
        // Only a listed op's failure condemns its level (see `backtrack`): a
        // deferred one need not be in a linearization at all, so the
        // argument that moves it to the front does not apply.
        let read_only = boundary == NONE && self.model.read_only(&o.input, &o.output);

        self.linearized.insert(op);
        let after = next.as_ref().unwrap_or(&self.state);
        let key = self.linearized.hash ^ fx_hash(after).rotate_left(29);
        if !self.cache.insert(key, &self.linearized.bits, after, self.model.pack(after).unwrap_or(0)) {
            self.linearized.remove(op);
            return if read_only { Tried::DeadEnd } else { Tried::Skipped };
        }
        self.heap += self.model.heap_bytes(after);

        let undo = next.map(|s| std::mem::replace(&mut self.state, s));
        self.stack.push(Frame { op, boundary, undo, read_only });
        if boundary == NONE {
            self.events.lift(op);
            self.listed_left -= 1;
        } else {
            self.deferred.lift(op);
        }
        Tried::Placed
    }

    /// The first read still waiting in the list (the first return of a
    /// read-only op), when the model rules out that it can be legal after
    /// `state`, which placing `op` would lead to. The ops that may go
    /// between are the ones called before that read returned, `op` aside.
    fn read_ruled_out(&mut self, op: u32, state: &M::State) -> Option<u32> {
        let mut between = std::mem::take(&mut self.between);
        between.clear();
        let ruled_out = self.first_read(op, &mut between).filter(|&read| {
            let (r, ops) = (&self.ops[read as usize], self.ops);
            let between = between.iter().map(|&i| (&ops[i as usize].input, &ops[i as usize].output));
            !self.model.may_reach(state, (&r.input, &r.output), between)
        });
        self.between = between;
        ruled_out
    }

    /// The first read still waiting in the list, other than `op`, with the
    /// ops that may go before it (`op` aside) pushed onto `between`.
    fn first_read(&self, op: u32, between: &mut Vec<u32>) -> Option<u32> {
        let mut event = self.events.first();
        let read = loop {
            if event.0 >= self.events.head {
                return None;
            }
            let o = event.op();
            if event.is_call() {
                if o != op {
                    between.push(o);
                }
            } else if o != op && self.model.read_only(&self.ops[o as usize].input, &self.ops[o as usize].output) {
                break o;
            }
            event = self.events.after(event);
        };
        let ret = self.ops[read as usize].ret;
        let mut d = self.deferred.first();
        while d != self.deferred.tail && self.ops[d as usize].call <= ret {
            if d != op {
                between.push(d);
            }
            d = self.deferred.after(d);
        }
        Some(read)
    }

    /// Undoes the latest choice and returns the place after it, where the
    /// search tries the next alternative; `None` when there is no choice
    /// left, i.e. the history is not linearizable.
    ///
    /// A read-only op (one that changes no state it is legal in) that was
    /// legal when chosen never needs an alternative: any linearization that
    /// places it later can move it to this point — everything that had to
    /// precede it is already linearized, and taking it out of its later
    /// place changes no state. So when the branch that chose it fails, so
    /// does its whole level, and we keep undoing until we undo a choice that
    /// did change something.
    fn backtrack(&mut self) -> Option<At> {
        loop {
            let Frame { op, boundary, undo, read_only } = self.stack.pop()?;
            if let Some(s) = undo {
                self.state = s;
            }
            self.linearized.remove(op);
            let resume = if boundary == NONE {
                self.events.unlift(op);
                self.listed_left += 1;
                At::Listed(self.events.after(Event::call(op)))
            } else {
                self.deferred.unlift(op);
                At::Deferred { op: self.deferred.after(op), boundary: Event(boundary) }
            };
            if !read_only {
                return Some(resume);
            }
        }
    }

    /// Why to give up with `unknown` now, if any: the memory cap, the
    /// deadline, the step budget, or the cancel flag.
    #[cold]
    fn limit_reached(&mut self) -> Option<String> {
        // The cache's growth is taken from the shared budget only here, so
        // the hot loop never touches the shared counter.
        let used = self.cache.bytes() + self.heap;
        if used > self.taken {
            let within = self.limits.memory.take(used - self.taken);
            self.taken = used;
            if !within {
                return Some(format!("memory cap of {} MiB reached", self.limits.memory.limit() >> 20));
            }
        }
        if self.limits.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(format!("deadline reached after {} search steps", self.steps));
        }
        if self.limits.max_steps.is_some_and(|m| self.steps >= m) {
            return Some(OUT_OF_STEPS.into());
        }
        if self.limits.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Some("stopped early: the verdict was already decided, or the check was cancelled".into());
        }
        None
    }

    fn stats(&self) -> Stats {
        Stats { steps: self.steps, cache_entries: self.cache.len, cache_bytes: self.cache.bytes() + self.heap }
    }
}

impl<M: Model> Drop for Search<'_, M> {
    /// The budget is shared by the partitions searched at once; what this
    /// one took is free again whichever way it ended.
    fn drop(&mut self) {
        self.limits.memory.give_back(self.taken);
    }
}

/// A node of the event list: `2·op` is `op`'s call, `2·op + 1` its return.
#[derive(Clone, Copy)]
struct Event(u32);

impl Event {
    #[inline]
    fn call(op: u32) -> Event {
        Event(2 * op)
    }
    #[inline]
    fn is_call(self) -> bool {
        self.0 & 1 == 0
    }
    #[inline]
    fn op(self) -> u32 {
        self.0 >> 1
    }
}

/// The events not yet lifted out, as a doubly linked list in real-time
/// order between two sentinels, so that lifting an operation out and putting
/// it back are O(1).
struct Events {
    next: Vec<u32>,
    prev: Vec<u32>,
    head: u32,
}

impl Events {
    /// The list of the ops that are not `deferred`.
    fn new<I, O>(ops: &[Operation<I, O>], deferred: &[bool]) -> Self {
        let n = ops.len();
        // At equal times calls come first, so that touching intervals count
        // as concurrent (the conservative reading).
        let mut order: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * n);
        for (i, op) in ops.iter().enumerate().filter(|(i, _)| !deferred[*i]) {
            order.push((op.call, 0, i as u32));
            order.push((op.ret, 1, i as u32));
        }
        order.sort_unstable();

        let (head, tail) = (2 * n as u32, 2 * n as u32 + 1);
        let mut next = vec![NONE; 2 * n + 2];
        let mut prev = vec![NONE; 2 * n + 2];
        let mut last = head;
        for (_, kind, op) in order {
            let node = 2 * op + kind as u32;
            next[last as usize] = node;
            prev[node as usize] = last;
            last = node;
        }
        next[last as usize] = tail;
        prev[tail as usize] = last;
        Events { next, prev, head }
    }

    #[inline]
    fn first(&self) -> Event {
        Event(self.next[self.head as usize])
    }

    #[inline]
    fn after(&self, event: Event) -> Event {
        Event(self.next[event.0 as usize])
    }

    /// Takes `op`'s call and return out of the list. Each keeps its own
    /// links, which `unlift` uses to put it back.
    #[inline]
    fn lift(&mut self, op: u32) {
        for node in [2 * op, 2 * op + 1] {
            let (p, n) = (self.prev[node as usize], self.next[node as usize]);
            self.next[p as usize] = n;
            self.prev[n as usize] = p;
        }
    }

    /// Puts `op` back, in the reverse order of `lift`, so the saved links
    /// are exact.
    #[inline]
    fn unlift(&mut self, op: u32) {
        for node in [2 * op + 1, 2 * op] {
            let (p, n) = (self.prev[node as usize], self.next[node as usize]);
            self.next[p as usize] = node;
            self.prev[n as usize] = node;
        }
    }
}

/// The deferred ops not yet linearized, as a doubly linked list in call
/// order between two sentinels (`n` and `n + 1`).
struct Deferred {
    next: Vec<u32>,
    prev: Vec<u32>,
    tail: u32,
}

impl Deferred {
    fn new<I, O>(ops: &[Operation<I, O>], deferred: &[bool]) -> Self {
        let n = ops.len() as u32;
        let mut order: Vec<(u64, u32)> =
            (0..n).filter(|&i| deferred[i as usize]).map(|i| (ops[i as usize].call, i)).collect();
        order.sort_unstable();
        let (head, tail) = (n, n + 1);
        let mut next = vec![NONE; n as usize + 2];
        let mut prev = vec![NONE; n as usize + 2];
        let mut last = head;
        for (_, op) in order {
            next[last as usize] = op;
            prev[op as usize] = last;
            last = op;
        }
        next[last as usize] = tail;
        prev[tail as usize] = last;
        Deferred { next, prev, tail }
    }

    #[inline]
    fn first(&self) -> u32 {
        // The head sentinel is `tail - 1`.
        self.next[self.tail as usize - 1]
    }

    #[inline]
    fn after(&self, op: u32) -> u32 {
        self.next[op as usize]
    }

    #[inline]
    fn lift(&mut self, op: u32) {
        let (p, n) = (self.prev[op as usize], self.next[op as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    #[inline]
    fn unlift(&mut self, op: u32) {
        let (p, n) = (self.prev[op as usize], self.next[op as usize]);
        self.next[p as usize] = op;
        self.prev[n as usize] = op;
    }

    fn remaining(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(Some(self.first()), |&op| Some(self.after(op))).take_while(|&op| op != self.tail)
    }
}

/// Identical operations that never return are interchangeable: of two such
/// twins, the one invoked first can always be linearized in the other's
/// place. So an op may be chosen only after its earlier twin — which prunes
/// the symmetric orders that timed-out writes multiply. Returns each op's
/// earlier twin, or `NONE`.
fn twins<I: PartialEq, O: PartialEq>(ops: &[Operation<I, O>]) -> Vec<u32> {
    let mut twins = vec![NONE; ops.len()];
    let unknown: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret == u64::MAX).collect();
    // The pairing is quadratic; past this many the pruning is not worth it.
    if unknown.len() > 4096 {
        return twins;
    }
    for (a, &x) in unknown.iter().enumerate() {
        let earlier = unknown[..a].iter().rev().filter(|&&y| ops[y].call <= ops[x].call);
        if let Some(&y) = earlier.into_iter().find(|&&y| ops[y].input == ops[x].input && ops[y].output == ops[x].output)
        {
            twins[x] = y as u32;
        }
    }
    twins
}

/// The set of linearized operations as a bitset, with a hash of it kept up
/// to date in O(1): the XOR of one random word per member (Zobrist hashing).
///
/// The listed ops' bits come first and the deferred ops' bits after them,
/// in words of their own, so that the cache can compare the first part for
/// equality and the second for inclusion. Only the listed ops are hashed:
/// configurations that differ only in deferred ops meet in one hash chain.
struct Linearized {
    bits: Vec<u64>,
    /// Words of `bits` that hold the listed ops.
    listed_words: usize,
    /// Per op, its bit in `bits`.
    bit: Vec<u32>,
    hash: u64,
    zobrist: Vec<u64>,
}

impl Linearized {
    fn new(deferred: &[bool]) -> Self {
        let listed = deferred.iter().filter(|&&d| !d).count();
        let listed_words = listed.div_ceil(64);
        let (mut next_listed, mut next_deferred) = (0u32, 64 * listed_words as u32);
        let bit: Vec<u32> = deferred
            .iter()
            .map(|&d| {
                let slot = if d { &mut next_deferred } else { &mut next_listed };
                *slot += 1;
                *slot - 1
            })
            .collect();
        let zobrist =
            (0..deferred.len() as u64).map(|i| if deferred[i as usize] { 0 } else { splitmix(i ^ 0x5EED) }).collect();
        let words = listed_words + (deferred.len() - listed).div_ceil(64);
        Linearized { bits: vec![0; words], listed_words, bit, hash: 0, zobrist }
    }

    #[inline]
    fn contains(&self, op: u32) -> bool {
        let b = self.bit[op as usize];
        self.bits[(b / 64) as usize] & (1 << (b % 64)) != 0
    }

    #[inline]
    fn insert(&mut self, op: u32) {
        let b = self.bit[op as usize];
        self.bits[(b / 64) as usize] |= 1 << (b % 64);
        self.hash ^= self.zobrist[op as usize];
    }

    #[inline]
    fn remove(&mut self, op: u32) {
        let b = self.bit[op as usize];
        self.bits[(b / 64) as usize] &= !(1 << (b % 64));
        self.hash ^= self.zobrist[op as usize];
    }
}

/// The evidence of a failure, as Porcupine keeps it: for each operation the
/// search got stuck on, the longest prefix it had linearized at that moment.
/// Each such pair is a different way the history fails to explain itself.
///
/// Only the [`MAX_PARTIALS`] stuck operations with the longest prefixes are
/// kept: one prefix per operation would be quadratic memory on a long
/// history.
struct Longest<S> {
    kept: Vec<Partial<S>>,
    /// Per op, the length of the longest prefix recorded for it, so that
    /// the search, stuck on the same op again and again, decides with one
    /// load that there is nothing new.
    deepest: Vec<u32>,
    /// Once `kept` is full: the length of its shortest prefix, which a new
    /// one must beat to get in.
    floor: usize,
}

impl<S: Clone> Longest<S> {
    fn new(n: usize) -> Self {
        // `NONE` rather than 0: a prefix of length 0 is evidence too.
        Longest { kept: Vec::with_capacity(MAX_PARTIALS), deepest: vec![NONE; n], floor: 0 }
    }

    /// The search is stuck on `op` after linearizing `stack`, and `then`
    /// when it is given, in `state`.
    #[inline(always)]
    fn stuck(&mut self, op: u32, stack: &[Frame<S>], then: Option<u32>, state: &S) {
        let depth = stack.len() + then.is_some() as usize;
        let deepest = self.deepest[op as usize];
        if deepest != NONE && depth <= deepest as usize {
            return;
        }
        if self.kept.len() == MAX_PARTIALS && depth <= self.floor {
            return;
        }
        self.deepest[op as usize] = depth as u32;
        self.keep(op as usize, stack, then, state);
    }

    /// Records a prefix `stuck` found longer than any kept for `op`: rare
    /// after the first few thousand steps, so kept out of the hot loop.
    #[cold]
    #[inline(never)]
    fn keep(&mut self, op: usize, stack: &[Frame<S>], then: Option<u32>, state: &S) {
        let slot = match self.kept.iter().position(|p| p.stuck == op) {
            Some(i) => Some(i),
            None if self.kept.len() < MAX_PARTIALS => None,
            // Full, and this prefix beats the floor: the shortest one goes.
            None => (0..self.kept.len()).min_by_key(|&i| self.kept[i].order.len()),
        };
        let order = stack.iter().map(|f| f.op).chain(then).map(|op| op as usize).collect();
        let partial = Partial { order, stuck: op, state: state.clone() };
        match slot {
            Some(i) => self.kept[i] = partial,
            None => self.kept.push(partial),
        }
        if self.kept.len() == MAX_PARTIALS {
            self.floor = self.kept.iter().map(|p| p.order.len()).min().unwrap_or(0);
        }
    }

    /// The kept prefixes, longest first (ties by stuck op, so the order does
    /// not depend on which was found first).
    fn take(&mut self) -> Vec<Partial<S>> {
        let mut kept = std::mem::take(&mut self.kept);
        kept.sort_by_key(|p| (std::cmp::Reverse(p.order.len()), p.stuck));
        kept
    }
}

/// Visited `(linearized set, state)` pairs, in one open-addressing table.
/// A pair is also "visited" when one with the same listed ops and state and
/// a subset of its deferred ops is (see the module's doc).
///
/// Each slot holds the pair's hash, the state when the model can pack it
/// into a word, and the bitset — inline, so a lookup usually touches one
/// cache line. States that do not pack sit in a dense array of their own,
/// in insertion order, and the slot holds their index there: no room is
/// kept for empty slots, and growing the table moves no state (on kv
/// checked as one partition this took c10-bad's peak from 136 to 84 MiB). This
/// layout matters: the search is bound by memory latency, not arithmetic.
struct Cache<S> {
    /// `stride` words per slot: hash (0 = empty), the packed state or the
    /// index in `states`, bitset.
    slots: Vec<u64>,
    /// Words of the bitset that hold listed ops; the rest hold deferred ones.
    listed_words: usize,
    /// Only for models whose states do not pack into a word.
    states: Vec<S>,
    packed: bool,
    stride: usize,
    mask: usize,
    len: usize,
}

impl<S: Clone + Eq> Cache<S> {
    fn new(listed_words: usize, words: usize, packed: bool) -> Self {
        let cap = 1024;
        let stride = words + 2;
        let states = Vec::new();
        Cache { slots: written_zeros(cap * stride), listed_words, states, packed, stride, mask: cap - 1, len: 0 }
    }

    fn bytes(&self) -> usize {
        self.slots.len() * 8 + self.states.capacity() * std::mem::size_of::<S>()
    }

    /// Inserts the pair; false when it, or one that covers it, was already
    /// there. A kept pair that the new one covers gives up its slot to it.
    fn insert(&mut self, key: u64, bits: &[u64], state: &S, packed: u64) -> bool {
        if (self.len + 1) * 4 > (self.mask + 1) * 3 {
            self.grow();
        }
        let key = key | 1;
        let (listed, deferred) = bits.split_at(self.listed_words);
        let mut covered = None;
        let mut i = (key >> 11) as usize & self.mask;
        loop {
            let base = i * self.stride;
            let k = self.slots[base];
            if k == 0 {
                break;
            }
            if k == key
                && same(&self.slots[base + 2..base + 2 + listed.len()], listed)
                && if self.packed {
                    self.slots[base + 1] == packed
                } else {
                    self.states[self.slots[base + 1] as usize] == *state
                }
            {
                let kept = &self.slots[base + 2 + listed.len()..base + self.stride];
                if subset(kept, deferred) {
                    return false;
                }
                if covered.is_none() && subset(deferred, kept) {
                    covered = Some(i);
                }
            }
            i = (i + 1) & self.mask;
        }
        let base = covered.unwrap_or(i) * self.stride;
        self.slots[base + 2 + listed.len()..base + self.stride].copy_from_slice(deferred);
        if covered.is_none() {
            self.slots[base] = key;
            self.slots[base + 1] = if self.packed {
                packed
            } else {
                self.states.push(state.clone());
                self.states.len() as u64 - 1
            };
            self.slots[base + 2..base + 2 + listed.len()].copy_from_slice(listed);
            self.len += 1;
        }
        true
    }

    fn grow(&mut self) {
        let cap = (self.mask + 1) * 2;
        let old_slots = std::mem::replace(&mut self.slots, written_zeros(cap * self.stride));
        self.mask = cap - 1;
        for old in old_slots.chunks_exact(self.stride) {
            let key = old[0];
            if key == 0 {
                continue;
            }
            let mut i = (key >> 11) as usize & self.mask;
            while self.slots[i * self.stride] != 0 {
                i = (i + 1) & self.mask;
            }
            self.slots[i * self.stride..(i + 1) * self.stride].copy_from_slice(old);
        }
    }
}

/// `n` zero words, each page of them written once rather than left to the
/// kernel's zero page.
///
/// `vec![0; n]` asks for zeroed memory, which a large allocation gets from
/// fresh pages that are not mapped yet. The cache reads a slot before it
/// writes it, so each page is first mapped to the shared zero page and then
/// copied on the first write; that copy flushes the page from every core's
/// TLB, an interrupt to the other cores each time. Measured with `perf` on
/// c50-ok, those flushes were half of a whole `fencepost check`'s time.
/// One write per page faults it in once, already zeroed, with no flush —
/// and costs 1/512 of filling it.
fn written_zeros(n: usize) -> Vec<u64> {
    let mut words = std::hint::black_box(vec![0u64; n]);
    for i in (0..n).step_by(4096 / 8) {
        words[i] = 0;
    }
    words
}

#[inline]
fn same(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Whether every bit of `a` is in `b`.
#[inline]
fn subset(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x & !y == 0)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A deadline `timeout` from now, or none.
pub fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}
