//! The SSH room: a cluster fencepost did not start, driven over SSH the way
//! Jepsen drives its DB nodes, behind the same [`node::Backend`] as the
//! containers — so the nemesis, the workloads and the checks run unchanged.
//!
//! - [`file`]: the node file (TOML): hosts, logins, the service's pid file,
//!   start/stop commands and log.
//! - [`host`]: one host as a backend, over the system's OpenSSH client with
//!   one multiplexed master connection per host (the `openssh` crate:
//!   OpenSSH's own host-key checking, agent and config, and connection reuse,
//!   where a pure-Rust SSH stack would reimplement all three).
//! - [`Hosts`]: the whole cluster: connect, check, install the node tools
//!   (and the clock shim when a clock fault may run), undo everything at the
//!   end, and `--install` / `--teardown` of the system from the
//!   distribution's packages.
//!
//! Nothing here knows a system's client: the caller passes the node tools
//! and checks readiness.

pub mod file;
pub mod host;

use std::sync::{Arc, Mutex};

pub use file::{FileError, NodeFile};
pub use host::{Connect, HostError, SshHost};

use host::{Printed, CLOCK_FILE, SHIM, STATE_DIR, TOOLS_DIR};

/// Installs a system from the distribution's packages and runs it as a
/// service (`/usr/local/lib/fencepost/service`); see the script.
pub const INSTALL: &str = include_str!("../scripts/install.sh");
/// Removes exactly what [`INSTALL`] added.
pub const TEARDOWN: &str = include_str!("../scripts/teardown.sh");

/// The service [`INSTALL`] sets up, as a node file's `[service]` names it.
pub fn installed_service() -> file::Service {
    file::Service {
        pidfile: "/run/fencepost/server.pid".into(),
        start: "/usr/local/lib/fencepost/service start".into(),
        stop: Some("/usr/local/lib/fencepost/service stop".into()),
        log: "/var/log/fencepost/server.log".into(),
    }
}

/// The systems [`INSTALL`] knows.
pub const INSTALLABLE: &[&str] = &["etcd", "redis", "zookeeper"];

/// The files a system's nodes need for the nemesis: `role` (leader or
/// follower) and `server-time` (the server's own clock), as in its image.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    pub files: Vec<(String, Vec<u8>)>,
    /// The clock shim's C source, built on each node with its `cc` when a
    /// clock fault may run.
    pub shim_source: Option<Vec<u8>>,
}

/// The connected cluster.
pub struct Hosts {
    pub file: NodeFile,
    hosts: Vec<Arc<SshHost>>,
    printed: Option<Arc<Mutex<Vec<host::Printed>>>>,
    /// What [`Hosts::prepare`] put on the nodes, for [`Hosts::finish`].
    prepared: bool,
}

fn fail(node: &str, e: impl std::fmt::Display) -> HostError {
    HostError { node: node.to_string(), why: e.to_string() }
}

impl Hosts {
    /// Logs in to every node (or, in a dry run, to none).
    pub async fn connect(file: NodeFile, how: &Connect) -> Result<Hosts, HostError> {
        let printed = how.dry_run.then(Arc::default);
        let hosts = host::connect(&file, how, printed.clone()).await?;
        Ok(Hosts { file, hosts, printed, prepared: false })
    }

    /// The handles the run uses; `client_port` is the server port the
    /// system's clients dial, reached at each node's `endpoint`.
    pub fn nodes(&self, client_port: u16) -> Vec<node::Node> {
        self.hosts
            .iter()
            .zip(&self.file.nodes)
            .map(|(host, entry)| {
                let (address, port) = entry.endpoint();
                let ports = std::collections::BTreeMap::from([(client_port, port)]);
                node::Node::new(&entry.name, &address, ports, host.clone() as Arc<dyn node::Backend>)
            })
            .collect()
    }

    /// `name user@host:port` of each node, for the run's record.
    pub fn describe(&self) -> Vec<String> {
        self.file.nodes.iter().map(|n| format!("{} {}@{}", n.name, n.user(&self.file.ssh), n.ssh)).collect()
    }

