//! A run's files, typed: `test.json` ([`TestSpec`]: what was run) and
//! `results.json` ([`RunResults`]: what the checkers found). `run`,
//! `import`, the store's index, `compare` and the web report all write and
//! read them through these structs, so the files cannot drift from the code
//! that reads them. A file written by an older fencepost that lacks a field,
//! or has one these do not know, is refused with the file and the field
//! named ([`crate::Error::Json`]).

use std::collections::BTreeMap;

use checker::analysis::Analysis;
use checker::evidence::ClusterEvent;
use checker::sufficiency::Sufficiency;
use checker::Verdict;
use serde::{Deserialize, Serialize};

/// `test.json`: what was run, whether recorded by `fencepost run` or
/// imported from another tool's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub run: String,
    /// Unix milliseconds.
    pub started_ms: i64,
    pub system: String,
    /// `lock`, `fenced-counter`, `fenced-counter-unfenced`, `election`; an
    /// imported history may also be `register`, `cas-register`, `kv`.
    pub workload: String,
    /// Fault kinds, comma-separated, or `none`.
    pub nemesis: String,
    /// The fencepost version that wrote it.
    pub fencepost: String,
    /// How a recorded run was set up; `None` for an import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
    /// Where an imported history came from; `None` for a recorded run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<Imported>,
    /// The scenario it was run for (`fencepost scenarios run`), with the
    /// expectation it is judged against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<crate::scenario::ScenarioTag>,
    /// The margin study it was a probe of (`fencepost margin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<StudyTag>,
    /// The run it replays (`run --replay`, `shrink`), and which faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<crate::replay::ReplayTag>,
}

/// A probe of a margin study: which study, which fault, at what size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyTag {
    /// The study's id, shared by its probes.
    pub study: String,
    /// The fault whose size is searched, as `--nemesis` spells it.
    pub fault: String,
    /// Which option sets the size (`--client-pause`, `--nemesis-interval`…).
    pub flag: String,
    /// The size this probe ran at.
    pub size_ms: u64,
}

/// Everything `fencepost run` was given, enough to run it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    /// The system in words (`etcd 3.4, three members`).
    pub description: String,
    /// The image the nodes ran (`None` against an existing cluster).
    pub image: Option<String>,
    /// `host:port` of an existing cluster's members (empty: containers).
    pub endpoints: Vec<String>,
    /// `name user@host:port` of each SSH host (`run --nodes`; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_hosts: Vec<String>,
    pub nodes: Vec<String>,
    /// Whether the fenced resource rejected writes with stale tokens.
    pub fencing_enforced: bool,
    pub concurrency: usize,
    pub keys: usize,
    /// Acquire attempts per second across clients (`None`: as fast as the
    /// system answers).
    pub rate: Option<f64>,
    /// How long a holder keeps the lock: `[min, max]`.
    pub hold_ms: [u64; 2],
    pub ttl_ms: u64,
    pub time_limit_ms: u64,
    pub timeout_ms: u64,
    pub acquire_wait_ms: u64,
    pub seed: u64,
    pub nemesis_interval_ms: u64,
    pub quiet_ms: u64,
    /// The faults' own parameters (`loss`, `clock_offset_ms`, …), as the
    /// nemesis names them.
    pub fault_options: BTreeMap<String, f64>,
    /// Which clock faults the plan drew (`random`, `forward`, `backward`,
    /// `strobe`): a name, so beside the numbers; runs recorded before it
    /// was an option drew `random`.
    #[serde(default = "default_clock_mode")]
    pub clock_mode: String,
    /// ρ of the lease arithmetic: how much faster a server's clock may run
    /// than the harness's (0.01 is 1 %; runs recorded before it: 1 %).
    #[serde(default = "default_drift")]
    pub drift: f64,
    /// The `run` command line that makes this run again (`--store`
    /// aside): what a replay reads. Empty in runs recorded before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The program that played the lock clients, when not fencepost's own
    /// recipe: a shipped adapter's name (`redis-py`), or `custom` for the
    /// user's `--client-cmd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

fn default_clock_mode() -> String {
    "random".to_string()
}

fn default_drift() -> f64 {
    checker::lease::LeaseOptions::default().drift
}

/// An imported history's origin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imported {
    /// The file it was read from.
    pub source: String,
    /// `jsonl`, `edn`, `porcupine-etcd`, `porcupine-kv`.
    pub format: String,
}

/// `results.json`: every checker's verdict and evidence, the overall
/// verdict, the key figures, and how the run went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunResults {
    pub run: String,
    /// Invalid if any safety checker is, unknown if any is (or the nemesis
    /// failed, or the evidence was too thin: `sufficiency`), else valid.
    pub verdict: Verdict,
    pub checkers: Vec<Analysis>,
    pub stats: Stats,
    /// Stopped by Ctrl-C before its time limit.
    #[serde(default)]
    pub interrupted: bool,
    /// The workload's own counts; `None` for an import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadSummary>,
    /// Why the nemesis could not inject or heal a fault, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nemesis_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults_planned: Option<usize>,
    /// What the nodes' logs said during the run, on the history's clock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_events: Vec<ClusterEvent>,
    /// Lines of the nodes' own logs that say a server crashed, would not
    /// start or found its files corrupt (the system's `crash_patterns`).
    /// They judge no lock: they are a finding about the server, shown
    /// beside the verdicts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_crashes: Vec<NodeCrash>,
    /// Rules of the history contract the history broke without becoming
    /// unusable (lines out of time order, a wrong `index`, a process reused
    /// after `info`), as the reader noted them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<checker::history::Warning>,
    /// Whether the history held enough to judge (grants, unknown outcomes,
    /// clients active during each fault); thin evidence bounds `verdict` at
    /// `unknown`. `None` in results written before it was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sufficiency: Option<Sufficiency>,
}

