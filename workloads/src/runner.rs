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
//! process's history stays sequential.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checker::gen::Rng;
use checker::OpType;
use docker::Node;
use serde_json::{json, Value};

use crate::client::{ClientOptions, ElectionClient, Grant, LockClient, Outcome};
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
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
    processes: AtomicU64,
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
    let options = Arc::new(options);
    let workers: Vec<_> = (0..options.concurrency)
        .map(|slot| {
            let worker = Worker {
                system,
                nodes: nodes.clone(),
                options: options.clone(),
                recorder: recorder.clone(),
                resource: resource.clone(),
                counts: counts.clone(),
                rng: Rng::new(options.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ slot as u64),
                process: slot as u64,
            };
            let stop = stop.clone();
            tokio::spawn(worker.run(deadline, stop))
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    Summary {
        ok: counts.ok.load(Ordering::Relaxed),
        fail: counts.fail.load(Ordering::Relaxed),
        info: counts.info.load(Ordering::Relaxed),
        processes: counts.processes.load(Ordering::Relaxed),
        elapsed_ms: started.elapsed().as_millis() as u64,
        counters: resource.summary(),
    }
}

struct Worker {
    system: &'static dyn System,
    nodes: Arc<Vec<Node>>,
    options: Arc<RunOptions>,
    recorder: Recorder,
    resource: Arc<FencedResource>,
    counts: Arc<Counts>,
    rng: Rng,
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
                None => match self.system.lock_client(&self.nodes, self.process, &self.options.client).await {
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
                client = None;
                self.retire();
            }
        }
    }

    fn retire(&mut self) {
        self.process += self.options.concurrency as u64;
        self.counts.processes.fetch_add(1, Ordering::Relaxed);
    }

    async fn run_election(mut self, deadline: Instant, stop: Arc<AtomicBool>) {
        self.counts.processes.fetch_add(1, Ordering::Relaxed);
        let observer = self.process == 0 && self.options.concurrency > 1;
        let mut client: Option<Box<dyn ElectionClient>> = None;
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            self.pace().await;
            let c = match client.as_mut() {
                Some(c) => c,
                None => match self.system.election_client(&self.nodes, self.process, &self.options.client).await {
                    Ok(c) => client.insert(c),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            let alive = if observer { self.observe(c.as_mut()).await } else { self.lead(c.as_mut(), deadline).await };
            if !alive {
                client = None;
                self.retire();
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
            Outcome::Info(e) => {
                self.complete(OpType::Info, "observe", &name, Value::Null, None, Some(&e));
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
            Outcome::Info(e) => {
                self.complete(OpType::Info, "campaign", &name, json!({ "id": id }), None, Some(&e));
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
                Outcome::Info(e) => {
                    self.complete(OpType::Info, "renew", &name, Value::Null, None, Some(&e));
                    return false;
                }
            }
        }
        self.recorder.invoke(self.process, "resign", Some(&name), json!({ "term": leadership.term }));
        match client.resign(&leadership).await {
            Outcome::Ok(()) => self.complete(OpType::Ok, "resign", &name, Value::Null, None, None),
            Outcome::Fail(e) => self.complete(OpType::Fail, "resign", &name, Value::Null, None, Some(&e)),
            Outcome::Info(e) => {
                self.complete(OpType::Info, "resign", &name, Value::Null, None, Some(&e));
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
            Outcome::Info(e) => {
                self.complete(OpType::Info, "acquire", &key, Value::Null, None, Some(&e));
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
            Outcome::Info(e) => {
                self.complete(OpType::Info, "release", &key, Value::Null, None, Some(&e));
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
