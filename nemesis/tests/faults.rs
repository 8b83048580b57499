//! Every fault kind on a real cluster: start it, see the effect with a real
//! probe, heal, see recovery, and nothing left behind (no iptables rule, no
//! paused or stopped container, no qdisc, no clock offset). Needs a Docker
//! engine.

#[path = "../../tests/common/progress.rs"]
mod progress;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use docker::Engine;
use nemesis::{
    ClientPartition, ClientPause, Clock, ClockRate, CorruptFile, Fault, FaultKind, FaultSpec, Grudge, Kill,
    LoseUnsynced, Loss, Member, Nemesis, Netem, Partition, Pause, Phase,
};
use node::NodeState;
use serde_json::Value;

/// Completed nemesis steps (`Phase::Done`), as the tests below check them.
type Events = Arc<Mutex<Vec<(String, Value)>>>;
/// Every event with its phase and when it was reported.
type Timeline = Arc<Mutex<Vec<(Phase, String, Instant)>>>;

async fn cluster(system: &str) -> (harness::Started, Nemesis, Events) {
    let (started, nemesis, events, _) = cluster_with_timeline(system).await;
    (started, nemesis, events)
}

async fn cluster_with_timeline(system: &str) -> (harness::Started, Nemesis, Events, Timeline) {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let sys = workloads::by_name(system).unwrap();
    let started = harness::start_cluster(&engine, sys, &docker::new_run_id(), Duration::from_secs(120)).await.unwrap();
    let events: Events = Arc::default();
    let timeline: Timeline = Arc::default();
    let (sink, all) = (events.clone(), timeline.clone());
    let report: nemesis::Report = Arc::new(move |phase, f, v| {
        all.lock().unwrap().push((phase, f.to_string(), Instant::now()));
        if phase == Phase::Done {
            sink.lock().unwrap().push((f.to_string(), serde_json::to_value(v).unwrap()));
        }
    });
    let nemesis = Nemesis::new(started.cluster.nodes().to_vec(), sys.layout().client_port(), report);
    (started, nemesis, events, timeline)
}

