//! Clusters over SSH, end to end: SSH hosts that behave like VMs (containers
//! running sshd, the system installed by fencepost as an ordinary service,
//! reached through 127.0.0.1-published ports) started by `fencepost up
//! --ssh-hosts`, then `fencepost run --nodes FILE` with faults, a harness
//! killed mid-fault and `fencepost heal`, `--install`/`--teardown`, and bad
//! node files. Needs a Docker engine and ssh (`bash scripts/setup.sh`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One cluster at a time: these tests share 2 cores with nothing else.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fencepost-ssh-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `fencepost up SYSTEM --ssh-hosts` until Ctrl-C (dropped: SIGTERM, which
/// removes the hosts).
struct Hosts {
    child: Child,
    run_id: String,
    file: PathBuf,
}

impl Hosts {
    fn up(system: &str, dir: &Path, extra: &[&str]) -> Hosts {
        let file = dir.join(format!("{}.toml", system.replace(':', "-")));
        let mut child = Command::new(env!("CARGO_BIN_EXE_fencepost"))
            .args(["up", system, "--ssh-hosts", "--nodes-out"])
            .arg(&file)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            println!("up: {line}");
            if let Some(rest) = line.strip_prefix("ready run=") {
                let run_id = rest.split_whitespace().next().unwrap().to_string();
                std::thread::spawn(move || lines.for_each(drop));
                assert!(file.is_file(), "no node file at {}", file.display());
                return Hosts { child, run_id, file };
            }
        }
        panic!("fencepost up --ssh-hosts ended without `ready run=`: {:?}", child.wait());
    }

    /// Runs `sh -c SCRIPT` on node `n` as root, through Docker (not SSH:
    /// the test's own view of the host).
    fn sh(&self, n: usize, script: &str) -> String {
        let container = format!("fencepost-{}-n{n}", self.run_id);
        let out = Command::new("docker").args(["exec", &container, "sh", "-c", script]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// `fencepost ARGS`: (exit code, stdout + stderr).
fn fencepost(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fencepost")).args(args).output().unwrap();
    let text =
        format!("{}\n--- stderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

fn results(store: &Path) -> serde_json::Value {
    let dir = run_dirs(store).pop().expect("a run folder");
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

fn run_dirs(store: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(store)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn validity(results: &serde_json::Value, checker: &str) -> String {
    let c = results["checkers"].as_array().unwrap().iter().find(|c| c["checker"] == checker);
    c.map_or("absent".into(), |c| c["validity"].as_str().unwrap().to_string())
}

/// What fencepost may have left on node `n`: its rules, a stopped or
/// paused server, a clock offset, its files.
fn leftovers(hosts: &Hosts, n: usize) -> String {
    hosts.sh(
        n,
        r#"iptables -S | grep fencepost
pid=$(cat /run/fencepost/server.pid) && grep '^State:' /proc/$pid/status | grep -v -e running -e sleeping
[ -s /run/fencepost/clock ] && grep -v '^0 0 0' /run/fencepost/clock
ls /var/lib/fencepost/bin /var/lib/fencepost/fptime.so 2>/dev/null
true"#,
    )
}

#[test]
fn redis_and_etcd_over_ssh_give_the_docker_verdicts_with_every_fault() {
    let _progress = common::progress::Progress::test();
    let _one = serial();
    let dir = temp("runs");
    let redis = Hosts::up("redis", &dir, &[]);
    let file = redis.file.to_str().unwrap().to_string();

    // A holder paused past its TTL: the lock is broken for the client, as
    // on Docker with the same seed and options.
    let pause =
        ["--workload", "lock", "--nemesis", "client-pause", "--ttl", "2s", "--time-limit", "15s", "--seed", "3"];
    let (docker_store, ssh_store) = (dir.join("docker"), dir.join("ssh"));
    let mut on_docker = vec!["run", "redis", "--store", docker_store.to_str().unwrap()];
    on_docker.extend(pause);
    // Exit 0: Redis kept its promise; the clients layer is red.
    let (code, out) = fencepost(&on_docker);
    assert_eq!(code, Some(0), "{out}");
    let mut over_ssh = vec!["run", "redis", "--nodes", &file, "--store", ssh_store.to_str().unwrap()];
    over_ssh.extend(pause);
    let (code, out) = fencepost(&over_ssh);
    assert_eq!(code, Some(0), "{out}");
    for checker in ["mutual-exclusion", "lease-safety"] {
        assert_eq!(validity(&results(&ssh_store), checker), validity(&results(&docker_store), checker), "{checker}");
    }
    assert_eq!(validity(&results(&ssh_store), "mutual-exclusion"), "invalid");

    // Node faults over SSH: kill -9, SIGSTOP and a moved clock (the shim
    // built on the host), each verified and healed; node logs kept.
    let store = dir.join("ssh-faults");
    let (code, out) = fencepost(&[
        "run",
        "redis",
        "--nodes",
        &file,
        "--store",
        store.to_str().unwrap(),
        "--workload",
        "lock",
        "--nemesis",
        "kill,pause,clock",
        "--time-limit",
        "24s",
        "--nemesis-interval",
        "3s",
        "--seed",
        "5",
    ]);
    assert!(matches!(code, Some(0 | 1)), "{out}");
    let r = results(&store);
    assert!(r["nemesis_error"].is_null(), "{}", r["nemesis_error"]);
    let run = run_dirs(&store).pop().unwrap();
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    for fault in ["kill-start", "pause-start", "clock-start"] {
        assert!(history.contains(fault), "no {fault} in the history");
    }
    let log = std::fs::read_to_string(run.join("nodes/n1.log")).unwrap();
    assert!(log.contains("Ready to accept connections"), "the node's log: {log}");
    assert_eq!(leftovers(&redis, 1), "", "left on n1");
    drop(redis);

    // etcd ×3: partitions cut peers over SSH; without faults valid, as on Docker.
    let etcd = Hosts::up("etcd", &dir, &[]);
    let file = etcd.file.to_str().unwrap().to_string();
    let store = dir.join("etcd");
    let (code, out) =
        fencepost(&["run", "etcd", "--nodes", &file, "--store", store.to_str().unwrap(), "--time-limit", "5s"]);
    assert_eq!(code, Some(0), "{out}");
    let store = dir.join("etcd-faults");
    let (code, out) = fencepost(&[
        "run",
        "etcd",
        "--nodes",
        &file,
        "--store",
        store.to_str().unwrap(),
        "--workload",
        "lock",
        "--nemesis",
        "partition,partition-leader,kill,pause",
        "--time-limit",
        "30s",
        "--nemesis-interval",
        "3s",
    ]);
    assert!(matches!(code, Some(0 | 1)), "{out}");
    let r = results(&store);
    assert!(r["nemesis_error"].is_null(), "{}", r["nemesis_error"]);
    assert_eq!(validity(&r, "lease-safety"), "valid", "etcd keeps its promise");
    for n in 1..=3 {
        assert_eq!(leftovers(&etcd, n), "", "left on n{n}");
    }
    // Stored and shown like any run, saying where it ran, with the logs.
    let (code, out) = fencepost(&["runs", "--store", store.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("etcd"), "{out}");
    let id = run_dirs(&store).pop().unwrap().file_name().unwrap().to_string_lossy().into_owned();
    let server = common::Server::start(&store);
    let (status, page) = server.get(&format!("/runs/{id}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("On SSH hosts: n1 root@127.0.0.1:"), "{page}");
    for n in 1..=3 {
        assert!(page.contains(&format!("n{n}.log")), "no n{n}.log on the page");
    }
}

/// A harness killed by SIGKILL in the middle of a fault leaves it in place;
/// `fencepost heal --nodes FILE` undoes it, and the hosts prove it.
#[test]
fn heal_undoes_what_a_killed_run_left() {
    let _progress = common::progress::Progress::test();
    let _one = serial();
    let dir = temp("heal");
    let redis = Hosts::up("redis", &dir, &[]);
    let file = redis.file.to_str().unwrap().to_string();
    for (fault, left) in [("pause", "State:"), ("partition-clients", "fencepost"), ("clock", "fptime.so")] {
        let store = dir.join(fault);
        let mut child = Command::new(env!("CARGO_BIN_EXE_fencepost"))
            .args(["run", "redis", "--nodes", &file, "--nemesis", fault, "--nemesis-interval", "30s"])
            .args(["--time-limit", "120s", "--clock-mode", "forward", "--store"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the fault is in place on the host.
        let deadline = Instant::now() + Duration::from_secs(90);
        while !leftovers(&redis, 1).contains(left)
            || (fault == "clock" && !redis.sh(1, "cat /run/fencepost/clock").starts_with('6'))
        {
            assert!(Instant::now() < deadline, "{fault} never showed on the host: {}", leftovers(&redis, 1));
            std::thread::sleep(Duration::from_millis(200));
        }
        Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
        child.wait().unwrap();
        assert!(leftovers(&redis, 1).contains(left), "SIGKILL cannot undo {fault}");
        let (code, out) = fencepost(&["heal", "--nodes", &file]);
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(leftovers(&redis, 1), "", "after heal ({fault})");
        assert_eq!(redis.sh(1, "redis-cli ping").trim(), "PONG");
    }
}

#[test]
fn bad_node_files_are_refused_naming_the_node_before_any_fault() {
    let _progress = common::progress::Progress::test();
    let _one = serial();
    let dir = temp("bad");
    let redis = Hosts::up("redis", &dir, &[]);
    let good = std::fs::read_to_string(&redis.file).unwrap();
    let other_key = dir.join("other.key");
    Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&other_key).status().unwrap();
    let ssh_line = good.lines().find(|l| l.starts_with("ssh = ")).unwrap().to_string();
    let key_line = good.lines().find(|l| l.starts_with("key = ")).unwrap().to_string();
    let cases = [
        ("missing-host", good.replace(&ssh_line, "ssh = \"\""), "node `n1`: `ssh` is empty"),
        ("no-such-host", good.replace(&ssh_line, "ssh = \"127.0.0.1:1\""), "n1: cannot log in over SSH"),
        ("wrong-key", good.replace(&key_line, &format!("key = {:?}", other_key)), "n1: cannot log in over SSH"),
        (
            "unknown-service",
            good.replace("/run/fencepost/server.pid", "/run/nothing.pid"),
            "n1: the server is not running",
        ),
        ("no-sudo", good.replace("user = \"root\"", "user = \"nosudo\""), "n1: nosudo cannot run commands as root"),
    ];
    for (name, text, expected) in cases {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let store = dir.join(format!("store-{name}"));
        let (code, out) = fencepost(&[
            "run",
            "redis",
            "--nodes",
            file.to_str().unwrap(),
            "--nemesis",
            "kill",
            "--time-limit",
            "5s",
            "--store",
            store.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(3), "{name}: {out}");
        assert!(out.contains(expected), "{name}: expected {expected:?} in\n{out}");
        assert!(run_dirs(&store).is_empty(), "{name}: a run was stored");
    }
    assert_eq!(leftovers(&redis, 1), "");
    // A wrong system for the file, and flags that need --nodes.
    let (code, out) = fencepost(&["run", "etcd", "--nodes", redis.file.to_str().unwrap()]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("not etcd"), "{out}");
    let (code, out) = fencepost(&["run", "redis", "--install"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("--nodes <FILE>"), "{out}");
}

/// What `--teardown` must give back exactly: packages, users, groups and
/// every file outside caches and logs.
const SNAPSHOT: &str = r#"dpkg-query -W -f '${Package} ${Version}\n' | sort
cut -d: -f1 /etc/passwd | sort
cut -d: -f1 /etc/group | sort
find /etc /usr /var/lib /opt /srv -xdev 2>/dev/null | grep -v -e '^/var/lib/apt' -e '^/var/lib/dpkg' -e '^/var/cache' -e '^/etc/ld.so.cache' | sort"#;

#[test]
fn install_forms_zookeeper_and_etcd_clusters_and_teardown_leaves_the_hosts_as_they_were() {
    let _progress = common::progress::Progress::test();
    let _one = serial();
    let dir = temp("install");
    for system in ["zookeeper", "etcd"] {
        let hosts = Hosts::up(system, &dir, &["--bare"]);
        let before: Vec<String> = (1..=3).map(|n| hosts.sh(n, SNAPSHOT)).collect();
        let store = dir.join(format!("store-{system}"));
        let file = hosts.file.to_str().unwrap().to_string();
        let (code, out) = fencepost(&[
            "run",
            system,
            "--nodes",
            &file,
            "--install",
            "--teardown",
            "--time-limit",
            "8s",
            "--nemesis",
            "partition-leader",
            "--store",
            store.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{system}: {out}");
        let r = results(&store);
        assert!(r["nemesis_error"].is_null(), "{}", r["nemesis_error"]);
        for (n, before) in before.iter().enumerate() {
            let after = hosts.sh(n + 1, SNAPSHOT);
            let added: Vec<&str> = after.lines().filter(|l| !before.lines().any(|b| b == *l)).collect();
            let removed: Vec<&str> = before.lines().filter(|l| !after.lines().any(|a| a == *l)).collect();
            assert!(
                added.is_empty() && removed.is_empty(),
                "{system} n{}: added {added:?}, removed {removed:?}",
                n + 1
            );
        }
    }
}

#[test]
fn dry_run_prints_every_command_and_touches_nothing() {
    let _progress = common::progress::Progress::test();
    let _one = serial();
    let dir = temp("dry");
    let file = dir.join("nodes.toml");
    std::fs::write(
        &file,
        r#"system = "etcd"
[service]
pidfile = "/run/etcd.pid"
start = "systemctl start etcd"
log = "/var/log/etcd.log"
[[node]]
name = "n1"
ssh = "10.0.0.1"
peer = "10.0.0.1"
endpoint = "10.0.0.1:2379"
[[node]]
name = "n2"
ssh = "10.0.0.2"
peer = "10.0.0.2"
endpoint = "10.0.0.2:2379"
[[node]]
name = "n3"
ssh = "10.0.0.3"
peer = "10.0.0.3"
endpoint = "10.0.0.3:2379"
"#,
    )
    .unwrap();
    let (code, out) = fencepost(&[
        "run",
        "etcd",
        "--nodes",
        file.to_str().unwrap(),
        "--nemesis",
        "partition:minority",
        "--time-limit",
        "10s",
        "--dry-run",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("n1: iptables -A fencepost-in -s 10.0.0.") || out.contains("-A fencepost-in -s 10.0.0."),
        "{out}"
    );
    assert!(out.contains("fencepost-out"), "{out}");
    assert!(out.contains("/var/lib/fencepost/bin/role"), "{out}");
}
