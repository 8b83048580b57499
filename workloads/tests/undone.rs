//! Calls whose answer was lost and that the client then undid, forced
//! against real clusters (issue 26): undoing is no proof of no effect, so
//! such a call is recorded `info` with `released_by: undone` where the
//! recipe undoes it (etcd revokes the lease, Redlock unlocks the round),
//! plain `info` where it cannot (ZooKeeper), and `fail` only where a check
//! proves the lock was never ours.
//!
//! The lost answer is forced by freezing the member a candidate talks to
//! (the cgroup freezer) after its request is queued there, ending the
//! leadership ahead of it through the other members (so it becomes first in
//! line, and observers see it lead), and thawing that member once the
//! client's deadline has passed and its undo is waiting on it.
//!
//! Needs a Docker engine (`bash scripts/setup.sh`); images build on first use.

use std::time::{Duration, Instant};

use checker::lease::{LeaseOptions, RELEASED_BY_UNDONE};
use checker::{OpType, Verdict};
use common::cluster::Started;
use docker::Engine;
use node::Node;
use workloads::generator::{Client, Completion};
use workloads::{ClientOptions, FencedResource, Op, Outcome, Recorder, System};

// Only the cluster helper: the per-system helpers are the other files'.
#[allow(dead_code)]
mod common;

const READY: Duration = Duration::from_secs(120);

async fn start(system: &str) -> (&'static dyn System, Started) {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let sys = workloads::by_name(system).expect("registered");
    let started =
        common::cluster::start_cluster(&engine, sys, &docker::new_run_id(), READY).await.expect("cluster serves");
    (sys, started)
}

/// A history file the test's operations are recorded in, as a run's are.
struct Recording {
    dir: std::path::PathBuf,
    recorder: Recorder,
    resource: FencedResource,
}

