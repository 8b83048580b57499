//! What `run` decides before it starts anything (refusals, defaults, the
//! fault plan: `run --plan`), and `check` on every history fencepost writes.
//! None of these need a Docker engine: a refusal must come before one is
//! touched.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{fencepost, import, temp_store};

fn run(args: &[&str]) -> (i32, String, String, Duration) {
    let t0 = Instant::now();
    let out: Output = fencepost().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t0.elapsed(),
    )
}

#[test]
fn refusals_that_depend_only_on_the_system_come_before_anything_starts() {
    let store = temp_store("refusals");
    let s = store.to_str().unwrap();
    for (args, why) in [
        (vec!["run", "etcd", "--nemesis", "clock"], "Go binary"),
        (vec!["run", "redis", "--nemesis", "partition-leader"], "no leader"),
        (vec!["run", "redlock", "--nemesis", "partition-leader"], "names no leader"),
        (vec!["run", "postgres", "--nemesis", "partition"], "one-node cluster"),
        (vec!["run", "redis", "--nemesis", "kill", "--endpoints", "127.0.0.1:1"], "existing cluster"),
        (vec!["run", "redis", "--nemesis", "client-pause", "--time-limit", "5s"], "no fault fits"),
        (vec!["run", "etcd", "--nemesis", "lose-unsynced"], "writes and fsyncs its files without libc"),
        (vec!["run", "postgres", "--nemesis", "lose-unsynced"], "another of its processes fsyncs"),
        (vec!["run", "mariadb", "--nemesis", "lose-unsynced:holder"], "O_DIRECT"),
        (vec!["run", "mysql"], "unknown system `mysql`; did you mean `mariadb`?"),
        (vec!["run", "etcd", "--nemesis", "clock-rate"], "Go binary"),
        (vec!["run", "redis", "--nemesis", "corrupt-file"], "redis keeps no data file (no persistence) to corrupt"),
        (vec!["run", "redlock", "--nemesis", "member"], "no membership to change"),
        (vec!["run", "redis-sentinel", "--nemesis", "member"], "etcd and ZooKeeper only so far"),
        (vec!["run", "etcd", "--nemesis", "member:majority"], "no quorum"),
        (vec!["run", "redis", "--nemesis", "clock-rate", "--clock-rate", "1"], "--clock-rate 1: "),
        (vec!["run", "redis", "--nemesis", "clock-rate", "--clock-rate", "0"], "from 0.01 to 100 times"),
    ] {
        let mut args = args.clone();
        args.extend(["--store", s]);
        let (code, _, err, _) = run(&args);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        // Nothing was stored: no run folder was made.
        let runs = std::fs::read_dir(&store).unwrap().filter_map(Result::ok).filter(|e| e.path().is_dir()).count();
        assert_eq!(runs, 0, "{args:?} left a run folder");
    }
}

#[test]
fn every_single_fault_kind_fits_the_default_and_a_15s_time_limit() {
    let kinds = [
        ("etcd", "partition"),
        ("etcd", "partition-clients"),
        ("etcd", "kill"),
        ("etcd", "pause"),
        ("etcd", "loss"),
        ("etcd", "client-pause"),
        ("redis:aof-everysec", "lose-unsynced"),
        ("redis", "clock-rate"),
        ("etcd", "corrupt-file"),
        ("etcd", "member"),
    ];
    for limit in [None, Some("15s")] {
        for (system, kind) in kinds {
            let mut args = vec!["run", system, "--plan", "--nemesis", kind];
            if let Some(l) = limit {
                args.extend(["--time-limit", l]);
            }
            let (code, out, err, _) = run(&args);
            assert_eq!(code, 0, "{args:?}: {err}");
            assert!(out.contains(&format!(" {kind} ")), "{args:?} plans no {kind}:\n{out}");
            assert!(!out.contains("note:"), "{args:?} needed a note:\n{out}");
        }
    }
}

