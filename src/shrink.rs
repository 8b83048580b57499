//! `fencepost shrink RUN`: `harness::shrink`'s attempts as they run, and the
//! smallest run that still failed the same way, with the command that
//! plays it again.

use std::path::Path;
use std::time::Duration;

use harness::run::{show, Event};
use harness::shrink::{shrink, ShrinkEvent};

pub async fn shrink_command(store: &Path, of: &str, budget: Duration) -> anyhow::Result<()> {
    let store_dir = store;
    let store = results::Store::open(store).await?;
    // A run that is not there is said before the header.
    store.existing_run_dir(of)?;
    out!("shrink: run {of}, within {}", show(budget));
    let on_event = |e: ShrinkEvent| match e {
        ShrinkEvent::Tried(a) => out!(
            "  {:>9}, {:>6}, {:>2} clients: {}  run {}",
            checker::analysis::counted(a.faults, "fault", "faults"),
            show(Duration::from_millis(a.time_limit_ms)),
            a.concurrency,
            if a.failed_the_same_way { "failed the same way" } else { "did not fail the same way" },
            a.run
        ),
        ShrinkEvent::Run(Event::Warning(w)) => out!("  warning: {w}"),
        ShrinkEvent::Run(_) => {}
    };
    let (stop, ctrl_c) = crate::cancel_on_ctrl_c();
    let shrunk = shrink(&store, of, budget, stop, &on_event).await;
    ctrl_c.abort();
    let s = shrunk?;
    let ms = |ms: u64| show(Duration::from_millis(ms));
    out!();
    out!("failure: {}", s.failure.words());
    out!(
        "smallest: run {}: {} of {} faults, --time-limit {} (was {}), --concurrency {} (was {}); {} attempts",
        s.minimal,
        s.faults[0],
        s.faults[1],
        ms(s.time_limit_ms[0]),
        ms(s.time_limit_ms[1]),
        s.concurrency[0],
        s.concurrency[1],
        s.attempts.len()
    );
    out!("run it again: fencepost run --replay {} --store {}", s.minimal, store_dir.display());
    Ok(())
}
