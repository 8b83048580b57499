//! Lock clients that are programs of their own (`--client`, `--client-cmd`,
//! docs/CLIENTS.md), against real clusters: every shipped adapter (at the
//! versions `scripts/setup.sh` installs) clean and with its holder stopped
//! by SIGSTOP past its lease, the minimal adapter copied out of
//! docs/CLIENTS.md as a user's own program, and the refusals.

#[path = "common/progress.rs"]
mod progress;

use std::path::{Path, PathBuf};
use std::process::Command;

fn store() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fencepost-clients-test-{}", docker::new_run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `fencepost ARGS --store STORE`; (exit code, stdout and stderr).
fn fencepost(args: &[&str], store: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fencepost")).args(args).arg("--store").arg(store).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), format!("{stdout}\n--- stderr:\n{}", String::from_utf8_lossy(&out.stderr)))
}

fn run_dir(store: &Path) -> PathBuf {
    std::fs::read_dir(store).unwrap().flatten().map(|e| e.path()).find(|p| p.is_dir()).expect("a run folder")
}

fn results(store: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir(store).join("results.json")).unwrap()).unwrap()
}

fn checker<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["checkers"].as_array().unwrap().iter().find(|c| c["checker"] == name).unwrap()
}

/// The client the run recorded in its test.json.
fn recorded_client(store: &Path) -> Option<String> {
    results::read_test(&run_dir(store)).unwrap().recorded.and_then(|r| r.client)
}

fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every shipped adapter, on each system it speaks to: a clean run is
/// valid; with its holder's program stopped (SIGSTOP) past a 1 s lease, the
/// next holder overlaps it, and only after that lease ran out (none of
/// these libraries fences), so lease-safety stays valid: the clients'
/// fault, not the service's. python-redis-lock renews from a thread of its
/// own; the stop halts that thread too, as a real GC pause would.
#[test]
fn every_shipped_adapter_runs_clean_and_its_paused_holder_overlaps_only_past_its_lease() {
    let _progress = progress::Progress::test();
    for adapter in workloads::external::ADAPTERS {
        for system in adapter.systems {
            let store = store();
            let (code, out) = fencepost(&["run", system, "--client", adapter.name, "--time-limit", "6s"], &store);
            assert_eq!(code, Some(0), "{}: a clean run is valid\n{out}", adapter.name);
            assert!(out.contains("verdict: valid"), "{out}");
            assert_eq!(recorded_client(&store).as_deref(), Some(adapter.name));
            let r = results(&store);
            assert_eq!(checker(&r, "mutual-exclusion")["validity"], "valid", "{out}");
            std::fs::remove_dir_all(&store).unwrap();

            let store = self::store();
            let args = ["run", system, "--client", adapter.name, "--nemesis", "client-pause:holder", "--ttl", "1s"];
            let (code, out) = fencepost(&[&args[..], &["--time-limit", "8s"]].concat(), &store);
            assert_eq!(code, Some(0), "{}: the service kept its promise\n{out}", adapter.name);
            let r = results(&store);
            let me = checker(&r, "mutual-exclusion");
            assert_eq!(me["validity"], "invalid", "{}: {out}", adapter.name);
            let causes: Vec<&str> =
                me["evidence"]["anomalies"].as_array().unwrap().iter().map(|a| a["cause"].as_str().unwrap()).collect();
            assert!(!causes.is_empty() && causes.iter().all(|c| *c == "lease-expired"), "{causes:?}\n{out}");
            assert_eq!(checker(&r, "lease-safety")["validity"], "valid", "{out}");
            std::fs::remove_dir_all(&store).unwrap();
        }
    }
}

