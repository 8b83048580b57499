//! The node file: which hosts, how to reach them, and how their server is
//! run. TOML, documented in the README ("Your own cluster over SSH").

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A node file as written: shared defaults, then one `[[node]]` per host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// The system these nodes run (`etcd`, `redis`, …); a run of another
    /// system is refused.
    pub system: String,
    #[serde(default)]
    pub ssh: SshOptions,
    pub service: Service,
    #[serde(rename = "node")]
    pub nodes: Vec<NodeEntry>,
}

/// How to log in; every field may be overridden per node.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SshOptions {
    /// Login user (default: root). Anyone else needs password-less sudo.
    pub user: Option<String>,
    /// Private key file (default: the agent and ssh's own defaults).
    pub key: Option<PathBuf>,
    /// known_hosts file to check host keys against (default: ssh's own,
    /// ~/.ssh/known_hosts).
    pub known_hosts: Option<PathBuf>,
}

/// How the server is run on every node: a pid file and the commands that
/// start and stop it (the server must be the pid in the pid file, so that
/// kill -9 and SIGSTOP reach the server itself).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub pidfile: String,
    /// Shell command that starts the server (in the background) and
    /// returns; fencepost adds LD_PRELOAD to its environment for clock faults.
    pub start: String,
    /// Shell command that stops it (default: SIGTERM to the pid, then SIGKILL).
    pub stop: Option<String>,
    /// The server's log file, kept with the run.
    pub log: String,
}

/// One host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// `n1`, `n2`, …: how the run names it.
    pub name: String,
    /// `host` or `host:port` of its sshd.
    pub ssh: String,
    /// The address the other nodes reach it at (what partitions cut).
    pub peer: String,
    /// `host:port` where clients reach the server.
    pub endpoint: String,
    pub user: Option<String>,
    pub key: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
}

/// A node file that could not be read, or does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file's own words and the OS's, once (not a source: a chain
    /// printer would say them twice).
    #[error("reading {}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    /// TOML or a field: the message names the line and the field.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: node `{node}`: {why}", path.display())]
    Node { path: PathBuf, node: String, why: String },
    #[error("{}: {why}", path.display())]
    Invalid { path: PathBuf, why: String },
}

impl NodeFile {
    pub fn load(path: &Path) -> Result<NodeFile, FileError> {
        let text = std::fs::read_to_string(path).map_err(|cause| FileError::Io { path: path.into(), cause })?;
        NodeFile::parse(&text, path)
    }

    /// Parses and checks `text` (read from `path`, for messages).
    pub fn parse(text: &str, path: &Path) -> Result<NodeFile, FileError> {
        let file: NodeFile = toml::from_str(text)
            .map_err(|e| FileError::Parse { path: path.into(), message: e.to_string().trim_end().to_string() })?;
        let invalid = |why: String| FileError::Invalid { path: path.into(), why };
        if file.nodes.is_empty() {
            return Err(invalid("no [[node]]: list every host of the cluster".into()));
        }
        for (i, node) in file.nodes.iter().enumerate() {
            let bad = |why: String| FileError::Node { path: path.into(), node: node.name.clone(), why };
            if node.name.is_empty() {
                return Err(invalid(format!("node {} has an empty name", i + 1)));
            }
            if file.nodes[..i].iter().any(|n| n.name == node.name) {
                return Err(bad("named twice".into()));
            }
            if node.ssh.trim().is_empty() {
                return Err(bad("`ssh` is empty: give the host (host or host:port) to log in to".into()));
            }
            split_host_port(&node.ssh).map_err(|why| bad(format!("ssh = {:?}: {why}", node.ssh)))?;
            if node.peer.trim().is_empty() {
                return Err(bad("`peer` is empty: give the address the other nodes reach it at".into()));
            }
            match split_host_port(&node.endpoint) {
                Ok((_, Some(_))) => {}
                _ => return Err(bad(format!("endpoint = {:?} is not host:port", node.endpoint))),
            }
        }
        if file.service.pidfile.is_empty() || file.service.start.is_empty() {
            return Err(invalid("[service] needs `pidfile` and `start`".into()));
        }
        Ok(file)
    }

    /// The file as TOML, as `fencepost up --ssh-hosts` writes it.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

impl NodeEntry {
    pub fn user(&self, defaults: &SshOptions) -> String {
        self.user.clone().or_else(|| defaults.user.clone()).unwrap_or_else(|| "root".into())
    }

    pub fn key<'a>(&'a self, defaults: &'a SshOptions) -> Option<&'a Path> {
        self.key.as_deref().or(defaults.key.as_deref())
    }

    pub fn known_hosts<'a>(&'a self, defaults: &'a SshOptions) -> Option<&'a Path> {
        self.known_hosts.as_deref().or(defaults.known_hosts.as_deref())
    }

    /// The endpoint's host and port (checked at parse time).
    pub fn endpoint(&self) -> (String, u16) {
        match split_host_port(&self.endpoint) {
            Ok((host, Some(port))) => (host, port),
            _ => (self.endpoint.clone(), 0),
        }
    }
}

/// `host`, `host:port` or `[v6]:port`.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [")?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host.into(), Some(p.parse().map_err(|_| format!("port {p:?} is not a number"))?))),
            None if after.is_empty() => Ok((host.into(), None)),
            None => Err(format!("{after:?} after ]")),
        };
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            if host.is_empty() {
                return Err("no host before the port".into());
            }
            Ok((host.into(), Some(port.parse().map_err(|_| format!("port {port:?} is not a number"))?)))
        }
        _ => Ok((s.into(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
system = "etcd"
[ssh]
user = "root"
key = "/tmp/id"
[service]
pidfile = "/run/fencepost/server.pid"
start = "/usr/local/lib/fencepost/service start"
log = "/var/log/fencepost/server.log"
[[node]]
name = "n1"
ssh = "127.0.0.1:2201"
peer = "172.18.0.2"
endpoint = "127.0.0.1:23791"
"#;

    #[test]
    fn a_good_file_parses_and_round_trips() {
        let file = NodeFile::parse(GOOD, Path::new("nodes.toml")).unwrap();
        assert_eq!(file.nodes[0].endpoint(), ("127.0.0.1".into(), 23791));
        assert_eq!(file.nodes[0].user(&file.ssh), "root");
        assert_eq!(NodeFile::parse(&file.to_toml(), Path::new("x")).unwrap(), file);
    }

    #[test]
    fn mistakes_name_the_line_or_the_node() {
        let missing_peer = GOOD.replace("peer = \"172.18.0.2\"\n", "");
        let e = NodeFile::parse(&missing_peer, Path::new("nodes.toml")).unwrap_err().to_string();
        assert!(e.contains("nodes.toml") && e.contains("peer") && e.contains("line"), "{e}");
        let typo = GOOD.replace("pidfile", "pid_file");
        let e = NodeFile::parse(&typo, Path::new("nodes.toml")).unwrap_err().to_string();
        assert!(e.contains("pid_file"), "{e}");
        let no_host = GOOD.replace("ssh = \"127.0.0.1:2201\"", "ssh = \"\"");
        let e = NodeFile::parse(&no_host, Path::new("nodes.toml")).unwrap_err().to_string();
        assert!(e.contains("node `n1`") && e.contains("ssh"), "{e}");
        let bad_endpoint = GOOD.replace("127.0.0.1:23791", "127.0.0.1");
        let e = NodeFile::parse(&bad_endpoint, Path::new("nodes.toml")).unwrap_err().to_string();
        assert!(e.contains("node `n1`") && e.contains("endpoint"), "{e}");
        assert!(split_host_port("h:xx").is_err());
    }
}