/// No rule, no qdisc, no clock offset, no paused or stopped node.
async fn assert_clean(started: &harness::Started, nemesis: &Nemesis) {
    assert_eq!(nemesis.leftovers().await.unwrap(), Vec::<String>::new());
    for node in started.cluster.nodes() {
        assert_eq!(node.state().await.unwrap(), NodeState::Running, "{}", node.name());
        let rules = node.exec(&["iptables", "-S"], Duration::from_secs(10)).await.unwrap().stdout;
        assert!(!rules.contains("-A "), "{} kept rules:\n{rules}", node.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_cut_and_heal_on_etcd_and_redlock() {
    let _progress = progress::Progress::test();
    let (started, nemesis, events, timeline) = cluster_with_timeline("etcd").await;
    let nodes = started.cluster.nodes();
    assert!(nemesis.reaches(&nodes[0], &nodes[1]).await.unwrap());
    let mut grudge = Grudge::new();
    grudge.entry("n1".into()).or_default().extend(["n2".to_string(), "n3".to_string()]);
    grudge.entry("n2".into()).or_default().insert("n1".into());
    grudge.entry("n3".into()).or_default().insert("n1".into());
    let fault = Fault::from(Partition { kind: "one", grudge });
    let asked = Instant::now();
    nemesis.start(&fault).await.unwrap();
    let returned = Instant::now();
    assert!(!nemesis.reaches(&nodes[0], &nodes[1]).await.unwrap(), "n1 is cut off");
    let seen_cut = Instant::now();
    assert!(!nemesis.reaches(&nodes[2], &nodes[0]).await.unwrap(), "n3 cannot reach n1");
    assert!(nemesis.reaches(&nodes[1], &nodes[2]).await.unwrap(), "the majority still talks");
    // The majority side still serves a linearizable read; n1 does not.
    let sys = workloads::by_name("etcd").unwrap();
    let mut served = false;
    for _ in 0..50 {
        if sys.probe(&nodes[1]).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(served, "the majority side keeps serving");
    assert!(tokio::time::timeout(Duration::from_secs(4), sys.probe(&nodes[0])).await.map_or(true, |r| r.is_err()));
    let healing = Instant::now();
    nemesis.stop(&fault).await.unwrap();
    let healed = Instant::now();
    assert!(nemesis.reaches(&nodes[0], &nodes[1]).await.unwrap());
    assert_clean(&started, &nemesis).await;
    let names: Vec<String> = events.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(names, ["partition-start", "partition-stop"]);
    // The start and stop events bracket the fault: the start begins before
    // anything is cut and is done once the cut is verified; the stop begins
    // before the heal and is done once the nodes reach each other again.
    let t = timeline.lock().unwrap().clone();
    let phases: Vec<(Phase, &str)> = t.iter().map(|(p, f, _)| (*p, f.as_str())).collect();
    assert_eq!(
        phases,
        [
            (Phase::Begin, "partition-start"),
            (Phase::Done, "partition-start"),
            (Phase::Begin, "partition-stop"),
            (Phase::Done, "partition-stop")
        ]
    );
    assert!(asked <= t[0].2 && t[1].2 <= returned && t[1].2 <= seen_cut, "the start brackets the cut");
    assert!(healing <= t[2].2 && t[3].2 <= healed, "the stop brackets the heal");
    assert_eq!(events.lock().unwrap()[0].1["grudge"]["n1"], serde_json::json!(["n2", "n3"]));
    started.cluster.remove().await.unwrap();

    // A majorities ring on five nodes: everyone sees exactly its neighbours.
    let (started, nemesis, _) = cluster("redlock").await;
    let mut rng = checker::gen::Rng::new(3);
    let fault = loop {
        let f = nemesis::random_partition(&nemesis.node_names(), &mut rng);
        if matches!(f, Fault::Partition(Partition { kind: "majorities-ring", .. })) {
            break f;
        }
    };
    nemesis.start(&fault).await.unwrap();
    let Fault::Partition(Partition { grudge, .. }) = &fault else { unreachable!() };
    let nodes = started.cluster.nodes();
    for a in nodes {
        for b in nodes.iter().filter(|b| b.name() != a.name()) {
            let cut = grudge[a.name()].contains(b.name());
            assert_eq!(nemesis.reaches(a, b).await.unwrap(), !cut, "{} -> {}", a.name(), b.name());
        }
    }
    nemesis.heal_all().await.unwrap();
    assert_clean(&started, &nemesis).await;
    started.cluster.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_pause_and_loss_take_effect_and_heal_on_redis() {
    let _progress = progress::Progress::test();
    let (started, nemesis, events) = cluster("redis").await;
    let sys = workloads::by_name("redis").unwrap();
    let n1 = &started.cluster.nodes()[0];
    let probe_fails =
        || async { tokio::time::timeout(Duration::from_secs(3), sys.probe(n1)).await.map_or(true, |r| r.is_err()) };

    let kill = Fault::from(Kill { nodes: vec!["n1".into()] });
    nemesis.start(&kill).await.unwrap();
    assert!(probe_fails().await, "a killed Redis answers");
    nemesis.stop(&kill).await.unwrap();
    sys.probe(n1).await.unwrap();

    let pause = Fault::from(Pause { nodes: vec!["n1".into()] });
    nemesis.start(&pause).await.unwrap();
    assert!(probe_fails().await, "a paused Redis answers");
    nemesis.stop(&pause).await.unwrap();
    sys.probe(n1).await.unwrap();

    // Dropping every packet cuts the node off from its clients.
    let cut = Fault::from(Loss { nodes: vec!["n1".into()], probability: 1.0 });
    nemesis.start(&cut).await.unwrap();
    assert!(probe_fails().await, "a Redis dropping all packets answers");
    nemesis.stop(&cut).await.unwrap();
    sys.probe(n1).await.unwrap();

    assert_clean(&started, &nemesis).await;
    let names: Vec<String> = events.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(names, ["kill-start", "kill-stop", "pause-start", "pause-stop", "loss-start", "loss-stop"]);
    started.cluster.remove().await.unwrap();
}

/// `partition:ring` on five etcd members: every member reaches exactly its
/// two ring neighbours (with itself a majority of five), no two members the
/// same majority, and the cluster still serves; `partition:minority-third`
/// cuts one member from four. Every pair is probed, cut or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_and_minority_third_partitions_reach_exactly_what_they_plan() {
    let _progress = progress::Progress::test();
    let (started, nemesis, events) = cluster("etcd:five").await;
    let nodes = started.cluster.nodes();
    let names: Vec<String> = nodes.iter().map(|n| n.name().to_string()).collect();
    let options = nemesis::FaultOptions::default();
    for (spec, seed) in [("partition:ring", 7), ("partition:minority-third", 8)] {
        let spec = FaultSpec::parse(spec).unwrap();
        let fault = nemesis::planned_fault(spec, &names, &options, &mut kit::Rng::new(seed));
        let Fault::Partition(Partition { grudge, .. }) = &fault else { unreachable!() };
        let grudge = grudge.clone();
        nemesis.start(&fault).await.unwrap();
        let mut seen: Vec<Vec<&str>> = Vec::new();
        let nemesis = &nemesis;
        for a in nodes {
            let probes = nodes
                .iter()
                .filter(|b| b.name() != a.name())
                .map(|b| async move { (b.name(), nemesis.reaches(a, b).await.unwrap()) });
            let reached: Vec<&str> = futures_util::future::join_all(probes)
                .await
                .into_iter()
                .filter_map(|(b, reached)| {
                    let cut = grudge.get(a.name()).is_some_and(|d| d.contains(b));
                    assert_eq!(reached, !cut, "{spec}: {} reaching {b}", a.name());
                    reached.then_some(b)
                })
                .collect();
            seen.push(reached);
        }
        if spec.to_string() == "partition:ring" {
            assert!(seen.iter().all(|r| r.len() == 2), "{spec}: each member sees a majority of five: {seen:?}");
            let mut majorities: Vec<Vec<&str>> = nodes
                .iter()
                .zip(&seen)
                .map(|(n, r)| {
                    let mut m = r.clone();
                    m.push(n.name());
                    m.sort();
                    m
                })
                .collect();
            majorities.sort();
            majorities.dedup();
            assert_eq!(majorities.len(), 5, "{spec}: no two members see the same majority: {seen:?}");
        } else {
            let alone = seen.iter().filter(|r| r.is_empty()).count();
            assert_eq!(alone, 1, "{spec}: one member of five cut from the rest: {seen:?}");
        }
        nemesis.stop(&fault).await.unwrap();
    }
    assert_clean(&started, &nemesis).await;
    let kinds: Vec<String> = events.lock().unwrap().iter().map(|(_, v)| v["kind"].as_str().unwrap().into()).collect();
    assert_eq!(kinds, ["majorities-ring", "majorities-ring", "minority-third", "minority-third"]);
    started.cluster.remove().await.unwrap();
}

/// A membership change on etcd and on ZooKeeper: the leader, as the system
/// names it, is removed by the others (their member list no longer names
/// it, and the two left keep serving), then added back when healed, and
/// every member lists all three as voters again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_is_added_back_when_healed() {
    let _progress = progress::Progress::test();
    for system in ["etcd", "zookeeper"] {
        let (started, nemesis, events) = cluster(system).await;
        let nodes = started.cluster.nodes();
        let sys = workloads::by_name(system).unwrap();
        let list = |i: usize| async move {
            let out = nodes[i].exec(&["/fencepost/member", "list"], Duration::from_secs(30)).await.unwrap();
            assert!(out.success(), "{system}: member list on {}: {}", nodes[i].name(), out.stderr);
            let mut names: Vec<String> = out.stdout.lines().map(str::to_string).collect();
            names.sort();
            names
        };
        assert_eq!(list(0).await, ["n1", "n2", "n3"], "{system}");
        // `member:leader` as planned: no nodes until it starts.
        let leader = nemesis::Aimed::new(Fault::from(Member { nodes: Vec::new() }), nemesis::Target::Leader);
        let aimed = nemesis.start(leader).await.unwrap_or_else(|e| panic!("{system}: {e}"));
        let gone = aimed.fault.targets();
        assert_eq!(gone.len(), 1, "{system}: {gone:?}");
        let removed = nodes.iter().position(|n| n.name() == gone[0]).unwrap();
        let stays = (removed + 1) % 3;
        let left = list(stays).await;
        assert_eq!(left.len(), 2, "{system}: {left:?}");
        assert!(!left.contains(&gone[0]), "{system}: {left:?}");
        let mut served = false;
        for _ in 0..50 {
            if sys.probe(&nodes[stays]).await.is_ok() {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(served, "{system}: the two members left keep serving");
        nemesis.stop(aimed).await.unwrap_or_else(|e| panic!("{system}: {e}"));
        for (i, node) in nodes.iter().enumerate() {
            assert_eq!(list(i).await, ["n1", "n2", "n3"], "{system}: as {} lists them", node.name());
        }
        let mut served = false;
        for _ in 0..50 {
            if sys.probe(&nodes[removed]).await.is_ok() {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(served, "{system}: the member added back serves");
        if system == "etcd" {
            // It joined as a new member, its old self removed.
            let log = nodes[removed].logs().await.unwrap();
            assert!(log.contains("removed member") || log.contains("permanently removed"), "{log}");
        }
        assert_clean(&started, &nemesis).await;
        let names: Vec<String> = events.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(names, ["member-start", "member-stop"], "{system}");
        let marked =
            nodes[removed].exec(&["test", "-e", "/run/fencepost/member"], Duration::from_secs(10)).await.unwrap();
        assert!(!marked.success(), "{system}: the member mark is gone once healed");
        started.cluster.remove().await.unwrap();
    }
}

/// A majority of ZooKeeper killed comes back: every node is started before
/// the heal waits for any, since each server's start waits for its peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_majority_comes_back_together() {
    let _progress = progress::Progress::test();
    let (started, nemesis, _events) = cluster("zookeeper").await;
    let nodes = started.cluster.nodes();
    let fault = Fault::from(Kill { nodes: vec!["n2".into(), "n3".into()] });
    nemesis.start(&fault).await.unwrap();
    for node in &nodes[1..] {
        assert_eq!(node.state().await.unwrap(), NodeState::Stopped, "{}", node.name());
    }
    nemesis.stop(&fault).await.unwrap();
    assert_clean(&started, &nemesis).await;
    let sys = workloads::by_name("zookeeper").unwrap();
    let mut served = false;
    for _ in 0..100 {
        if sys.probe(&nodes[2]).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(served, "the ensemble serves again");
    started.cluster.remove().await.unwrap();
}

/// The durability shim's proof, on the image's own tools: a program writes,
/// fsyncs part, writes more, and exits. A kill keeps it all (the kernel's
/// page cache survives a process); a power cut keeps exactly the synced
/// part. Then Redis itself: a key written and fsynced survives the cut, one
/// written within the same second does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_cut_keeps_exactly_what_was_synced() {
    let _progress = progress::Progress::test();
    let (started, nemesis, events) = cluster("redis:aof-everysec").await;
    let n1 = &started.cluster.nodes()[0];
    let sh = |script: &'static str| async move {
        let out = n1.exec(&["sh", "-c", script], Duration::from_secs(10)).await.unwrap();
        assert!(out.success(), "{script}: {}", out.stderr);
        out.stdout
    };
    const WRITE: &str = "cd /var/lib/fencepost/redis \
        && export LD_PRELOAD=/usr/local/lib/fencepost/fpsync.so FENCEPOST_DURABLE=/var/lib/fencepost/redis \
        && printf synced | dd of=probe conv=fsync status=none \
        && printf +unsynced | dd of=probe oflag=append conv=notrunc status=none";
    const READ: &str = "cat /var/lib/fencepost/redis/probe";
    sh(WRITE).await;
    assert_eq!(sh(READ).await, "synced+unsynced");
    let kill = Fault::from(Kill { nodes: vec!["n1".into()] });
    nemesis.start(&kill).await.unwrap();
    nemesis.stop(&kill).await.unwrap();
    assert_eq!(sh(READ).await, "synced+unsynced", "a kill loses nothing the page cache holds");
    let cut = Fault::from(LoseUnsynced { nodes: vec!["n1".into()] });
    nemesis.start(&cut).await.unwrap();
    assert_eq!(n1.state().await.unwrap(), NodeState::Stopped);
    nemesis.stop(&cut).await.unwrap();
    assert_eq!(sh(READ).await, "synced", "a power cut keeps exactly what was fsynced");
    let log = n1.logs().await.unwrap();
    assert!(log.contains("fencepost: power cut: /var/lib/fencepost/redis/probe lost what was not fsynced"), "{log}");

    // Redis with `appendfsync everysec` fsyncs a write at once when its
    // clock's second has moved on since the last fsync, else once it does.
    // Its clock slowed a hundredfold (and a second after its restart),
    // `kept` is fsynced as it is written and `lost`, written in the same
    // second of Redis's clock, is not yet when the power goes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let slow = Fault::from(ClockRate { nodes: vec!["n1".into()], rate: 0.01 });
    nemesis.start(&slow).await.unwrap();
    sh("redis-cli SET kept 1 >/dev/null && sleep 0.2 && redis-cli SET lost 1").await;
    nemesis.start(&cut).await.unwrap();
    nemesis.stop(&cut).await.unwrap();
    nemesis.stop(&slow).await.unwrap();
    workloads::by_name("redis:aof-everysec").unwrap().probe(n1).await.unwrap();
    assert_eq!(sh("redis-cli GET kept").await.trim(), "1", "a synced write was lost");
    assert_eq!(sh("redis-cli GET lost").await.trim(), "", "an unsynced write survived a power cut");
    assert_clean(&started, &nemesis).await;
    let names: Vec<String> = events.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(names[..4], ["kill-start", "kill-stop", "lose-unsynced-start", "lose-unsynced-stop"]);
    started.cluster.remove().await.unwrap();
}

/// `corrupt-file` on Redis's append-only file: a cut tail is repaired
/// (Redis loads what is whole: `aof-load-truncated`) and the server starts;
/// flipped bits make it refuse to start, saying why, and the nemesis puts
/// the file back so the run goes on, with what was written before intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_file_is_repaired_or_refused_and_put_back() {
    let _progress = progress::Progress::test();
    let (started, nemesis, _) = cluster("redis:aof-always").await;
    let n1 = &started.cluster.nodes()[0];
    let sh = |script: &'static str| async move {
        n1.exec(&["sh", "-c", script], Duration::from_secs(10)).await.unwrap().stdout.trim().to_string()
    };
    let aof = workloads::by_name("redis:aof-always").unwrap().layout().data_file.unwrap().to_string();
    sh("for i in 1 2 3 4 5 6 7 8; do redis-cli SET k$i v$i >/dev/null; done").await;
    let cut = Fault::from(CorruptFile { nodes: vec!["n1".into()], file: aof.clone(), at: vec![0.99], bits: vec![] });
    nemesis.start(&cut).await.unwrap();
    nemesis.stop(&cut).await.unwrap();
    let log = n1.logs().await.unwrap();
    assert!(log.contains("fencepost: corrupt-file: truncated /var/lib/fencepost/redis/appendonlydir/"), "{log}");
    assert!(!log.contains("put /var/lib"), "a cut tail is repaired, not refused:\n{log}");
    assert_eq!(sh("redis-cli GET k1").await, "v1");

    let flips = CorruptFile { nodes: vec!["n1".into()], file: aof, at: vec![0.3, 0.5, 0.7], bits: vec![1, 2, 3] };
    let flips = Fault::from(flips);
    nemesis.start(&flips).await.unwrap();
    nemesis.stop(&flips).await.unwrap();
    let log = n1.logs().await.unwrap();
    assert!(log.contains("Bad file format reading the append only file"), "{log}");
    assert!(log.contains("back as it was: the server did not start with it"), "{log}");
    assert_eq!(sh("redis-cli GET k1").await, "v1", "the file put back holds what was written");
    assert_clean(&started, &nemesis).await;
    started.cluster.remove().await.unwrap();
}

/// A clock-rate fault runs Redis's clock (its `TIME`) at the asked rate:
/// measured over two seconds, fast then slow, and level again once healed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_rate_runs_a_server_clock_fast_or_slow() {
    let _progress = progress::Progress::test();
    let (started, nemesis, _) = cluster("redis").await;
    let n1 = &started.cluster.nodes()[0];
    for rate in [2.0, 0.5] {
        let fault = Fault::from(ClockRate { nodes: vec!["n1".into()], rate });
        nemesis.start(&fault).await.unwrap();
        let (s0, t0) = (nemesis.server_time(n1).await.unwrap(), unix_now());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (s1, t1) = (nemesis.server_time(n1).await.unwrap(), unix_now());
        let seen = (s1 - s0) / (t1 - t0);
        assert!((seen - rate).abs() < 0.25, "asked {rate}×, Redis's TIME ran {seen:.3}×");
        nemesis.stop(&fault).await.unwrap();
        assert!((nemesis.server_time(n1).await.unwrap() - unix_now()).abs() < 3.0);
    }
    assert_clean(&started, &nemesis).await;
    started.cluster.remove().await.unwrap();
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_partitions_cut_clients_but_not_peers() {
    let _progress = progress::Progress::test();
    let (started, nemesis, events) = cluster("redis").await;
    let sys = workloads::by_name("redis").unwrap();
    let n1 = &started.cluster.nodes()[0];
    let fault = Fault::from(ClientPartition { nodes: vec!["n1".into()] });
    nemesis.start(&fault).await.unwrap();
    // The client's path: the port published on 127.0.0.1.
    let probe = tokio::time::timeout(Duration::from_secs(3), sys.probe(n1)).await;
    assert!(probe.map_or(true, |r| r.is_err()), "a client still reaches a cut-off Redis");
    // Inside the node the server still answers.
    let ping = n1.exec(&["redis-cli", "PING"], Duration::from_secs(10)).await.unwrap();
    assert_eq!(ping.stdout.trim(), "PONG");
    nemesis.stop(&fault).await.unwrap();
    sys.probe(n1).await.unwrap();
    assert_clean(&started, &nemesis).await;
    let e = events.lock().unwrap().clone();
    assert_eq!(e[0].0, "partition-clients-start");
    assert_eq!(e[0].1["targets"], serde_json::json!(["n1"]));
    drop(e);
    started.cluster.remove().await.unwrap();
}

/// One system per image whose servers take clock faults, but Redis's
/// (tested on its own, in more detail).
fn clock_images_but_redis() -> Vec<&'static str> {
    let mut images = vec!["redis"];
    let mut systems = Vec::new();
    for layout in workloads::REGISTRY.iter().map(|s| s.layout()).filter(|l| l.clock_refusal.is_none()) {
        if !images.contains(&layout.image) {
            images.push(layout.image);
            systems.push(layout.name);
        }
    }
    systems
}

/// Jumps move the server's own clock (read through its own protocol) and
/// are healed; a strobe flips it; etcd is refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_faults_move_server_clocks_and_heal() {
    let _progress = progress::Progress::test();
    // Redis: a key with a 30 s TTL expires at once when its server's clock
    // jumps a minute ahead.
    let (started, nemesis, events) = cluster("redis").await;
    let n1 = &started.cluster.nodes()[0];
    let exec = |argv: &'static [&'static str]| async move {
        n1.exec(argv, Duration::from_secs(10)).await.unwrap().stdout.trim().to_string()
    };
    assert_eq!(exec(&["redis-cli", "SET", "k", "v", "EX", "30"]).await, "OK");
    let jump = Fault::from(Clock { nodes: vec!["n1".into()], offset_ms: 60_000, strobe_ms: 0, period_ms: 0 });
    nemesis.start(&jump).await.unwrap();
    let moved = nemesis.server_time(n1).await.unwrap() - unix_now();
    assert!((moved - 60.0).abs() < 3.0, "redis TIME moved {moved:+.3} s");
    assert_eq!(exec(&["redis-cli", "GET", "k"]).await, "", "the key outlived a jump past its TTL");
    nemesis.stop(&jump).await.unwrap();
    assert!((nemesis.server_time(n1).await.unwrap() - unix_now()).abs() < 3.0);
    // A strobe: samples land on both sides.
    let strobe = Fault::from(Clock { nodes: vec!["n1".into()], offset_ms: 0, strobe_ms: -30_000, period_ms: 50 });
    nemesis.start(&strobe).await.unwrap();
    let (mut behind, mut level) = (0, 0);
    for _ in 0..40 {
        let off = nemesis.server_time(n1).await.unwrap() - unix_now();
        if (off + 30.0).abs() < 3.0 {
            behind += 1;
        } else if off.abs() < 3.0 {
            level += 1;
        }
        if behind > 0 && level > 0 {
            break;
        }
    }
    assert!(behind > 0 && level > 0, "a strobing clock flips: {behind} behind, {level} level");
    nemesis.stop(&strobe).await.unwrap();
    assert_clean(&started, &nemesis).await;
    let names: Vec<String> = events.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(names, ["clock-start", "clock-stop", "clock-start", "clock-stop"]);
    assert_eq!(events.lock().unwrap()[2].1["kind"], "strobe");
    started.cluster.remove().await.unwrap();

    // The other images whose servers take clock faults (PostgreSQL, MariaDB,
    // ZooKeeper's JVM: they read the clock through libc too), once per
    // image; the nemesis checks each through the server's own answer.
    for system in clock_images_but_redis() {
        let (started, nemesis, _) = cluster(system).await;
        nemesis.check(&[FaultSpec::plain(FaultKind::Clock)]).await.unwrap();
        let last = started.cluster.nodes().last().unwrap();
        let jump =
            Fault::from(Clock { nodes: vec![last.name().into()], offset_ms: -45_000, strobe_ms: 0, period_ms: 0 });
        nemesis.start(&jump).await.unwrap_or_else(|e| panic!("{system}: {e}"));
        let moved = nemesis.server_time(last).await.unwrap() - unix_now();
        assert!((moved + 45.0).abs() < 3.0, "{system}: server clock moved {moved:+.3} s");
        nemesis.stop(&jump).await.unwrap();
        assert_clean(&started, &nemesis).await;
        started.cluster.remove().await.unwrap();
    }

    // etcd reads time through Go's vDSO path: refused, nothing touched.
    let (started, nemesis, events) = cluster("etcd").await;
    let e = nemesis.check(&[FaultSpec::plain(FaultKind::Clock)]).await.unwrap_err();
    assert!(matches!(e, nemesis::Error::Refused { fault: FaultSpec { kind: FaultKind::Clock, .. }, .. }), "{e}");
    let e = e.to_string();
    assert!(e.contains("Go binary"), "{e}");
    let jump = Fault::from(Clock { nodes: vec!["n1".into()], offset_ms: 60_000, strobe_ms: 0, period_ms: 0 });
    assert!(nemesis.start(&jump).await.unwrap_err().to_string().contains("Go binary"));
    assert!(events.lock().unwrap().is_empty(), "a refused fault is not recorded as started");
    assert_clean(&started, &nemesis).await;
    started.cluster.remove().await.unwrap();
}

