//! Real histories with known verdicts: every row of the repository's own
//! `tests/data/EXPECTED.tsv`, and, when `FENCEPOST_CORPUS` names a folder
//! laid out the same way (CI points it at the reference corpus, which also
//! holds Knossos's EPL-licensed histories), every row of that one too.

use checker::check::{check, CheckOptions};
use checker::formats::{read_path, Format};
use checker::models::ModelSpec;
use checker::Verdict;
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Checks every row of `dir/EXPECTED.tsv`; returns how many rows it read.
fn check_table(dir: &Path) -> usize {
    let table = std::fs::read_to_string(dir.join("EXPECTED.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("EXPECTED.tsv").display()));
    let mut rows = 0;
    let mut wrong = Vec::new();
    for line in table.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, model, initial, expected) = (cols[0], cols[1], cols[2], cols[3]);
        let history = read_path(&dir.join(file), Format::Auto).unwrap_or_else(|e| panic!("{e}"));
        let spec = ModelSpec::from_name(model, Some(initial)).unwrap();
        let result = check(&history, &spec, &CheckOptions::default()).unwrap();
        let expected = match expected {
            "linearizable" => Verdict::Valid,
            "not-linearizable" => Verdict::Invalid,
            other => panic!("unknown verdict {other} in EXPECTED.tsv"),
        };
        if result.verdict != expected {
            wrong.push(format!("{file}: expected {expected}, got {}", result.verdict));
        }
        // Evidence must match the verdict.
        for p in &result.partitions {
            match p.verdict {
                Verdict::Valid => assert_eq!(p.witness.as_ref().map(Vec::len), Some(p.ops), "{file}"),
                Verdict::Invalid => assert!(!p.partials.is_empty(), "{file}: no partial linearization"),
                Verdict::Unknown => {}
            }
        }
        rows += 1;
    }
    assert!(wrong.is_empty(), "{} wrong verdicts in {}:\n{}", wrong.len(), dir.display(), wrong.join("\n"));
    rows
}

#[test]
fn every_expected_verdict_in_the_repository() {
    let rows = check_table(&data());
    assert!(rows >= 110, "only {rows} rows read");
}

/// Optional: a corpus outside the repository (`FENCEPOST_CORPUS=DIR`).
#[test]
fn every_expected_verdict_in_fencepost_corpus() {
    let Some(dir) = std::env::var_os("FENCEPOST_CORPUS") else {
        eprintln!("FENCEPOST_CORPUS not set: only the repository's own histories are checked");
        return;
    };
    let rows = check_table(Path::new(&dir));
    assert!(rows > 0, "FENCEPOST_CORPUS={}: no rows", Path::new(&dir).display());
}

#[test]
fn kv_as_one_partition_agrees() {
    let dir = data();
    for (file, expected) in [
        ("porcupine/kv/c01-ok.txt", Verdict::Valid),
        ("porcupine/kv/c01-bad.txt", Verdict::Invalid),
        ("porcupine/kv/c10-ok.txt", Verdict::Valid),
        ("porcupine/kv/c10-bad.txt", Verdict::Invalid),
    ] {
        let history = read_path(&dir.join(file), Format::Auto).unwrap();
        let opts = CheckOptions { partition: false, ..Default::default() };
        let result = check(&history, &ModelSpec::Kv { initial: String::new() }, &opts).unwrap();
        assert_eq!(result.partitions.len(), 1);
        assert_eq!(result.verdict, expected, "{file}");
    }
}

#[test]
fn deadline_gives_unknown_not_a_hang() {
    let history = read_path(&data().join("porcupine/kv/c50-ok.txt"), Format::Auto).unwrap();
    let opts =
        CheckOptions { partition: false, timeout: Some(std::time::Duration::from_millis(200)), ..Default::default() };
    let result = check(&history, &ModelSpec::Kv { initial: String::new() }, &opts).unwrap();
    assert_eq!(result.verdict, Verdict::Unknown);
    assert!(result.partitions[0].reason.as_deref().unwrap().contains("deadline"));
}

#[test]
fn memory_cap_gives_unknown() {
    let history = read_path(&data().join("porcupine/kv/c50-ok.txt"), Format::Auto).unwrap();
    let opts = CheckOptions { partition: false, memory_limit: 1 << 20, ..Default::default() };
    let result = check(&history, &ModelSpec::Kv { initial: String::new() }, &opts).unwrap();
    assert_eq!(result.verdict, Verdict::Unknown);
    assert!(result.partitions[0].reason.as_deref().unwrap().contains("memory"));
}

/// kv's look-ahead refuses an append that a get still to come could not
/// have seen; the evidence must still blame that get, as a search without
/// the look-ahead does, not the append it refused. In c01-bad, key 7's get
/// sees "x 0 0 y" after "x 0 3 y" was appended and acknowledged.
#[test]
fn kv_evidence_blames_the_stale_get() {
    let history = read_path(&data().join("porcupine/kv/c01-bad.txt"), Format::Auto).unwrap();
    let result = check(&history, &ModelSpec::Kv { initial: String::new() }, &CheckOptions::default()).unwrap();
    let key7 = result.partitions.iter().find(|p| p.key.as_deref() == Some("7")).unwrap();
    assert_eq!(key7.verdict, Verdict::Invalid);
    let top = &key7.partials[0];
    let stuck = &key7.operations[top.stuck];
    assert!(stuck.description.starts_with("get 7"), "{}", stuck.description);
    assert_eq!(top.prefix.len(), 3, "the get is stuck after both appends: {:?}", top.prefix);
}
