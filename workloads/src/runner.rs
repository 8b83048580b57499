//! Drives many clients at once and records everything they do.
//!
//! Each of `concurrency` workers plays one process at a time, Jepsen-style.
//! Lock workloads loop acquire → (fenced-counter: read, write + 1 with the
//! token) → hold → release on a random key. The election workload has one
//! observer polling who leads and candidates that campaign, and, once
//! elected, renew and write term-tagged records to the resource, then
//! resign. Holders pass [`Stall`] points where the nemesis can pause them.
//! After an `info` the process number is retired and the worker
//! continues as process `p + concurrency` with a fresh client, so every
//! process's history stays sequential. A worker keeps its slot (`p mod
//! concurrency`) for life, and systems bind clients to members by slot, so
//! retirements do not move workers between members.
//!
//! What a retired client leaves blocking in the system (an etcd lease whose
//! key waits in a lock queue, see [`Orphan`]) goes to the run's revoker,
//! which removes it as soon as the cluster answers and records that as
//! `revoke-orphan` operations (`{"lease", "of_process"}`) of a process of
//! its own, from [`REVOKER`] up: the retired process itself may not act any
//! more, and the revoker's attempts follow the same rules as a worker's
//! (sequential; a new process number after an `info`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checker::gen::Rng;
use checker::OpType;
use docker::Node;
use serde_json::{json, Value};

use crate::client::{
    deadline, ClientOptions, ElectionClient, Grant, LockClient, Orphan, Outcome, RELEASED_BY_SESSION_LOST,
};
use crate::recorder::Recorder;
use crate::resource::{CounterSummary, FencedResource};
use crate::stall::Stall;
use crate::systems::System;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Lock,
    /// Read-increment-write of a counter in the fenced resource while holding
    /// the lock; `enforce` switches the resource's token check on.
    FencedCounter {
        enforce: bool,
    },
    /// Campaign, lead (renew, write records tagged with the term), resign;
    /// worker 0 observes who leads. Elections are `e0..e{keys-1}`.
    Election,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub workload: Workload,
    pub concurrency: usize,
    /// Locks are `k0..k{keys-1}`.
    pub keys: usize,
    /// Total acquire attempts per second across workers; `None`: as fast as
    /// the system answers (with a short random backoff after a busy lock).
    pub rate: Option<f64>,
    /// How long a holder keeps the lock: uniform in `[min, max]`.
    pub hold: (Duration, Duration),
    /// Lease or session length, where the recipe has one (etcd leases,
    /// Redis/Redlock `PX`, ZooKeeper's session timeout); see
    /// [`System::ttl_note`] for how each system uses it.
    pub ttl: Duration,
    pub time_limit: Duration,
    pub seed: u64,
    pub client: ClientOptions,
    /// Where holders stall when the nemesis pauses clients.
    pub stall: Arc<Stall>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workload: Workload::Lock,
            concurrency: 5,
            keys: 1,
            rate: None,
            hold: (Duration::from_millis(5), Duration::from_millis(50)),
            ttl: Duration::from_secs(5),
            time_limit: Duration::from_secs(10),
            seed: 1,
            client: ClientOptions::default(),
            stall: Arc::default(),
        }
    }
}

/// Counts by outcome, plus the fenced resource's final state.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Process numbers used (one per worker, plus one per retirement).
    pub processes: u64,
    pub elapsed_ms: u64,
    pub counters: Vec<CounterSummary>,
    /// Orphans the revoker removed (including ones it found already gone),
    /// and those still waiting when the run ended (they expire on their own).
    pub orphans_revoked: u64,
    pub orphans_left: u64,
    /// What the caller should print beside the results: how the system
    /// used `--ttl` when it could not use it as asked.
    pub notes: Vec<String>,
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
    processes: AtomicU64,
}

/// The revoker's first process number (far above any worker's, as the final
/// reads' `1_000_000 + i` are).
pub const REVOKER: u64 = 2_000_000;

/// Orphans waiting for the revoker, with the process that left each.
#[derive(Default)]
struct Orphans {
    queue: Mutex<VecDeque<(Orphan, u64)>>,
    wake: tokio::sync::Notify,
    revoked: AtomicU64,
}