/// The leader (as the system itself names it) is cut off, and the others
/// elect a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolating_the_leader_makes_the_others_elect_a_new_one() {
    let _progress = progress::Progress::test();
    let leaders = workloads::REGISTRY.iter().map(|s| s.layout()).filter(|l| l.names_leader).map(|l| l.name);
    for system in leaders {
        let (started, nemesis, events) = cluster(system).await;
        // `partition:leader` as planned: no nodes until it starts.
        let planned = Fault::from(Partition { kind: "leader", grudge: Grudge::new() });
        let started_fault = nemesis.start(&planned).await.unwrap_or_else(|e| panic!("{system}: {e}"));
        let Fault::Partition(Partition { kind: "leader", grudge }) = &started_fault.fault else {
            panic!("{started_fault:?}")
        };
        let others = started.cluster.nodes().len() - 1;
        let old = grudge.iter().find(|(_, d)| d.len() == others).map(|(n, _)| n.clone()).expect("one node cut off");
        let role = |node: &node::Node| {
            let node = node.clone();
            async move { node.exec(&["/fencepost/role"], Duration::from_secs(10)).await.unwrap().stdout.trim().to_string() }
        };
        let mut new_leader = None;
        for _ in 0..100 {
            for node in started.cluster.nodes().iter().filter(|n| n.name() != old) {
                if role(node).await == "leader" {
                    new_leader = Some(node.name().to_string());
                }
            }
            if new_leader.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(new_leader.is_some(), "{system}: the majority elected no new leader");
        nemesis.stop(&started_fault).await.unwrap();
        assert_clean(&started, &nemesis).await;
        let e = events.lock().unwrap().clone();
        assert_eq!(e[0].1["kind"], "leader");
        assert_eq!(e[0].1["grudge"][&old].as_array().unwrap().len(), others);
        drop(e);
        started.cluster.remove().await.unwrap();
    }
    // No leader to name on one Redis.
    let (started, nemesis, _) = cluster("redis").await;
    let leader = FaultSpec::parse("partition-leader").unwrap();
    assert!(nemesis.check(&[leader]).await.unwrap_err().to_string().contains("no leader"));
    started.cluster.remove().await.unwrap();
}

