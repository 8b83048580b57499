//! Per-system tests come from the registry: adding a system adds its tests.

#[path = "../../../tests/common/progress.rs"]
pub mod progress;

use std::future::Future;

pub mod cluster;

use workloads::System;

/// The registered systems to test: all of them, or those named in
/// `FENCEPOST_TEST_SYSTEMS` (comma-separated), to look at one at a time.
pub fn systems() -> Vec<&'static dyn System> {
    let only = std::env::var("FENCEPOST_TEST_SYSTEMS").ok();
    let wanted: Option<Vec<&str>> = only.as_deref().map(|o| o.split(',').map(str::trim).collect());
    if let Some(wanted) = &wanted {
        for name in wanted {
            assert!(workloads::by_name(name).is_some(), "FENCEPOST_TEST_SYSTEMS: `{name}` is not registered");
        }
    }
    workloads::REGISTRY
        .iter()
        .copied()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.layout().name)))
        .collect()
}

/// Runs `check` on every system from [`systems`], one after another, each
/// in its own task so that a panic fails that system only; then fails
/// naming every system that failed (each one's panic is printed above).
pub async fn for_every_system<F, Fut>(check: F)
where
    F: Fn(&'static dyn System) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failed = Vec::new();
    for system in systems() {
        let name = system.layout().name;
        eprintln!("--- {name}");
        let step = progress::Progress::of(format!("{} on {name}", std::thread::current().name().unwrap_or("test")));
        if tokio::spawn(check(system)).await.is_err() {
            step.failed();
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "failed on: {}", failed.join(", "));
}
