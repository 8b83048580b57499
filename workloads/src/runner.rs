//! Drives many clients at once and records everything they do: the generic
//! worker of the Jepsen split (see [`crate::generator`]). What each worker
//! does comes from its workload's [`Generator`]; the worker supplies the
//! plumbing every workload shares:
//!
//! - Jepsen's process rules: each of `concurrency` workers plays one
//!   process at a time; after an `info` the process number is retired and
//!   the worker continues as process `p + concurrency` with a fresh client,
//!   so every process's history stays sequential. A worker keeps its slot
//!   (`p mod concurrency`) for life, and systems bind clients to members by
//!   slot, so retirements do not move workers between members.
//! - recording: every operation's invoke before it starts and its
//!   completion after, with counts by outcome;
//! - pacing (`rate`), [`Stall`] points where the nemesis pauses clients,
//!   and stopping between cycles (at the deadline or when the run's
//!   [`CancellationToken`] is cancelled) so a held lock is released first.
//!
//! What a retired client leaves blocking in the system (an etcd lease whose
//! key waits in a lock queue, see [`Orphan`]) goes to the run's revoker,
//! which removes it as soon as the cluster answers and records that as
//! `revoke-orphan` operations (`{"lease", "of_process"}`) of a process of
//! its own, from [`REVOKER`] up: the retired process itself may not act any
//! more, and the revoker's attempts follow the same rules as a worker's
//! (sequential; a new process number after an `info`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kit::{CancellationToken, Holders, Rng, Stall};
use node::Node;
use ops::values::{OpValue, RevokeOrphan};
use ops::{OpName, OpType};

use crate::client::{deadline, ClientOptions, Orphan, Outcome};
use crate::generator::{Client, ClientKind, Done, Generator, Op, Returned};
use crate::recorder::{Background, Recorder};
use crate::resource::{CounterSummary, FencedResource};
use crate::systems::System;
use crate::workload::Workload;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub workload: Workload,
    pub concurrency: usize,
    /// Locks are `k0..k{keys-1}` (elections `e0..`).
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
    /// Who holds which lock now, granted by which nodes: the workers keep
    /// it, faults aimed at the `holder` read it.
    pub holders: Arc<Holders>,
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
            holders: Arc::default(),
        }
    }
}

/// Counts by outcome, plus the fenced resource's final state.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Of the fails, those refused because another client held the lock.
    pub busy: u64,
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
/// reads' [`crate::workload::FINAL_READER`] + i are).
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

