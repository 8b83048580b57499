//! Every layout, started for real in containers: one real operation through
//! the client fencepost uses, then kill/restart and pause/unpause of a node,
//! observed with real requests, then removal with nothing left behind.
//!
//! Needs a Docker engine (`bash scripts/setup.sh` installs and starts one);
//! images are built on first use.

use std::future::Future;
use std::time::{Duration, Instant};

use common::cluster::Started;
use docker::Engine;
use node::{Node, NodeState};
use workloads::systems::{self, System};

// Only the cluster helper: the per-system helpers are the other files'.
#[allow(dead_code)]
mod common;

const READY: Duration = Duration::from_secs(120);

async fn start(system: &str) -> (Engine, &'static dyn System, Started) {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let sys = workloads::by_name(system).expect("registered");
    let run_id = docker::new_run_id();
    let started =
        common::cluster::start_cluster(&engine, sys, &run_id, READY).await.expect("cluster starts and serves");
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

/// `redis:aof-always`: a lock key and a fence counter written before a
/// kill -9 are there after the start, and the key's lease kept running
/// while the server was down (plain `redis` forgets both:
/// `redis_single_node`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_aof_always_keeps_keys_and_their_expiry_across_a_kill() {
    let (engine, sys, started) = start("redis:aof-always").await;
    let n1 = &started.cluster.nodes()[0];
    let mut conn = systems::redis::connect(n1, Duration::from_secs(2)).await.unwrap();
    let config: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("append*").query_async(&mut conn).await.unwrap();
    let config: Vec<(&str, &str)> = config.chunks_exact(2).map(|kv| (kv[0].as_str(), kv[1].as_str())).collect();
    assert!(config.contains(&("appendonly", "yes")) && config.contains(&("appendfsync", "always")), "{config:?}");

    let set_at = Instant::now();
    let _: () = redis::cmd("SET").arg("lock").arg("mine").arg("PX").arg(30_000).query_async(&mut conn).await.unwrap();
    let token: u64 = redis::cmd("INCR").arg("fence:lock").query_async(&mut conn).await.unwrap();
    // Long enough that a lease restarted from its TTL at the start would show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    n1.kill().await.unwrap();
    assert_unreachable(sys, n1, "killed").await;
    n1.start().await.unwrap();
    eventually("the restarted server serves", READY, || sys.probe(n1)).await;

    let mut conn = systems::redis::connect(n1, Duration::from_secs(2)).await.unwrap();
    let got: Option<String> = redis::cmd("GET").arg("lock").query_async(&mut conn).await.unwrap();
    assert_eq!(got.as_deref(), Some("mine"), "the lock key survives the kill");
    let pttl: i64 = redis::cmd("PTTL").arg("lock").query_async(&mut conn).await.unwrap();
    let left = 30_000 - set_at.elapsed().as_millis() as i64;
    // A few ms of slack: the server's clock and ours are the same clock, read
    // at slightly different moments.
    assert!(pttl > 0 && pttl <= left + 50, "PTTL {pttl} ms, expected at most {left} ms");
    let fence: u64 = redis::cmd("GET").arg("fence:lock").query_async(&mut conn).await.unwrap();
    assert_eq!(fence, token, "the fence counter survives the kill");
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
        // etcd 3.4's default: no pre-vote (see `etcd:prevote`).
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

/// The `etcd:prevote` variant: same image, every member started with
/// `--pre-vote` (etcd says it used `ETCD_PRE_VOTE`, and its first election
/// went through a pre-candidate); plain `etcd` keeps 3.4's default (off).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_prevote_members_run_with_pre_vote() {
    let (engine, sys, started) = start("etcd:prevote").await;
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
    let (engine, sys, started) = start("mariadb").await;
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

/// What `/fencepost/role` says on `node`.
async fn role(node: &Node) -> String {
    node.exec(&["/fencepost/role"], Duration::from_secs(10)).await.unwrap().stdout.trim().to_string()
}

/// `redis-sentinel`: n1 starts as the primary and every Sentinel names it;
/// writes reach the replicas. Killing the primary makes the Sentinels
/// promote a replica, and a lock client that found n1 through them acquires
/// on the new primary, within a bound; the old primary restarts as a
/// replica of the new one. Then a replica's kill/restart and pause, as for
/// every system.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sentinel_fails_over_when_the_primary_dies() {
    use workloads::systems::redis_sentinel::ask_sentinel;
    use workloads::{ClientOptions, Outcome};
    // Failover takes about 3 s, but a Sentinel whose timer ran late (this
    // test shares two cores with the other clusters') enters TILT mode and
    // does nothing for 30 s: allow one TILT, not a hang.
    const FAILOVER: Duration = Duration::from_secs(75);
    let (engine, sys, started) = start("redis-sentinel").await;
    let nodes = started.cluster.nodes();
    for node in nodes {
        let named = ask_sentinel(node, nodes, Duration::from_secs(2)).await.unwrap();
        assert_eq!(named.name(), "n1", "{}'s Sentinel", node.name());
        assert_eq!(role(node).await, if node.name() == "n1" { "leader" } else { "follower" }, "{}", node.name());
    }
    let mut primary = systems::redis::connect(&nodes[0], Duration::from_secs(2)).await.unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v1").query_async(&mut primary).await.unwrap();
    for replica in &nodes[1..] {
        let got = eventually("the write reaches the replica", READY, || async {
            let mut conn = systems::redis::connect(replica, Duration::from_secs(2)).await?;
            let got: Option<String> = redis::cmd("GET").arg("k").query_async(&mut conn).await?;
            got.ok_or_else(|| systems::Error::UnexpectedAnswer { request: "GET k", answer: "nil".into() })
        })
        .await;
        assert_eq!(got, "v1", "on {}", replica.name());
    }

    let options = ClientOptions { timeout: Duration::from_secs(1), fenced: true, ..Default::default() };
    let mut client = sys.lock_client(nodes, 0, 0, &options).await.unwrap();
    let ttl = Duration::from_secs(10);
    let Outcome::Ok(before) = client.acquire("k1", ttl).await else { panic!("acquire on n1") };
    assert_eq!(before.node.as_deref(), Some("n1"));
    assert_eq!(client.release(&before).await, Outcome::Ok(()));

    nodes[0].kill().await.unwrap();
    let killed = Instant::now();
    let promoted = eventually("a Sentinel names another primary", FAILOVER, || async {
        let named = ask_sentinel(&nodes[1], nodes, Duration::from_secs(2)).await?;
        match named.name() {
            "n1" => Err(systems::Error::UnexpectedAnswer { request: "SENTINEL", answer: "still n1".into() }),
            name => Ok(name.to_string()),
        }
    })
    .await;
    let promoted_after = killed.elapsed();
    // The same client: its next operations fail on the dead primary, then
    // it asks the Sentinels again and lands on the new one.
    let after = loop {
        match client.acquire("k1", ttl).await {
            Outcome::Ok(grant) => break grant,
            other => assert!(killed.elapsed() < FAILOVER, "no grant {FAILOVER:?} after the kill: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "redis-sentinel: {promoted} named after {:.1} s, first grant on it after {:.1} s",
        promoted_after.as_secs_f64(),
        killed.elapsed().as_secs_f64()
    );
    assert_eq!(after.node.as_deref(), Some(promoted.as_str()));
    assert!(after.token > before.token, "the fence counter replicated: {:?} then {:?}", before.token, after.token);
    let new_primary = started.cluster.node(&promoted).unwrap();
    assert_eq!(role(new_primary).await, "leader");

    // The old primary comes back as a replica of the new one, not as a
    // second primary (the start script asks the Sentinels who leads now).
    nodes[0].start().await.unwrap();
    eventually("the restarted old primary serves as a replica", READY, || sys.probe(&nodes[0])).await;
    assert_eq!(role(&nodes[0]).await, "follower");
    // Its Sentinel restarted with what it last wrote down (n1 leads) and
    // learns the new primary from the others' announcements.
    eventually("the restarted Sentinel names the new primary", READY, || async {
        match ask_sentinel(&nodes[0], nodes, Duration::from_secs(2)).await?.name() {
            name if name == promoted => Ok(()),
            name => Err(systems::Error::UnexpectedAnswer { request: "SENTINEL", answer: format!("still {name}") }),
        }
    })
    .await;
    assert_eq!(client.release(&after).await, Outcome::Ok(()));

    let replica = nodes.iter().find(|n| n.name() != promoted).unwrap();
    kill_restart_pause(sys, replica, Some(new_primary)).await;
    remove_and_check(&engine, started).await;
}

/// `redis-sentinel:min-replicas`: every server runs with
/// `min-replicas-to-write 1`, so a primary that hears from no replica
/// (both paused) refuses the lock's writes with `NOREPLICAS`, and takes
/// them again once one is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sentinel_min_replicas_primary_alone_refuses_writes() {
    use workloads::{ClientOptions, Outcome};
    let (engine, sys, started) = start("redis-sentinel:min-replicas").await;
    let nodes = started.cluster.nodes();
    for node in nodes {
        let mut conn = systems::redis::connect(node, Duration::from_secs(2)).await.unwrap();
        let got: Vec<String> =
            redis::cmd("CONFIG").arg("GET").arg("min-replicas-to-write").query_async(&mut conn).await.unwrap();
        assert_eq!(got, ["min-replicas-to-write", "1"], "{}", node.name());
    }
    let options = ClientOptions { timeout: Duration::from_secs(1), ..Default::default() };
    let mut client = sys.lock_client(nodes, 0, 0, &options).await.unwrap();
    let ttl = Duration::from_secs(10);
    let Outcome::Ok(grant) = client.acquire("k", ttl).await else { panic!("acquire with both replicas up") };
    assert_eq!(client.release(&grant).await, Outcome::Ok(()));
    for replica in &nodes[1..] {
        replica.pause().await.unwrap();
    }
    // Replicas acknowledge every second; past min-replicas-max-lag (1 s)
    // without one, the primary refuses.
    let paused = Instant::now();
    let refused = loop {
        match client.acquire("k", ttl).await {
            Outcome::Fail(why) if why.contains("NOREPLICAS") => break why,
            // The lag can pass between an acquire and its release (under
            // CI's load it did): the release, a write too, is refused then.
            Outcome::Ok(grant) => match client.release(&grant).await {
                Outcome::Ok(()) => {}
                Outcome::Fail(why) if why.contains("NOREPLICAS") => break why,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        assert!(paused.elapsed() < Duration::from_secs(10), "the primary kept taking writes with no replica");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "redis-sentinel:min-replicas: refused {:.1} s after the replicas stopped: {refused}",
        paused.elapsed().as_secs_f64()
    );
    for replica in &nodes[1..] {
        replica.unpause().await.unwrap();
    }
    let unpaused = Instant::now();
    loop {
        // Another key: "k" may still be held by a grant whose release was refused.
        if let Outcome::Ok(grant) = client.acquire("k2", ttl).await {
            assert_eq!(client.release(&grant).await, Outcome::Ok(()));
            break;
        }
        assert!(unpaused.elapsed() < READY, "no write taken after the replicas came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
