//! Every fault kind on a real cluster: start it, see the effect with a real
//! probe, heal, see recovery, and nothing left behind (no iptables rule, no
//! paused or stopped container). Needs a Docker engine.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use docker::{Engine, NodeState};
use nemesis::{Fault, Grudge, Nemesis};
use serde_json::Value;

type Events = Arc<Mutex<Vec<(String, Value)>>>;

async fn cluster(system: &str) -> (workloads::Started, Nemesis, Events) {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let sys = workloads::by_name(system).unwrap();
    let started =
        workloads::start_cluster(&engine, sys, &docker::new_run_id(), Duration::from_secs(120)).await.unwrap();
    let events: Events = Arc::default();
    let sink = events.clone();
    let report: nemesis::Report = Arc::new(move |f, v| sink.lock().unwrap().push((f.to_string(), v)));
    let nemesis = Nemesis::new(started.cluster.nodes().to_vec(), sys.client_port(), report);
    (started, nemesis, events)
}

/// No rule, no paused or stopped node, every server listening.
async fn assert_clean(started: &workloads::Started) {
    for node in started.cluster.nodes() {
        assert_eq!(node.state().await.unwrap(), NodeState::Running, "{}", node.name());
        let rules = node.exec(&["iptables", "-S"], Duration::from_secs(10)).await.unwrap().stdout;
        assert!(!rules.contains("-A "), "{} kept rules:\n{rules}", node.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_cut_and_heal_on_etcd_and_redlock() {
    let (started, nemesis, events) = cluster("etcd").await;
    let nodes = started.cluster.nodes();
    assert!(nemesis.reaches(&nodes[0], &nodes[1]).await.unwrap());
    let mut grudge = Grudge::new();
    grudge.entry("n1".into()).or_default().extend(["n2".to_string(), "n3".to_string()]);
    grudge.entry("n2".into()).or_default().insert("n1".into());
    grudge.entry("n3".into()).or_default().insert("n1".into());
    let fault = Fault::Partition { kind: "one", grudge };
    nemesis.start(&fault).await.unwrap();
    assert!(!nemesis.reaches(&nodes[0], &nodes[1]).await.unwrap(), "n1 is cut off");
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
    nemesis.stop(&fault).await.unwrap();
    assert!(nemesis.reaches(&nodes[0], &nodes[1]).await.unwrap());
    assert_clean(&started).await;
    let names: Vec<String> = events.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(names, ["partition-start", "partition-stop"]);
    assert_eq!(events.lock().unwrap()[0].1["grudge"]["n1"], serde_json::json!(["n2", "n3"]));
    started.cluster.remove().await.unwrap();

    // A majorities ring on five nodes: everyone sees exactly its neighbours.
    let (started, nemesis, _) = cluster("redlock").await;
    let mut rng = checker::gen::Rng::new(3);
    let fault = loop {
        let f = nemesis::random_partition(&nemesis.node_names(), &mut rng);
        if matches!(f, Fault::Partition { kind: "majorities-ring", .. }) {
            break f;
        }
    };
    nemesis.start(&fault).await.unwrap();
    let Fault::Partition { grudge, .. } = &fault else { unreachable!() };
    let nodes = started.cluster.nodes();
    for a in nodes {
        for b in nodes.iter().filter(|b| b.name() != a.name()) {
            let cut = grudge[a.name()].contains(b.name());
            assert_eq!(nemesis.reaches(a, b).await.unwrap(), !cut, "{} -> {}", a.name(), b.name());
        }
    }
    nemesis.heal_all().await.unwrap();
    assert_clean(&started).await;
    started.cluster.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_pause_and_loss_take_effect_and_heal_on_redis() {
    let (started, nemesis, events) = cluster("redis").await;
    let sys = workloads::by_name("redis").unwrap();
    let n1 = &started.cluster.nodes()[0];
    let probe_fails =
        || async { tokio::time::timeout(Duration::from_secs(3), sys.probe(n1)).await.map_or(true, |r| r.is_err()) };

    let kill = Fault::Kill { nodes: vec!["n1".into()] };
    nemesis.start(&kill).await.unwrap();
    assert!(probe_fails().await, "a killed Redis answers");
    nemesis.stop(&kill).await.unwrap();
    sys.probe(n1).await.unwrap();

    let pause = Fault::Pause { nodes: vec!["n1".into()] };
    nemesis.start(&pause).await.unwrap();
    assert!(probe_fails().await, "a paused Redis answers");
    nemesis.stop(&pause).await.unwrap();
    sys.probe(n1).await.unwrap();

    // Dropping every packet cuts the node off from its clients.
    let cut = Fault::Loss { nodes: vec!["n1".into()], probability: 1.0 };
    nemesis.start(&cut).await.unwrap();
    assert!(probe_fails().await, "a Redis dropping all packets answers");
    nemesis.stop(&cut).await.unwrap();
    sys.probe(n1).await.unwrap();

    assert_clean(&started).await;
    let names: Vec<String> = events.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(names, ["kill-start", "kill-stop", "pause-start", "pause-stop", "loss-start", "loss-stop"]);
    started.cluster.remove().await.unwrap();
}
