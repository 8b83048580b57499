//! The lock recipes of every system against real clusters: a single-client
//! sanity check, then a 5-client, 10-second fenced-counter run without
//! faults whose recorded history reads back, checks as linearizable under the
//! lock models, and whose counters equal their acknowledged increments.
//!
//! Needs a Docker engine (`bash scripts/setup.sh`); images build on first use.

use std::sync::Arc;
use std::time::Duration;

use checker::check::{check, CheckOptions};
use checker::models::ModelSpec;
use checker::{OpType, Verdict};
use docker::Engine;
use workloads::{ClientOptions, FencedResource, LockClient, Outcome, Recorder, RunOptions, Workload};

mod common;

fn options() -> ClientOptions {
    ClientOptions { timeout: Duration::from_secs(1), fenced: true, ..Default::default() }
}

async fn client(sys: &dyn workloads::System, nodes: &[node::Node], process: u64) -> Box<dyn LockClient> {
    sys.lock_client(nodes, process, process as usize, &options())
        .await
        .unwrap_or_else(|e| panic!("{} client: {e}", sys.layout().name))
}

fn ok<T: std::fmt::Debug>(what: &str, outcome: Outcome<T>) -> T {
    match outcome {
        Outcome::Ok(v) => v,
        other => panic!("{what}: expected ok, got {other:?}"),
    }
}

/// Acquire; a second client is refused while it is held; release; the
/// second client then gets it, with a higher token where there are tokens.
async fn sanity(sys: &dyn workloads::System, nodes: &[node::Node]) {
    let ttl = Duration::from_secs(10);
    let mut first = client(sys, nodes, 0).await;
    let mut second = client(sys, nodes, 1).await;
    let g1 = ok("first acquire", first.acquire("sanity", ttl).await);
    // Refused as busy (another client holds it), typed so, not an error.
    match second.acquire("sanity", ttl).await {
        Outcome::Busy(_) => {}
        other => panic!("{}: a second acquire while held must be refused as busy, got {other:?}", sys.layout().name),
    }
    ok("release", first.release(&g1).await);
    let g2 = ok("second client's acquire after the release", second.acquire("sanity", ttl).await);
    if let (Some(t1), Some(t2)) = (g1.token, g2.token) {
        assert!(t2 > t1, "{}: tokens must increase: {t1} then {t2}", sys.layout().name);
    }
    // Releasing a lock one does not hold has no effect.
    match first.release(&g1).await {
        Outcome::Fail(_) => {}
        other => panic!("{}: releasing a lock another client holds must fail, got {other:?}", sys.layout().name),
    }
    ok("second release", second.release(&g2).await);
}