#[test]
fn variants_are_named_system_colon_variant_and_old_names_get_a_hint() {
    let store = temp_store("variants");
    let s = store.to_str().unwrap();
    let (code, out, err, _) = run(&["run", "redis-sentinel:min-replicas", "--plan", "--nemesis", "partition:primary"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("redis-sentinel:min-replicas ("), "{out}");
    for args in [
        vec!["run", "etcd-prevote", "--plan"],
        vec!["up", "etcd-prevote"],
        vec!["suite", "--systems", "redis,etcd-prevote", "--nemeses", "none", "--store", s],
    ] {
        let (code, out, err, _) = run(&args);
        assert_eq!(code, 3, "{args:?}: {out}{err}");
        assert!(err.contains("unknown system `etcd-prevote`; did you mean `etcd:prevote`?"), "{args:?}: {err}");
        // The suite checks every name before its first run.
        assert!(!out.contains("=== redis"), "{args:?}: {out}");
    }
}

#[test]
fn clock_modes_are_planned_in_their_direction_or_refused_naming_the_flag() {
    let plan = |mode: &str| {
        let args = ["run", "redis", "--plan", "--nemesis", "clock", "--clock-offset", "20s", "--clock-mode", mode];
        run(&args)
    };
    let (code, out, err, _) = plan("forward");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("clock jumps forward 20s").count(), 2, "{out}");
    let (_, out, _, _) = plan("backward");
    assert_eq!(out.matches("clock jumps back 20s").count(), 2, "{out}");
    let (code, _, err, _) = plan("ahead");
    assert_eq!(code, 3);
    assert!(err.contains("'--clock-mode <MODE>'") && err.contains("unknown clock mode `ahead`"), "{err}");
}

#[test]
fn the_plan_gives_every_named_kind_a_turn_or_says_which_it_could_not_fit() {
    for seed in ["1", "2", "3", "4"] {
        let args = ["run", "etcd", "--plan", "--nemesis", "partition,kill", "--time-limit", "20s", "--seed", seed];
        let (code, out, err, _) = run(&args);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(" partition ") && out.contains(" kill "), "seed {seed}:\n{out}");
    }
    let args = ["run", "zookeeper", "--plan", "--nemesis", "partition,kill,pause,loss", "--time-limit", "12s"];
    let (code, out, _, _) = run(&args);
    assert_eq!(code, 0);
    assert!(out.contains("no room for"), "the kinds left out are named:\n{out}");
}

