//! The index follows the files: runs are indexed, listed, filtered,
//! compared, rebuilt; bad ids and broken files are refused with the reason.

use checker::analysis::Analysis;
use checker::checkers::CheckerId;
use checker::evidence::{Evidence, MutualExclusion};
use checker::Verdict;
use results::{Error, Filter, RunResults, Stats, Store, TestSpec};

fn write_run(dir: &std::path::Path, id: &str, system: &str, nemesis: &str, verdict: &str, p50: f64, started: i64) {
    let run = dir.join(id);
    std::fs::create_dir_all(&run).unwrap();
    let verdict: Verdict = verdict.parse().unwrap();
    let test = TestSpec {
        run: id.into(),
        started_ms: started,
        system: system.into(),
        workload: "lock".into(),
        nemesis: nemesis.into(),
        fencepost: "test".into(),
        recorded: None,
        imported: None,
        scenario: None,
        study: None,
        replay: None,
    };
    results::write_json(&run.join("test.json"), &test).unwrap();
    let mutex = MutualExclusion { holds: 0, overlaps: 0, causes: Default::default(), anomalies: Vec::new() };
    let results = RunResults {
        run: id.into(),
        verdict,
        checkers: vec![Analysis {
            validity: verdict,
            summary: String::new(),
            evidence: Evidence::MutualExclusion(mutex),
        }],
        stats: Stats {
            ops: 100,
            duration_ms: 10_000,
            ops_per_s: 10.0,
            grant_p50_ms: Some(p50),
            grant_p99_ms: Some(p50 * 2.0),
            progress_share: Some(1.0),
            recovery_ms: None,
            faults: 0,
        },
        interrupted: false,
        workload: None,
        nemesis_error: None,
        faults_planned: None,
        cluster_events: Vec::new(),
        node_crashes: Vec::new(),
        warnings: Vec::new(),
        sufficiency: None,
    };
    results::write_json(&run.join("results.json"), &results).unwrap();
}