    pub fn hosts(&self) -> &[Arc<SshHost>] {
        &self.hosts
    }

    /// Every node's server must be running (its pid file names a live
    /// process): checked before anything is touched.
    pub async fn check_service(&self) -> Result<(), HostError> {
        for host in &self.hosts {
            host.check_service().await?;
        }
        Ok(())
    }

    /// Installs the system on every node from the distribution's packages
    /// and starts it as a service forming one cluster.
    pub async fn install(&self, system: &str) -> Result<(), HostError> {
        let peers: Vec<String> = self.file.nodes.iter().map(|n| format!("{}={}", n.name, n.peer)).collect();
        let peers = peers.join(" ");
        let runs = self.hosts.iter().enumerate().map(|(i, host)| {
            let env = [
                format!("FP_SYSTEM={system}"),
                format!("FP_NODE={}", host.name()),
                format!("FP_ID={}", i + 1),
                format!("FP_PEERS={peers}"),
            ];
            async move {
                let mut argv: Vec<&str> = vec!["env"];
                argv.extend(env.iter().map(String::as_str));
                argv.extend(["sh", "-c", INSTALL]);
                let out = host.run(&argv, INSTALL_TIME).await.map_err(|e| fail(host.name(), e))?;
                if out.success() {
                    Ok(())
                } else {
                    Err(fail(
                        host.name(),
                        format!("installing {system} failed (exit {}): {}", out.code, tail(&out.stderr)),
                    ))
                }
            }
        });
        // All nodes at once: a cluster member waits for its peers to start.
        for result in futures_util::future::join_all(runs).await {
            result?;
        }
        Ok(())
    }

    /// Removes what [`Hosts::install`] added, on every node.
    pub async fn teardown(&self, system: &str) -> Vec<String> {
        let mut left = Vec::new();
        for host in &self.hosts {
            let env = format!("FP_SYSTEM={system}");
            let node = format!("FP_NODE={}", host.name());
            let argv = ["env", env.as_str(), node.as_str(), "sh", "-c", TEARDOWN];
            match host.run(&argv, INSTALL_TIME).await {
                Ok(out) if out.success() => {}
                Ok(out) => left.push(format!("{}: teardown exited {}: {}", host.name(), out.code, tail(&out.stderr))),
                Err(e) => left.push(e.to_string()),
            }
        }
        left
    }

