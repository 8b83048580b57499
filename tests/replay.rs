//! `run --replay` and `shrink` against real Redis servers (issue 28's
//! acceptance case): a Redlock run whose holders' granting majorities have
//! their clocks jumped forward, among kills, fails; its schedule replays;
//! `shrink` reduces its faults (five or six on a quiet machine) to at most two that still fail the same
//! way, and the command it prints plays the minimal case again. Needs a
//! Docker engine; the redis image is built on first use.

mod common;

use std::path::Path;

use common::{fencepost, import, progress::Progress, temp_store, CLEAN};
use serde_json::Value;

fn run(store: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = fencepost().args(args).arg("--store").arg(store).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The run id a `run`'s output names ("…; run ID").
fn run_id(out: &str) -> String {
    let line = out.lines().find(|l| l.contains(" ready in ")).unwrap_or_else(|| panic!("{out}"));
    line.rsplit("run ").next().unwrap().trim().to_string()
}

#[test]
fn a_failing_redlock_run_replays_and_shrinks_to_the_fault_that_matters() {
    let _progress = Progress::test();
    let store = temp_store("replay");
    let args = ["run", "redlock", "--nemesis", "clock:holder,kill", "--clock-mode", "forward", "--hold-min", "2s"];
    let args = [&args[..], &["--hold-max", "3s", "--ttl", "5s", "--nemesis-interval", "1s", "--time-limit", "16s"]];
    let (code, out) = run(&store, &args.concat());
    assert_eq!(code, Some(1), "{out}");
    let original = run_id(&out);
    let dir = store.join(&original);
    // What a replay reads: the command line and the faults as they began.
    let test = json(&dir.join("test.json"));
    let command: Vec<&str> =
        test["recorded"]["command"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(command[..3], ["redlock", "--time-limit", "16s"], "{command:?}");
    // Kinds in the registry's order; a default (--ttl 5s) is left out.
    assert!(command.windows(2).any(|w| w == ["--nemesis", "kill,clock:holder"]), "{command:?}");
    assert!(!command.contains(&"--ttl"), "{command:?}");
    let schedule = json(&dir.join("schedule.json"));
    let faults = schedule["faults"].as_array().unwrap();
    // Five or six faults fit in 16 s on a quiet machine; under CI's load
    // kills and restarts take longer and fewer fit. Three are enough for
    // the shrink below to have something to remove.
    assert!(faults.len() >= 3, "{schedule:#}");
    let starts: Vec<u64> = faults.iter().map(|f| f["at_ms"].as_u64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]) && starts[0] >= 1000, "{starts:?}");
    let clock = faults.iter().find(|f| f["fault"] == "clock:holder").unwrap();
    assert_eq!(clock["value"]["offset_ms"], 60_000, "{clock:#}");
    assert_eq!(clock["value"]["targets"].as_array().unwrap().len(), 3, "the holder's majority: {clock:#}");
    assert!(out.contains(&format!("run it again: fencepost run --replay {original} --store")), "{out}");

    // A replay takes every option from the run.
    let (code, out) = run(&store, &["run", "--replay", &original, "--ttl", "3s"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("only --store may be given with it, not: --ttl 3s"), "{out}");

    let (code, out) = run(&store, &["shrink", &original, "--budget", "6m"]);
    assert_eq!(code, Some(0), "{out}");
    let shrunk = json(&dir.join("shrunk.json"));
    let kept = shrunk["faults"][0].as_u64().unwrap();
    assert!((1..=2).contains(&kept), "{out}\n{shrunk:#}");
    assert_eq!(shrunk["faults"][1].as_u64(), Some(faults.len() as u64));
    assert!(shrunk["time_limit_ms"][0].as_u64() <= shrunk["time_limit_ms"][1].as_u64(), "{shrunk:#}");
    let minimal = shrunk["minimal"].as_str().unwrap();
    let attempts = shrunk["attempts"].as_array().unwrap();
    assert!(attempts.iter().any(|a| a["run"] == minimal && a["failed_the_same_way"] == true), "{shrunk:#}");
    let replayed = json(&store.join(minimal).join("test.json"));
    assert_eq!(replayed["replay"]["of"], original.as_str(), "{replayed:#}");
    assert_eq!(json(&store.join(minimal).join("schedule.json"))["faults"].as_array().unwrap().len() as u64, kept);
    let printed = format!("run it again: fencepost run --replay {minimal} --store");
    assert!(out.contains(&printed), "{out}");

    // The printed command plays the minimal case again. A replay is a new
    // run, not a copy: the scheduler may move a grant by a few
    // milliseconds, yet the clock jump on the holder's majority lands
    // inside a hold of 2–3 s.
    let (code, out) = run(&store, &["run", "--replay", minimal]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("replay: the failure of {minimal} came back: ")), "{out}");
    assert!(out.contains("lease-safety"), "{out}");
    let _ = std::fs::remove_dir_all(store);
}

/// What cannot be replayed or shrunk says why, before anything starts.
#[test]
fn an_import_cannot_be_replayed_or_shrunk() {
    let store = temp_store("replay-refusals");
    let imported = import(&store, "h.jsonl", CLEAN, "redis");
    let (code, out) = run(&store, &["run", "--replay", &imported]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("it is an imported history, not a run fencepost made"), "{out}");
    let (code, out) = run(&store, &["shrink", &imported]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("cannot be replayed"), "{out}");
    let (code, out) = run(&store, &["run", "--replay", "1796000000-1-0"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("no run 1796000000-1-0 in store"), "{out}");
    let (code, out) = run(&store, &["run", "redis", "--replay", &imported]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("the argument '[SYSTEM]' cannot be used with '--replay <RUN>'"), "{out}");
    let _ = std::fs::remove_dir_all(store);
}
