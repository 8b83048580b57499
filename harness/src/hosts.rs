//! SSH test hosts: containers that behave like VMs (sshd, the system
//! installed as an ordinary service), for `fencepost up SYSTEM --ssh-hosts`
//! and the SSH tests; and healing what a killed run left on SSH hosts
//! (`fencepost heal`). Nothing here prints or waits for a signal: the
//! caller shows the hosts and decides when they go.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use docker::{images, Cluster, ClusterSpec, Engine};

use crate::{io, Error};

/// The image every SSH test host runs: Debian with sshd, sudo, a compiler
/// for the clock shim and the systems' packages downloaded, not installed.
const HOST_IMAGE: &str = "sshhost";
const SSH_PORT: u16 = 22;

/// A system's nodes as SSH hosts, and the node file that reaches them.
pub struct TestHosts {
    pub cluster: Cluster,
    pub file: ssh::NodeFile,
}

/// Starts `system`'s nodes as SSH hosts, installs the system on them
/// (unless `bare`) and waits until it serves, then writes the node file to
/// `out` (its key and known_hosts beside it).
pub async fn up(
    engine: &Engine,
    system: &'static dyn workloads::System,
    run_id: &str,
    out: &Path,
    bare: bool,
    timeout: Duration,
) -> Result<TestHosts, Error> {
    let name = system.layout().name;
    installable(system)?;
    let hosts = start(engine, system, run_id, out).await?;
    if !bare {
        let connected = ssh::Hosts::connect(hosts.file.clone(), &ssh::Connect::default()).await?;
        connected.install(name).await?;
        workloads::wait_serving(system, &connected.nodes(system.layout().client_port()), timeout)
            .await
            .map_err(Error::TestHosts)?;
    }
    std::fs::write(out, hosts.file.to_toml()).map_err(io("writing", out))?;
    Ok(hosts)
}

/// Refuses a system fencepost cannot install on its hosts.
pub fn installable(system: &dyn workloads::System) -> Result<(), Error> {
    let name = system.layout().name;
    if ssh::INSTALLABLE.contains(&name) {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "SSH hosts can run {} only (fencepost installs them from Debian's packages), not {name}",
        ssh::INSTALLABLE.join(", ")
    )))
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

/// Removes the node file `out` and the key and known_hosts files beside it.
pub fn remove_files(out: &Path) {
    for path in [out.to_path_buf(), key_path(out), with_suffix(&key_path(out), ".pub"), known_hosts_path(out)] {
        let _ = std::fs::remove_file(path);
    }
}

/// The containers, a fresh key pair authorised on them, their host keys in
/// a known_hosts file of our own, and the node file that names all three.
async fn start(engine: &Engine, sys: &dyn workloads::System, run_id: &str, out: &Path) -> Result<TestHosts, Error> {
    let layout = sys.layout();
    let image = images::build(engine, HOST_IMAGE, false).await?;
    let mut ports = vec![SSH_PORT];
    ports.extend(layout.ports);
    let mut spec = ClusterSpec::uniform(layout.name, &image.tag, layout.nodes, &ports);
    spec.init = true;
    let cluster = Cluster::start(engine, run_id, &spec).await?;
    let key = key_path(out);
    let public = key_pair(&key)?;
    let mut known = String::new();
    let mut nodes = Vec::new();
    for node in cluster.nodes() {
        let (ssh_port, host_key) = open_to(node, &public).await?;
        let fields: Vec<&str> = host_key.split_whitespace().collect();
        known.push_str(&format!("[127.0.0.1]:{ssh_port} {} {}\n", fields[0], fields.get(1).unwrap_or(&"")));
        nodes.push(ssh::file::NodeEntry {
            name: node.name().to_string(),
            ssh: format!("127.0.0.1:{ssh_port}"),
            peer: node.ip().await?,
            endpoint: node
                .address(layout.client_port())
                .ok_or_else(|| Error::TestHosts(format!("{}: no client port", node.name())))?,
            user: None,
            key: None,
            known_hosts: None,
        });
    }
    let known_path = known_hosts_path(out);
    std::fs::write(&known_path, known).map_err(io("writing", &known_path))?;
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let file = ssh::NodeFile {
        system: layout.name.to_string(),
        ssh: ssh::file::SshOptions {
            user: Some("root".into()),
            key: Some(absolute(key)),
            known_hosts: Some(absolute(known_path)),
        },
        service: ssh::installed_service(),
        nodes,
    };
    Ok(TestHosts { cluster, file })
}

