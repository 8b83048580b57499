//! The election recipes of every system that has one, against real
//! clusters: campaign / a refused rival / observe / resign / a new leader
//! with a higher term; then a short election run without faults whose
//! history reads back with one leader per term, observers naming only real
//! (leader, term) pairs, and every term-tagged write accepted.
//!
//! Needs a Docker engine (`bash scripts/setup.sh`); images build on first use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use checker::OpType;
use docker::Engine;
use workloads::systems::Error;
use workloads::{ClientOptions, ElectionClient, FencedResource, Leader, Outcome, Recorder, RunOptions, Workload};

mod common;

fn options() -> ClientOptions {
    ClientOptions { timeout: Duration::from_secs(1), ..Default::default() }
}

/// Candidates in the run wait for their turn (as elections are used), so
/// queued candidates become leaders rather than withdrawing.
fn waiting() -> ClientOptions {
    ClientOptions { acquire_wait: Duration::from_secs(2), ..options() }
}

fn ok<T: std::fmt::Debug>(what: &str, outcome: Outcome<T>) -> T {
    match outcome {
        Outcome::Ok(v) => v,
        other => panic!("{what}: expected ok, got {other:?}"),
    }
}

async fn client(sys: &dyn workloads::System, nodes: &[node::Node], process: u64) -> Box<dyn ElectionClient> {
    sys.election_client(nodes, process, process as usize, &options())
        .await
        .unwrap_or_else(|e| panic!("{} client: {e}", sys.layout().name))
}

/// What `observer` sees, once it sees `want` or after 2 s. A ZooKeeper
/// read is served by the observer's own member, which may not have applied
/// a write another member acknowledged a moment ago (ZooKeeper promises
/// sequential consistency, not linearizable reads): the observer catches
/// up, and that is what is asserted.
async fn observed(observer: &mut Box<dyn ElectionClient>, want: &Leader) -> Option<Leader> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let seen = ok("observe", observer.leader("sanity").await);
        if seen.as_ref() == Some(want) || std::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sanity(sys: &dyn workloads::System, nodes: &[node::Node]) {
    let ttl = Duration::from_secs(10);
    let mut a = client(sys, nodes, 0).await;
    let mut b = client(sys, nodes, 1).await;
    let mut observer = client(sys, nodes, 2).await;
    let first = ok("first campaign", a.campaign("sanity", "p0", ttl).await);
    match b.campaign("sanity", "p1", ttl).await {
        Outcome::Busy(_) => {}
        other => {
            panic!("{}: a rival's campaign while p0 leads must be refused as busy, got {other:?}", sys.layout().name)
        }
    }
    let want = Leader { id: "p0".into(), term: Some(first.term) };
    assert_eq!(observed(&mut observer, &want).await, Some(want), "{}", sys.layout().name);
    ok("renew", a.renew(&first, ttl).await);
    ok("resign", a.resign(&first).await);
    let second = ok("campaign after the resignation", b.campaign("sanity", "p1", ttl).await);
    assert!(second.term > first.term, "{}: terms must grow: {} then {}", sys.layout().name, first.term, second.term);
    let want = Leader { id: "p1".into(), term: Some(second.term) };
    assert_eq!(observed(&mut observer, &want).await, Some(want), "{}", sys.layout().name);
    ok("second resign", b.resign(&second).await);
}

async fn election_run(sys: &'static dyn workloads::System, nodes: &[node::Node]) {
    let dir = std::env::temp_dir().join(format!("fencepost-elections-{}-{}", sys.layout().name, docker::new_run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.jsonl");
    let recorder = Recorder::create(&path).unwrap();
    let run = RunOptions {
        workload: Workload::Election,
        concurrency: 5,
        hold: (Duration::from_millis(100), Duration::from_millis(300)),
        ttl: Duration::from_secs(3),
        time_limit: Duration::from_secs(6),
        client: waiting(),
        ..Default::default()
    };
    let resource = Arc::new(FencedResource::new(true));
    let summary =
        workloads::run(sys, nodes.to_vec(), run, recorder.clone(), resource, workloads::CancellationToken::new()).await;
    recorder.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let history = checker::formats::jsonl::read(&path.display().to_string(), &text).unwrap();
    history.calls().unwrap();

    // One leader per term, and observers only ever name a real leadership.
    let mut leaders: BTreeMap<i64, String> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.f.as_str() == "campaign" && o.kind == OpType::Ok) {
        let (term, id) = (op.value["term"].as_i64().unwrap(), op.value["id"].as_str().unwrap().to_string());
        if let Some(other) = leaders.insert(term, id.clone()) {
            panic!("{}: term {term} has two leaders, {other} and {id}", sys.layout().name);
        }
    }
    assert!(leaders.len() >= 3, "{}: only {} leaderships in 6 s: {summary:?}", sys.layout().name, leaders.len());
    // A campaign whose answer never came (`info`, undone afterwards) may
    // have won for a moment: an observer may see it lead a term no `ok`
    // campaign names (etcd under load; issue 26's case).
    let unanswered: BTreeSet<String> = history
        .ops
        .iter()
        .filter(|o| o.f.as_str() == "campaign" && o.kind == OpType::Info)
        .filter_map(|o| o.value["id"].as_str().map(str::to_string))
        .collect();
    let mut observed = BTreeSet::new();
    for op in history.ops.iter().filter(|o| o.f.as_str() == "observe" && o.kind == OpType::Ok && !o.value.is_null()) {
        let id = op.value["leader"].as_str().unwrap();
        match op.value["term"].as_i64() {
            Some(term) if !leaders.contains_key(&term) && unanswered.contains(id) => {}
            Some(term) => {
                assert_eq!(leaders.get(&term).map(String::as_str), Some(id), "{}: observed {op:?}", sys.layout().name);
                observed.insert(term);
            }
            // Seen between winning and filing its term (PostgreSQL, MariaDB).
            None => assert!(leaders.values().any(|l| l == id), "{}: observed {op:?}", sys.layout().name),
        }
    }
    assert!(!observed.is_empty(), "{}: the observer never saw a leader", sys.layout().name);
    for counter in &summary.counters {
        assert_eq!(
            counter.rejected,
            0,
            "{}: a leader's write was refused without faults: {counter:?}",
            sys.layout().name
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every registered system's election recipe; a system without one
/// (Redlock) says so when asked for a client, and is skipped.
async fn election(sys: &'static dyn workloads::System) {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let started =
        common::cluster::start_cluster(&engine, sys, &docker::new_run_id(), Duration::from_secs(120)).await.unwrap();
    let nodes = started.cluster.nodes().to_vec();
    match sys.election_client(&nodes, 0, 0, &options()).await {
        Err(Error::NoElectionRecipe { .. }) => eprintln!("{}: no election recipe", sys.layout().name),
        _ => {
            sanity(sys, &nodes).await;
            election_run(sys, &nodes).await;
        }
    }
    started.cluster.remove().await.unwrap();
}

/// `FENCEPOST_TEST_SYSTEMS=etcd` for one system.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_system_election_recipe() {
    common::for_every_system(election).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlock_has_no_election_recipe() {
    let sys = workloads::by_name("redlock").unwrap();
    let err = sys.election_client(&[], 0, 0, &options()).await.err().unwrap();
    assert!(matches!(err, Error::NoElectionRecipe { system: "redlock" }), "{err}");
}
