//! SSH hosts: `up SYSTEM --ssh-hosts` (containers that behave like VMs: sshd,
//! the system installed as an ordinary service), `run --nodes FILE
//! --dry-run`, and `heal --nodes FILE`, printed; the hosts themselves are
//! `harness::hosts`.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use docker::Engine;

use crate::clusters::interrupted;

macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}

/// Starts `system`'s nodes as SSH hosts ([`harness::hosts::up`]), prints
/// them, and keeps them until Ctrl-C or SIGTERM (or for `hold`), then
/// removes them and the key files.
pub async fn up_command(
    system: &str,
    timeout: Duration,
    hold: Option<Duration>,
    out: &Path,
    bare: bool,
) -> anyhow::Result<()> {
    let sys = workloads::systems::lookup(system)?;
    let name = sys.layout().name;
    // Refused before Docker is asked for anything.
    harness::hosts::installable(sys)?;
    let engine = Engine::connect().await?;
    let run_id = docker::new_run_id();
    let t0 = Instant::now();
    let hosts = tokio::select! {
        hosts = harness::hosts::up(&engine, sys, &run_id, out, bare, timeout) => hosts?,
        _ = interrupted() => {
            harness::hosts::remove_files(out);
            return Ok(());
        }
    };
    let count = hosts.file.nodes.len();
    say!(
        "{name}: {count} SSH host{}{} — ready in {:.2} s",
        if count == 1 { "" } else { "s" },
        if bare { " without the system" } else { ", the system installed as a service" },
        t0.elapsed().as_secs_f64()
    );
    for node in &hosts.file.nodes {
        say!("  {}  ssh {}  peer {}  clients {}", node.name, node.ssh, node.peer, node.endpoint);
    }
    let install = if bare { " --install --teardown" } else { "" };
    say!("node file {} — `fencepost run {name} --nodes {}{install}`", out.display(), out.display());
    match hold {
        Some(hold) => say!("ready run={run_id} — removing them in {:.1} s (or on Ctrl-C)", hold.as_secs_f64()),
        None => say!("ready run={run_id} — Ctrl-C stops and removes them"),
    }
    match hold {
        Some(hold) => {
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = interrupted() => {}
            }
        }
        None => interrupted().await,
    }
    hosts.cluster.remove().await?;
    harness::hosts::remove_files(out);
    say!("removed run {run_id}");
    Ok(())
}

/// `run --nodes FILE --dry-run`: every command, node by node, in order.
pub async fn dry_run_command(args: harness::RunArgs) -> anyhow::Result<()> {
    let prepared = harness::run::prepare(args)?;
    let lines = harness::dry_run(&prepared).await?;
    say!("# The commands `fencepost run` would run on the nodes, in order, as root (other logins: `sudo -n`");
    say!("# first). Not listed: the probes that check each fault took effect. When each fault plays: --plan.");
    say!("# Found on each node when it runs: HARNESS-ADDRESS (where our connections come from, from");
    say!("# $SSH_CONNECTION; also sshd's port, 22 here, never cut) and DEVICE (the interface towards us).");
    for note in &prepared.plan.notes {
        say!("# note: {note}");
    }
    for line in lines {
        say!("{line}");
    }
    Ok(())
}

/// `heal --nodes FILE`: what a killed run left, undone and checked.
pub async fn heal_command(nodes_file: &Path, accept_new_host_keys: bool) -> anyhow::Result<()> {
    let healer = harness::hosts::Healer::connect(nodes_file, accept_new_host_keys).await?;
    match healer.leftovers().await {
        Ok(found) if found.is_empty() => say!("found no fault in place"),
        Ok(found) => {
            say!("found in place:");
            for left in found {
                say!("  {left}");
            }
        }
        Err(e) => say!("could not list what is in place ({e}); healing anyway"),
    }
    if healer.shimmed() {
        say!("found servers under the clock shim: they are restarted without it");
    }
    let healed = healer.heal().await?;
    say!("healed {healed} nodes: no fencepost rule, paused or stopped server, clock offset or shim left");
    Ok(())
}
