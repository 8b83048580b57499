//! Another tool's history through `import` and `check store/RUN`: one whose
//! lines are out of time order is judged (it used to panic with exit 101
//! and leave a run folder without `results.json`), with a warning; one that
//! cannot be read is refused with exit 3 naming the line, and leaves no
//! run folder behind.

mod common;

use std::path::{Path, PathBuf};

use common::{fencepost, temp_store};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("checker/tests/data/foreign").join(name)
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = fencepost().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn runs_in(store: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("import-")))
        .collect()
}

#[test]
fn an_out_of_order_history_is_imported_and_checked_again() {
    let store = temp_store("foreign-order");
    let file = data("out-of-order.jsonl");
    let (code, stdout, stderr) = run(&[
        "import".as_ref(),
        file.as_ref(),
        "--store".as_ref(),
        store.as_ref(),
        "--system".as_ref(),
        "redis-py".as_ref(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("out-of-order.jsonl: line 9: not in time order"), "{stderr}");
    assert!(stderr.contains("`index` is 0, but this is op 8"), "{stderr}");
    let at = stdout.find(" as run ").expect("the run id") + " as run ".len();
    let id = stdout[at..].lines().next().unwrap().trim().to_string();
    let dir = store.join(&id);
    // The run keeps the warnings with its verdicts.
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let warnings = results["warnings"].as_array().expect("warnings kept");
    assert!(warnings.iter().any(|w| w["line"] == 9), "{warnings:?}");
    // The stored history is in time order: checked again, the same verdict
    // and no warning about order.
    let (code, stdout, stderr) = run(&["check".as_ref(), dir.as_ref()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("lease-safety") && stdout.contains("availability"), "{stdout}");
    assert!(!stderr.contains("not in time order"), "{stderr}");
    // `check` on the file itself, sorted as it is read whole by import.
    let (code, stdout, stderr) = run(&["check".as_ref(), file.as_ref()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let _ = std::fs::remove_dir_all(store);
}

#[test]
fn a_history_that_cannot_be_read_leaves_no_run_behind() {
    let store = temp_store("foreign-refused");
    let text =
        std::fs::read_to_string(data("out-of-order.jsonl")).unwrap().replacen("\"ttl_ms\":1000", "\"ttl\":1000", 3);
    let file = store.join("unitless.jsonl");
    std::fs::write(&file, text).unwrap();
    let (code, stdout, stderr) = run(&[
        "import".as_ref(),
        file.as_ref(),
        "--store".as_ref(),
        store.as_ref(),
        "--system".as_ref(),
        "redis-py".as_ref(),
    ]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stderr.contains("unitless.jsonl:1:") && stderr.contains("`ttl`"), "{stderr}");
    assert!(runs_in(&store).is_empty(), "{:?}", runs_in(&store));
    let _ = std::fs::remove_dir_all(store);
}

/// Knossos-style EDN without `:time` through `import`: the lease checker
/// answers unknown and says why, so the run is not blamed on the service.
#[test]
fn an_imported_history_without_times_is_unknown_not_invalid_for_leases() {
    let store = temp_store("foreign-untimed");
    let file = data("untimed.edn");
    let (code, stdout, stderr) = run(&[
        "import".as_ref(),
        file.as_ref(),
        "--store".as_ref(),
        store.as_ref(),
        "--system".as_ref(),
        "redis-py".as_ref(),
    ]);
    // Two clients held the lock at once in the ops' order: the clients'
    // view is invalid whatever the times; the service's is unknown.
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line = stdout.lines().find(|l| l.contains("lease-safety")).expect("a lease-safety line");
    assert!(line.contains("unknown") && line.contains("no times"), "{stdout}");
    let _ = std::fs::remove_dir_all(store);
}
