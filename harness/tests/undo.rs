//! The run's one undo guard: a run whose future is dropped mid-workload
//! (the caller gave up on it, or a panic unwound through it) leaves none of
//! its containers behind. Needs a Docker engine; the redis image is built
//! on first use.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::run::{execute, prepare, Event};
use harness::RunArgs;
use workloads::{CancellationToken, RunOptions, Workload};

#[tokio::test(flavor = "multi_thread")]
async fn a_run_dropped_mid_workload_leaves_no_containers() {
    let store = std::env::temp_dir().join(format!("fencepost-undo-{}", std::process::id()));
    let args = RunArgs {
        system: "redis".into(),
        workload: Workload::Lock,
        options: RunOptions { time_limit: Duration::from_secs(120), ..Default::default() },
        store: store.clone(),
        nemesis: Vec::new(),
        nemesis_interval: None,
        quiet: Duration::from_secs(1),
        fault_options: nemesis::FaultOptions::default(),
        endpoints: Vec::new(),
        leases: Default::default(),
        scenario: None,
        study: None,
        ssh: None,
        replay: None,
    };
    let prepared = prepare(args).expect("a plain redis run prepares");
    let run_id: Arc<Mutex<Option<String>>> = Arc::default();
    let started = Arc::new(tokio::sync::Notify::new());
    let on_event = {
        let (run_id, started) = (run_id.clone(), started.clone());
        move |event: Event| match event {
            Event::ClusterReady { run, .. } => *run_id.lock().unwrap() = Some(run.to_string()),
            Event::Started(_) => started.notify_one(),
            _ => {}
        }
    };
    tokio::select! {
        ran = execute(prepared, CancellationToken::new(), &on_event) => {
            panic!("a 120 s run ended before it was dropped: {:?}", ran.err().map(|e| e.to_string()))
        }
        _ = started.notified() => {}
    }
    // The run's future is gone here, in the middle of its workload.
    let id = run_id.lock().unwrap().clone().expect("the cluster was reported ready");
    let engine = docker::Engine::connect().await.expect("a Docker engine");
    let left = docker::run_resources(&engine, &id).await.expect("listing the run's resources");
    assert!(left.is_empty(), "run {id} left {left:?}");
    let _ = std::fs::remove_dir_all(&store);
}