/// netem where the kernel has it; where it does not (this project's CI
/// machine), a refusal that says so and leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netem_delays_or_is_refused_with_the_reason() {
    let _progress = progress::Progress::test();
    let (started, nemesis, _) = cluster("redis").await;
    let fault = Fault::from(Netem { nodes: vec!["n1".into()], delay_ms: 200, jitter_ms: 0, loss: 0.0 });
    match nemesis.check(&[FaultSpec::plain(FaultKind::Netem)]).await {
        Ok(()) => {
            let n1 = &started.cluster.nodes()[0];
            let before = nemesis.client_connect(n1).await.unwrap().unwrap();
            let started_fault = nemesis.start(&fault).await.unwrap();
            let during = nemesis.client_connect(n1).await.unwrap().unwrap();
            assert!(during >= before + Duration::from_millis(100), "{before:?} → {during:?}");
            nemesis.stop(&started_fault).await.unwrap();
        }
        Err(e) => {
            assert!(e.to_string().contains("sch_netem"), "{e}");
            let e = nemesis.start(&fault).await.unwrap_err();
            assert!(e.to_string().contains("sch_netem"), "{e}");
        }
    }
    assert_clean(&started, &nemesis).await;
    started.cluster.remove().await.unwrap();
}

/// A lock holder stalls past its TTL: its release comes after the lease ran
/// out, and the nemesis names the process it caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause_stalls_a_holder_past_its_ttl() {
    let _progress = progress::Progress::test();
    let (started, nemesis, events) = cluster("redis").await;
    let sys = workloads::by_name("redis").unwrap();
    let dir = std::env::temp_dir().join(format!("fencepost-nemesis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.jsonl");
    let recorder = workloads::Recorder::create(&path).unwrap();
    let options = workloads::RunOptions {
        concurrency: 3,
        ttl: Duration::from_millis(500),
        time_limit: Duration::from_secs(5),
        ..Default::default()
    };
    let nemesis = nemesis.with_stall(options.stall.clone());
    let resource = Arc::new(workloads::FencedResource::new(false));
    let stop = workloads::CancellationToken::new();
    let nodes = started.cluster.nodes().to_vec();
    let run = tokio::spawn(workloads::run(sys, nodes, options, recorder.clone(), resource, stop));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fault = Fault::from(ClientPause { clients: 1, duration_ms: 1500, stalled: vec![] });
    let started_fault = nemesis.start(&fault).await.unwrap();
    let Fault::ClientPause(ClientPause { stalled, .. }) = &started_fault.fault else { unreachable!() };
    assert_eq!(stalled.len(), 1);
    let (process, key) = stalled[0].clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    nemesis.stop(&started_fault).await.unwrap();
    run.await.unwrap();
    recorder.finish().unwrap();
    assert_clean(&started, &nemesis).await;

    let text = std::fs::read_to_string(&path).unwrap();
    let history = checker::formats::jsonl::read("history.jsonl", &text).unwrap();
    let mine: Vec<_> = history.ops.iter().filter(|op| op.process == checker::Process::Client(process)).collect();
    let stalled_from = events.lock().unwrap()[0].1["processes"][0].as_u64();
    assert_eq!(stalled_from, Some(process));
    // Its longest hold of that key: acquired, stalled, then released.
    let held = (0..mine.len())
        .filter(|&i| {
            mine[i].f.as_str() == "acquire"
                && mine[i].kind == checker::OpType::Ok
                && mine[i].key.as_deref() == Some(&key)
        })
        .filter_map(|i| mine[i + 1..].iter().find(|op| op.f.as_str() == "release").map(|r| r.time - mine[i].time))
        .max()
        .expect("an ok acquire followed by a release") as f64
        / 1e9;
    assert!(held >= 1.4, "the holder resumed after {held:.3} s");
    std::fs::remove_dir_all(&dir).unwrap();
    started.cluster.remove().await.unwrap();
}

