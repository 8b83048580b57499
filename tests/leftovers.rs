//! A `fencepost` process that owns a cluster and dies by SIGKILL cannot clean
//! up; the next start must. And Ctrl-C on `fencepost up` removes its cluster.
//! Real containers: needs a Docker engine (`bash scripts/setup.sh`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use docker::Engine;

/// Starts `fencepost up redis` and returns it with its run id once ready.
fn up_redis() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .args(["up", "redis"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning fencepost up");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.unwrap().strip_prefix("ready run=") {
            let run_id = rest.split_whitespace().next().unwrap().to_string();
            // Keep reading what it prints next, like a terminal would.
            std::thread::spawn(move || lines.for_each(drop));
            return (child, run_id);
        }
    }
    panic!("fencepost up ended without printing `ready run=`: {:?}", child.wait());
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").args(["-s", signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_owner_leftovers_are_removed_by_the_next_start() {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let (mut child, orphan) = up_redis();
    signal(&child, "KILL");
    child.wait().unwrap();
    let left = docker::run_resources(&engine, &orphan).await.unwrap();
    assert!(!left.containers.is_empty() && !left.networks.is_empty(), "SIGKILL cannot clean up: {left:?}");

    // The next start of any cluster reaps runs whose owner is gone.
    let sys = workloads::by_name("redis").unwrap();
    let run_id = docker::new_run_id();
    let started = harness::start_cluster(&engine, sys, &run_id, Duration::from_secs(120)).await.unwrap();
    let left = docker::run_resources(&engine, &orphan).await.unwrap();
    assert!(left.is_empty(), "leftovers of the killed run remain: {left:?}");
    // ...but never a live run's: this one's owner (us) is alive.
    assert!(docker::reap_leftovers(&engine).await.unwrap().is_empty());
    assert!(!docker::run_resources(&engine, &run_id).await.unwrap().is_empty());
    started.cluster.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_up_removes_the_cluster() {
    let engine = Engine::connect().await.expect("a Docker engine (run scripts/setup.sh)");
    let (mut child, run_id) = up_redis();
    assert!(!docker::run_resources(&engine, &run_id).await.unwrap().is_empty());
    signal(&child, "INT");
    let status = child.wait().unwrap();
    assert!(status.success(), "fencepost up exits cleanly on Ctrl-C: {status}");
    let left = docker::run_resources(&engine, &run_id).await.unwrap();
    assert!(left.is_empty(), "Ctrl-C left {left:?}");
}
