//! `fencepost bench`'s measurement: the checker's speed and memory over the
//! reference corpus, beside Porcupine's figures measured on this kind of
//! machine (Go, one core, parsing excluded — from the checker issue). The
//! caller prints each row as it comes.
//!
//! Each case is parsed once (not timed), then checked `repeat` times; the
//! fastest run counts. Peak memory is the process's resident high-water
//! mark, reset before each case through `/proc/self/clear_refs`, so it counts
//! everything resident (binary, parsed history, search) — not the search alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use checker::check::{check, check_source, CheckOptions};
use checker::formats::{self, read_path, Format};
use checker::models::ModelSpec;
use checker::History;

use crate::{io, Error};

/// Porcupine's time (ms) and peak memory (MB): its own Go benchmarks, one
/// core, parsing excluded, measured on this kind of machine beside
/// fencepost (the performance issue's table; memory from the checker issue).
pub fn anchor(case: &str) -> (Option<f64>, Option<f64>) {
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
pub const ETCD_TOTAL_ANCHOR: f64 = 423.0;

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
pub fn peak_mib() -> f64 {
    crate::soak::status_mib("VmHWM").unwrap_or(0.0)
}

/// One case checked: its fastest time on one thread and on all, and the
/// peak memory of the one-thread runs.
pub struct Row {
    pub name: String,
    pub ops: usize,
    pub verdict: String,
    pub ms1: f64,
    pub ms_all: f64,
    pub peak: f64,
}

/// The checks of a corpus: one thread and all of them.
pub struct Bench {
    corpus: PathBuf,
    repeat: usize,
    one: rayon::ThreadPool,
}

impl Bench {
    /// `corpus` must hold Porcupine's logs (`porcupine/jepsen`, `porcupine/kv`).
    pub fn new(corpus: &Path, repeat: usize) -> Result<Bench, Error> {
        if !corpus.join("porcupine/jepsen").is_dir() {
            return Err(Error::Bench(format!(
                "--corpus {}: no porcupine/jepsen folder there (the repository's is checker/tests/data)",
                corpus.display()
            )));
        }
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| Error::Bench(format!("a one-thread pool: {e}")))?;
        Ok(Bench { corpus: corpus.to_path_buf(), repeat: repeat.max(1), one })
    }

    fn measure(&self, name: &str, h: &History, spec: &ModelSpec, partition: bool) -> Row {
        let opts = CheckOptions { partition, ..Default::default() };
        let best = |threads_one: bool| {
            let mut best = f64::MAX;
            let mut verdict = String::new();
            for _ in 0..self.repeat {
                let start = Instant::now();
                let r = if threads_one { self.one.install(|| check(h, spec, &opts)) } else { check(h, spec, &opts) };
                best = best.min(start.elapsed().as_secs_f64() * 1e3);
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

    /// Porcupine's etcd logs, each with the CAS register model, given to
    /// `row` as measured (`None` for a log with no events); their count and
    /// total times (one thread, all).
    pub fn etcd_logs(&self, mut row: impl FnMut(&str, Option<&Row>)) -> Result<(usize, f64, f64), Error> {
        let dir = self.corpus.join("porcupine/jepsen");
        let mut etcd: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io("reading", &dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        etcd.sort();
        let spec = ModelSpec::CasRegister { initial: serde_json::Value::Null };
        let (mut total1, mut total_all, mut files) = (0.0, 0.0, 0);
        for path in &etcd {
            let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
            let Ok(h) = read_path(path, Format::PorcupineEtcd) else {
                row(&name, None);
                continue;
            };
            let measured = self.measure(&name, &h, &spec, true);
            total1 += measured.ms1;
            total_all += measured.ms_all;
            files += 1;
            row(&name, Some(&measured));
        }
        Ok((files, total1, total_all))
    }

    /// Porcupine's kv histories, partitioned by key and (but for c50, which
    /// Porcupine's suite does not check whole either) as one partition.
    pub fn kv(&self, mut row: impl FnMut(&Row)) -> Result<(), Error> {
        let kv = ModelSpec::Kv { initial: String::new() };
        for file in ["c01-ok.txt", "c01-bad.txt", "c10-ok.txt", "c10-bad.txt", "c50-ok.txt", "c50-bad.txt"] {
            let h = read_path(&self.corpus.join("porcupine/kv").join(file), Format::PorcupineKv)?;
            row(&self.measure(&format!("{file} partitioned"), &h, &kv, true));
            if !file.starts_with("c50") {
                row(&self.measure(&format!("{file} one partition"), &h, &kv, false));
            }
        }
        Ok(())
    }

    /// `exe check FILE` as a user runs it — a new process each time, so
    /// start-up, parsing, thread start and the kernel's work on memory
    /// count — the median of `2 × repeat` runs per case, given to `row`
    /// with Porcupine's in-process time on the same case.
    pub fn whole_process(&self, exe: &Path, mut row: impl FnMut(&str, f64, f64)) -> Result<(), Error> {
        let runs = self.runs();
        for (file, case) in WHOLE_PROCESS {
            let path = self.corpus.join(file);
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                let start = Instant::now();
                let status = std::process::Command::new(exe)
                    .arg("check")
                    .arg(&path)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .map_err(io("running check on", &path))?;
                times.push(start.elapsed().as_secs_f64() * 1e3);
                // 0 valid, 1 invalid: both are verdicts; anything else is not.
                if !matches!(status.code(), Some(0 | 1)) {
                    return Err(Error::Bench(format!(
                        "`fencepost check {}` gave no verdict ({status})",
                        path.display()
                    )));
                }
            }
            times.sort_by(f64::total_cmp);
            row(case, times[runs / 2], anchor(case).0.unwrap_or(0.0));
        }
        Ok(())
    }

    /// How many runs of each case the whole-process table takes.
    pub fn runs(&self) -> usize {
        2 * self.repeat
    }
}

/// A generated mutex history, checked as `fencepost check FILE` checks it.
pub struct Generated {
    pub ops: usize,
    pub events: usize,
    pub bytes: u64,
    pub generate_s: f64,
    pub verdict: checker::Verdict,
    pub check_s: f64,
    pub partitions: usize,
    pub peak_mib: f64,
}

/// A mutex history of `mutex_ops` operations (1000 keys, 20 clients),
/// written as JSONL and checked as it is read.
pub fn generated_mutex(mutex_ops: usize) -> Result<Generated, Error> {
    let start = Instant::now();
    let h = checker::gen::mutex_history(mutex_ops, 1000, 20, 0.0002, 42);
    let events = h.ops.len();
    let path = std::env::temp_dir().join(format!("fencepost-bench-mutex-{}.jsonl", std::process::id()));
    {
        let file = std::fs::File::create(&path).map_err(io("creating", &path))?;
        let mut w = std::io::BufWriter::new(file);
        checker::formats::jsonl::write(&mut w, &h.ops).map_err(io("writing", &path))?;
    }
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let generate_s = start.elapsed().as_secs_f64();
    drop(h);
    reset_peak();
    let start = Instant::now();
    let source = formats::open(&path, Format::Jsonl)?;
    let r = check_source(source, &ModelSpec::Mutex, &CheckOptions::default())?;
    let check_s = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    Ok(Generated {
        ops: mutex_ops,
        events,
        bytes,
        generate_s,
        verdict: r.verdict,
        check_s,
        partitions: r.partitions.len(),
        peak_mib: peak_mib(),
    })
}