/// The adapter printed in docs/CLIENTS.md, copied out as a user would and
/// run as their own program: the same file as the shipped one, and a clean
/// run with it is valid.
#[test]
fn the_adapter_in_the_docs_runs_as_your_own_program() {
    let _progress = progress::Progress::test();
    let docs = std::fs::read_to_string(checkout().join("docs/CLIENTS.md")).unwrap();
    let start = docs.find("```python\n").expect("a python block") + "```python\n".len();
    let code = &docs[start..start + docs[start..].find("```").unwrap()];
    let shipped = std::fs::read_to_string(checkout().join("clients/redis-py/adapter.py")).unwrap();
    assert_eq!(code, shipped, "docs/CLIENTS.md prints the shipped adapter as it is");
    assert!(code.lines().count() <= 60, "the minimal adapter stays short: {} lines", code.lines().count());
    let store = store();
    let mine = store.join("my_adapter.py");
    std::fs::write(&mine, code).unwrap();
    let python = checkout().join(".venv-clients/bin/python");
    let command = format!("'{}' '{}'", python.display(), mine.display());
    let (code, out) = fencepost(&["run", "redis", "--client-cmd", &command, "--time-limit", "5s"], &store);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("verdict: valid"), "{out}");
    assert_eq!(recorded_client(&store).as_deref(), Some("custom"));
    // Its replay command names the program again, quoted.
    let test = results::read_test(&run_dir(&store)).unwrap();
    let line = test.recorded.unwrap().command.join(" ");
    assert!(line.contains("--client-cmd") && line.contains("my_adapter.py"), "{line}");
    std::fs::remove_dir_all(&store).unwrap();
}

/// Refusals, before anything starts (no cluster needed); and a program
/// that dies at once is refused with its own last words.
#[test]
fn client_programs_that_cannot_play_are_refused_naming_why() {
    let store = store();
    let refused = |args: &[&str], want: &str| {
        let (code, out) = fencepost(args, &store);
        assert_eq!(code, Some(3), "{args:?}: {out}");
        assert!(out.contains(want), "{args:?}: want {want:?}\n{out}");
    };
    refused(&["run", "redis", "--client", "nope"], "--client nope: no such client (known: fencepost, redis-py, ");
    refused(&["run", "redis", "--client", "pottery"], "--client pottery speaks to redlock, not redis");
    refused(&["run", "etcd", "--client", "redis-py"], "--client redis-py speaks to redis, not etcd");
    refused(&["run", "redis", "--client-cmd", "python3 \"x"], "its quotes do not close");
    refused(&["run", "redis", "--client-cmd", ""], "--client-cmd: empty");
    refused(&["run", "redis", "--client", "redis-py", "--workload", "election"], "election adapters are not built yet");
    refused(&["run", "redis", "--client", "redis-py", "--client-cmd", "x"], "cannot be used with");
    // A suite checks each system against the adapter before the first run.
    refused(
        &["suite", "--systems", "redis,etcd", "--client", "redis-py"],
        "--client redis-py speaks to redis, not etcd",
    );
    // A scenario file is shared: it may not name a program to run.
    let file = store.join("mine.toml");
    std::fs::write(
        &file,
        "[[scenario]]\nname = \"mine\"\ntitle = \"t\"\nsystem = \"redis\"\nworkload = \"lock\"\nsource = \"me\"\n\
         options = \"--client-cmd python3\"\nexpect = { lease-safety = \"valid\" }\n",
    )
    .unwrap();
    let file = file.display().to_string();
    refused(&["scenarios", "run", "mine", "--file", &file], "never a program to run");
    let (code, out) = Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .arg("clients")
        .output()
        .map(|o| (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned()))
        .unwrap();
    assert_eq!(code, Some(0));
    assert!(out.contains("redis-py") && out.contains("8.2.0") && out.contains("Python 3"), "{out}");
    let _ = std::fs::remove_dir_all(&store);
}

/// A program that exits at once: the run is refused with what it wrote to
/// stderr, and leaves no run behind.
#[test]
fn a_client_program_that_dies_is_refused_with_its_stderr() {
    let _progress = progress::Progress::test();
    let store = store();
    let dying = store.join("dying.py");
    std::fs::write(
        &dying,
        "import sys\nsys.stderr.write('ModuleNotFoundError: no module named lockz\\n')\nsys.exit(1)\n",
    )
    .unwrap();
    let command = format!("python3 '{}'", dying.display());
    let (code, out) = fencepost(&["run", "redis", "--client-cmd", &command, "--time-limit", "3s"], &store);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("client `custom`") && out.contains("no module named lockz"), "{out}");
    assert!(std::fs::read_dir(&store).unwrap().flatten().all(|e| !e.path().is_dir()), "no run kept");
    std::fs::remove_dir_all(&store).unwrap();
}