/// `play` aims `holder` faults through the registry the workers keep: a
/// kill finds the node that granted the lock held when it starts (and
/// records the holder), a second finds nobody holding and is recorded as
/// skipped once its wait is up, touching nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holder_faults_follow_the_registry_or_are_skipped() {
    let _progress = progress::Progress::test();
    let (started, nemesis, events, timeline) = cluster_with_timeline("redis").await;
    let holders = Arc::new(kit::Holders::default());
    let nemesis = nemesis.with_holders(holders.clone());
    let specs = FaultSpec::parse_list("kill:holder").unwrap();
    nemesis.check(&specs).await.unwrap();
    let s = Duration::from_millis;
    let plan = nemesis::schedule(&specs, &nemesis.node_names(), 1, s(500), s(2500), &Default::default());
    assert_eq!(plan.iter().map(|st| (st.at, st.wait)).collect::<Vec<_>>(), [(s(500), s(500)), (s(1500), s(500))]);
    holders.hold(7, "k0", vec!["n1".into()]);
    let (h, stop) = (holders.clone(), kit::CancellationToken::new());
    let t0 = Instant::now();
    let playing = tokio::spawn(async move { nemesis.play(&plan, t0, &stop).await.map(|p| (p, nemesis)) });
    // Once the kill has begun, the holder lets go: nobody holds when the
    // second kill looks.
    while !timeline.lock().unwrap().iter().any(|(_, f, _)| f == "kill-start") {
        tokio::time::sleep(s(10)).await;
    }
    h.release(7, "k0");
    let (played, nemesis) = playing.await.unwrap().unwrap();
    assert_eq!(played.injected, specs);
    assert_eq!(played.skipped, specs);
    let e = events.lock().unwrap().clone();
    let names: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["kill-start", "kill-stop", "kill-skip", "heal-all"]);
    let kill = &e[0].1;
    assert_eq!((&kill["target"], &kill["targets"]), (&serde_json::json!("holder"), &serde_json::json!(["n1"])));
    assert_eq!((&kill["processes"], &kill["keys"]), (&serde_json::json!([7]), &serde_json::json!(["k0"])));
    let skip = &e[2].1;
    assert_eq!(
        (&skip["target"], &skip["skipped"]),
        (&serde_json::json!("holder"), &serde_json::json!("nobody held a lock"))
    );
    assert_eq!(skip["targets"], serde_json::json!([]));
    // It waited its half second for a holder first.
    let t = timeline.lock().unwrap().clone();
    let skipped_at = t.iter().find(|(_, f, _)| f == "kill-skip").unwrap().2;
    assert!(skipped_at >= t0 + s(2000), "skipped {:?} after the start", skipped_at - t0);
    assert_clean(&started, &nemesis).await;
    started.cluster.remove().await.unwrap();
}
