//! Every row of `../shared/corpus/EXPECTED.tsv` must get its expected verdict.

use checker::check::{check, CheckOptions};
use checker::formats::{read_path, Format};
use checker::models::ModelSpec;
use checker::Verdict;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    // Tests run in the crate folder; the corpus sits beside the checkout.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = here.join("../../shared/corpus");
    assert!(dir.join("EXPECTED.tsv").exists(), "corpus not found at {}", dir.display());
    dir
}

#[test]
fn every_expected_verdict() {
    let dir = corpus();
    let table = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
    let mut rows = 0;
    let mut wrong = Vec::new();
    for line in table.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, model, initial, expected) = (cols[0], cols[1], cols[2], cols[3]);
        let history = read_path(&dir.join(file), Format::Auto).unwrap_or_else(|e| panic!("{e}"));
        let spec = ModelSpec::from_name(model, Some(initial)).unwrap();
        let result = check(&history, &spec, &CheckOptions::default()).unwrap();
        let expected = match expected {
            "linearizable" => Verdict::Linearizable,
            "not-linearizable" => Verdict::NotLinearizable,
            other => panic!("unknown verdict {other} in EXPECTED.tsv"),
        };
        if result.verdict != expected {
            wrong.push(format!("{file}: expected {expected}, got {}", result.verdict));
        }
        // Evidence must match the verdict.
        for p in &result.partitions {
            match p.verdict {
                Verdict::Linearizable => assert_eq!(p.witness.as_ref().map(Vec::len), Some(p.ops), "{file}"),
                Verdict::NotLinearizable => assert!(!p.partials.is_empty(), "{file}: no partial linearization"),
                Verdict::Unknown => {}
            }
        }
        rows += 1;
    }
    assert!(rows >= 100, "only {rows} rows read");
    assert!(wrong.is_empty(), "{} wrong verdicts:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn kv_as_one_partition_agrees() {
    let dir = corpus();
    for (file, expected) in [
        ("porcupine/kv/c01-ok.txt", Verdict::Linearizable),
        ("porcupine/kv/c01-bad.txt", Verdict::NotLinearizable),
        ("porcupine/kv/c10-ok.txt", Verdict::Linearizable),
        ("porcupine/kv/c10-bad.txt", Verdict::NotLinearizable),
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
    let dir = corpus();
    let history = read_path(&dir.join("porcupine/kv/c50-ok.txt"), Format::Auto).unwrap();
    let opts =
        CheckOptions { partition: false, timeout: Some(std::time::Duration::from_millis(200)), ..Default::default() };
    let result = check(&history, &ModelSpec::Kv { initial: String::new() }, &opts).unwrap();
    assert_eq!(result.verdict, Verdict::Unknown);
    assert!(result.partitions[0].reason.as_deref().unwrap().contains("deadline"));
}

#[test]
fn memory_cap_gives_unknown() {
    let dir = corpus();
    let history = read_path(&dir.join("porcupine/kv/c50-ok.txt"), Format::Auto).unwrap();
    let opts = CheckOptions { partition: false, memory_limit: 1 << 20, ..Default::default() };
    let result = check(&history, &ModelSpec::Kv { initial: String::new() }, &opts).unwrap();
    assert_eq!(result.verdict, Verdict::Unknown);
    assert!(result.partitions[0].reason.as_deref().unwrap().contains("memory"));
}
