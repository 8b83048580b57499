//! SSH hosts: `up SYSTEM --ssh-hosts` (containers that behave like VMs: sshd,
//! the system installed as an ordinary service), `run --nodes FILE
//! --dry-run`, and `heal --nodes FILE`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use docker::{images, Cluster, ClusterSpec, Engine};

use crate::clusters::interrupted;

macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}

/// The image every SSH test host runs: Debian with sshd, sudo, a compiler
/// for the clock shim and the systems' packages downloaded, not installed.
const HOST_IMAGE: &str = "sshhost";
const SSH_PORT: u16 = 22;

/// Starts `system`'s nodes as SSH hosts, installs the system on them
/// (unless `bare`), writes the node file to `out`, and keeps them until
/// Ctrl-C or SIGTERM (or for `hold`), then removes them and the key files.
pub async fn up_command(
    system: &str,
    timeout: Duration,
    hold: Option<Duration>,
    out: &Path,
    bare: bool,
) -> anyhow::Result<()> {
    let sys = workloads::systems::lookup(system)?;
    let name = sys.layout().name;
    if !ssh::INSTALLABLE.contains(&name) {
        anyhow::bail!(
            "SSH hosts can run {} only (fencepost installs them from Debian's packages), not {name}",
            ssh::INSTALLABLE.join(", ")
        );
    }
    let engine = Engine::connect().await?;
    let run_id = docker::new_run_id();
    let t0 = Instant::now();
    let up = async {
        let hosts = start_hosts(&engine, sys, &run_id, out).await?;
        if !bare {
            let connected = ssh::Hosts::connect(hosts.file.clone(), &ssh::Connect::default()).await?;
            connected.install(name).await?;
            workloads::wait_serving(sys, &connected.nodes(sys.layout().client_port()), timeout)
                .await
                .map_err(anyhow::Error::msg)?;
        }
        std::fs::write(out, hosts.file.to_toml()).with_context(|| format!("writing {}", out.display()))?;
        Ok::<_, anyhow::Error>(hosts)
    };
    let hosts = tokio::select! {
        hosts = up => hosts?,
        _ = interrupted() => {
            remove_files(out);
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
    remove_files(out);
    say!("removed run {run_id}");
    Ok(())
}

struct TestHosts {
    cluster: Cluster,
    file: ssh::NodeFile,
}

fn key_path(out: &Path) -> PathBuf {
    with_suffix(out, ".key")
}

fn known_hosts_path(out: &Path) -> PathBuf {
    with_suffix(out, ".known_hosts")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_files(out: &Path) {
    for path in [out.to_path_buf(), key_path(out), with_suffix(&key_path(out), ".pub"), known_hosts_path(out)] {
        let _ = std::fs::remove_file(path);
    }
}

/// The containers, a fresh key pair authorised on them, their host keys in
/// a known_hosts file of our own, and the node file that names all three.
async fn start_hosts(
    engine: &Engine,
    sys: &dyn workloads::System,
    run_id: &str,
    out: &Path,
) -> anyhow::Result<TestHosts> {
    let layout = sys.layout();
    let image = images::build(engine, HOST_IMAGE, false).await?;
    let mut ports = vec![SSH_PORT];
    ports.extend(layout.ports);
    let mut spec = ClusterSpec::uniform(layout.name, &image.tag, layout.nodes, &ports);
    spec.init = true;
    let cluster = Cluster::start(engine, run_id, &spec).await?;
    let key = key_path(out);
    let _ = std::fs::remove_file(&key);
    let _ = std::fs::remove_file(with_suffix(&key, ".pub"));
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "fencepost-test-hosts", "-f"])
        .arg(&key)
        .output()
        .context("running ssh-keygen (install openssh-client)")?;
    anyhow::ensure!(keygen.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&keygen.stderr));
    let public = std::fs::read_to_string(with_suffix(&key, ".pub"))?;
    let mut known = String::new();
    let mut nodes = Vec::new();
    for node in cluster.nodes() {
        let authorise = r#"for home in /root /home/fp /home/nosudo; do
  user=$(stat -c %U "$home")
  mkdir -p "$home/.ssh" && printf '%s\n' "$0" > "$home/.ssh/authorized_keys"
  chown -R "$user:" "$home/.ssh" && chmod 700 "$home/.ssh" && chmod 600 "$home/.ssh/authorized_keys"
done"#;
        let done = node.exec(&["sh", "-c", authorise, public.trim()], Duration::from_secs(30)).await?;
        anyhow::ensure!(done.success(), "{}: authorising the key: {}", node.name(), done.stderr.trim());
        // The entrypoint makes the host keys at start: wait for sshd.
        let deadline = Instant::now() + Duration::from_secs(60);
        let host_key = loop {
            let key = node
                .exec(
                    &["sh", "-c", "pgrep -x sshd >/dev/null && cat /etc/ssh/ssh_host_ed25519_key.pub"],
                    Duration::from_secs(10),
                )
                .await?;
            if key.success() && !key.stdout.trim().is_empty() {
                break key.stdout.trim().to_string();
            }
            anyhow::ensure!(Instant::now() < deadline, "{}: sshd did not start within 60 s", node.name());
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let ssh_port = node.host_port(SSH_PORT).context("no SSH port")?;
        // sshd running is not sshd listening behind Docker's published
        // port: wait for its banner there (a login too early is reset).
        loop {
            if ssh_banner(ssh_port).await {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "{}: sshd does not answer on 127.0.0.1:{ssh_port}", node.name());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let fields: Vec<&str> = host_key.split_whitespace().collect();
        known.push_str(&format!("[127.0.0.1]:{ssh_port} {} {}\n", fields[0], fields.get(1).unwrap_or(&"")));
        nodes.push(ssh::file::NodeEntry {
            name: node.name().to_string(),
            ssh: format!("127.0.0.1:{ssh_port}"),
            peer: node.ip().await?,
            endpoint: node.address(layout.client_port()).context("no client port")?,
            user: None,
            key: None,
            known_hosts: None,
        });
    }
    std::fs::write(known_hosts_path(out), known)?;
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let file = ssh::NodeFile {
        system: layout.name.to_string(),
        ssh: ssh::file::SshOptions {
            user: Some("root".into()),
            key: Some(absolute(key)),
            known_hosts: Some(absolute(known_hosts_path(out))),
        },
        service: ssh::installed_service(),
        nodes,
    };
    Ok(TestHosts { cluster, file })
}

/// Whether sshd on 127.0.0.1:`port` greets a connection with its banner.
async fn ssh_banner(port: u16) -> bool {
    use tokio::io::AsyncReadExt;
    let greet = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut buf = [0u8; 8];
        stream.read_exact(&mut buf).await.ok()?;
        Some(buf.starts_with(b"SSH-"))
    };
    tokio::time::timeout(Duration::from_secs(2), greet).await.ok().flatten().unwrap_or(false)
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
    let file = ssh::NodeFile::load(nodes_file)?;
    let sys = workloads::systems::lookup(&file.system)?;
    let how = ssh::Connect { accept_new_host_keys, dry_run: false };
    let mut hosts = ssh::Hosts::connect(file, &how).await?;
    hosts.adopt().await;
    let nodes = hosts.nodes(sys.layout().client_port());
    let report: nemesis::Report = std::sync::Arc::new(|_, _, _| {});
    let faults = nemesis::Nemesis::new(nodes, sys.layout().client_port(), report);
    match faults.leftovers().await {
        Ok(found) if found.is_empty() => say!("found no fault in place"),
        Ok(found) => {
            say!("found in place:");
            for left in found {
                say!("  {left}");
            }
        }
        Err(e) => say!("could not list what is in place ({e}); healing anyway"),
    }
    if hosts.hosts().iter().any(|h| h.uses_shim()) {
        say!("found servers under the clock shim: they are restarted without it");
    }
    let healed = faults.heal_all().await;
    let left = hosts.finish().await;
    if let Err(e) = healed {
        anyhow::bail!(
            "healing: {e}{}",
            if left.is_empty() { String::new() } else { format!("; also left: {}", left.join("; ")) }
        );
    }
    anyhow::ensure!(left.is_empty(), "could not undo: {}", left.join("; "));
    say!(
        "healed {} nodes: no fencepost rule, paused or stopped server, clock offset or shim left",
        hosts.hosts().len()
    );
    Ok(())
}
