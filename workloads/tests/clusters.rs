//! Every layout, started for real in containers: one real operation through
//! the client fencepost uses, then kill/restart and pause/unpause of a node,
//! observed with real requests, then removal with nothing left behind.
//!
//! Needs a Docker engine (`bash scripts/setup.sh` installs and starts one);
//! images are built on first use.

use std::future::Future;
use std::time::{Duration, Instant};

use docker::{Engine, Node, NodeState};
use workloads::systems::{self, System};
use workloads::Started;

const READY: Duration = Duration::from_secs(120);

async fn start(system: &str) -> (Engine, &'static dyn System, Started) {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let sys = workloads::by_name(system).expect("registered");
    let run_id = docker::new_run_id();
    let started = workloads::start_cluster(&engine, sys, &run_id, READY).await.expect("cluster starts and serves");
    assert_eq!(started.cluster.nodes().len(), sys.layout().nodes);
    (engine, sys, started)
}

/// Polls `f` until it succeeds, or panics with its last error.
async fn eventually<T, E, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match tokio::time::timeout(Duration::from_secs(5), f()).await {
            Ok(Ok(v)) => return v,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        assert!(Instant::now() < deadline, "{what}: still failing after {timeout:?}: {last}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The probe must fail (an error or no answer within 5 s).
async fn assert_unreachable(sys: &dyn System, node: &Node, why: &str) {
    if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(5), sys.probe(node)).await {
        panic!("{} answered while {why}", node.name());
    }
}

/// Kill -9 `victim` and see it unreachable while `witness` (another node,
/// if any) still serves; restart it and see it serve; then the same with
/// pause/unpause.
async fn kill_restart_pause(sys: &dyn System, victim: &Node, witness: Option<&Node>) {
    victim.kill().await.unwrap();
    assert_eq!(victim.state().await.unwrap(), NodeState::Stopped);
    assert_unreachable(sys, victim, "killed").await;
    if let Some(witness) = witness {
        eventually("a surviving node serves", READY, || sys.probe(witness)).await;
    }
    victim.start().await.unwrap();
    assert_eq!(victim.state().await.unwrap(), NodeState::Running);
    eventually("the restarted node serves", READY, || sys.probe(victim)).await;

    victim.pause().await.unwrap();
    assert_eq!(victim.state().await.unwrap(), NodeState::Paused);
    assert_unreachable(sys, victim, "paused").await;
    victim.unpause().await.unwrap();
    eventually("the resumed node serves", READY, || sys.probe(victim)).await;
}

async fn remove_and_check(engine: &Engine, started: Started) {
    let run_id = started.cluster.run_id().to_string();
    assert!(!docker::run_resources(engine, &run_id).await.unwrap().is_empty());
    started.cluster.remove().await.unwrap();
    let left = docker::run_resources(engine, &run_id).await.unwrap();
    assert!(left.is_empty(), "run {run_id} left {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_single_node() {
    let (engine, sys, started) = start("redis").await;
    let n1 = &started.cluster.nodes()[0];
    let mut conn = systems::redis::connect(n1, Duration::from_secs(2)).await.unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v1").query_async(&mut conn).await.unwrap();
    let got: Option<String> = redis::cmd("GET").arg("k").query_async(&mut conn).await.unwrap();
    assert_eq!(got.as_deref(), Some("v1"));

    // exec: argv reaches the program as given (no shell), with exit code and output.
    let out = n1.exec(&["redis-cli", "GET", "k"], Duration::from_secs(10)).await.unwrap();
    assert_eq!((out.code, out.stdout.trim()), (0, "v1"));
    let out = n1.exec(&["sh", "-c", "echo oops >&2; exit 3", "; rm -rf /"], Duration::from_secs(10)).await.unwrap();
    assert_eq!((out.code, out.stderr.trim()), (3, "oops"));
    assert!(n1.exec(&["no-such-program"], Duration::from_secs(10)).await.map_or(true, |o| !o.success()));
    // The nemesis's tools are in the image and NET_ADMIN lets them act.
    let out = n1.exec(&["iptables", "-L", "INPUT", "-n"], Duration::from_secs(10)).await.unwrap();
    assert!(out.success(), "iptables in the node: {out:?}");
    let ip = n1.ip().await.unwrap();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    assert!(n1.logs().await.unwrap().contains("Ready to accept connections"));

    kill_restart_pause(sys, n1, None).await;
    // No persistence: the killed server came back empty.
    let mut conn = systems::redis::connect(n1, Duration::from_secs(2)).await.unwrap();
    let got: Option<String> = redis::cmd("GET").arg("k").query_async(&mut conn).await.unwrap();
    assert_eq!(got, None, "a restarted Redis without persistence forgets its keys");
    remove_and_check(&engine, started).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlock_five_independent_nodes() {
    let (engine, sys, started) = start("redlock").await;
    let nodes = started.cluster.nodes();
    let mut first = systems::redis::connect(&nodes[0], Duration::from_secs(2)).await.unwrap();
    let _: () = redis::cmd("SET").arg("only-on-n1").arg("x").query_async(&mut first).await.unwrap();
    for node in &nodes[1..] {
        let mut conn = systems::redis::connect(node, Duration::from_secs(2)).await.unwrap();
        let got: Option<String> = redis::cmd("GET").arg("only-on-n1").query_async(&mut conn).await.unwrap();
        assert_eq!(got, None, "{} must not see n1's key: the five servers are independent", node.name());
    }
    kill_restart_pause(sys, &nodes[2], Some(&nodes[0])).await;
    remove_and_check(&engine, started).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_three_member_raft_cluster() {
    let (engine, sys, started) = start("etcd").await;
    let nodes = started.cluster.nodes();
    for node in nodes {
        // etcd 3.4's default: no pre-vote (see `etcd-prevote`).
        assert!(!node.logs().await.unwrap().contains("became pre-candidate"), "{} ran a pre-vote", node.name());
    }
    let mut via_n1 = systems::etcd::connect(&[&nodes[0]], Duration::from_secs(2)).await.unwrap();
    via_n1.put("k", "v1", None).await.unwrap();
    for node in nodes {
        let mut client = systems::etcd::connect(&[node], Duration::from_secs(2)).await.unwrap();
        let got = client.get("k", None).await.unwrap();
        assert_eq!(got.kvs()[0].value(), b"v1", "linearizable get through {}", node.name());
    }
    kill_restart_pause(sys, &nodes[0], Some(&nodes[1])).await;
    // Written while n1 was away (quorum of two), then read through n1: it
    // rejoined the Raft group and caught up.
    let mut via_n2 = systems::etcd::connect(&[&nodes[1]], Duration::from_secs(2)).await.unwrap();
    via_n2.put("k", "v2", None).await.unwrap();
    let value = eventually("n1 serves the latest write", READY, || async {
        let mut client = systems::etcd::connect(&[&nodes[0]], Duration::from_secs(2)).await?;
        let got = client.get("k", None).await?;
        Ok::<_, systems::Error>(got.kvs()[0].value().to_vec())
    })
    .await;
    assert_eq!(value, b"v2");
    remove_and_check(&engine, started).await;
}

/// The `etcd-prevote` variant: same image, every member started with
/// `--pre-vote` (etcd says it used `ETCD_PRE_VOTE`, and its first election
/// went through a pre-candidate); plain `etcd` keeps 3.4's default (off).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_prevote_members_run_with_pre_vote() {
    let (engine, sys, started) = start("etcd-prevote").await;
    assert_eq!(sys.layout().image, workloads::by_name("etcd").unwrap().layout().image);
    let nodes = started.cluster.nodes();
    let mut via_n1 = systems::etcd::connect(&[&nodes[0]], Duration::from_secs(2)).await.unwrap();
    via_n1.put("k", "v1", None).await.unwrap();
    let mut pre_candidates = 0;
    for node in nodes {
        let env = node.exec(&["sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"], Duration::from_secs(10)).await.unwrap();
        assert!(env.stdout.lines().any(|l| l == "ETCD_PRE_VOTE=true"), "{}: {env:?}", node.name());
        let log = node.logs().await.unwrap();
        assert!(
            log.contains("recognized and used environment variable ETCD_PRE_VOTE=true"),
            "{} did not take --pre-vote:\n{log}",
            node.name()
        );
        pre_candidates += log.matches("became pre-candidate").count();
    }
    assert!(pre_candidates > 0, "the first election ran without a pre-vote");
    remove_and_check(&engine, started).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_three_server_ensemble() {
    use zookeeper_client::{Acls, CreateMode};
    let (engine, sys, started) = start("zookeeper").await;
    let nodes = started.cluster.nodes();
    let session = Duration::from_secs(4);
    let via_n1 = systems::zookeeper::connect(&nodes[0], session).await.unwrap();
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    via_n1.create("/fencepost-test", b"v1", &persistent).await.unwrap();
    for node in nodes {
        let client = systems::zookeeper::connect(node, session).await.unwrap();
        // ZooKeeper reads are served locally; sync first to see the write.
        client.sync("/fencepost-test").await.unwrap();
        let (data, _) = client.get_data("/fencepost-test").await.unwrap();
        assert_eq!(data, b"v1", "read through {}", node.name());
    }
    drop(via_n1);
    kill_restart_pause(sys, &nodes[0], Some(&nodes[1])).await;
    let via_n2 = systems::zookeeper::connect(&nodes[1], session).await.unwrap();
    via_n2.set_data("/fencepost-test", b"v2", None).await.unwrap();
    let data = eventually("n1 serves the latest write", READY, || async {
        let client = systems::zookeeper::connect(&nodes[0], session).await?;
        client.sync("/fencepost-test").await?;
        Ok::<_, systems::Error>(client.get_data("/fencepost-test").await?.0)
    })
    .await;
    assert_eq!(data, b"v2");
    remove_and_check(&engine, started).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_single_server() {
    let (engine, sys, started) = start("postgres").await;
    let n1 = &started.cluster.nodes()[0];
    let mut conn = systems::postgres::connect(n1).await.unwrap();
    let row: (i32, bool) = sqlx::query_as("SELECT 1, pg_try_advisory_lock(42)").fetch_one(&mut conn).await.unwrap();
    assert_eq!(row, (1, true));
    kill_restart_pause(sys, n1, None).await;
    // The old session died with the server, so its advisory lock is gone.
    let mut conn = systems::postgres::connect(n1).await.unwrap();
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(42)").fetch_one(&mut conn).await.unwrap();
    assert!(free);
    remove_and_check(&engine, started).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_single_server() {
    let (engine, sys, started) = start("mysql").await;
    let n1 = &started.cluster.nodes()[0];
    let mut conn = systems::mysql::connect(n1).await.unwrap();
    let row: (i64, i64) = sqlx::query_as("SELECT 1, GET_LOCK('k', 0)").fetch_one(&mut conn).await.unwrap();
    assert_eq!(row, (1, 1));
    kill_restart_pause(sys, n1, None).await;
    let mut conn = systems::mysql::connect(n1).await.unwrap();
    let got: i64 = sqlx::query_scalar("SELECT GET_LOCK('k', 0)").fetch_one(&mut conn).await.unwrap();
    assert_eq!(got, 1, "the lock died with the killed server's session");
    remove_and_check(&engine, started).await;
}

/// Dropping a cluster (as a panic or an early return does) removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_cluster_removes_it() {
    let (engine, _, started) = start("redis").await;
    let run_id = started.cluster.run_id().to_string();
    drop(started);
    let left = docker::run_resources(&engine, &run_id).await.unwrap();
    assert!(left.is_empty(), "run {run_id} left {left:?}");
}
