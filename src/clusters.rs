//! `fencepost images`, `fencepost up` and `fencepost cleanup`: the container
//! side of the command line.

use std::io::Write as _;
use std::time::Duration;

use docker::{images, Engine};

/// Like `println!`, but a closed stdout (`fencepost up | head -1`) is not a
/// reason to panic before the cluster is removed.
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}

/// Builds the images of `systems` (all when empty) unless already built.
pub async fn images_command(systems: &[String], rebuild: bool) -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
    let all = images::systems();
    let wanted: Vec<&str> = if systems.is_empty() {
        all.clone()
    } else {
        // `redlock` runs the redis image: accept system names as well as image names.
        systems.iter().map(|s| workloads::by_name(s).map_or(s.as_str(), |sys| sys.layout().image)).collect()
    };
    match images::ensure_base(&engine).await? {
        images::Base::Present => {}
        images::Base::Pulled => say!("pulled {}", images::BASE_IMAGE),
        images::Base::Bootstrapped => say!("created {} with debootstrap", images::BASE_IMAGE),
    }
    // The base every system's image starts from, first: with `--rebuild` it
    // is rebuilt too, and the systems' builds below find it.
    print!("{:<10} ", images::COMMON);
    let _ = std::io::stdout().flush();
    let base = images::build_common(&engine, rebuild).await?;
    say!("{}", describe_build(&base));
    for system in wanted {
        print!("{system:<10} ");
        let _ = std::io::stdout().flush();
        let built = images::build(&engine, system, rebuild).await?;
        say!("{}", describe_build(&built));
    }
    Ok(())
}

/// `<tag>  built in 12.3 s  140 MB` or `<tag>  up to date  140 MB`.
fn describe_build(built: &images::Built) -> String {
    format!(
        "{}  {}  {:.0} MB",
        built.tag,
        if built.built { format!("built in {:.1} s", built.elapsed.as_secs_f64()) } else { "up to date".into() },
        built.size_bytes as f64 / 1e6,
    )
}

/// Starts a system's cluster, prints its endpoints, and keeps it until
/// Ctrl-C or SIGTERM (or for `hold`), then removes it.
pub async fn up_command(system: &str, timeout: Duration, hold: Option<Duration>) -> anyhow::Result<()> {
    let sys = workloads::systems::lookup(system)?;
    let engine = Engine::connect().await?;
    let run_id = docker::new_run_id();
    let up = async {
        let started = harness::start_cluster(&engine, sys, &run_id, timeout).await?;
        say!(
            "{}: {} — ready in {:.2} s (image {}{})",
            sys.layout().name,
            sys.layout().description,
            started.ready_after.as_secs_f64(),
            started.image.tag,
            if started.image.built { ", just built" } else { "" }
        );
        for node in started.cluster.nodes() {
            let ports: Vec<String> = sys.layout().ports.iter().filter_map(|&p| node.address(p)).collect();
            say!("  {}  {}", node.name(), ports.join(" "));
        }
        match hold {
            Some(hold) => say!("ready run={run_id} — removing it in {:.1} s (or on Ctrl-C)", hold.as_secs_f64()),
            None => say!("ready run={run_id} — Ctrl-C stops and removes it"),
        }
        Ok::<_, anyhow::Error>(started)
    };
    // Ctrl-C during start-up drops the half-made cluster, which removes it.
    let started = tokio::select! {
        started = up => started?,
        _ = interrupted() => return Ok(()),
    };
    match hold {
        Some(hold) => {
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = interrupted() => {}
            }
        }
        None => interrupted().await,
    }
    started.cluster.remove().await?;
    say!("removed run {run_id}");
    Ok(())
}

/// Removes containers and networks of runs whose process is gone.
pub async fn cleanup_command() -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
    let reaped = docker::reap_leftovers(&engine).await?;
    if reaped.is_empty() {
        say!("nothing to remove");
    }
    for run in reaped {
        say!("removed leftovers of run {run}");
    }
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