impl Recording {
    fn new(name: &str) -> Recording {
        let dir = std::env::temp_dir().join(format!("fencepost-undone-{name}-{}", docker::new_run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let recorder = Recorder::create(&dir.join("history.jsonl")).unwrap();
        Recording { dir, recorder, resource: FencedResource::new(true) }
    }

    /// Records `op`'s invoke, performs it as `process`, records its completion.
    async fn perform(&self, process: u64, client: &mut Client, op: Op) -> Completion {
        perform(&self.recorder, &self.resource, process, client, op).await
    }

    fn history(self) -> checker::History {
        self.recorder.finish().unwrap();
        let path = self.dir.join("history.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        let history = checker::formats::jsonl::read(&path.display().to_string(), &text).unwrap();
        std::fs::remove_dir_all(&self.dir).unwrap();
        history
    }
}

async fn perform(
    recorder: &Recorder,
    resource: &FencedResource,
    process: u64,
    client: &mut Client,
    op: Op,
) -> Completion {
    let key = op.key().to_string();
    recorder.invoke(process, op.f(), Some(&key), op.value());
    let done = op.execute(client, resource).await;
    let (value, node, error) = (done.value.clone(), done.node.as_deref(), done.error.as_deref());
    recorder.complete(process, done.kind, op.f(), Some(&key), value, node, error);
    done
}

async fn election_client(sys: &dyn System, nodes: &[Node], slot: usize, options: &ClientOptions) -> Client {
    Client::Election(sys.election_client(nodes, slot as u64, slot, options).await.unwrap())
}

/// The member each role talks to: the leader of the cluster itself keeps
/// running (so freezing the candidate's member costs no re-election), the
/// candidate whose answer is lost on a follower, the observer on the other.
struct Seats {
    holder: usize,
    candidate: usize,
    observer: usize,
}

async fn seats(nodes: &[Node]) -> Seats {
    let deadline = Instant::now() + READY;
    loop {
        let mut roles = Vec::new();
        for node in nodes {
            let out = node.exec(&[&node.tool("role")], Duration::from_secs(10)).await;
            roles.push(out.map(|o| o.stdout.trim().to_string()).unwrap_or_default());
        }
        if let Some(leader) = roles.iter().position(|r| r == "leader") {
            let followers: Vec<usize> = (0..nodes.len()).filter(|&i| i != leader).collect();
            return Seats { holder: leader, candidate: followers[0], observer: followers[1] };
        }
        assert!(Instant::now() < deadline, "no member says it leads: {roles:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn observed(done: &Completion) -> Option<(String, Option<i64>)> {
    (done.kind == OpType::Ok && !done.value.is_null())
        .then(|| (done.value["leader"].as_str().unwrap().to_string(), done.value["term"].as_i64()))
}

/// Waits until `pred` holds, polling.
async fn until<F, Fut>(what: &str, mut pred: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pred().await {
        assert!(Instant::now() < deadline, "{what}: not after 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Check = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// The scenario of issue 26 on any election recipe: p0 leads; p1's
/// campaign queues behind it (`queued` says when) on a member that is then
/// frozen; p0 resigns, so p1 is first in line and the observer sees p1
/// lead; p1's client gives up (its request's deadline). With `undo`, the
/// member thaws while p1's undo waits on it; else once p1's call is over.
/// Returns p1's campaign completion, what the observer saw, and the
/// recorded history.
async fn campaign_answer_lost(
    sys: &'static dyn System,
    nodes: &[Node],
    queued: impl Fn() -> Check,
    undo: bool,
) -> (Completion, Option<(String, Option<i64>)>, checker::History) {
    let seats = seats(nodes).await;
    // The candidate's deadline is acquire_wait + timeout after its call;
    // its undo then waits up to `timeout` on the frozen member.
    let options =
        ClientOptions { timeout: Duration::from_secs(2), acquire_wait: Duration::from_secs(1), ..Default::default() };
    let ttl = Duration::from_secs(10);
    let rec = Recording::new(sys.layout().name);
    let mut holder = election_client(sys, nodes, seats.holder, &options).await;
    let candidate = election_client(sys, nodes, seats.candidate, &options).await;
    let mut observer = election_client(sys, nodes, seats.observer, &options).await;
    let name = "e0".to_string();
    let campaign = |id: &str| Op::Campaign { name: name.clone(), id: id.into(), ttl };
    let won = rec.perform(0, &mut holder, campaign("p0")).await;
    let workloads::generator::Returned::Leadership(leadership) = won.returned.clone() else {
        panic!("p0's campaign: {won:?}")
    };

    let (recorder, op) = (rec.recorder.clone(), campaign("p1"));
    let pending = tokio::spawn(async move {
        let mut candidate = candidate;
        perform(&recorder, &FencedResource::new(true), 1, &mut candidate, op).await
    });
    until("p1 queued behind p0", &queued).await;
    let queued_at = Instant::now();
    let frozen = &nodes[seats.candidate];
    frozen.pause().await.unwrap();
    let resigned = rec.perform(0, &mut holder, Op::Resign { leadership }).await;
    assert_eq!(resigned.kind, OpType::Ok, "p0's resignation: {resigned:?}");
    // A member that serves reads locally (ZooKeeper) may show p0 a moment
    // longer.
    let mut seen = None;
    for _ in 0..20 {
        let done = rec.perform(2, &mut observer, Op::Observe { name: name.clone() }).await;
        seen = observed(&done);
        if seen.as_ref().is_some_and(|(id, _)| id != "p0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lost = if undo {
        // p1's request gives up `timeout` after it was sent (before its key
        // was queued); its undo then waits up to `timeout` more on the
        // frozen member: thaw half-way.
        let thaw = queued_at + options.timeout + options.timeout / 2;
        tokio::time::sleep(thaw.saturating_duration_since(Instant::now())).await;
        frozen.unpause().await.unwrap();
        pending.await.unwrap()
    } else {
        let lost = pending.await.unwrap();
        frozen.unpause().await.unwrap();
        lost
    };
    (lost, seen, rec.history())
}

fn election_verdict(history: &checker::History) -> (Verdict, String) {
    let a = checker::analysis::election(history, &LeaseOptions::default()).unwrap().unwrap();
    (a.validity, a.summary)
}

/// etcd: p1's campaign came back unanswered after it had won (the observer
/// saw it lead); its lease revoked, it is `info` + `undone`, and the
/// election checker accepts the observation. A lock acquire given up behind
/// a live holder is still `fail`: the holder's older key was in line ahead
/// of ours for its whole life. Neither leaves an orphan for the revoker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_an_unanswered_campaign_that_won_is_undone_and_a_given_up_acquire_fails() {
    let _progress = common::progress::Progress::test();
    let (sys, started) = start("etcd").await;
    let nodes = started.cluster.nodes().to_vec();
    let witness = nodes.clone();
    let queue_len = move || {
        let witness = witness.clone();
        Box::pin(async move {
            let all: Vec<&Node> = witness.iter().collect();
            let Ok(mut raw) = workloads::systems::etcd::connect(&all, Duration::from_secs(2)).await else { return 0 };
            let listed = raw.get("fencepost/elections/e0/", Some(etcd_client::GetOptions::new().with_prefix())).await;
            listed.map_or(0, |r| r.kvs().len())
        })
    };
    let queue = queue_len.clone();
    let (lost, seen, history) = campaign_answer_lost(
        sys,
        &nodes,
        move || {
            let queue = queue.clone();
            Box::pin(async move { queue().await == 2 })
        },
        true,
    )
    .await;
    let (id, term) = seen.expect("the observer saw a leader");
    assert_eq!(id, "p1", "p1 was first in line while its member was frozen");
    assert_eq!(lost.kind, OpType::Info, "{lost:?}");
    assert_eq!(lost.value["released_by"], RELEASED_BY_UNDONE, "{lost:?}");
    assert!(term.is_some());
    let (verdict, summary) = election_verdict(&history);
    assert_eq!(verdict, Verdict::Valid, "{summary}");
    assert_eq!(queue_len().await, 0, "the undo deleted p1's key");

    // A lock given up behind its holder: proven, so `fail`, and nothing left
    // queued for the orphan revoker.
    let options = ClientOptions {
        timeout: Duration::from_secs(1),
        acquire_wait: Duration::from_millis(300),
        ..Default::default()
    };
    let ttl = Duration::from_secs(10);
    let mut holder = sys.lock_client(&nodes, 0, 0, &options).await.unwrap();
    let mut waiter = sys.lock_client(&nodes, 1, 1, &options).await.unwrap();
    let Outcome::Ok(grant) = holder.acquire("k0", ttl).await else { panic!("the holder's acquire") };
    match waiter.acquire("k0", ttl).await {
        Outcome::Busy(why) => assert!(why.contains("older contender"), "{why}"),
        other => panic!("an acquire given up behind a live holder: {other:?}"),
    }
    assert!(waiter.orphans().is_empty(), "a revoked lease was handed to the orphan revoker");
    assert!(matches!(holder.release(&grant).await, Outcome::Ok(())));
    let Outcome::Ok(next) = waiter.acquire("k0", ttl).await else { panic!("the lock is free again") };
    assert!(matches!(waiter.release(&next).await, Outcome::Ok(())));
    started.cluster.remove().await.unwrap();
}

/// ZooKeeper has no undo: its withdrawal is a check-and-delete that proves
/// the node was never first. A campaign whose answer is lost after its node
/// became first is plain `info` (or `session-lost`), never `fail`, and the
/// election checker accepts the observer seeing it lead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_an_unanswered_campaign_that_won_is_info() {
    let _progress = common::progress::Progress::test();
    let (sys, started) = start("zookeeper").await;
    let nodes = started.cluster.nodes().to_vec();
    let witness = nodes[0].clone();
    let (lost, seen, history) = campaign_answer_lost(
        sys,
        &nodes,
        move || {
            let witness = witness.clone();
            Box::pin(async move {
                let Ok(client) = workloads::systems::zookeeper::connect(&witness, Duration::from_secs(4)).await else {
                    return false;
                };
                let _ = client.sync("/fencepost/elections/e0").await;
                client.list_children("/fencepost/elections/e0").await.is_ok_and(|c| c.len() == 2)
            })
        },
        false,
    )
    .await;
    assert_eq!(seen.map(|(id, _)| id).as_deref(), Some("p1"), "p1 was first in line while its member was frozen");
    assert_eq!(lost.kind, OpType::Info, "{lost:?}");
    let (verdict, summary) = election_verdict(&history);
    assert_eq!(verdict, Verdict::Valid, "{summary}");
    started.cluster.remove().await.unwrap();
}

/// Redlock: a round every node granted but that ran out of validity (a TTL
/// shorter than the drift allowance leaves none) held the lock on a
/// majority until its unlock round: `info` + `undone`, not `fail`. The
/// lock is free again after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlock_a_round_granted_too_late_is_undone() {
    let _progress = common::progress::Progress::test();
    let (sys, started) = start("redlock").await;
    let nodes = started.cluster.nodes().to_vec();
    let options = ClientOptions { timeout: Duration::from_secs(1), ..Default::default() };
    let rec = Recording::new("redlock");
    let mut client = Client::Lock(sys.lock_client(&nodes, 0, 0, &options).await.unwrap());
    let short = workloads::systems::redlock::drift(Duration::from_millis(2));
    assert!(short > Duration::from_millis(2), "the drift allowance alone exceeds a 2 ms TTL");
    let undone = rec.perform(0, &mut client, Op::Acquire { key: "k0".into(), ttl: Duration::from_millis(2) }).await;
    assert_eq!(undone.kind, OpType::Info, "{undone:?}");
    assert_eq!(undone.value["released_by"], RELEASED_BY_UNDONE, "{undone:?}");
    let mut next = Client::Lock(sys.lock_client(&nodes, 5, 0, &options).await.unwrap());
    let took = rec.perform(5, &mut next, Op::Acquire { key: "k0".into(), ttl: Duration::from_secs(5) }).await;
    let workloads::generator::Returned::Grant(grant) = took.returned.clone() else { panic!("{took:?}") };
    let released = rec.perform(5, &mut next, Op::Release { grant }).await;
    assert_eq!(released.kind, OpType::Ok, "{released:?}");
    let history = rec.history();
    let leases = LeaseOptions::default();
    for a in [
        checker::analysis::mutual_exclusion(&history, &leases).unwrap(),
        checker::analysis::lease_safety(&history, &leases).unwrap(),
    ] {
        assert_eq!(a.validity, Verdict::Valid, "{}", a.summary);
    }
    started.cluster.remove().await.unwrap();
}