/// One line of a node's log that says its server crashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCrash {
    pub node: String,
    pub line: String,
}

/// The figures the index keeps for listing and comparison.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    /// Client completions.
    pub ops: u64,
    pub duration_ms: u64,
    pub ops_per_s: f64,
    pub grant_p50_ms: Option<f64>,
    pub grant_p99_ms: Option<f64>,
    /// Share of the run's time outside every outage (see
    /// `checker::analysis::availability`; runs recorded before: share of
    /// seconds with a grant).
    pub progress_share: Option<f64>,
    /// Mean time from a fault's end to the next successful grant.
    pub recovery_ms: Option<f64>,
    /// Faults the history records.
    pub faults: usize,
}

/// The workload's counts as the run ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSummary {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Of the fails, those refused because another client held the lock
    /// (absent in runs stored before it was counted).
    #[serde(default)]
    pub busy: u64,
    /// Process numbers used (one per worker, plus one per retirement).
    pub processes: u64,
    pub elapsed_ms: u64,
    pub counters: Vec<CounterEnd>,
    /// Orphaned leases the harness revoked, and those left to expire.
    pub orphans_revoked: u64,
    pub orphans_left: u64,
}

/// A fenced counter at the end of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterEnd {
    pub key: String,
    pub value: i64,
    pub accepted: u64,
    pub rejected: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, text: &str) {
        std::fs::write(dir.join("test.json"), text).unwrap();
    }

    #[test]
    fn old_or_foreign_files_are_refused_naming_file_and_field() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // A test.json from before the typed record: settings at the top level.
        write(
            dir,
            r#"{"run":"r1","started_ms":1,"system":"etcd","workload":"lock","nemesis":"none","fencepost":"0.1.0","ttl_ms":5000}"#,
        );
        let e = crate::read_test(dir).unwrap_err().to_string();
        assert!(e.contains("test.json") && e.contains("unknown field `ttl_ms`"), "{e}");
        write(dir, r#"{"run":"r1","started_ms":1,"workload":"lock","nemesis":"none","fencepost":"0.1.0"}"#);
        let e = crate::read_test(dir).unwrap_err().to_string();
        assert!(e.contains("test.json") && e.contains("missing field `system`"), "{e}");
    }

    #[test]
    fn a_run_recorded_before_clock_modes_drew_random_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let recorded = r#"{"description":"d","image":null,"endpoints":[],"nodes":["n1"],"fencing_enforced":true,
            "concurrency":5,"keys":1,"rate":null,"hold_ms":[10,20],"ttl_ms":5000,"time_limit_ms":15000,
            "timeout_ms":1000,"acquire_wait_ms":0,"seed":1,"nemesis_interval_ms":3000,"quiet_ms":3000,
            "fault_options":{"clock_offset_ms":60000.0}}"#;
        let test = format!(
            r#"{{"run":"r1","started_ms":1,"system":"etcd-prevote","workload":"lock","nemesis":"clock","fencepost":"0.1.0","recorded":{recorded}}}"#
        );
        write(dir, &test);
        let read = crate::read_test(dir).unwrap();
        // The old variant name is kept as recorded: stored runs are not renamed.
        assert_eq!(read.system, "etcd-prevote");
        let recorded = read.recorded.unwrap();
        assert_eq!((recorded.clock_mode.as_str(), recorded.drift), ("random", 0.01));
    }

    /// results.json from before the evidence was judged has no
    /// `sufficiency`: it still reads (as `None`), and one written now keeps
    /// it typed.
    #[test]
    fn results_without_sufficiency_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = r#"{"run":"r1","verdict":"valid","checkers":[],"stats":{"ops":4,"duration_ms":8,"ops_per_s":500.0,
            "grant_p50_ms":null,"grant_p99_ms":null,"progress_share":1.0,"recovery_ms":null,"faults":0}}"#;
        std::fs::write(dir.join("results.json"), old).unwrap();
        let read = crate::read_results(dir).unwrap();
        assert_eq!((read.verdict, read.sufficiency), (Verdict::Valid, None));

        let empty = checker::formats::jsonl::read("empty.jsonl", "").unwrap();
        let thin = checker::sufficiency::judge(&empty, true).unwrap();
        let results = RunResults { sufficiency: Some(thin.clone()), ..read };
        crate::write_json(&dir.join("results.json"), &results).unwrap();
        let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
        assert!(text.contains("\"kind\": \"no-client-ops\""), "{text}");
        assert_eq!(crate::read_results(dir).unwrap().sufficiency, Some(thin));
    }

    #[test]
    fn an_import_round_trips() {
        let spec = TestSpec {
            run: "import-1".into(),
            started_ms: 5,
            system: "imported".into(),
            workload: "kv".into(),
            nemesis: "partition".into(),
            fencepost: "0.1.0".into(),
            recorded: None,
            imported: Some(Imported { source: "a.edn".into(), format: "edn".into() }),
            replay: None,
            scenario: None,
            study: None,
        };
        let text = serde_json::to_string(&spec).unwrap();
        assert!(!text.contains("recorded"), "{text}");
        assert_eq!(serde_json::from_str::<TestSpec>(&text).unwrap(), spec);
    }
}
