//! One SSH host as a [`node::Backend`]: commands through a multiplexed
//! OpenSSH connection (one `ssh` master per host, reused by every command),
//! the server found through its pid file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use node::{async_trait, Backend, ExecOutput, NodeState};
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};

use crate::file::{split_host_port, NodeEntry, NodeFile, Service};

/// Where fencepost keeps its files on a node: the system's node tools and
/// the clock shim. `/run/fencepost` (a tmpfs) holds the clock offset, so a
/// reboot can never leave a clock skewed.
pub const STATE_DIR: &str = "/var/lib/fencepost";
pub const TOOLS_DIR: &str = "/var/lib/fencepost/bin";
pub const SHIM: &str = "/var/lib/fencepost/fptime.so";
pub const CLOCK_FILE: &str = "/run/fencepost/clock";

/// How to reach the hosts.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// Accept and remember a host key never seen before (ssh's
    /// `StrictHostKeyChecking=accept-new`); without it an unknown host is
    /// refused.
    pub accept_new_host_keys: bool,
    /// Print every command instead of running it; connect to nothing.
    pub dry_run: bool,
}

/// A node that could not be reached or used, before any fault.
#[derive(Debug, thiserror::Error)]
#[error("SSH host {node}: {why}")]
pub struct HostError {
    pub node: String,
    pub why: String,
}

/// An SSH host running one server of the cluster.
#[derive(Debug)]
pub struct SshHost {
    name: String,
    /// `None` in a dry run.
    session: Option<Session>,
    /// Prefix every command with `sudo -n` (a login other than root).
    sudo: bool,
    service: Service,
    peer: String,
    /// From `$SSH_CONNECTION`: where our packets come from as the node sees
    /// them, and sshd's port on the node (never cut).
    client_source: String,
    control_port: Option<u16>,
    /// Start the server under the clock shim.
    shim: AtomicBool,
    /// Dry run: the commands that would have run, in order.
    printed: Option<Arc<Mutex<Vec<Printed>>>>,
    /// Dry run: the server's state as the commands so far would leave it.
    dry_state: Mutex<NodeState>,
}

/// One command of a dry run.
#[derive(Debug, Clone)]
pub struct Printed {
    pub node: String,
    pub argv: Vec<String>,
}

