//! `fencepost check` end to end: exit codes, human and JSON output, and a
//! clear `file:line` error (never a panic) for each kind of bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("checker/tests/data").join(rel)
}

fn fencepost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fencepost")).args(args).output().expect("runs")
}

fn check_text(name: &str, bytes: &[u8], extra: &[&str]) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(format!("fencepost-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let mut args = vec!["check", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = fencepost(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn exit_codes_follow_the_verdict() {
    let ok =
        fencepost(&["check", corpus("porcupine/jepsen/etcd_002.log").to_str().unwrap(), "--model", "cas-register"]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("LINEARIZABLE"));

    let bad =
        fencepost(&["check", corpus("porcupine/jepsen/etcd_000.log").to_str().unwrap(), "--model", "cas-register"]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(text.contains("NOT LINEARIZABLE"), "{text}");
    assert!(text.contains("cannot linearize"), "the stuck op is shown: {text}");
    assert!(text.contains("longest linearized prefix"), "{text}");

    let unknown = fencepost(&[
        "check",
        corpus("porcupine/kv/c50-ok.txt").to_str().unwrap(),
        "--no-partition",
        "--timeout",
        "300ms",
    ]);
    assert_eq!(unknown.status.code(), Some(2), "{}", String::from_utf8_lossy(&unknown.stdout));
}

#[test]
fn json_output_carries_the_evidence() {
    let out = fencepost(&[
        "check",
        corpus("fencepost/stale-read.edn").to_str().unwrap(),
        "--model",
        "cas-register",
        "--initial",
        "0",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "invalid");
    let p = &v["partitions"][0];
    let stuck = p["partials"][0]["stuck"].as_u64().unwrap() as usize;
    assert_eq!(p["operations"][stuck]["description"], "read → 0");
}

#[test]
fn bad_input_exits_3_naming_file_and_line() {
    let good = "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n";
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("malformed.jsonl", format!("{good}{{\"time\":2,\"process\":0,\"type\":\"ok\" \"f\"}}\n").into_bytes(), ":2:", "expected"),
        ("unknown-op.jsonl", format!("{good}{{\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":1}}\n{{\"time\":3,\"process\":0,\"type\":\"invoke\",\"f\":\"frobnicate\"}}\n").into_bytes(), ":3:", "frobnicate"),
        ("orphan.jsonl", b"{\"time\":2,\"process\":4,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n".to_vec(), ":1:", "no matching invoke"),
        ("twice.jsonl", format!("{good}{good}").into_bytes(), ":2:", "has not completed"),
        ("latin1.jsonl", b"{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":\"caf\xe9\"}\n".to_vec(), ":1:", "UTF-8"),
        ("empty.jsonl", Vec::new(), "empty.jsonl", "empty"),
        ("truncated.jsonl", format!("{good}{{\"time\":2,\"process\":0,\"ty").into_bytes(), ":2:", "truncated"),
        ("truncated.edn", b"[{:process 0, :type :invoke, :f :read, :value nil}\n {:process 0, :type :ok".to_vec(), ":2:", "end of file"),
        ("garbage.txt", b"hello world\n".to_vec(), "garbage.txt", "cannot tell the format"),
    ];
    for (name, bytes, place, what) in cases {
        let (code, _, err) = check_text(name, &bytes, &["--model", "register"]);
        assert_eq!(code, 3, "{name}: {err}");
        assert!(err.contains(name) && err.contains(place), "{name}: error should name {place}: {err}");
        assert!(err.contains(what), "{name}: error should say {what:?}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

#[test]
fn unknown_model_and_format_are_usage_errors() {
    let f = corpus("porcupine/kv/c01-ok.txt");
    let out = fencepost(&["check", f.to_str().unwrap(), "--model", "queue"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model"));
    let out = fencepost(&["check", f.to_str().unwrap(), "--format", "xml"]);
    assert_eq!(out.status.code(), Some(3));
}

/// Exit code 2 means `unknown`; a mistyped command line is "could not run".
#[test]
fn usage_errors_exit_3_with_clap_message() {
    for args in [
        &["runs", "--verdikt", "x"][..],
        &["check"],
        &["frobnicate"],
        &[],
        &["suite", "--endpoints=127.0.0.1:9", "--nemesis", "kill"],
    ] {
        let out = fencepost(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains("Usage:"), "{args:?}: clap's message: {err}");
    }
    let out = fencepost(&["runs", "--verdikt", "x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--verdikt'"));
    for args in [&["--help"][..], &["--version"], &["runs", "--help"], &["help", "suite"], &["suite", "-h"]] {
        let out = fencepost(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty() && out.stderr.is_empty(), "{args:?} prints to stdout");
    }
}

/// Every case is refused before any cluster starts; `--endpoints` at a
/// closed port keeps even a regression from starting containers.
#[test]
fn durations_need_a_unit() {
    const NOWHERE: &str = "--endpoints=127.0.0.1:9";
    for (args, flag) in [
        (&["run", "redis", NOWHERE, "--time-limit", "5"][..], "--time-limit"),
        (&["run", "redis", NOWHERE, "--client-pause", "5"], "--client-pause"),
        (&["suite", NOWHERE, "--hold-max", "5"], "--hold-max"),
    ] {
        let out = fencepost(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains(flag) && err.contains("add a unit: 5s"), "{args:?}: {err}");
    }
    let out = fencepost(&["run", "redis", NOWHERE, "--time-limit", "10s", "--hold-min", "5 parsecs"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("--hold-min") && err.contains("parsecs"), "{err}");
}

/// `suite --help`: one spelling per option, each described, every system
/// by default.
#[test]
fn suite_help_describes_every_option_once() {
    let out = fencepost(&["suite", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    let every_system = workloads::systems::names().join(",");
    assert!(help.contains(&format!("[default: {every_system}]")), "{help}");
    assert!(help.contains("--nemeses <MIXES>"), "{help}");
    assert!(!help.contains("--nemesis <"), "fault mixes have one spelling: {help}");
    let lines: Vec<&str> = help.lines().collect();
    let mut flags = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(flag) = line.trim_start().strip_prefix("--").filter(|_| line.starts_with("      --")) else {
            continue;
        };
        let name = flag.split([' ', ',']).next().unwrap();
        assert!(!flags.contains(&name), "--{name} listed twice");
        flags.push(name);
        let described = lines.get(i + 1).is_some_and(|next| next.starts_with("          ") && !next.trim().is_empty());
        assert!(described, "--{name} has no description:\n{help}");
    }
    assert!(flags.len() >= 20, "{flags:?}");
}

/// The systems `run`, `up` and `runs --system` name in their help come from
/// the registry.
#[test]
fn help_lists_every_registered_system() {
    let names = workloads::systems::names().join(", ");
    for args in [["run", "--help"], ["up", "--help"], ["runs", "--help"]] {
        let out = fencepost(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains(&names), "{args:?}: {help}");
    }
}

/// `soak`'s wrong inputs are refused with the reason and exit 3 before
/// anything starts; `--endpoints` at a closed port keeps even a regression
/// from starting containers.
#[test]
fn soak_refuses_wrong_inputs() {
    const NOWHERE: &str = "--endpoints=127.0.0.1:9";
    for (args, says) in [
        (&["soak", "rediss", NOWHERE][..], "unknown system `rediss`"),
        (&["soak", "redis", NOWHERE, "--sample", "abc"], "--sample"),
        (&["soak", "redis", NOWHERE, "--sample", "0s"], "too short a sample interval"),
        (&["soak", "redis", NOWHERE, "--sample", "10"], "add a unit: 10s"),
        (&["soak", "redis", NOWHERE, "--warm-up", "1"], "add a unit: 1s"),
        (&["soak", "redis", NOWHERE, "--nemesis", "kill:leaderr"], "--nemesis"),
        (&["soak"], "Usage:"),
    ] {
        let out = fencepost(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing started: {}", String::from_utf8_lossy(&out.stdout));
    }
    let out = fencepost(&["soak", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains(&workloads::systems::names().join(", ")), "{help}");
    assert!(help.contains("16 MiB or 10 %"), "the flatness threshold is documented: {help}");
}

/// The shipped example states its initial value, so a bare `check` of it
/// is right; the header says which model and initial value were used and
/// where each came from, and `--json` says the same.
#[test]
fn the_shipped_example_states_its_initial_value_and_the_header_says_where_each_came_from() {
    let example = corpus("fencepost/concurrent-ok.edn");
    let file = example.to_str().unwrap();
    let out = fencepost(&["check", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("model:      cas-register (inferred from the ops; choose with --model)"), "{text}");
    assert!(text.contains("initial:    0 (stated in the file; choose with --initial)"), "{text}");
    assert!(text.contains("verdict:    LINEARIZABLE"), "{text}");

    let out = fencepost(&["check", file, "--initial", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("initial:    0 (given with --initial)"), "not `inferred`: {text}");
    // Given beats stated: from 1, the read of 0 cannot be placed.
    assert_eq!(fencepost(&["check", file, "--initial", "1"]).status.code(), Some(1));

    let out = fencepost(&["check", file, "--model", "cas-register", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let used = (&v["model"], &v["model_from"], &v["initial"], &v["initial_from"], &v["verdict"]);
    assert_eq!(used, (&"cas-register".into(), &"given".into(), &0.into(), &"stated".into(), &"valid".into()), "{v}");

    // Without the statement, Knossos's default: nil, and said so.
    let text = std::fs::read_to_string(&example).unwrap();
    let bare: String = text.lines().filter(|l| !l.starts_with("; fencepost:")).map(|l| format!("{l}\n")).collect();
    let (code, out, _) = check_text("concurrent-bare.edn", bare.as_bytes(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("initial:    nil (the model's default; choose with --initial)"), "{out}");

    // An initial value where the model has none is refused, never dropped:
    // given, or stated in the file (naming its line).
    let lock = "[{:process 0, :type :invoke, :f :acquire}\n {:process 0, :type :ok, :f :acquire}]\n";
    let (code, _, err) = check_text("lock.edn", lock.as_bytes(), &["--initial", "0"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("model `knossos-mutex` (inferred from the ops) has no initial value"), "{err}");
    let (code, _, err) = check_text("lock-stated.edn", format!("; fencepost: initial 0\n{lock}").as_bytes(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("lock-stated.edn:1: the file states an initial value, but model"), "{err}");
    let (code, _, err) = check_text("typo.edn", format!("; fencepost: inital 0\n{lock}").as_bytes(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("typo.edn:1:") && err.contains("unknown setting"), "{err}");
}

/// A fenced counter whose holders took turns, each write accepted, but
/// whose final read lost one of the two increments.
const LOST_UPDATE: &str = r#"{"index":0,"time":10,"process":0,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"index":1,"time":20,"process":0,"type":"ok","f":"acquire","key":"k0","value":{"token":1,"ttl_ms":1000}}
{"index":2,"time":30,"process":0,"type":"invoke","f":"write","key":"k0","value":{"value":1,"token":1}}
{"index":3,"time":40,"process":0,"type":"ok","f":"write","key":"k0","value":{"value":1,"token":1}}
{"index":4,"time":50,"process":0,"type":"invoke","f":"release","key":"k0","value":null}
{"index":5,"time":60,"process":0,"type":"ok","f":"release","key":"k0","value":null}
{"index":6,"time":70,"process":1,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"index":7,"time":80,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":2,"ttl_ms":1000}}
{"index":8,"time":90,"process":1,"type":"invoke","f":"write","key":"k0","value":{"value":2,"token":2}}
{"index":9,"time":100,"process":1,"type":"ok","f":"write","key":"k0","value":{"value":2,"token":2}}
{"index":10,"time":110,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":11,"time":120,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":12,"time":130,"process":1000000,"type":"invoke","f":"final-read","key":"k0","value":null}
{"index":13,"time":140,"process":1000000,"type":"ok","f":"final-read","key":"k0","value":1}
"#;

/// Two holders of k0 at once, each granted a 5 s lease inside the other's.
const OVERLAP: &str = r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":5000}}
{"index":1,"time":1000000000,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":1,"ttl_ms":5000}}
{"index":2,"time":1100000000,"process":2,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":5000}}
{"index":3,"time":1500000000,"process":2,"type":"ok","f":"acquire","key":"k0","value":{"token":2,"ttl_ms":5000}}
{"index":4,"time":2920000000,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":5,"time":2930000000,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":6,"time":3000000000,"process":2,"type":"invoke","f":"release","key":"k0","value":null}
{"index":7,"time":3000000001,"process":2,"type":"ok","f":"release","key":"k0","value":null}
"#;

/// `check FILE` on a lock history runs the checkers `import` runs and
/// exits with their verdict; `--model` asks for linearizability alone and
/// is told what it leaves out.
#[test]
fn check_on_a_lock_history_runs_the_lock_checkers_and_exits_with_their_verdict() {
    let (code, out, err) = check_text("overlap.jsonl", OVERLAP.as_bytes(), &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("the checkers `import` and `run` apply to a lock history:"), "{out}");
    for line in ["INVALID  mutual-exclusion", "INVALID  lease-safety", "promise-broken", "info     availability"] {
        assert!(out.contains(line), "no {line:?}:\n{out}");
    }
    assert!(out.contains("verdict:    invalid (of these checkers"), "{out}");

    // Linearizable as a lock, yet the fenced counter lost an update: the
    // lock checkers decide, so the exit code says invalid.
    let (code, out, err) = check_text("lost.jsonl", LOST_UPDATE.as_bytes(), &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("linearizable: LINEARIZABLE"), "{out}");
    assert!(out.contains("to a fenced-counter history:") && out.contains("INVALID  lost-updates"), "{out}");

    let (code, out, _) = check_text("overlap.jsonl", OVERLAP.as_bytes(), &["--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> =
        v["analyses"]["checkers"].as_array().unwrap().iter().map(|c| c["checker"].as_str().unwrap()).collect();
    for name in ["linearizable", "mutual-exclusion", "lease-safety", "fencing", "availability"] {
        assert!(names.contains(&name), "no {name} in {names:?}");
    }
    assert_eq!((&v["analyses"]["workload"], &v["analyses"]["verdict"]), (&"lock".into(), &"invalid".into()));

    // --model: linearizability alone, and the report says what is left out.
    let (code, out, _) = check_text("lost.jsonl", LOST_UPDATE.as_bytes(), &["--model", "mutex"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("lock checkers: not run: --model asks for linearizability alone"), "{out}");
    assert!(!out.contains("lost-updates"), "{out}");
}

/// `run`'s numbers that cannot mean what they say are refused naming the
/// flag (exit 3), never quietly changed; `--plan` and a closed port keep a
/// regression from starting anything.
#[test]
fn run_refuses_numbers_it_used_to_adjust() {
    for (args, says) in [
        (&["--concurrency", "0"][..], "--concurrency 0"),
        (&["--keys", "0"], "--keys 0"),
        (&["--hold-min", "60ms"], "--hold-min 60ms is longer than --hold-max 50ms"),
        (&["--hold-min", "2s", "--hold-max", "1s"], "--hold-min 2s is longer than --hold-max 1s"),
        (&["--rate", "0"], "--rate 0"),
        (&["--rate=-3"], "--rate -3"),
        (&["--time-limit", "0s"], "--time-limit 0s"),
        (&["--ttl", "0s"], "--ttl 0s"),
        (&["--ttl", "500us"], "--ttl 500us"),
        (&["--timeout", "0s"], "--timeout 0s"),
        (&["--nemesis", "kill", "--nemesis-interval", "0s"], "--nemesis-interval 0s"),
        (&["--nemesis", "client-pause", "--client-pause-clients", "0"], "--client-pause-clients 0"),
        (&["--nemesis", "clock", "--clock-strobe-period", "0s"], "--clock-strobe-period 0s"),
    ] {
        let mut argv = vec!["run", "redis", "--plan", "--endpoints=127.0.0.1:9"];
        argv.extend_from_slice(args);
        let out = fencepost(&argv);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: no plan printed: {}", String::from_utf8_lossy(&out.stdout));
    }
    // The same numbers where they mean something are accepted.
    let out = fencepost(&["run", "redis", "--plan", "--endpoints=127.0.0.1:9", "--hold-min", "50ms", "--rate", "0.5"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