#[tokio::test]
async fn runs_are_indexed_listed_compared_and_rebuilt() {
    let dir = std::env::temp_dir().join(format!("fencepost-results-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir).await.unwrap();
    write_run(&dir, "r1", "etcd", "none", "valid", 2.0, 1);
    write_run(&dir, "r2", "etcd", "none", "valid", 4.0, 2);
    write_run(&dir, "r3", "redis", "client-pause", "invalid", 1.0, 3);
    for id in ["r1", "r2", "r3"] {
        store.index(id).await.unwrap();
    }
    let all = store.list(&Filter::default()).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r3", "r2", "r1"], "newest first");
    assert_eq!(all[0].checkers, [(CheckerId::MutualExclusion, Verdict::Invalid)].into());
    let etcd = store.list(&Filter { system: Some("etcd".into()), ..Filter::default() }).await.unwrap();
    assert_eq!(etcd.len(), 2);
    let invalid = store.list(&Filter { verdict: Some(Verdict::Invalid), ..Filter::default() }).await.unwrap();
    assert_eq!(invalid.len(), 1);

    let cells = store.compare(&Filter::default()).await.unwrap();
    assert_eq!(cells.len(), 2);
    assert_eq!((cells[0].system.as_str(), cells[0].runs, cells[0].grant_p50_ms), ("etcd", 2, Some((3.0, 2))));
    assert_eq!((cells[1].verdict, cells[1].invalid), (Some(Verdict::Invalid), 1));

    // The files are the truth: a fresh index is rebuilt from them, and a
    // directory without results is named, not fatal.
    std::fs::remove_file(dir.join("index.sqlite")).unwrap();
    std::fs::create_dir_all(dir.join("r4")).unwrap();
    let store = Store::open(&dir).await.unwrap();
    let (n, skipped) = store.reindex().await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(skipped.len(), 1);
    assert!(matches!(&skipped[0], Error::Io { path, .. } if path.ends_with("r4/test.json")), "{skipped:?}");
    assert!(store.get("r2").await.unwrap().is_some());

    // Broken JSON names the file and line; bad ids never reach the disk.
    std::fs::write(dir.join("r1/results.json"), "{\n  \"verdict\": \n").unwrap();
    let e = store.index("r1").await.unwrap_err();
    assert!(matches!(&e, Error::Json { path, .. } if path.ends_with("r1/results.json")), "{e:?}");
    assert!(e.to_string().contains("line 3"), "{e}");
    for bad in ["..", "../etc", "a/b", ".hidden", ""] {
        assert!(matches!(store.index(bad).await, Err(Error::NotRunId(_))), "{bad}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn runs_are_removed_with_their_row_and_nothing_else() {
    let dir = std::env::temp_dir().join(format!("fencepost-results-rm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir).await.unwrap();
    write_run(&dir, "r1", "etcd", "none", "valid", 2.0, 1);
    write_run(&dir, "r2", "etcd", "none", "valid", 2.0, 2);
    store.index("r1").await.unwrap();
    store.index("r2").await.unwrap();
    assert!(store.existing_run_dir("r1").is_ok());

    store.remove("r1").await.unwrap();
    assert!(!dir.join("r1").exists());
    assert!(store.get("r1").await.unwrap().is_none());
    assert!(matches!(store.existing_run_dir("r1"), Err(Error::NoSuchRun { .. })));
    assert!(matches!(store.remove("r1").await, Err(Error::NoSuchRun { .. })));
    assert_eq!(store.list(&Filter::default()).await.unwrap().len(), 1);

    // The index file has a name a run id could have; it is not a run.
    assert!(matches!(store.remove("index.sqlite").await, Err(Error::NoSuchRun { .. })));
    assert!(dir.join("index.sqlite").is_file());
    for bad in ["..", "../r2", "r2/..", ".", "/tmp"] {
        assert!(matches!(store.remove(bad).await, Err(Error::NotRunId(_))), "{bad}");
    }
    assert!(dir.join("r2/test.json").is_file());

    // A row whose directory was deleted by hand can still be removed.
    std::fs::remove_dir_all(dir.join("r2")).unwrap();
    store.remove("r2").await.unwrap();
    assert!(store.list(&Filter::default()).await.unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Tags a written run as made for scenario `name`, expecting
/// mutual-exclusion invalid.
fn tag(dir: &std::path::Path, id: &str, name: &str) {
    use results::scenario::{Expect, Expectation, ScenarioTag};
    let run = dir.join(id);
    let mut test = results::read_test(&run).unwrap();
    let expect = Expectation { checkers: [(CheckerId::MutualExclusion, Expect::Invalid)].into(), ..Default::default() };
    test.scenario = Some(ScenarioTag { name: name.into(), expect });
    results::write_json(&run.join("test.json"), &test).unwrap();
}

#[tokio::test]
async fn scenario_runs_are_judged_indexed_and_summarized() {
    use results::scenario::{summarize, Expect, Expectation};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    write_run(dir.path(), "s1", "redis", "client-pause", "invalid", 1.0, 1);
    write_run(dir.path(), "s2", "redis", "client-pause", "valid", 1.0, 2);
    write_run(dir.path(), "other", "redis", "none", "valid", 1.0, 3);
    tag(dir.path(), "s1", "pause");
    tag(dir.path(), "s2", "pause");
    for id in ["s1", "s2", "other"] {
        store.index(id).await.unwrap();
    }
    let filter = Filter { scenario: Some("pause".into()), ..Filter::default() };
    let runs = store.list(&filter).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["s2", "s1"]);
    let s2 = &runs[0].scenario.as_ref().unwrap().judgement;
    assert!(!s2.matched);
    assert!(s2.mismatches[0].starts_with("mutual-exclusion: expected invalid, got valid"), "{:?}", s2.mismatches);
    assert!(runs[1].scenario.as_ref().unwrap().judgement.matched);

    let expect = Expectation { checkers: [(CheckerId::MutualExclusion, Expect::Invalid)].into(), ..Default::default() };
    let all = store.list(&Filter::default()).await.unwrap();
    let summary = summarize("pause", &expect, &all);
    assert_eq!((summary.runs, summary.matched, summary.anomalous), (2, 1, 1));
    assert_eq!(summary.run_list.iter().filter(|r| !r.matched).map(|r| r.id.as_str()).collect::<Vec<_>>(), ["s2"]);

    // The judgement survives a rebuild of the index from the files.
    store.reindex().await.unwrap();
    assert_eq!(store.list(&filter).await.unwrap(), runs);
}