#[test]
fn aimed_faults_are_planned_with_their_target_or_refused_naming_it() {
    let store = temp_store("aimed");
    let s = store.to_str().unwrap();
    for (system, nemesis, why) in [
        ("redis", "kill:nobody", "unknown target `nobody` in `kill:nobody` (known: random, leader, primary"),
        ("redis", "kill:leaderr", "unknown target `leaderr`"),
        ("redis", "kil:holder", "unknown fault `kil`"),
        ("redis", "client-pause:leader", "`client-pause:leader`: a client pause stalls clients, not nodes"),
        ("redis", "client-pause:random", "its target is `holder`"),
        ("etcd", "partition:all", "`partition:all`: a partition needs a side left standing"),
        ("redlock", "kill:leader", "kill:leader: this system names no leader"),
        ("redlock", "pause:primary", "pause:primary: this system names no primary"),
        ("redis", "kill,clock:minority", "clock:minority: a cluster of 1 node has no minority"),
        ("etcd", "clock:holder", "clock:holder: etcd is a Go binary"),
    ] {
        let (code, _, err, _) = run(&["run", system, "--nemesis", nemesis, "--plan", "--store", s]);
        assert_eq!(code, 3, "{system} {nemesis}: {err}");
        assert!(err.contains(why), "{system} {nemesis}: {err}");
    }
    // Planned: the canonical spelling, the rule, and for live targets no
    // nodes until the fault starts.
    let (code, out, err, _) =
        run(&["run", "redlock", "--plan", "--nemesis", "clock:holder,kill:majority", "--time-limit", "20s"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" clock:holder ") && out.contains(r#""target":"holder","targets":[]"#), "{out}");
    assert!(out.contains("(the holder when it starts; waits up to"), "{out}");
    let majority = out.lines().find(|l| l.contains(" kill:majority ")).expect(&out);
    let nodes = majority.split(r#""targets":["#).nth(1).unwrap().split(']').next().unwrap();
    assert_eq!(nodes.split(',').count(), 3, "a majority of five: {majority}");
    // Both spellings of a leader isolation plan the same fault, spelled the old way.
    let plan = |n: &str| run(&["run", "etcd", "--plan", "--nemesis", n]).1;
    assert_eq!(plan("partition:leader"), plan("partition-leader"));
    assert!(plan("partition:leader").contains(" partition-leader "));
    // `runs` reads the same syntax.
    let (code, _, err, _) = run(&["runs", "--nemesis", "clock:leaderr", "--store", s]);
    assert!(code == 3 && err.contains("unknown target `leaderr`"), "{err}");
}

/// A fenced-counter run's history: two holders, each reads and writes the
/// counter under its token, then the final read.
const FENCED: &str = r#"{"index":0,"time":10,"process":0,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"index":1,"time":20,"process":0,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":2,"time":30,"process":0,"type":"invoke","f":"read","key":"k0","value":null}
{"index":3,"time":40,"process":0,"type":"ok","f":"read","key":"k0","value":0}
{"index":4,"time":50,"process":0,"type":"invoke","f":"write","key":"k0","value":{"value":1,"token":1}}
{"index":5,"time":60,"process":0,"type":"ok","f":"write","key":"k0","value":{"value":1,"token":1}}
{"index":6,"time":70,"process":0,"type":"invoke","f":"release","key":"k0","value":null}
{"index":7,"time":80,"process":0,"type":"ok","f":"release","key":"k0","value":null}
{"index":8,"time":90,"process":1,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"index":9,"time":100,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":2}}
{"index":10,"time":110,"process":1,"type":"invoke","f":"read","key":"k0","value":null}
{"index":11,"time":120,"process":1,"type":"ok","f":"read","key":"k0","value":1}
{"index":12,"time":130,"process":1,"type":"invoke","f":"write","key":"k0","value":{"value":2,"token":2}}
{"index":13,"time":140,"process":1,"type":"ok","f":"write","key":"k0","value":{"value":2,"token":2}}
{"index":14,"time":150,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":15,"time":160,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":16,"time":170,"process":1000000,"type":"invoke","f":"final-read","key":"k0","value":null}
{"index":17,"time":180,"process":1000000,"type":"ok","f":"final-read","key":"k0","value":2}
"#;

#[test]
fn check_reads_every_history_fencepost_writes() {
    let store = temp_store("check-all");
    let id = import(&store, "fenced.jsonl", FENCED, "redis");
    let dir = store.join(&id);
    // The JSONL: the lock ops are checked, the resource's are named as left out.
    let (code, out, err, _) = run(&["check", dir.join("history.jsonl").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("model:      fenced-mutex"), "{out}");
    assert!(out.contains("ignored:") && out.contains("2 read") && out.contains("2 write"), "{out}");
    // Its EDN export infers the same model.
    let edn = store.join("fenced.edn");
    let (code, _, err, _) =
        run(&["export", &id, "--edn", "--store", store.to_str().unwrap(), "-o", edn.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err, _) = run(&["check", edn.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("model:      fenced-mutex"), "{out}");
    // The run's folder: every checker `run` applies.
    let (code, out, err, _) = run(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    for checker in ["linearizable", "mutual-exclusion", "fencing", "lost-updates", "availability"] {
        assert!(out.contains(checker), "no {checker}:\n{out}");
    }
    // A folder that is not a run's is refused, naming it.
    let (code, _, err, _) = run(&["check", store.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(err.contains("no history.jsonl"), "{err}");
}

/// The issue's own cases: a plan that cannot show what it aims at says so
/// before the run (and the run says it at its start), naming what would.
#[test]
fn the_plan_names_faults_this_runs_shape_cannot_show() {
    let plan = |args: &[&str]| {
        let mut argv = vec!["run"];
        argv.extend(args);
        argv.extend(["--plan", "--time-limit", "60s"]);
        let (code, out, err, _) = run(&argv);
        assert_eq!(code, 0, "{argv:?}: {err}");
        out.lines().filter(|l| l.contains("blind spot:")).map(str::to_string).collect::<Vec<_>>()
    };
    let hold = |min, max| ["--hold-min", min, "--hold-max", max];
    // Redis kill:holder: holds of 2-4 s end while the node is down 5 s.
    let blind =
        plan(&[&["redis", "--nemesis", "kill:holder", "--nemesis-interval", "5s"][..], &hold("2s", "4s")].concat());
    assert_eq!(blind.len(), 1, "{blind:?}");
    assert!(
        blind[0].contains("kill:holder: each kill keeps its node down 5s") && blind[0].contains("--hold-max"),
        "{blind:?}"
    );
    assert!(plan(
        &[&["redis", "--nemesis", "kill:holder", "--nemesis-interval", "1.5s"][..], &hold("4s", "6s")].concat()
    )
    .is_empty());
    // Sentinel partition:primary: a 10 s cut under a 15 s lease; a 12 s
    // cut under a 4 s one.
    let sentinel = ["redis-sentinel", "--nemesis", "partition:primary", "--nemesis-interval"];
    let blind = plan(&[&sentinel[..], &["10s", "--ttl", "15s"]].concat());
    assert_eq!(blind.len(), 1, "{blind:?}");
    assert!(blind[0].contains("partition:primary: each cut lasts 10s, less than is surely left"), "{blind:?}");
    assert!(blind[0].contains("(14.95s: --ttl 15s less the longest hold, 50ms)"), "{blind:?}");
    assert!(plan(&[&sentinel[..], &["12s", "--ttl", "4s"]].concat()).is_empty());
    // A client pause that, after the longest hold, still ends inside the
    // lease; the default pause (1.5 × --ttl) does not.
    let blind = plan(&["redis", "--nemesis", "client-pause", "--client-pause", "2s", "--ttl", "5s"]);
    assert!(blind.len() == 1 && blind[0].contains("each pause lasts 2s, less than is surely left"), "{blind:?}");
    assert!(plan(&["redis", "--nemesis", "client-pause", "--ttl", "5s"]).is_empty());
    // PostgreSQL's locks last the session, not --ttl: no lease to outlast.
    assert!(plan(&["postgres", "--nemesis", "client-pause", "--client-pause", "1s"]).is_empty());
    // etcd renews every third of its lease: with holds of 7-8 s, a cut of
    // 5s under a 6s lease can outlast what is left (4s), one of 3s cannot.
    let etcd = |cut: &'static str, holds: [&'static str; 2]| {
        let args = ["etcd", "--nemesis", "partition-clients", "--ttl", "6s", "--nemesis-interval", cut];
        plan(&[&args[..], &hold(holds[0], holds[1])].concat())
    };
    assert!(etcd("5s", ["7s", "8s"]).is_empty());
    let blind = etcd("3s", ["7s", "8s"]);
    assert!(blind.len() == 1 && blind[0].contains("(4s: --ttl 6s less a renewal period of 2s)"), "{blind:?}");
    // A holder cut off is not paused: holds of 3-4 s end before a 6 s
    // lease can run out, however long the cut.
    let blind = etcd("5s", ["3s", "4s"]);
    assert!(
        blind.len() == 1 && blind[0].contains("every hold (at most 4s, --hold-max) ends within the lease (6s)"),
        "{blind:?}"
    );
    // A replicated system can fail over while a node is down: the kill
    // rule is a lone server's.
    let sentinel = ["redis-sentinel", "--nemesis", "kill:primary", "--nemesis-interval", "8s"];
    assert!(plan(&[&sentinel[..], &hold("4s", "6s")].concat()).is_empty());
}

/// `margin`'s own refusals come before any cluster starts.
#[test]
fn a_margin_that_cannot_be_searched_is_refused_naming_why() {
    for (args, why) in [
        (vec!["--fault", "kill,pause"], "one fault"),
        (vec!["--fault", "kill", "--from", "3s", "--to", "1s"], "--from 3s is not below --to 1s"),
        (vec!["--fault", "kill", "--runs", "0"], "--runs 0"),
        (vec!["--fault", "client-pause", "--from", "0s"], "--from 0s: a fault of no size is no fault"),
        (vec!["--fault", "kill", "--nemesis", "pause"], "--nemesis: `margin` searches the one fault of --fault"),
        (vec!["--fault", "nope"], "--fault"),
        (vec!["--fault", "kill", "--to", "60s"], "--nemesis-interval 60s (kill): a 30s run fits it only as"),
    ] {
        let mut argv = vec!["margin", "redis"];
        argv.extend(args.iter());
        let (code, out, err, _) = run(&argv);
        assert_eq!(code, 3, "{argv:?}: {out}{err}");
        assert!(err.contains(why), "{argv:?}: {err}");
    }
}