impl Orphans {
    fn adopt(&self, orphans: Vec<Orphan>, of_process: u64) {
        if orphans.is_empty() {
            return;
        }
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).extend(orphans.into_iter().map(|o| (o, of_process)));
        self.wake.notify_one();
    }

    fn pop(&self) -> Option<(Orphan, u64)> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }

    fn left(&self) -> u64 {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).len() as u64
    }
}

/// Revokes orphans until `done`: one attempt at a time, backing off while
/// the cluster does not answer, each attempt recorded.
async fn revoke_orphans(
    system: &'static dyn System,
    nodes: Arc<Vec<Node>>,
    options: Arc<RunOptions>,
    recorder: Recorder,
    orphans: Arc<Orphans>,
    done: Arc<AtomicBool>,
) {
    const FIRST_BACKOFF: Duration = Duration::from_millis(250);
    let mut process = REVOKER;
    let mut backoff = FIRST_BACKOFF;
    while !done.load(Ordering::Relaxed) {
        let Some((orphan, of_process)) = orphans.pop() else {
            let _ = tokio::time::timeout(Duration::from_millis(100), orphans.wake.notified()).await;
            continue;
        };
        let value = json!({ "lease": orphan.lease, "of_process": of_process });
        recorder.invoke(process, "revoke-orphan", Some(&orphan.key), value.clone());
        let timeout = options.client.timeout * 2 + Duration::from_millis(100);
        let outcome = deadline(timeout, system.revoke_orphan(&nodes, &orphan, &options.client)).await;
        let (kind, error) = match &outcome {
            Outcome::Ok(revoked) => {
                let value = json!({ "lease": orphan.lease, "of_process": of_process, "already_gone": !revoked });
                recorder.complete(process, OpType::Ok, "revoke-orphan", Some(&orphan.key), value, None, None);
                orphans.revoked.fetch_add(1, Ordering::Relaxed);
                backoff = FIRST_BACKOFF;
                continue;
            }
            Outcome::Fail(e) => (OpType::Fail, e),
            Outcome::Info(e) | Outcome::SessionLost(e) => (OpType::Info, e),
        };
        recorder.complete(process, kind, "revoke-orphan", Some(&orphan.key), value, None, Some(error));
        if kind == OpType::Info {
            process += 1;
        }
        orphans.adopt(vec![orphan], of_process);
        let until = Instant::now() + backoff;
        while Instant::now() < until && !done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// A completion's value for an unknown outcome: `value`, plus
/// `released_by` when the server ended the session (see
/// [`RELEASED_BY_SESSION_LOST`]).
fn unknown_value<T>(value: Value, outcome: &Outcome<T>) -> Value {
    if !matches!(outcome, Outcome::SessionLost(_)) {
        return value;
    }
    let mut value = match value {
        Value::Object(map) => map,
        Value::Null => serde_json::Map::new(),
        other => [("value".to_string(), other)].into_iter().collect(),
    };
    value.insert("released_by".into(), json!(RELEASED_BY_SESSION_LOST));
    Value::Object(value)
}

/// An unknown outcome's error text.
fn error_of<T>(outcome: &Outcome<T>) -> &str {
    match outcome {
        Outcome::Ok(_) => "",
        Outcome::Fail(e) | Outcome::Info(e) | Outcome::SessionLost(e) => e,
    }
}

/// Runs the workload until `time_limit` passes or `stop` is set; workers
/// finish the cycle they are in (so a held lock is released) before leaving.
pub async fn run(
    system: &'static dyn System,
    nodes: Vec<Node>,
    options: RunOptions,
    recorder: Recorder,
    resource: Arc<FencedResource>,
    stop: Arc<AtomicBool>,
) -> Summary {
    let started = Instant::now();
    let deadline = started + options.time_limit;
    let counts = Arc::new(Counts::default());
    let nodes = Arc::new(nodes);
    let mut options = options;
    // One stall for the workers and their clients' background tasks.
    options.client.stall = options.stall.clone();
    // A ZooKeeper session is that recipe's lease.
    options.client.session_timeout = options.ttl;
    let options = Arc::new(options);
    let orphans = Arc::new(Orphans::default());
    let revoker_done = Arc::new(AtomicBool::new(false));
    let revoker = tokio::spawn(revoke_orphans(
        system,
        nodes.clone(),
        options.clone(),
        recorder.clone(),
        orphans.clone(),
        revoker_done.clone(),
    ));
    let workers: Vec<_> = (0..options.concurrency)
        .map(|slot| {
            let worker = Worker {
                system,
                nodes: nodes.clone(),
                options: options.clone(),
                recorder: recorder.clone(),
                resource: resource.clone(),
                counts: counts.clone(),
                orphans: orphans.clone(),
                rng: Rng::new(options.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ slot as u64),
                slot,
                process: slot as u64,
            };
            let stop = stop.clone();
            tokio::spawn(worker.run(deadline, stop))
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    revoker_done.store(true, Ordering::Relaxed);
    let _ = revoker.await;
    Summary {
        ok: counts.ok.load(Ordering::Relaxed),
        fail: counts.fail.load(Ordering::Relaxed),
        info: counts.info.load(Ordering::Relaxed),
        processes: counts.processes.load(Ordering::Relaxed),
        elapsed_ms: started.elapsed().as_millis() as u64,
        counters: resource.summary(),
        orphans_revoked: orphans.revoked.load(Ordering::Relaxed),
        orphans_left: orphans.left(),
        notes: system.ttl_note(options.ttl).into_iter().collect(),
    }
}

struct Worker {
    system: &'static dyn System,
    nodes: Arc<Vec<Node>>,
    options: Arc<RunOptions>,
    recorder: Recorder,
    resource: Arc<FencedResource>,
    counts: Arc<Counts>,
    orphans: Arc<Orphans>,
    rng: Rng,
    /// Which worker this is, for life (`process mod concurrency`).
    slot: usize,
    process: u64,
}

impl Worker {
    async fn run(self, deadline: Instant, stop: Arc<AtomicBool>) {
        if self.options.workload == Workload::Election {
            self.run_election(deadline, stop).await
        } else {
            self.run_lock(deadline, stop).await
        }
    }

    async fn run_lock(mut self, deadline: Instant, stop: Arc<AtomicBool>) {
        self.counts.processes.fetch_add(1, Ordering::Relaxed);
        let mut client: Option<Box<dyn LockClient>> = None;
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            self.pace().await;
            let c = match client.as_mut() {
                Some(c) => c,
                None => match self.system.lock_client(&self.nodes, self.process, self.slot, &self.options.client).await
                {
                    Ok(c) => client.insert(c),
                    // Connecting is not an operation: nothing to record.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            if !self.cycle(c.as_mut()).await {
                // An `info`: this process may still have an effect in flight.
                // Retire it; a fresh process continues with a fresh client.
                if let Some(mut old) = client.take() {
                    self.retire(old.orphans());
                }
            }
        }
    }

    /// Hands what the retiring client leaves behind to the revoker, then
    /// continues as a new process.
    fn retire(&mut self, orphans: Vec<Orphan>) {
        self.orphans.adopt(orphans, self.process);
        self.process += self.options.concurrency as u64;
        self.counts.processes.fetch_add(1, Ordering::Relaxed);
    }

    async fn run_election(mut self, deadline: Instant, stop: Arc<AtomicBool>) {
        self.counts.processes.fetch_add(1, Ordering::Relaxed);
        let observer = self.slot == 0 && self.options.concurrency > 1;
        let mut client: Option<Box<dyn ElectionClient>> = None;
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            self.pace().await;
            let c = match client.as_mut() {
                Some(c) => c,
                None => {
                    match self.system.election_client(&self.nodes, self.process, self.slot, &self.options.client).await
                    {
                        Ok(c) => client.insert(c),
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                    }
                }
            };
            let alive = if observer { self.observe(c.as_mut()).await } else { self.lead(c.as_mut(), deadline).await };
            if !alive {
                if let Some(mut old) = client.take() {
                    self.retire(old.orphans());
                }
            }
        }
    }

    async fn observe(&mut self, client: &mut dyn ElectionClient) -> bool {
        let name = format!("e{}", self.rng.below(self.options.keys.max(1) as u64));
        self.recorder.invoke(self.process, "observe", Some(&name), Value::Null);
        let alive = match client.leader(&name).await {
            Outcome::Ok(leader) => {
                let value = leader.map_or(Value::Null, |l| json!({ "leader": l.id, "term": l.term }));
                self.complete(OpType::Ok, "observe", &name, value, None, None);
                true
            }
            Outcome::Fail(e) => {
                self.complete(OpType::Fail, "observe", &name, Value::Null, None, Some(&e));
                true
            }
            unknown => {
                self.unknown("observe", &name, Value::Null, &unknown);
                false
            }
        };
        if self.options.rate.is_none() {
            let wait = self.random_between((Duration::from_millis(5), Duration::from_millis(20)));
            tokio::time::sleep(wait).await;
        }
        alive
    }

    /// Campaign; once elected, lead for a hold time (renewing every third of
    /// the TTL and writing a term-tagged record each time), then resign.
    async fn lead(&mut self, client: &mut dyn ElectionClient, deadline: Instant) -> bool {
        let name = format!("e{}", self.rng.below(self.options.keys.max(1) as u64));
        let id = format!("p{}", self.process);
        let ttl = self.options.ttl;
        self.recorder.invoke(
            self.process,
            "campaign",
            Some(&name),
            json!({ "id": id, "ttl_ms": ttl.as_millis() as u64 }),
        );
        let leadership = match client.campaign(&name, &id, ttl).await {
            Outcome::Ok(l) => {
                self.complete(
                    OpType::Ok,
                    "campaign",
                    &name,
                    json!({ "id": id, "term": l.term }),
                    l.node.as_deref(),
                    None,
                );
                l
            }
            Outcome::Fail(e) => {
                self.complete(OpType::Fail, "campaign", &name, json!({ "id": id }), None, Some(&e));
                let wait = self.random_between((Duration::from_millis(5), Duration::from_millis(30)));
                tokio::time::sleep(wait).await;
                return true;
            }
            unknown => {
                self.unknown("campaign", &name, json!({ "id": id }), &unknown);
                return false;
            }
        };
        let until = (Instant::now() + self.random_between(self.options.hold)).min(deadline.max(Instant::now()));
        let every = (ttl / 3).max(Duration::from_millis(10));
        loop {
            // A leader that stalls here outlives its lease and then writes
            // with a term that may have been superseded.
            self.options.stall.point(self.process, &name).await;
            let token = Some(leadership.term);
            let written = self.resource.read(&name) + 1;
            let record = json!({ "value": written, "term": leadership.term, "id": id });
            self.recorder.invoke(self.process, "write", Some(&name), record.clone());
            match self.resource.write(&name, written, token) {
                Ok(()) => self.complete(OpType::Ok, "write", &name, record, None, None),
                Err(r) => {
                    let why = format!("term {} is below {}", leadership.term, r.highest_token);
                    self.complete(OpType::Fail, "write", &name, record, None, Some(&why))
                }
            }
            let now = Instant::now();
            if now >= until {
                break;
            }
            tokio::time::sleep(every.min(until - now)).await;
            if Instant::now() >= until {
                break;
            }
            self.recorder.invoke(self.process, "renew", Some(&name), json!({ "term": leadership.term }));
            match client.renew(&leadership, ttl).await {
                Outcome::Ok(()) => self.complete(OpType::Ok, "renew", &name, Value::Null, None, None),
                Outcome::Fail(e) => {
                    // Deposed: stop acting as leader.
                    self.complete(OpType::Fail, "renew", &name, Value::Null, None, Some(&e));
                    return true;
                }
                unknown => {
                    self.unknown("renew", &name, Value::Null, &unknown);
                    return false;
                }
            }
        }
        self.recorder.invoke(self.process, "resign", Some(&name), json!({ "term": leadership.term }));
        match client.resign(&leadership).await {
            Outcome::Ok(()) => self.complete(OpType::Ok, "resign", &name, Value::Null, None, None),
            Outcome::Fail(e) => self.complete(OpType::Fail, "resign", &name, Value::Null, None, Some(&e)),
            unknown => {
                self.unknown("resign", &name, Value::Null, &unknown);
                return false;
            }
        }
        true
    }

    /// Waits before the next attempt, to honour `rate`.
    async fn pace(&mut self) {
        if let Some(rate) = self.options.rate.filter(|r| *r > 0.0) {
            // Each worker's share of the rate, jittered uniformly in [0, 2x].
            let mean = self.options.concurrency as f64 / rate;
            let wait = mean * 2.0 * (self.rng.below(1_000_000) as f64 / 1e6);
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    fn random_between(&mut self, (min, max): (Duration, Duration)) -> Duration {
        let span = max.saturating_sub(min).as_micros() as u64;
        min + Duration::from_micros(if span == 0 { 0 } else { self.rng.below(span + 1) })
    }

    /// One acquire → use → release cycle. False when the process must retire.
    async fn cycle(&mut self, client: &mut dyn LockClient) -> bool {
        let key = format!("k{}", self.rng.below(self.options.keys.max(1) as u64));
        let ttl = self.options.ttl;
        let p = self.process;
        self.recorder.invoke(p, "acquire", Some(&key), json!({ "ttl_ms": ttl.as_millis() as u64 }));
        let grant = match client.acquire(&key, ttl).await {
            Outcome::Ok(grant) => {
                let value = grant.token.map_or(Value::Null, |t| json!({ "token": t }));
                self.complete(OpType::Ok, "acquire", &key, value, grant.node.as_deref(), None);
                grant
            }
            Outcome::Fail(e) => {
                self.complete(OpType::Fail, "acquire", &key, Value::Null, None, Some(&e));
                if self.options.rate.is_none() {
                    let backoff = self.random_between((Duration::from_millis(1), Duration::from_millis(20)));
                    tokio::time::sleep(backoff).await;
                }
                return true;
            }
            unknown => {
                self.unknown("acquire", &key, Value::Null, &unknown);
                return false;
            }
        };
        if let Workload::FencedCounter { .. } = self.options.workload {
            self.increment(&grant).await;
        } else {
            self.options.stall.point(p, &key).await;
        }
        let hold = self.random_between(self.options.hold);
        tokio::time::sleep(hold).await;
        self.recorder.invoke(p, "release", Some(&key), Value::Null);
        match client.release(&grant).await {
            Outcome::Ok(()) => self.complete(OpType::Ok, "release", &key, Value::Null, grant.node.as_deref(), None),
            Outcome::Fail(e) => self.complete(OpType::Fail, "release", &key, Value::Null, None, Some(&e)),
            unknown => {
                self.unknown("release", &key, Value::Null, &unknown);
                return false;
            }
        }
        true
    }

    /// Reads the counter and writes it + 1 with the grant's token, recording
    /// both as operations of this process.
    async fn increment(&mut self, grant: &Grant) {
        let p = self.process;
        let key = &grant.key;
        self.recorder.invoke(p, "read", Some(key), Value::Null);
        let value = self.resource.read(key);
        self.complete(OpType::Ok, "read", key, json!(value), None, None);
        // Kleppmann's pause: between reading and writing back, so the write
        // that follows a long stall carries a stale value and a stale token.
        self.options.stall.point(p, key).await;
        let write = json!({ "value": value + 1, "token": grant.token });
        self.recorder.invoke(p, "write", Some(key), write.clone());
        match self.resource.write(key, value + 1, grant.token) {
            Ok(()) => self.complete(OpType::Ok, "write", key, write, None, None),
            Err(rejected) => {
                let why = format!("token {:?} is below {}", grant.token, rejected.highest_token);
                self.complete(OpType::Fail, "write", key, write, None, Some(&why))
            }
        }
    }

    /// Records an unknown outcome (`Info` or `SessionLost`) as `info`.
    fn unknown<T>(&self, f: &str, key: &str, value: Value, outcome: &Outcome<T>) {
        self.complete(OpType::Info, f, key, unknown_value(value, outcome), None, Some(error_of(outcome)));
    }

    fn complete(&self, kind: OpType, f: &str, key: &str, value: Value, node: Option<&str>, error: Option<&str>) {
        let counter = match kind {
            OpType::Ok => &self.counts.ok,
            OpType::Fail => &self.counts.fail,
            _ => &self.counts.info,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.recorder.complete(self.process, kind, f, Some(key), value, node, error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::{member, BoxFuture};

    /// Clients whose every other acquire ends `info` (so processes retire
    /// often), each leaving an orphan; the system notes where each client
    /// was bound and revokes orphans at once.
    struct Retiring {
        bound: Mutex<Vec<(u64, usize, String)>>,
    }

    struct FlakyClient {
        calls: u64,
    }

    impl LockClient for FlakyClient {
        fn acquire<'a>(&'a mut self, key: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
            self.calls += 1;
            let calls = self.calls;
            Box::pin(async move {
                match calls % 3 {
                    0 => Outcome::Info("timed out".into()),
                    1 => Outcome::SessionLost("terminating connection".into()),
                    _ => Outcome::Ok(Grant::new(key, None, None, String::new())),
                }
            })
        }
        fn release<'a>(&'a mut self, _grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
            Box::pin(async { Outcome::Ok(()) })
        }
        fn orphans(&mut self) -> Vec<Orphan> {
            vec![Orphan { key: "k0".into(), lease: self.calls as i64 }]
        }
    }

    impl System for Retiring {
        fn layout(&self) -> &'static crate::systems::Layout {
            &crate::systems::Layout {
                name: "retiring",
                image: "none",
                nodes: 3,
                ports: &[1],
                description: "a fake",
                names_leader: false,
                clock_refusal: None,
                node_env: &[],
            }
        }
        fn probe<'a>(&'a self, _node: &'a Node) -> BoxFuture<'a, Result<(), crate::systems::Error>> {
            Box::pin(async { Ok(()) })
        }
        fn lock_client<'a>(
            &'a self,
            nodes: &'a [Node],
            process: u64,
            slot: usize,
            _options: &'a ClientOptions,
        ) -> BoxFuture<'a, Result<Box<dyn LockClient>, crate::systems::Error>> {
            let name = member(nodes, slot).name().to_string();
            self.bound.lock().unwrap().push((process, slot, name));
            Box::pin(async { Ok(Box::new(FlakyClient { calls: 0 }) as Box<dyn LockClient>) })
        }
        fn revoke_orphan<'a>(
            &'a self,
            _nodes: &'a [Node],
            _orphan: &'a Orphan,
            _options: &'a ClientOptions,
        ) -> BoxFuture<'a, Outcome<bool>> {
            Box::pin(async { Outcome::Ok(true) })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workers_keep_their_members_and_orphans_are_revoked_by_a_process_of_their_own() {
        let system: &'static Retiring = Box::leak(Box::new(Retiring { bound: Mutex::new(Vec::new()) }));
        let engine = docker::Engine::offline().unwrap();
        let nodes: Vec<Node> =
            (1..=3).map(|i| Node::external(&engine, &format!("n{i}"), "127.0.0.1", 1, 1000 + i)).collect();
        let dir = std::env::temp_dir().join(format!("fencepost-runner-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let recorder = Recorder::create(&path).unwrap();
        let options = RunOptions {
            concurrency: 5,
            hold: (Duration::ZERO, Duration::from_millis(1)),
            time_limit: Duration::from_millis(600),
            ..Default::default()
        };
        let resource = Arc::new(FencedResource::new(false));
        let summary = run(system, nodes, options, recorder.clone(), resource, Arc::default()).await;
        recorder.finish().unwrap();

        // Every process of worker `slot` is bound to member `slot mod 3`, so
        // the five workers stay 2/2/1 over the members however many retired
        // (bound by process number, worker 0's processes 0, 5, 10 would wander
        // over n1, n3, n2, and retirements could pile workers onto one member).
        let bound = system.bound.lock().unwrap();
        assert!(summary.processes > 20, "retirements happened: {summary:?}");
        for (process, slot, name) in bound.iter() {
            assert_eq!(*slot as u64, process % 5, "process {process}");
            assert_eq!(name, &format!("n{}", slot % 3 + 1), "process {process}");
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let history = checker::formats::jsonl::read("history.jsonl", &text).unwrap();
        history.calls().unwrap();
        let revokes: Vec<_> = history.ops.iter().filter(|o| o.f == "revoke-orphan").collect();
        assert!(revokes.len() >= 2 && summary.orphans_revoked > 0, "{summary:?}");
        for op in &revokes {
            assert_eq!(op.process, checker::history::Process::Client(REVOKER));
            assert!(op.value["of_process"].as_u64().unwrap() < REVOKER);
        }
        // A lost session is `info`, saying the server released the lock.
        let lost = history
            .ops
            .iter()
            .filter(|o| o.f == "acquire" && o.kind == OpType::Info && o.value["released_by"] == "session-lost")
            .count();
        assert!(lost > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn released_by_joins_the_completion_value() {
        let lost: Outcome<()> = Outcome::SessionLost("gone".into());
        assert_eq!(unknown_value(json!({ "id": "p1" }), &lost), json!({ "id": "p1", "released_by": "session-lost" }));
        assert_eq!(unknown_value(Value::Null, &lost), json!({ "released_by": "session-lost" }));
        assert_eq!(unknown_value(Value::Null, &Outcome::<()>::Info("late".into())), Value::Null);
    }
}