impl SshHost {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Runs `argv`; in a dry run, records it and answers success.
    pub async fn run(&self, argv: &[&str], timeout: Duration) -> node::Result<ExecOutput> {
        let mut full: Vec<&str> = Vec::with_capacity(argv.len() + 2);
        if self.sudo {
            full.extend(["sudo", "-n"]);
        }
        full.extend(argv);
        let Some(session) = &self.session else {
            if let Some(printed) = &self.printed {
                let argv = full.iter().map(|a| a.to_string()).collect();
                printed.lock().unwrap_or_else(|e| e.into_inner()).push(Printed { node: self.name.clone(), argv });
            }
            return Ok(ExecOutput { code: 0, stdout: String::new(), stderr: String::new() });
        };
        let doing = format!("running {argv:?} over SSH");
        let mut command = session.command(full[0]);
        command.args(&full[1..]);
        let output = tokio::time::timeout(timeout, command.output())
            .await
            .map_err(|_| node::Error::Timeout { node: self.name.clone(), doing: doing.clone(), after: timeout })?
            .map_err(|e| node::Error::failed(&self.name, doing, e))?;
        Ok(ExecOutput {
            code: output.status.code().map_or(-1, i64::from),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs a constant `sh` script with `args` as `$0`, `$1`, …; an error
    /// when it exits non-zero.
    pub async fn script(&self, doing: &str, script: &str, args: &[&str]) -> node::Result<String> {
        let mut argv = vec!["sh", "-c", script];
        argv.extend(args);
        let out = self.run(&argv, COMMAND).await?;
        if out.success() {
            Ok(out.stdout)
        } else {
            let why = format!("exit {}: {}", out.code, out.stderr.trim());
            Err(node::Error::refused(&self.name, doing, why))
        }
    }

    /// Starts the server under fencepost's clock shim from now on.
    pub fn use_shim(&self, on: bool) {
        self.shim.store(on, Ordering::SeqCst);
    }

    pub fn uses_shim(&self) -> bool {
        self.shim.load(Ordering::SeqCst)
    }

    /// Fails unless the pid file names a live process.
    pub async fn check_service(&self) -> Result<(), HostError> {
        if self.session.is_none() {
            return Ok(());
        }
        let alive = r#"pid=$(cat "$0" 2>/dev/null) && kill -0 "$pid" 2>/dev/null"#;
        let out = self
            .run(&["sh", "-c", alive, &self.service.pidfile], COMMAND)
            .await
            .map_err(|e| HostError { node: self.name.clone(), why: e.to_string() })?;
        if out.success() {
            return Ok(());
        }
        Err(HostError {
            node: self.name.clone(),
            why: format!(
                "the server is not running: no live process in its pid file {} (is [service] right, and the service started?)",
                self.service.pidfile
            ),
        })
    }

    async fn signal(&self, signal: &str, doing: &str) -> node::Result<()> {
        self.script(doing, SIGNAL, &[&self.service.pidfile, signal]).await?;
        self.dry(match signal {
            "KILL" => NodeState::Stopped,
            "STOP" => NodeState::Paused,
            _ => NodeState::Running,
        });
        Ok(())
    }

    /// In a dry run, what the server's state would now be.
    fn dry(&self, state: NodeState) {
        if self.session.is_none() {
            *self.dry_state.lock().unwrap_or_else(|e| e.into_inner()) = state;
        }
    }
}

const COMMAND: Duration = Duration::from_secs(30);
/// `$0` pid file, `$1` signal. A signal lands asynchronously (a
/// many-threaded server stops only when every thread has), so the script
/// waits up to 5 s for its effect: a fault verified right after would
/// otherwise read the state from before it.
const SIGNAL: &str = r#"pid=$(cat "$0") && [ -n "$pid" ] && kill -s "$1" "$pid" || exit 1
i=0
while [ "$i" -lt 50 ]; do
  s=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  case "$1:$s" in STOP:[Tt]|KILL:|KILL:[ZX]|CONT:|CONT:[!Tt]) exit 0 ;; esac
  sleep 0.1; i=$((i + 1))
done"#;
/// `$0` pid file: `running`, `paused` (SIGSTOPped) or `stopped`.
const STATE: &str = r#"pid=$(cat "$0" 2>/dev/null) || { echo stopped; exit 0; }
s=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
case "$s" in T|t) echo paused ;; ""|Z|X) echo stopped ;; *) echo running ;; esac"#;
/// `$0` pid file, `$1` grace seconds.
const TERMINATE: &str = r#"pid=$(cat "$0" 2>/dev/null) || exit 0
kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null || exit 0
i=0; while kill -0 "$pid" 2>/dev/null && [ "$i" -lt "$(($1 * 10))" ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL "$pid" 2>/dev/null; true"#;

#[async_trait]
impl Backend for SshHost {
    fn kind(&self) -> &'static str {
        "ssh"
    }

    async fn exec(&self, argv: &[&str], timeout: Duration) -> node::Result<ExecOutput> {
        self.run(argv, timeout).await
    }

    async fn state(&self) -> node::Result<NodeState> {
        if self.session.is_none() {
            return Ok(*self.dry_state.lock().unwrap_or_else(|e| e.into_inner()));
        }
        let out = self.script("reading the server's state", STATE, &[&self.service.pidfile]).await?;
        Ok(match out.trim() {
            "paused" => NodeState::Paused,
            "stopped" => NodeState::Stopped,
            _ => NodeState::Running,
        })
    }

    async fn kill(&self) -> node::Result<()> {
        self.signal("KILL", "killing the server").await
    }

    async fn stop(&self, grace: Duration) -> node::Result<()> {
        self.dry(NodeState::Stopped);
        match &self.service.stop {
            Some(stop) => self.script("stopping the server", stop, &[]).await.map(|_| ()),
            None => {
                let grace = grace.as_secs().max(1).to_string();
                self.script("stopping the server", TERMINATE, &[&self.service.pidfile, &grace]).await.map(|_| ())
            }
        }
    }

    /// The service's start command, under the clock shim when a clock
    /// fault may be played; a running server is left alone.
    async fn start(&self) -> node::Result<()> {
        if self.state().await? == NodeState::Running && self.session.is_some() {
            return Ok(());
        }
        self.dry(NodeState::Running);
        if self.uses_shim() {
            let preload = format!("LD_PRELOAD={SHIM}");
            let argv = ["env", preload.as_str(), "sh", "-c", self.service.start.as_str()];
            let out = self.run(&argv, COMMAND).await?;
            if !out.success() {
                return Err(node::Error::refused(&self.name, "starting the server", out.stderr.trim()));
            }
            Ok(())
        } else {
            self.script("starting the server", &self.service.start, &[]).await.map(|_| ())
        }
    }

    async fn pause(&self) -> node::Result<()> {
        self.signal("STOP", "pausing the server").await
    }

    async fn unpause(&self) -> node::Result<()> {
        self.signal("CONT", "resuming the server").await
    }

    async fn logs(&self) -> node::Result<String> {
        // The last 64 MiB at most: a log is evidence, not a transfer.
        self.script("reading the server's log", r#"tail -c 67108864 "$0""#, &[&self.service.log]).await
    }

    async fn ip(&self) -> node::Result<String> {
        Ok(self.peer.clone())
    }

    async fn client_source(&self) -> node::Result<String> {
        Ok(self.client_source.clone())
    }

    fn control_port(&self) -> Option<u16> {
        self.control_port
    }

    fn tools(&self) -> &str {
        TOOLS_DIR
    }

    async fn device(&self) -> node::Result<String> {
        if self.session.is_none() {
            return Ok("DEVICE".into());
        }
        let out = self
            .script(
                "finding the network device",
                r#"ip -o route get "$0" | sed -n 's/.* dev \([^ ]*\).*/\1/p'"#,
                &[&self.client_source],
            )
            .await?;
        Ok(out.trim().to_string())
    }
}

/// Connects to every node of `file`, checks each can be used (a shell, as
/// root or through password-less sudo), and returns them in file order. A dry run
/// connects to nothing and records the commands in `printed`.
pub async fn connect(
    file: &NodeFile,
    how: &Connect,
    printed: Option<Arc<Mutex<Vec<Printed>>>>,
) -> Result<Vec<Arc<SshHost>>, HostError> {
    // In turn: a handful of hosts, and the first error in file order.
    let mut hosts = Vec::with_capacity(file.nodes.len());
    for entry in &file.nodes {
        hosts.push(connect_one(file, entry, how, printed.clone()).await?);
    }
    Ok(hosts)
}

async fn connect_one(
    file: &NodeFile,
    entry: &NodeEntry,
    how: &Connect,
    printed: Option<Arc<Mutex<Vec<Printed>>>>,
) -> Result<Arc<SshHost>, HostError> {
    let fail = |why: String| HostError { node: entry.name.clone(), why };
    let user = entry.user(&file.ssh);
    let mut host = SshHost {
        name: entry.name.clone(),
        session: None,
        sudo: user != "root",
        service: file.service.clone(),
        peer: entry.peer.clone(),
        client_source: "HARNESS-ADDRESS".into(),
        control_port: Some(22),
        shim: AtomicBool::new(false),
        printed,
        dry_state: Mutex::new(NodeState::Running),
    };
    if how.dry_run {
        return Ok(Arc::new(host));
    }
    let (address, port) = split_host_port(&entry.ssh).map_err(fail)?;
    let mut builder = SessionBuilder::default();
    builder.user(user.clone()).connect_timeout(Duration::from_secs(10)).server_alive_interval(Duration::from_secs(5));
    builder.known_hosts_check(if how.accept_new_host_keys { KnownHosts::Add } else { KnownHosts::Strict });
    if let Some(port) = port {
        builder.port(port);
    }
    if let Some(key) = entry.key(&file.ssh) {
        if !key.exists() {
            return Err(fail(format!("key file {} does not exist", key.display())));
        }
        builder.keyfile(key);
    }
    if let Some(known) = entry.known_hosts(&file.ssh) {
        builder.user_known_hosts_file(known);
    }
    // The control socket's folder: a short path (sockets have a ~100-byte
    // limit) of our own.
    builder.control_directory(std::env::temp_dir());
    // A master outlives us only if we are killed (a normal end closes it):
    // then it leaves once idle for ten minutes, not never.
    builder.control_persist(ControlPersist::IdleFor(std::num::NonZeroUsize::new(600).expect("non-zero")));
    let session = builder.connect(&address).await.map_err(|e| {
        // openssh's own words are generic ("failed to connect"): ssh's
        // message is further down the chain.
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why.push_str(&format!(": {s}"));
            source = s.source();
        }
        let hint = if how.accept_new_host_keys {
            ""
        } else {
            " (if the host is new to you: add its key to known_hosts, or pass --accept-new-host-keys)"
        };
        fail(format!("cannot log in over SSH to {} as {user}: {why}{hint}", entry.ssh))
    })?;
    host.session = Some(session);
    let out = host.run(&["sh", "-c", "echo $SSH_CONNECTION"], COMMAND).await.map_err(|e| fail(e.to_string()))?;
    if !out.success() {
        let why = if host.sudo {
            format!("{user} cannot run commands as root with sudo -n (no password-less sudo?): {}", out.stderr.trim())
        } else {
            format!("running a shell failed: {}", out.stderr.trim())
        };
        return Err(fail(why));
    }
    // `client-ip client-port server-ip server-port`; under sudo the
    // variable is dropped, so ask the login shell itself when it is empty.
    let mut words: Vec<String> = out.stdout.split_whitespace().map(str::to_string).collect();
    if words.len() < 4 {
        let session = host.session.as_ref().expect("connected");
        let raw = session.command("sh").arg("-c").arg("echo $SSH_CONNECTION").output().await;
        words = raw
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
    }
    if words.len() >= 4 {
        host.client_source = words[0].clone();
        host.control_port = words[3].parse().ok();
    } else {
        return Err(fail("sshd did not say where we connect from ($SSH_CONNECTION is empty)".into()));
    }
    Ok(Arc::new(host))
}

/// Shell-quotes `arg` for printing a command.
pub fn quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
