//! `fencepost bench`: the checker's speed and memory over the reference
//! corpus, as ratios against Porcupine's figures measured on this kind of
//! machine (Go, one core, parsing excluded — from the checker issue).
//!
//! Each case is parsed once (not timed), then checked `repeat` times; the
//! fastest run is reported. Peak memory is the process's resident high-water
//! mark, reset before each case through `/proc/self/clear_refs`, so it counts
//! everything resident (binary, parsed history, search) — not the search alone.

use anyhow::Context;
use checker::check::{check, check_source, CheckOptions};
use checker::formats::{self, read_path, Format};
use checker::models::ModelSpec;
use checker::History;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Porcupine's time (ms) and peak memory (MB): its own Go benchmarks, one
/// core, parsing excluded, measured on this kind of machine beside
/// fencepost (the performance issue's table; memory from the checker issue).
fn anchor(case: &str) -> (Option<f64>, Option<f64>) {
    match case {
        "etcd_002.log" => (Some(167.0), None),
        "etcd_007.log" => (Some(116.0), None),
        "etcd_057.log" => (Some(49.0), None),
        "etcd_099.log" => (Some(46.0), None),
        "c50-ok.txt partitioned" => (Some(161.0), None),
        "c10-ok.txt one partition" => (Some(2438.0), Some(560.0)),
        "c10-bad.txt one partition" => (Some(3152.0), Some(670.0)),
        _ => (None, None),
    }
}

/// Porcupine's time on all of its etcd logs, measured with the above.
const ETCD_TOTAL_ANCHOR: f64 = 423.0;

/// The cases of the whole-process table, as a user runs them.
const WHOLE_PROCESS: [(&str, &str); 5] = [
    ("porcupine/jepsen/etcd_002.log", "etcd_002.log"),
    ("porcupine/jepsen/etcd_007.log", "etcd_007.log"),
    ("porcupine/jepsen/etcd_057.log", "etcd_057.log"),
    ("porcupine/jepsen/etcd_099.log", "etcd_099.log"),
    ("porcupine/kv/c50-ok.txt", "c50-ok.txt partitioned"),
];

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Resident high-water mark in MiB (0 where /proc is unavailable).
pub(crate) fn peak_mib() -> f64 {
    harness::soak::status_mib("VmHWM").unwrap_or(0.0)
}

struct Row {
    name: String,
    ops: usize,
    verdict: String,
    ms1: f64,
    ms_all: f64,
    peak: f64,
}

fn measure(name: &str, h: &History, spec: &ModelSpec, partition: bool, repeat: usize, one: &rayon::ThreadPool) -> Row {
    let opts = CheckOptions { partition, ..Default::default() };
    let best = |threads_one: bool| {
        let mut best = f64::MAX;
        let mut verdict = String::new();
        for _ in 0..repeat {
            let start = Instant::now();
            let r = if threads_one { one.install(|| check(h, spec, &opts)) } else { check(h, spec, &opts) };
            let ms = start.elapsed().as_secs_f64() * 1e3;
            best = best.min(ms);
            verdict = r.map(|r| r.verdict.to_string()).unwrap_or_else(|e| format!("error: {e}"));
        }
        (best, verdict)
    };
    reset_peak();
    let (ms1, verdict) = best(true);
    let peak = peak_mib();
    let (ms_all, _) = best(false);
    Row { name: name.to_string(), ops: h.ops.len(), verdict, ms1, ms_all, peak }
}

fn print_row(r: &Row) {
    let (t, m) = anchor(&r.name);
    let ratio = t.map_or("".to_string(), |t| format!("{:.1}×", t / r.ms1));
    let mem = m.map_or("".to_string(), |m| format!("{:.1}×", m / r.peak));
    out!(
        "{:<28} {:>7} {:<17} {:>10.2} {:>10.2} {:>9.1} {:>9} {:>9} {:>9}",
        r.name,
        r.ops,
        r.verdict,
        r.ms1,
        r.ms_all,
        r.peak,
        t.map_or("".into(), |t| format!("{t:.0}")),
        ratio,
        mem
    );
}

/// `--corpus`, else the repository's own test histories: `checker/tests/data`
/// from the current folder (a checkout), else where this binary was built from.
pub fn corpus_or_default(corpus: Option<PathBuf>) -> PathBuf {
    corpus.unwrap_or_else(|| {
        let here = PathBuf::from("checker/tests/data");
        if here.join("EXPECTED.tsv").exists() {
            here
        } else {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/checker/tests/data"))
        }
    })
}

