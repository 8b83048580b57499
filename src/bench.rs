//! `fencepost bench`: the checker's speed and memory over the reference
//! corpus (`harness::speed` measures), printed as ratios against
//! Porcupine's figures on this kind of machine.

use std::path::{Path, PathBuf};

use harness::speed::{anchor, generated_mutex, Bench, Row, ETCD_TOTAL_ANCHOR};

/// Resident high-water mark in MiB (0 where /proc is unavailable).
pub(crate) fn peak_mib() -> f64 {
    harness::speed::peak_mib()
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
    let bench = Bench::new(corpus, repeat)?;
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

    let (files, total1, total_all) = bench.etcd_logs(|name, row| match row {
        Some(row) => print_row(row),
        None => out!("{name:<28} (skipped: no events)"),
    })?;
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
    bench.kv(print_row)?;

    let exe = std::env::current_exe().map_err(|e| anyhow::anyhow!("finding this binary to run `check`: {e}"))?;
    out!(
        "\nwhole process: `fencepost check FILE`, median of {} runs, all cores; anchor: Porcupine in-process, one core",
        bench.runs()
    );
    out!("{:<28} {:>10} {:>9}", "case", "ms", "porc ms");
    let (mut ours, mut theirs) = (0.0, 0.0);
    bench.whole_process(&exe, |case, median, anchor| {
        ours += median;
        theirs += anchor;
        out!("{:<28} {:>10.1} {:>9.0}", case, median, anchor);
    })?;
    out!("{:<28} {:>10.1} {:>9.0} {:>9}", "the five together", ours, theirs, format!("{:.1}×", theirs / ours));

    if mutex_ops > 0 {
        out!();
        let g = generated_mutex(mutex_ops)?;
        out!(
            "generated {} ops ({} events, {:.0} MB JSONL) in {:.1}s",
            g.ops,
            g.events,
            g.bytes as f64 / 1e6,
            g.generate_s
        );
        out!(
            "mutex 1000 keys × 20 clients: verdict {} in {:.2}s end to end (read and checked as it is read), {} partitions, peak {:.0} MiB",
            g.verdict,
            g.check_s,
            g.partitions,
            g.peak_mib
        );
    }
    Ok(())
}
