//! `fencepost bench-api`: the check API under a burst of uploads
//! (`web::probe::burst`), printed: how every upload was answered (a
//! verdict, or 503 with `Retry-After`), how long the runs page took at
//! worst meanwhile, and the process's peak resident memory — server and
//! clients together, the clients sharing one copy of the body.

pub async fn bench_api(uploads: usize, size: usize) -> anyhow::Result<()> {
    let store = std::env::temp_dir().join(format!("fencepost-bench-api-{}", std::process::id()));
    let mut before = 0.0;
    let burst = web::probe::burst(&store, uploads, size, || before = crate::bench::peak_mib()).await;
    let _ = std::fs::remove_dir_all(&store);
    let b = burst?;
    out!(
        "{uploads} concurrent uploads of a {:.2} MB history ({} ops) to POST /api/v1/check, in {:.2} s",
        b.body_bytes as f64 / 1e6,
        b.history_ops,
        b.elapsed.as_secs_f64()
    );
    out!("  answered with a verdict:        {}", b.verdicts);
    out!("  answered 503 (queue full):      {}, of which with Retry-After: {}", b.busy, b.busy_with_retry);
    out!(
        "  not answered / other answers:   {}{}",
        b.other.len(),
        b.other.first().map_or(String::new(), |o| format!(" ({o})"))
    );
    out!("  slowest upload answered after:  {:.0} ms", b.slowest.as_secs_f64() * 1e3);
    let failed = b.pages.iter().filter(|p| p.1 != 200).count();
    if let Some(worst) = b.pages.last() {
        out!(
            "  the runs page meanwhile:        {} requests, median {:.1} ms, worst {:.1} ms, {} not 200",
            b.pages.len(),
            b.pages[b.pages.len() / 2].0.as_secs_f64() * 1e3,
            worst.0.as_secs_f64() * 1e3,
            failed
        );
    }
    out!(
        "  peak resident memory:           {:.0} MiB (server and clients; {:.0} MiB before the burst)",
        crate::bench::peak_mib(),
        before
    );
    Ok(())
}