pub fn run(corpus: &Path, mutex_ops: usize, repeat: usize) -> anyhow::Result<()> {
    if !corpus.join("porcupine/jepsen").is_dir() {
        anyhow::bail!(
            "--corpus {}: no porcupine/jepsen folder there (the repository's is checker/tests/data)",
            corpus.display()
        );
    }
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let threads = rayon::current_num_threads();
    out!("fencepost bench — best of {repeat}; 1T = one thread, {threads}T = all cores; peak = resident MiB (1T run)");
    out!("anchor: Porcupine (Go, one core, parsing excluded); ratio = Porcupine time / fencepost 1T time, mem = Porcupine MB / fencepost peak\n");
    out!(
        "{:<28} {:>7} {:<17} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "case",
        "events",
        "verdict",
        "1T ms",
        format!("{threads}T ms"),
        "peak MiB",
        "porc ms",
        "ratio",
        "mem"
    );

    etcd_logs(corpus, repeat, &one)?;

    let kv = ModelSpec::Kv { initial: String::new() };
    for file in ["c01-ok.txt", "c01-bad.txt", "c10-ok.txt", "c10-bad.txt", "c50-ok.txt", "c50-bad.txt"] {
        let h = read_path(&corpus.join("porcupine/kv").join(file), Format::PorcupineKv)?;
        print_row(&measure(&format!("{file} partitioned"), &h, &kv, true, repeat, &one));
        if file.starts_with("c50") {
            continue; // Porcupine's suite does not check c50 as one partition either
        }
        print_row(&measure(&format!("{file} one partition"), &h, &kv, false, repeat, &one));
    }

    whole_process(corpus, repeat)?;

    if mutex_ops > 0 {
        generated_mutex(mutex_ops)?;
    }
    Ok(())
}

/// Porcupine's etcd logs, each with the CAS register model, and their total.
fn etcd_logs(corpus: &Path, repeat: usize, one: &rayon::ThreadPool) -> anyhow::Result<()> {
    let mut etcd: Vec<_> = std::fs::read_dir(corpus.join("porcupine/jepsen"))
        .with_context(|| corpus.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    etcd.sort();
    let spec = ModelSpec::CasRegister { initial: serde_json::Value::Null };
    let (mut total1, mut total_all, mut files) = (0.0, 0.0, 0);
    for path in &etcd {
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        let Ok(h) = read_path(path, Format::PorcupineEtcd) else {
            out!("{name:<28} (skipped: no events)");
            continue;
        };
        let row = measure(&name, &h, &spec, true, repeat, one);
        total1 += row.ms1;
        total_all += row.ms_all;
        files += 1;
        print_row(&row);
    }
    out!(
        "{:<28} {:>7} {:<17} {:>10.2} {:>10.2} {:>9} {:>9} {:>9}",
        format!("all {files} etcd logs"),
        "",
        "",
        total1,
        total_all,
        "",
        format!("{ETCD_TOTAL_ANCHOR:.0}"),
        format!("{:.1}×", ETCD_TOTAL_ANCHOR / total1)
    );
    out!();
    Ok(())
}

/// A generated mutex history of `mutex_ops` operations, checked as
/// `fencepost check FILE` checks it: as it is read.
fn generated_mutex(mutex_ops: usize) -> anyhow::Result<()> {
    out!();
    let start = Instant::now();
    let h = checker::gen::mutex_history(mutex_ops, 1000, 20, 0.0002, 42);
    let path = std::env::temp_dir().join(format!("fencepost-bench-mutex-{}.jsonl", std::process::id()));
    {
        let file = std::fs::File::create(&path)?;
        let mut w = std::io::BufWriter::new(file);
        checker::formats::jsonl::write(&mut w, &h.ops)?;
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    out!(
        "generated {} ops ({} events, {:.0} MB JSONL) in {:.1}s",
        mutex_ops,
        h.ops.len(),
        size as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    drop(h);
    reset_peak();
    // As `fencepost check FILE` does it: checked as it is read.
    let start = Instant::now();
    let r = check_source(formats::open(&path, Format::Jsonl)?, &ModelSpec::Mutex, &CheckOptions::default())?;
    let total = start.elapsed().as_secs_f64();
    out!(
        "mutex 1000 keys × 20 clients: verdict {} in {:.2}s end to end (read and checked as it is read), {} partitions, peak {:.0} MiB",
        r.verdict,
        total,
        r.partitions.len(),
        peak_mib()
    );
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// `fencepost check FILE` as a user runs it — a new process each time, so
/// start-up, parsing, thread start and the kernel's work on memory count —
/// the median of `2 × repeat` runs per case, against Porcupine's in-process
/// time on the same cases.
fn whole_process(corpus: &Path, repeat: usize) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding this binary to run `check`")?;
    let runs = 2 * repeat;
    out!("\nwhole process: `fencepost check FILE`, median of {runs} runs, all cores; anchor: Porcupine in-process, one core");
    out!("{:<28} {:>10} {:>9}", "case", "ms", "porc ms");
    let (mut ours, mut theirs) = (0.0, 0.0);
    for (file, case) in WHOLE_PROCESS {
        let path = corpus.join(file);
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let status = std::process::Command::new(&exe)
                .arg("check")
                .arg(&path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .with_context(|| format!("running {} check {}", exe.display(), path.display()))?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            // 0 valid, 1 invalid: both are verdicts; anything else is not.
            if !matches!(status.code(), Some(0 | 1)) {
                anyhow::bail!("`fencepost check {}` gave no verdict ({status})", path.display());
            }
        }
        times.sort_by(f64::total_cmp);
        let median = times[runs / 2];
        let anchor = anchor(case).0.unwrap_or(0.0);
        ours += median;
        theirs += anchor;
        out!("{:<28} {:>10.1} {:>9.0}", case, median, anchor);
    }
    out!("{:<28} {:>10.1} {:>9.0} {:>9}", "the five together", ours, theirs, format!("{:.1}×", theirs / ours));
    Ok(())
}