/// Revokes orphans until `done` is cancelled: one attempt at a time,
/// backing off while the cluster does not answer, each attempt recorded.
async fn revoke_orphans(
    system: &'static dyn System,
    nodes: Arc<Vec<Node>>,
    options: Arc<RunOptions>,
    recorder: Recorder,
    orphans: Arc<Orphans>,
    done: CancellationToken,
) {
    const FIRST_BACKOFF: Duration = Duration::from_millis(250);
    let mut process = REVOKER;
    let mut backoff = FIRST_BACKOFF;
    while !done.is_cancelled() {
        let Some((orphan, of_process)) = orphans.pop() else {
            // Register before looking again, so an adoption in between is
            // not missed.
            let woken = orphans.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if orphans.queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
                tokio::select! {
                    _ = done.cancelled() => {}
                    _ = woken => {}
                }
            }
            continue;
        };
        let asked = RevokeOrphan { lease: Some(orphan.lease), of_process: Some(of_process), already_gone: None };
        let value = asked.to_value();
        recorder.invoke(process, OpName::RevokeOrphan, Some(&orphan.key), value.clone());
        let timeout = options.client.timeout * 2 + Duration::from_millis(100);
        let outcome = deadline(timeout, system.revoke_orphan(&nodes, &orphan, &options.client)).await;
        let (kind, error) = match &outcome {
            Outcome::Ok(revoked) => {
                let value = RevokeOrphan { already_gone: Some(!revoked), ..asked }.to_value();
                recorder.complete(process, OpType::Ok, OpName::RevokeOrphan, Some(&orphan.key), value, None, None);
                orphans.revoked.fetch_add(1, Ordering::Relaxed);
                backoff = FIRST_BACKOFF;
                continue;
            }
            Outcome::Fail(e) | Outcome::Busy(e) => (OpType::Fail, e),
            Outcome::Info(e) | Outcome::SessionLost(e) | Outcome::Undone(e) => (OpType::Info, e),
        };
        recorder.complete(process, kind, OpName::RevokeOrphan, Some(&orphan.key), value, None, Some(error));
        if kind == OpType::Info {
            process += 1;
        }
        orphans.adopt(vec![orphan], of_process);
        tokio::select! {
            _ = done.cancelled() => {}
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Runs the workload until `time_limit` passes or `stop` is cancelled;
/// workers finish the cycle they are in (so a held lock is released) before
/// leaving. The final reads are the caller's, after its final heal and
/// quiet period ([`Workload::final_reads`]).
pub async fn run(
    system: &'static dyn System,
    nodes: Vec<Node>,
    options: RunOptions,
    recorder: Recorder,
    resource: Arc<FencedResource>,
    stop: CancellationToken,
) -> Summary {
    let started = Instant::now();
    let deadline = started + options.time_limit;
    let counts = Arc::new(Counts::default());
    let nodes = Arc::new(nodes);
    let spec = options.workload.spec();
    let mut options = options;
    // One stall for the workers and their clients' background tasks.
    options.client.stall = options.stall.clone();
    // A ZooKeeper session is that recipe's lease.
    options.client.session_timeout = options.ttl;
    options.client.background = Background::new(recorder.clone());
    options.client.fenced |= spec.fenced_clients();
    let options = Arc::new(options);
    let orphans = Arc::new(Orphans::default());
    let revoker_done = CancellationToken::new();
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
                deadline,
                client: None,
                retiring: false,
            };
            let generator = spec.generator(slot, &options);
            tokio::spawn(worker.run(spec.client(), generator, stop.clone()))
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    revoker_done.cancel();
    let _ = revoker.await;
    Summary {
        ok: counts.ok.load(Ordering::Relaxed),
        fail: counts.fail.load(Ordering::Relaxed),
        info: counts.info.load(Ordering::Relaxed),
        // The recorder reads each fail's value once, for the progress line too.
        busy: recorder.counts().busy,
        processes: counts.processes.load(Ordering::Relaxed),
        elapsed_ms: started.elapsed().as_millis() as u64,
        counters: resource.summary(),
        orphans_revoked: orphans.revoked.load(Ordering::Relaxed),
        orphans_left: orphans.left(),
        notes: system.ttl_note(options.ttl).into_iter().collect(),
    }
}

/// One worker: the plumbing a [`Generator`] drives. Generators call
/// [`Worker::invoke`], [`Worker::sleep`] and [`Worker::stall`], and read the
/// run's options, the process number and the worker's seeded RNG.
pub struct Worker {
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
    deadline: Instant,
    client: Option<Client>,
    /// An operation of this cycle ended `info`: the process retires when
    /// the cycle ends, and does nothing more until then.
    retiring: bool,
}

impl Worker {
    async fn run(mut self, kind: ClientKind, mut generator: Box<dyn Generator>, stop: CancellationToken) {
        self.counts.processes.fetch_add(1, Ordering::Relaxed);
        while Instant::now() < self.deadline && !stop.is_cancelled() {
            self.pace().await;
            if Instant::now() >= self.deadline {
                break;
            }
            if self.client.is_none() {
                let (nodes, process, slot, options) = (&self.nodes, self.process, self.slot, &self.options.client);
                let connecting = async {
                    match kind {
                        ClientKind::Lock => match &options.external {
                            Some(program) => {
                                let seat = crate::systems::Seat { nodes, process, slot, options };
                                let layout = self.system.layout();
                                crate::external::ExternalClient::connect(
                                    seat,
                                    program,
                                    layout.name,
                                    layout.client_port(),
                                )
                                .await
                                .map(Client::Lock)
                            }
                            None => self.system.lock_client(nodes, process, slot, options).await.map(Client::Lock),
                        },
                        ClientKind::Election => {
                            self.system.election_client(nodes, process, slot, options).await.map(Client::Election)
                        }
                    }
                };
                // A connection attempt begun while a server was down can
                // hang past its restart (a client library without a connect
                // timeout): give up and try afresh.
                let limit = match &options.external {
                    // A program of its own may take seconds to start.
                    Some(_) => crate::external::init_limit(options) + Duration::from_secs(1),
                    None => (options.timeout * 2).max(Duration::from_secs(2)),
                };
                match tokio::time::timeout(limit, connecting).await {
                    Ok(Ok(c)) => self.client = Some(c),
                    Err(_) => continue,
                    // Connecting is not an operation: nothing to record.
                    Ok(Err(_)) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
            generator.cycle(&mut self).await;
            // A cycle whose calls all complete at once (a client answering
            // from what it already knows) never gives the thread back, and a
            // task woken meanwhile — the orphan revoker, which this worker
            // just woke — waits behind it for the whole run. Counting each
            // cycle against tokio's budget makes such a worker yield now and
            // then; one that waits on the network yields anyway.
            tokio::task::consume_budget().await;
            if self.retiring {
                self.retire();
            }
        }
        self.options.holders.retire(self.process);
    }

    /// Invokes `op` as this process: records the invoke, performs it,
    /// records the completion. After an `info` the process is retiring:
    /// further calls in the same cycle are not performed (and answer `Info`).
    pub async fn invoke(&mut self, op: Op) -> Done {
        if self.retiring {
            debug_assert!(false, "{} after an info in the same cycle", op.f());
            return Done::Info;
        }
        let Some(client) = self.client.as_mut() else { unreachable!("a cycle runs with a connected client") };
        let (f, key) = (op.f(), op.key().to_string());
        // From its release's invocation on, a holder no longer relies on
        // the lock: no fault should be aimed at it as the holder.
        if matches!(op, Op::Release { .. } | Op::Resign { .. }) {
            self.options.holders.release(self.process, &key);
        }
        self.recorder.invoke(self.process, f.clone(), Some(&key), op.value());
        let completion = op.execute(client, &self.resource).await;
        let counter = match completion.kind {
            OpType::Ok => &self.counts.ok,
            OpType::Fail => &self.counts.fail,
            _ => &self.counts.info,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let done = completion.done();
        self.recorder.complete(
            self.process,
            completion.kind,
            f,
            Some(&key),
            completion.value,
            completion.node.as_deref(),
            completion.error.as_deref(),
        );
        // Recorded first, so the grant precedes any fault aimed at it.
        match &done {
            Done::Ok(Returned::Grant(grant)) => self.options.holders.hold(self.process, &key, grant.nodes.clone()),
            Done::Ok(Returned::Leadership(l)) => {
                self.options.holders.hold(self.process, &key, l.node.iter().cloned().collect())
            }
            Done::Info => self.retiring = true,
            _ => {}
        }
        done
    }

    /// An `info`: this process may still have an effect in flight. Hands
    /// what its client leaves behind to the revoker; a fresh process
    /// continues with a fresh client.
    fn retire(&mut self) {
        if let Some(mut old) = self.client.take() {
            self.orphans.adopt(old.orphans(), self.process);
        }
        self.options.holders.retire(self.process);
        self.process += self.options.concurrency as u64;
        self.counts.processes.fetch_add(1, Ordering::Relaxed);
        self.retiring = false;
    }

    /// Waits; not an operation.
    pub async fn sleep(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    /// A stall point: where the nemesis may pause this process while it
    /// holds `key` (see [`Stall`]).
    pub async fn stall(&mut self, key: &str) {
        let pid = match &self.client {
            Some(Client::Lock(c)) => c.pid(),
            _ => None,
        };
        let Some(pid) = pid else {
            self.options.stall.point(self.process, key).await;
            return;
        };
        // A client that is a program of its own stops whole, its library's
        // threads (renewals, watchdogs) with it, as in a real GC pause.
        if let Some(until) = self.options.stall.catch(self.process, key) {
            // Resumed whenever the stop was sent, seen in effect or not.
            let sent = crate::external::signal(pid, libc::SIGSTOP).await.is_some();
            self.options.stall.wait(self.process, until).await;
            if sent {
                crate::external::signal(pid, libc::SIGCONT).await;
            }
        }
    }

    pub fn process(&self) -> u64 {
        self.process
    }

    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// When the run's workload ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The fenced resource (to read before a write; writes are operations).
    pub fn resource(&self) -> &FencedResource {
        &self.resource
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// A random key of the run's `keys`: `{prefix}0`, `{prefix}1`, …
    pub fn random_key(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", self.rng.below(self.options.keys.max(1) as u64))
    }

    /// Uniform in `[min, max]`, to the microsecond.
    pub fn random_between(&mut self, (min, max): (Duration, Duration)) -> Duration {
        let span = max.saturating_sub(min).as_micros() as u64;
        min + Duration::from_micros(if span == 0 { 0 } else { self.rng.below(span + 1) })
    }

    /// Waits before the next cycle, to honour `rate`.
    async fn pace(&mut self) {
        if let Some(rate) = self.options.rate.filter(|r| *r > 0.0) {
            // Each worker's share of the rate, jittered uniformly in [0, 2x].
            let mean = self.options.concurrency as f64 / rate;
            let wait = mean * 2.0 * (self.rng.below(1_000_000) as f64 / 1e6);
            // A slow rate must not keep the run past its end.
            let left = self.deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(Duration::from_secs_f64(wait).min(left)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Grant, LockClient};
    use crate::generator::unknown_value;
    use crate::systems::{member, BoxFuture};
    use ops::values::{Campaign, Release};
    use serde_json::{json, Value};

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

    impl crate::systems::Connect for FlakyClient {
        async fn connect(_seat: crate::systems::Seat<'_>) -> Result<FlakyClient, crate::systems::Error> {
            Ok(FlakyClient { calls: 0 })
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
                durability_refusal: None,
                data_file: None,
                member_refusal: None,
                node_env: &[],
            }
        }
        fn probe<'a>(&'a self, _node: &'a Node) -> BoxFuture<'a, Result<(), crate::systems::Error>> {
            Box::pin(async { Ok(()) })
        }
        fn clients(&self) -> crate::systems::Clients {
            crate::systems::Clients::lock::<FlakyClient>()
        }
        /// Notes where each client was bound (the provided one would not).
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
        let nodes: Vec<Node> = (1..=3).map(|i| Node::unmanaged(&format!("n{i}"), "127.0.0.1", 1, 1000 + i)).collect();
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
        let summary = run(system, nodes, options, recorder.clone(), resource, CancellationToken::new()).await;
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
        let revokes: Vec<_> = history.ops.iter().filter(|o| o.f.as_str() == "revoke-orphan").collect();
        assert!(revokes.len() >= 2 && summary.orphans_revoked > 0, "{summary:?}");
        for op in &revokes {
            assert_eq!(op.process, ops::Process::Client(REVOKER));
            assert!(op.value["of_process"].as_u64().unwrap() < REVOKER);
        }
        // A lost session is `info`, saying the server released the lock.
        let lost = history
            .ops
            .iter()
            .filter(|o| o.f.as_str() == "acquire" && o.kind == OpType::Info && o.value["released_by"] == "session-lost")
            .count();
        assert!(lost > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn released_by_joins_the_completion_value() {
        let lost: Outcome<()> = Outcome::SessionLost("gone".into());
        let p1 = || Some(Campaign { id: Some("p1".into()), ..Default::default() });
        assert_eq!(unknown_value(p1(), &lost), json!({ "id": "p1", "released_by": "session-lost" }));
        assert_eq!(unknown_value(None::<Release>, &lost), json!({ "released_by": "session-lost" }));
        assert_eq!(unknown_value(None::<Release>, &Outcome::<()>::Info("late".into())), Value::Null);
        assert_eq!(unknown_value(p1(), &Outcome::<()>::Info("late".into())), json!({ "id": "p1" }));
        // Undone by the client before it answered: still `info`, closed.
        let undone: Outcome<()> = Outcome::Undone("lease revoked".into());
        assert_eq!(unknown_value(p1(), &undone), json!({ "id": "p1", "released_by": "undone" }));
    }
}