async fn contention(sys: &'static dyn workloads::System, nodes: &[node::Node]) {
    let dir = std::env::temp_dir().join(format!("fencepost-locks-{}-{}", sys.layout().name, docker::new_run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.jsonl");
    let recorder = Recorder::create(&path).unwrap();
    let resource = Arc::new(FencedResource::new(true));
    let run = RunOptions {
        workload: Workload::FencedCounter,
        concurrency: 5,
        keys: 2,
        time_limit: Duration::from_secs(10),
        seed: 7,
        client: options(),
        ..Default::default()
    };
    let summary =
        workloads::run(sys, nodes.to_vec(), run, recorder.clone(), resource, workloads::CancellationToken::new()).await;
    let recorded = recorder.finish().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let history = checker::formats::jsonl::read(&path.display().to_string(), &text).unwrap();
    assert_eq!(history.ops.len() as u64, recorded.ops);
    let acquired = history.ops.iter().filter(|o| o.f.as_str() == "acquire" && o.kind == OpType::Ok).count();
    assert!(acquired >= 10, "{}: only {acquired} grants in 10 s: {summary:?}", sys.layout().name);

    // Without faults, every increment made under the lock survives.
    for counter in &summary.counters {
        assert_eq!(counter.rejected, 0, "{}: {counter:?}", sys.layout().name);
        assert_eq!(counter.value as u64, counter.accepted, "{}: lost updates on {counter:?}", sys.layout().name);
    }
    let locks = history.only(&["acquire", "release"]);
    let mut models = vec![ModelSpec::Mutex];
    if sys.layout().name != "redlock" {
        models.push(ModelSpec::FencedMutex);
    }
    for model in models {
        let result = check(&locks, &model, &CheckOptions::default()).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}: {} model: {result:#?}", sys.layout().name, result.model);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn lock_recipe(sys: &'static dyn workloads::System) {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let run_id = docker::new_run_id();
    let started = common::cluster::start_cluster(&engine, sys, &run_id, Duration::from_secs(120)).await.unwrap();
    let nodes = started.cluster.nodes().to_vec();
    sanity(sys, &nodes).await;
    contention(sys, &nodes).await;
    match sys.layout().name {
        "etcd" => orphaned_waiter_is_revoked(sys, &nodes).await,
        "zookeeper" => sessions_follow_the_ttl(sys, &nodes).await,
        _ => {}
    }
    started.cluster.remove().await.unwrap();
}

/// A waiter key left in etcd's lock queue by a client that retired (its
/// lease no longer kept alive, but not expired) blocks the next acquire;
/// revoking the orphaned lease, as the runner's revoker does, unblocks it.
async fn orphaned_waiter_is_revoked(sys: &dyn workloads::System, nodes: &[node::Node]) {
    let ttl = Duration::from_secs(30);
    let mut holder = client(sys, nodes, 0).await;
    let held = ok("acquire", holder.acquire("orphan", ttl).await);
    // What `Lock` leaves behind for a waiter: a key under the lock's prefix
    // attached to the waiter's lease.
    let mut raw = workloads::systems::etcd::connect(&[&nodes[1]], Duration::from_secs(2)).await.unwrap();
    let lease = raw.lease_grant(30, None).await.unwrap().id();
    let put = etcd_client::PutOptions::new().with_lease(lease);
    raw.put(format!("fencepost/locks/orphan/{lease:x}"), "", Some(put)).await.unwrap();
    ok("release", holder.release(&held).await);
    let mut next = client(sys, nodes, 2).await;
    match next.acquire("orphan", ttl).await {
        Outcome::Busy(_) => {}
        other => panic!("an acquire behind the orphan must wait (and fail here), got {other:?}"),
    }
    let orphan = workloads::Orphan { key: "orphan".into(), lease };
    assert_eq!(sys.revoke_orphan(nodes, &orphan, &options()).await, Outcome::Ok(true));
    let g = ok("acquire once the orphan is revoked", next.acquire("orphan", ttl).await);
    ok("release", next.release(&g).await);
    assert_eq!(sys.revoke_orphan(nodes, &orphan, &options()).await, Outcome::Ok(false), "already gone");
}

/// A ZooKeeper session is the recipe's lease: during a run every client's
/// session timeout, as the servers list it, is the run's TTL; outside the
/// servers' bounds it is clamped, as `ttl_note` says.
async fn sessions_follow_the_ttl(sys: &'static dyn workloads::System, nodes: &[node::Node]) {
    let ttl = Duration::from_secs(3);
    assert_eq!(sys.ttl_note(ttl), None);
    let run =
        RunOptions { concurrency: 3, ttl, time_limit: Duration::from_secs(6), client: options(), ..Default::default() };
    let running = tokio::spawn(workloads::run(
        sys,
        nodes.to_vec(),
        run,
        Recorder::discard(),
        Arc::new(FencedResource::new(false)),
        workloads::CancellationToken::new(),
    ));
    // `cons` lists each connection's session with its negotiated `to=`.
    // Clients connect at their own pace on a loaded machine (a CI run once
    // saw two of three 1.5 s in), so ask again until all three are listed.
    let mut timeouts = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        timeouts.clear();
        for node in nodes {
            let out =
                node.exec(&["sh", "-c", "echo cons | nc -w 2 127.0.0.1 2181"], Duration::from_secs(10)).await.unwrap();
            for part in out.stdout.split([',', '(', ')']) {
                if let Some(to) = part.trim().strip_prefix("to=") {
                    timeouts.push(to.parse::<u64>().unwrap());
                }
            }
        }
        if timeouts.len() >= 3 || running.is_finished() {
            break;
        }
    }
    running.await.unwrap();
    assert!(timeouts.len() >= 3, "the run's sessions: {timeouts:?}");
    assert!(timeouts.iter().all(|&to| to == 3000), "session timeouts {timeouts:?}, asked for 3000 ms");

    // The client sees the negotiated timeout too, clamped at the bounds.
    let node = &nodes[0];
    for (asked, granted) in [(7, 7), (60, 20)] {
        let client = workloads::systems::zookeeper::connect(node, Duration::from_secs(asked)).await.unwrap();
        assert_eq!(client.session_timeout(), Duration::from_secs(granted), "asked for {asked} s");
    }
    assert!(sys.ttl_note(Duration::from_secs(60)).is_some());
}

/// Every registered system's lock recipe (`FENCEPOST_TEST_SYSTEMS=etcd`
/// for one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_system_lock_recipe() {
    common::for_every_system(lock_recipe).await;
}