    /// Puts the node tools on every node, and with `clock` builds the clock
    /// shim and restarts each server under it (the caller then waits for
    /// the cluster to be ready again). A node that cannot take it is
    /// named, with the reason, before any fault.
    pub async fn prepare(&mut self, tools: &Tools, clock: bool) -> Result<(), HostError> {
        self.prepared = true;
        for host in &self.hosts {
            let name = host.name();
            host.script("creating fencepost's folder", r#"mkdir -p "$0" && chmod 755 "$0""#, &[TOOLS_DIR])
                .await
                .map_err(|e| fail(name, e))?;
            for (file, contents) in &tools.files {
                let path = format!("{TOOLS_DIR}/{file}");
                let text = String::from_utf8_lossy(contents);
                host.script("writing a node tool", WRITE_FILE, &[&path, &text, "755"])
                    .await
                    .map_err(|e| fail(name, e))?;
            }
            if !clock {
                continue;
            }
            let Some(source) = &tools.shim_source else {
                return Err(fail(name, "this system's clock cannot be moved by fencepost's shim"));
            };
            let has_cc = host.run(&["sh", "-c", "command -v cc"], COMMAND).await.map_err(|e| fail(name, e))?;
            if !has_cc.success() {
                return Err(fail(
                    name,
                    "no C compiler (`cc`) to build fencepost's clock shim: install gcc, or leave clock faults out",
                ));
            }
            let src = format!("{STATE_DIR}/fptime.c");
            host.script(
                "writing the clock shim's source",
                WRITE_FILE,
                &[&src, &String::from_utf8_lossy(source), "644"],
            )
            .await
            .map_err(|e| fail(name, e))?;
            host.script("building the clock shim", BUILD_SHIM, &[&src, SHIM, CLOCK_FILE])
                .await
                .map_err(|e| fail(name, e))?;
            // The running server has no shim: restart it under one.
            node::Backend::stop(host.as_ref(), STOP_GRACE).await.map_err(|e| fail(name, e))?;
            host.use_shim(true);
            node::Backend::start(host.as_ref()).await.map_err(|e| fail(name, e))?;
        }
        Ok(())
    }

    /// Undoes [`Hosts::prepare`]: servers restarted without the shim, the
    /// shim, the clock file and the tools removed. Returns what could not
    /// be undone, node by node.
    pub async fn finish(&self) -> Vec<String> {
        let mut left = Vec::new();
        if !self.prepared {
            return left;
        }
        for host in &self.hosts {
            let name = host.name();
            if host.uses_shim() {
                let undo = async {
                    node::Backend::stop(host.as_ref(), STOP_GRACE).await?;
                    host.use_shim(false);
                    node::Backend::start(host.as_ref()).await
                };
                if let Err(e) = undo.await {
                    left.push(format!("{name}: restarting the server without the clock shim: {e}"));
                }
            }
            let remove = format!(
                "rm -rf {TOOLS_DIR} {SHIM} {STATE_DIR}/fptime.c {CLOCK_FILE}; rmdir {STATE_DIR} 2>/dev/null; true"
            );
            if let Err(e) = host.script("removing fencepost's files", &remove, &[]).await {
                left.push(format!("{name}: {e}"));
            }
        }
        left
    }

    /// Takes over what a run that died (SIGKILL) left on the nodes, so that
    /// [`Hosts::finish`] undoes it: a server under the clock shim, the tools.
    pub async fn adopt(&mut self) {
        self.prepared = true;
        for host in &self.hosts {
            let shim = host.run(&["test", "-e", SHIM], COMMAND).await;
            host.use_shim(shim.is_ok_and(|o| o.success()));
        }
    }

    /// A dry run's commands as lines `node: command`, in the order they
    /// would run; a script or a file's contents (several lines) stands as
    /// `[script N]`, and each script follows in full, once, at the end.
    pub fn printed(&self) -> Vec<String> {
        let printed = self.printed.as_ref().map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).clone());
        let mut scripts: Vec<String> = Vec::new();
        let mut lines = Vec::new();
        for Printed { node, argv } in printed.unwrap_or_default() {
            let words: Vec<String> = argv
                .iter()
                .map(|a| {
                    if !a.contains('\n') {
                        return host::quote(a);
                    }
                    let n = scripts.iter().position(|s| s == a).unwrap_or_else(|| {
                        scripts.push(a.clone());
                        scripts.len() - 1
                    });
                    format!("[script {}]", n + 1)
                })
                .collect();
            lines.push(format!("{node}: {}", words.join(" ")));
        }
        for (n, script) in scripts.iter().enumerate() {
            lines.push(String::new());
            lines.push(format!("[script {}]:", n + 1));
            lines.extend(script.lines().map(|l| format!("    {l}")));
        }
        lines
    }
}

const COMMAND: std::time::Duration = std::time::Duration::from_secs(30);
const INSTALL_TIME: std::time::Duration = std::time::Duration::from_secs(600);
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);
/// `$0` path, `$1` contents, `$2` mode.
const WRITE_FILE: &str = r#"printf '%s' "$1" > "$0" && chmod "$2" "$0""#;
/// `$0` source, `$1` shim, `$2` clock file (the offset, zero to begin).
const BUILD_SHIM: &str = r#"set -e
cc -O2 -shared -fPIC -o "$1" "$0"
mkdir -p "$(dirname "$2")"
chmod 755 "$(dirname "$2")"
[ -s "$2" ] || printf '%-63s\n' "0 0 0" > "$2"
chmod 644 "$2""#;

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}