/// A fresh ed25519 key pair at `key` (and `key.pub`); its public half.
fn key_pair(key: &Path) -> Result<String, Error> {
    let _ = std::fs::remove_file(key);
    let _ = std::fs::remove_file(with_suffix(key, ".pub"));
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "fencepost-test-hosts", "-f"])
        .arg(key)
        .output()
        .map_err(|e| Error::TestHosts(format!("running ssh-keygen (install openssh-client): {e}")))?;
    if !keygen.status.success() {
        return Err(Error::TestHosts(format!("ssh-keygen: {}", String::from_utf8_lossy(&keygen.stderr))));
    }
    let public = with_suffix(key, ".pub");
    std::fs::read_to_string(&public).map_err(io("reading", &public))
}

/// Authorises `public` for every login on `node` and waits until its sshd
/// answers on the published port; that port and the host's public key.
async fn open_to(node: &node::Node, public: &str) -> Result<(u16, String), Error> {
    let fail = |what: String| Error::TestHosts(format!("{}: {what}", node.name()));
    let authorise = r#"for home in /root /home/fp /home/nosudo; do
  user=$(stat -c %U "$home")
  mkdir -p "$home/.ssh" && printf '%s\n' "$0" > "$home/.ssh/authorized_keys"
  chown -R "$user:" "$home/.ssh" && chmod 700 "$home/.ssh" && chmod 600 "$home/.ssh/authorized_keys"
done"#;
    let done = node.exec(&["sh", "-c", authorise, public.trim()], Duration::from_secs(30)).await?;
    if !done.success() {
        return Err(fail(format!("authorising the key: {}", done.stderr.trim())));
    }
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
        if Instant::now() >= deadline {
            return Err(fail("sshd did not start within 60 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ssh_port = node.host_port(SSH_PORT).ok_or_else(|| fail("no SSH port".into()))?;
    // sshd running is not sshd listening behind Docker's published
    // port: wait for its banner there (a login too early is reset).
    while !ssh_banner(ssh_port).await {
        if Instant::now() >= deadline {
            return Err(fail(format!("sshd does not answer on 127.0.0.1:{ssh_port}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok((ssh_port, host_key))
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

/// The hosts of a node file, logged in to, and the nemesis over them: what
/// `fencepost heal` lists and undoes.
pub struct Healer {
    hosts: ssh::Hosts,
    faults: nemesis::Nemesis,
}

impl Healer {
    /// Logs in to the node file's hosts and adopts what fencepost left there.
    pub async fn connect(nodes_file: &Path, accept_new_host_keys: bool) -> Result<Healer, Error> {
        let file = ssh::NodeFile::load(nodes_file)?;
        let sys = workloads::systems::lookup(&file.system)?;
        let how = ssh::Connect { accept_new_host_keys, dry_run: false };
        let mut hosts = ssh::Hosts::connect(file, &how).await?;
        hosts.adopt().await;
        let nodes = hosts.nodes(sys.layout().client_port());
        let report: nemesis::Report = std::sync::Arc::new(|_, _, _| {});
        let faults = nemesis::Nemesis::new(nodes, sys.layout().client_port(), report);
        Ok(Healer { hosts, faults })
    }

    /// The faults in place, as the nemesis finds them.
    pub async fn leftovers(&self) -> Result<Vec<String>, nemesis::Error> {
        self.faults.leftovers().await
    }

    /// Whether a server runs under the clock shim (it is restarted without).
    pub fn shimmed(&self) -> bool {
        self.hosts.hosts().iter().any(|h| h.uses_shim())
    }

    /// Heals every fault and undoes the node tools and shim; the number of
    /// hosts healed, or what could not be.
    pub async fn heal(&self) -> Result<usize, Error> {
        let healed = self.faults.heal_all().await;
        let left = self.hosts.finish().await;
        if let Err(e) = healed {
            let also = if left.is_empty() { String::new() } else { format!("; also left: {}", left.join("; ")) };
            return Err(Error::TestHosts(format!("healing: {e}{also}")));
        }
        if !left.is_empty() {
            return Err(Error::TestHosts(format!("could not undo: {}", left.join("; "))));
        }
        Ok(self.hosts.hosts().len())
    }
}
