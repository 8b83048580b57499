//! Doing and undoing faults on a cluster's nodes and clients. Every start
//! checks the fault took effect and every stop checks the nodes recovered;
//! either is an error when it did not.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kit::{CancellationToken, Holders, Rng, Stall};
use node::{Node, NodeState};
use ops::faults::{FaultEvent, FaultInfo};

use crate::fault::{aim_at_holder, no_leader, size_refusal, Aimed, Fault, FaultKind, FaultSpec, Grudge, Target};
use crate::schedule::Step;
use crate::Error;

/// Which end of a nemesis step an event marks. Each step (`<fault>-start`,
/// `<fault>-stop`, `heal-all`) is reported twice, as Jepsen's nemesis does:
/// `Begin` just before anything is touched (the history's `invoke`), `Done`
/// once the change is verified in effect (its `info`). So a fault's window
/// in the history runs from the start's `Begin` to the stop's `Done`, and
/// covers every moment the fault could have acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Begin,
    Done,
}

/// Reports nemesis events to the history: the phase, the typed event
/// (`partition-start` on disk) and what the fault is (the op's value).
pub type Report = Arc<dyn Fn(Phase, &FaultEvent, &FaultInfo) + Send + Sync>;

/// Does and undoes faults on a cluster's nodes (and, for client pauses, on
/// the workload's clients through their [`Stall`]).
pub struct Nemesis {
    nodes: Vec<Node>,
    /// A container port every node's server listens on, for probes.
    port: u16,
    report: Report,
    stall: Option<Arc<Stall>>,
    /// Who holds which lock now, for faults aimed at the `holder`.
    holders: Option<Arc<Holders>>,
}

/// What [`Nemesis::play`] did: the faults injected, and those skipped
/// because their target could not be found in time, each in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Played {
    pub injected: Vec<FaultSpec>,
    pub skipped: Vec<FaultSpec>,
}

/// Why a `holder` fault found nobody to aim at.
const NOBODY_HELD: &str = "nobody held a lock";
/// How often a `holder` fault looks at the registry while it waits.
const HOLDER_POLL: Duration = Duration::from_millis(10);

/// How long, and with which seed, a `holder` fault looks for one.
struct HolderWait {
    deadline: Instant,
    seed: u64,
    stop: CancellationToken,
}

/// Where a `holder` target led.
enum Aim {
    At(Aimed),
    /// Not found in time: recorded as skipped.
    Skipped,
    /// The run ended while waiting.
    Stopped,
}

/// How a fault's start ended.
enum Begun {
    /// Started (and verified), after waiting this long for a holder.
    Started(Aimed, Duration),
    Skipped,
    Stopped,
}

const EXEC: Duration = Duration::from_secs(10);
const RECOVER: Duration = Duration::from_secs(90);
/// How far a server's clock may sit from where we put it: the probe itself
/// (a client program started in the container) takes some of this.
const CLOCK_SLACK: f64 = 3.0;
const CLOCK_FILE: &str = "/run/fencepost/clock";
/// `sh -c` scripts take their inputs as arguments, never spliced in.
const WRITE_CLOCK: &str =
    "printf '%-63s\\n' \"$0\" | dd of=/run/fencepost/clock conv=notrunc bs=64 count=1 iflag=fullblock status=none";
/// fencepost's own iptables chains, jumped to from INPUT and OUTPUT: every
/// rule a fault adds goes in them, so healing removes exactly fencepost's
/// rules and never one the host had (an SSH host's own firewall).
const CHAIN_IN: &str = "fencepost-in";
const CHAIN_OUT: &str = "fencepost-out";
/// Creates the chains and their jumps if missing. `$0` is a TCP port no
/// fault may cut (sshd's, which the nemesis itself arrives through), or "".
const OWN_CHAINS: &str = r#"set -e
for pair in INPUT:fencepost-in:--dport OUTPUT:fencepost-out:--sport; do
  chain=${pair%%:*}; rest=${pair#*:}; own=${rest%%:*}; dir=${rest#*:}
  iptables -N "$own" 2>/dev/null || true
  iptables -C "$chain" -m comment --comment fencepost -j "$own" 2>/dev/null     || iptables -I "$chain" 1 -m comment --comment fencepost -j "$own"
  if [ -n "$0" ]; then
    iptables -C "$own" -p tcp "$dir" "$0" -j RETURN 2>/dev/null || iptables -I "$own" 1 -p tcp "$dir" "$0" -j RETURN
  fi
done"#;
/// Removes fencepost's chains and jumps, whatever is in them.
const DROP_CHAINS: &str = r#"for pair in INPUT:fencepost-in OUTPUT:fencepost-out; do
  chain=${pair%%:*}; own=${pair#*:}
  while iptables -D "$chain" -m comment --comment fencepost -j "$own" 2>/dev/null; do :; done
  iptables -F "$own" 2>/dev/null; iptables -X "$own" 2>/dev/null
done
true"#;
/// Exit status of `/fencepost/server-time` for "this server's clock cannot be moved".
const CLOCK_REFUSED: i64 = 78;

impl Nemesis {
    pub fn new(nodes: Vec<Node>, port: u16, report: Report) -> Nemesis {
        Nemesis { nodes, port, report, stall: None, holders: None }
    }

    /// Lets client-pause faults stall the workload's lock holders.
    pub fn with_stall(mut self, stall: Arc<Stall>) -> Nemesis {
        self.stall = Some(stall);
        self
    }

    /// Lets faults aim at whoever holds a lock (`kill:holder`), as the
    /// workload's workers record it.
    pub fn with_holders(mut self, holders: Arc<Holders>) -> Nemesis {
        self.holders = Some(holders);
        self
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name().to_string()).collect()
    }

    fn node(&self, name: &str) -> Result<&Node, Error> {
        self.nodes.iter().find(|n| n.name() == name).ok_or_else(|| Error::NoNode(name.to_string()))
    }

    fn report(&self, phase: Phase, event: FaultEvent, info: &FaultInfo) {
        (self.report)(phase, &event, info)
    }

    async fn run(&self, node: &Node, argv: &[&str]) -> Result<String, Error> {
        let out = exec(node, argv).await?;
        if out.success() {
            Ok(out.stdout)
        } else {
            Err(Error::Exec {
                node: node.name().to_string(),
                argv: argv.iter().map(|a| a.to_string()).collect(),
                code: out.code,
                stderr: out.stderr.trim().to_string(),
            })
        }
    }

    /// Refuses, before a run starts, faults this cluster cannot take, with
    /// the reason: clock faults where the server's clock cannot be moved
    /// (etcd), leader or primary targets where the system names none,
    /// netem where the kernel has no `sch_netem`, node partitions on one
    /// node, minorities of fewer than three nodes, holder targets with no
    /// workload to read holders from.
    pub async fn check(&self, specs: &[FaultSpec]) -> Result<(), Error> {
        for &spec in specs {
            let refused = |why: String| Err(Error::Refused { fault: spec, why });
            let needs_nodes = spec.kind != FaultKind::ClientPause;
            let Some(first) = self.nodes.first() else {
                if needs_nodes {
                    return refused("no node of this cluster is reachable by the nemesis".into());
                }
                continue;
            };
            if !needs_nodes {
                continue;
            }
            if let Some(why) = size_refusal(spec, self.nodes.len()) {
                return refused(why);
            }
            match spec.target {
                Target::Leader | Target::Primary => {
                    let out = exec(first, &["test", "-x", &first.tool("role")]).await?;
                    if !out.success() {
                        return refused(no_leader(spec.target));
                    }
                }
                Target::Holder if self.holders.is_none() => {
                    return refused("no workload clients whose locks could name a holder".into());
                }
                _ => {}
            }
            match spec.kind {
                FaultKind::Partition | FaultKind::PartitionClients | FaultKind::Loss => {
                    for node in &self.nodes {
                        let out = exec(node, &["iptables", "-S", "INPUT"]).await?;
                        if !out.success() {
                            return refused(format!(
                                "{} cannot list its iptables rules (is iptables installed, and are we root?): {}",
                                node.name(),
                                out.stderr.trim()
                            ));
                        }
                    }
                }
                FaultKind::Kill | FaultKind::Pause => {
                    for node in &self.nodes {
                        if let Err(e) = node.state().await {
                            return refused(format!("the server's state cannot be read: {e}"));
                        }
                    }
                }
                FaultKind::Clock => match self.server_time(first).await {
                    Ok(_) => {}
                    Err(Error::Refused { why, .. }) => return refused(why),
                    Err(e) => return refused(e.to_string()),
                },
                FaultKind::Netem => {
                    // A zero delay on the loopback device: harmless, and
                    // tells whether the kernel has netem at all.
                    let argv = ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "0ms"];
                    let out = exec(first, &argv).await?;
                    let _ = first.exec(&["tc", "qdisc", "del", "dev", "lo", "root"], EXEC).await;
                    if !out.success() {
                        return refused(netem_unavailable(out.stderr.trim()));
                    }
                }
                _ => {}
            }
        }
        if specs.iter().any(|s| s.kind == FaultKind::ClientPause) && self.stall.is_none() {
            return Err(no_clients());
        }
        Ok(())
    }

    /// Can `from` open a TCP connection to `to`'s server within a second?
    /// The script is constant; address and port arrive as arguments.
    pub async fn reaches(&self, from: &Node, to: &Node) -> Result<bool, Error> {
        let ip = ip(to).await?;
        let port = self.port.to_string();
        let argv = ["timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/$0/$1", ip.as_str(), port.as_str()];
        Ok(exec(from, &argv).await?.success())
    }

    /// How long the harness (where the clients run) takes to open a TCP
    /// connection to `node`'s server on its network address; `None` when it
    /// cannot within a second.
    pub async fn client_connect(&self, node: &Node) -> Result<Option<Duration>, Error> {
        let ip = ip(node).await?;
        let t0 = Instant::now();
        let connect = tokio::net::TcpStream::connect((ip.as_str(), self.port));
        match tokio::time::timeout(Duration::from_secs(1), connect).await {
            Ok(Ok(_)) => Ok(Some(t0.elapsed())),
            _ => Ok(None),
        }
    }

    /// The median of five connection times from the harness to `node`.
    async fn latency(&self, node: &Node) -> Result<Option<Duration>, Error> {
        let mut samples = Vec::new();
        for _ in 0..5 {
            if let Some(d) = self.client_connect(node).await? {
                samples.push(d);
            }
        }
        samples.sort();
        Ok(samples.get(samples.len() / 2).copied())
    }

    /// The server's own wall clock, in Unix seconds, read by the image's
    /// `/fencepost/server-time` (Redis TIME, PostgreSQL clock_timestamp(),
    /// MariaDB SYSDATE(6), ZooKeeper's connection timestamps). An image
    /// whose server's clock cannot be moved says why (exit 78): that is
    /// [`Error::Refused`].
    pub async fn server_time(&self, node: &Node) -> Result<f64, Error> {
        // A probe can miss (ZooKeeper's `cons` does not always list a session
        // that has just been opened): three tries before it counts.
        let tool = node.tool("server-time");
        let argv = [tool.as_str()];
        let mut out = exec(node, &argv).await?;
        for _ in 0..2 {
            if out.success() || out.code == CLOCK_REFUSED {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            out = exec(node, &argv).await?;
        }
        if out.code == CLOCK_REFUSED {
            return Err(Error::Refused {
                fault: FaultSpec::plain(FaultKind::Clock),
                why: out.stderr.trim().to_string(),
            });
        }
        if !out.success() {
            return Err(Error::Exec {
                node: node.name().to_string(),
                argv: vec![argv[0].to_string()],
                code: out.code,
                stderr: out.stderr.trim().to_string(),
            });
        }
        out.stdout.trim().parse::<f64>().map_err(|_| Error::Probe {
            node: node.name().to_string(),
            why: format!("/fencepost/server-time printed {:?}, not Unix seconds", out.stdout.trim()),
        })
    }

    /// Injects `fault`, checks it took effect, and reports `<name>-start`.
    /// Returns the fault as started (aimed at the leader it found, a client
    /// pause naming the clients it caught): stop that one. A fault aimed at
    /// the holder takes whoever holds a lock now, or fails when nobody does
    /// ([`Nemesis::play`] waits for one instead).
    pub async fn start(&self, fault: impl Into<Aimed>) -> Result<Aimed, Error> {
        let aimed: Aimed = fault.into();
        let kind = aimed.fault.kind();
        let wait = HolderWait { deadline: Instant::now(), seed: 0, stop: CancellationToken::new() };
        match self.begin(aimed, &wait).await? {
            Begun::Started(started, _) => Ok(started),
            Begun::Skipped | Begun::Stopped => Err(Error::Verify {
                fault: kind,
                node: None,
                why: format!("its holder target found that {NOBODY_HELD}"),
            }),
        }
    }

    /// [`Nemesis::start`], waiting for a holder until `wait.deadline` (then
    /// reported as skipped). The holder is read from the registry as late
    /// as possible: after the baselines (which take a while on several
    /// nodes) and just before the `invoke`, so the fault's recorded start
    /// finds its holder still holding.
    async fn begin(&self, aimed: Aimed, wait: &HolderWait) -> Result<Begun, Error> {
        let (target, holder) = (aimed.target, aimed.holder.clone());
        let fault = &aimed.fault;
        let for_holder = aimed.unresolved() && target == Target::Holder;
        let started = match fault {
            _ if for_holder => fault.clone(),
            _ if aimed.unresolved() => {
                let leader = self.leader(aimed.spec()).await?;
                fault.aimed_at(&[leader], &self.node_names())
            }
            Fault::ClientPause { clients, duration_ms, .. } => {
                let stall = self.stall.as_ref().ok_or_else(no_clients)?;
                let duration = Duration::from_millis(*duration_ms);
                self.report(Phase::Begin, FaultEvent::start(fault.name()), &aimed.describe());
                stall.arm(*clients, duration);
                // The fault starts when a holder walks into the stall.
                let deadline = Instant::now() + duration;
                let stalled = loop {
                    let stalled = stall.stalled();
                    if !stalled.is_empty() {
                        break stalled;
                    }
                    if Instant::now() >= deadline {
                        stall.release();
                        return Err(Error::Verify {
                            fault: FaultKind::ClientPause,
                            node: None,
                            why: format!(
                                "no client reached a holding point within {duration:?} (is the workload taking locks?)"
                            ),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                };
                Fault::ClientPause { clients: *clients, duration_ms: *duration_ms, stalled }
            }
            other => other.clone(),
        };
        let mut started = Aimed { fault: started, target, holder };
        // Refusals and baselines come before anything is touched: on every
        // node the holder could lead to, when it is not known yet.
        let baseline = if for_holder { self.node_names() } else { started.fault.targets() };
        let mut before = BTreeMap::new();
        match &started.fault {
            Fault::Clock { .. } => {
                for name in &baseline {
                    self.server_time(self.node(name)?).await?;
                }
            }
            Fault::Netem { .. } => {
                for name in &baseline {
                    before.insert(name.clone(), self.latency(self.node(name)?).await?.unwrap_or_default());
                }
            }
            _ => {}
        }
        let mut waited = Duration::ZERO;
        if for_holder {
            let t = Instant::now();
            match self.holder(&started, wait).await {
                Aim::At(aimed) => started = aimed,
                Aim::Skipped => return Ok(Begun::Skipped),
                Aim::Stopped => return Ok(Begun::Stopped),
            }
            waited = t.elapsed();
        }
        // A client pause began when the stall was armed (above).
        if !matches!(started.fault, Fault::ClientPause { .. }) {
            self.report(Phase::Begin, FaultEvent::start(started.name()), &started.describe());
        }
        self.inject(&started.fault).await?;
        self.verify(&started.fault, &before).await?;
        self.report(Phase::Done, FaultEvent::start(started.name()), &started.describe());
        Ok(Begun::Started(started, waited))
    }

    /// `planned` aimed at whoever holds a lock, polling the registry until
    /// `wait.deadline`; reported as skipped when nobody did by then.
    async fn holder(&self, planned: &Aimed, wait: &HolderWait) -> Aim {
        let mut rng = Rng::new(wait.seed);
        let names = self.node_names();
        self.poll_holders(planned, wait, |holdings| {
            let (holding, nodes) = aim_at_holder(holdings, &names, &mut rng)?;
            let fault = planned.fault.aimed_at(&nodes, &names);
            Some(Aimed { fault, target: Target::Holder, holder: Some((holding.process, holding.key)) })
        })
        .await
    }

    /// A client pause waits (up to `wait.deadline`) for somebody to hold a
    /// lock before it arms the stall, so that a run where nobody holds
    /// records a skip rather than a pause that caught no one. Without a
    /// registry it just tries.
    async fn any_holder(&self, planned: &Aimed, wait: &HolderWait) -> Aim {
        if self.holders.is_none() {
            return Aim::At(planned.clone());
        }
        self.poll_holders(planned, wait, |holdings| (!holdings.is_empty()).then(|| planned.clone())).await
    }

    /// Polls the registry until `aim` finds its target in the holdings, the
    /// deadline passes (recorded as a skip) or the run stops.
    async fn poll_holders(
        &self,
        planned: &Aimed,
        wait: &HolderWait,
        mut aim: impl FnMut(&[kit::Holding]) -> Option<Aimed>,
    ) -> Aim {
        loop {
            let holdings = self.holders.as_ref().map(|h| h.snapshot()).unwrap_or_default();
            if let Some(aimed) = aim(&holdings) {
                return Aim::At(aimed);
            }
            if Instant::now() >= wait.deadline {
                self.skipped(planned);
                return Aim::Skipped;
            }
            tokio::select! {
                biased;
                _ = wait.stop.cancelled() => return Aim::Stopped,
                _ = tokio::time::sleep(HOLDER_POLL) => {}
            }
        }
    }

    /// Records that `planned` was not injected for want of a holder.
    fn skipped(&self, planned: &Aimed) {
        let info = FaultInfo { skipped: Some(NOBODY_HELD.into()), ..planned.describe() };
        self.report(Phase::Done, FaultEvent::Skipped { fault: planned.name().to_string() }, &info);
    }

    /// Puts `fault` in place (no checks).
    async fn inject(&self, fault: &Fault) -> Result<(), Error> {
        match fault {
            Fault::ClientPause { .. } => {}
            Fault::Partition { grudge, .. } => {
                for (a, drops) in grudge {
                    let node = self.node(a)?;
                    self.own_chains(node).await?;
                    for b in drops {
                        let ip = ip(self.node(b)?).await?;
                        self.drop_peer(node, &ip).await?;
                    }
                }
            }
            Fault::ClientPartition { nodes } => {
                for name in nodes {
                    let node = self.node(name)?;
                    let source = node.client_source().await.map_err(node_error)?;
                    self.own_chains(node).await?;
                    self.drop_peer(node, &source).await?;
                }
            }
            Fault::Kill { nodes } => {
                for name in nodes {
                    let node = self.node(name)?;
                    node.kill().await.map_err(node_error)?;
                }
            }
            Fault::Pause { nodes } => {
                for name in nodes {
                    let node = self.node(name)?;
                    node.pause().await.map_err(node_error)?;
                }
            }
            Fault::Loss { nodes, probability } => {
                for name in nodes {
                    let p = format!("{probability}");
                    let node = self.node(name)?;
                    self.own_chains(node).await?;
                    let argv = [
                        "iptables",
                        "-A",
                        CHAIN_IN,
                        "-m",
                        "statistic",
                        "--mode",
                        "random",
                        "--probability",
                        &p,
                        "-j",
                        "DROP",
                    ];
                    self.run(node, &argv).await?;
                }
            }
            Fault::Clock { nodes, offset_ms, strobe_ms, period_ms } => {
                let line = format!("{} {} {}", offset_ms * 1_000_000, strobe_ms * 1_000_000, period_ms * 1_000_000);
                // All at once: the clocks of a majority (a `holder`'s) move
                // together, before the lock they hold can be released.
                let writes = nodes.iter().map(|name| async {
                    self.run(self.node(name)?, &["sh", "-c", WRITE_CLOCK, &line]).await.map(|_| ())
                });
                futures_util::future::join_all(writes).await.into_iter().collect::<Result<(), Error>>()?;
            }
            Fault::Netem { nodes, delay_ms, jitter_ms, loss } => {
                let (delay, jitter, loss) =
                    (format!("{delay_ms}ms"), format!("{jitter_ms}ms"), format!("{}%", loss * 100.0));
                for name in nodes {
                    let node = self.node(name)?;
                    let device = node.device().await.map_err(node_error)?;
                    let argv = [
                        "tc", "qdisc", "replace", "dev", &device, "root", "netem", "delay", &delay, &jitter, "loss",
                        &loss,
                    ];
                    let out = exec(node, &argv).await?;
                    if !out.success() {
                        return Err(Error::Inject {
                            fault: FaultKind::Netem,
                            node: name.clone(),
                            why: netem_unavailable(out.stderr.trim()),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks `fault` took effect: an error naming what did not.
    async fn verify(&self, fault: &Fault, before: &BTreeMap<String, Duration>) -> Result<(), Error> {
        let not_in_effect =
            |node: &str, why: String| Error::Verify { fault: fault.kind(), node: Some(node.to_string()), why };
        match fault {
            Fault::ClientPause { .. } => {}
            Fault::Partition { grudge, .. } => {
                for (a, b, reached) in self.probe_pairs(grudge).await {
                    if reached? {
                        return Err(not_in_effect(a, format!("{a} still reaches {b}")));
                    }
                }
            }
            Fault::ClientPartition { nodes } => {
                for name in nodes {
                    if self.client_connect(self.node(name)?).await?.is_some() {
                        return Err(not_in_effect(name, format!("the harness still reaches {name}")));
                    }
                }
            }
            Fault::Kill { nodes } | Fault::Pause { nodes } => {
                let want = if matches!(fault, Fault::Kill { .. }) { NodeState::Stopped } else { NodeState::Paused };
                for name in nodes {
                    let node = self.node(name)?;
                    let state = node.state().await.map_err(node_error)?;
                    if state != want {
                        return Err(not_in_effect(name, format!("{name} is {state:?}")));
                    }
                }
            }
            Fault::Loss { nodes, .. } => {
                for name in nodes {
                    let rules = self.run(self.node(name)?, &["iptables", "-S", CHAIN_IN]).await?;
                    if !rules.contains("statistic") {
                        return Err(not_in_effect(name, format!("no loss rule installed in {name}: {rules}")));
                    }
                }
            }
            Fault::Clock { nodes, offset_ms, strobe_ms, .. } => {
                let expected = [*offset_ms as f64 / 1e3, (*offset_ms + *strobe_ms) as f64 / 1e3];
                for name in nodes {
                    let moved = self.server_time(self.node(name)?).await? - unix_now();
                    if !expected.iter().any(|e| (moved - e).abs() <= CLOCK_SLACK) {
                        return Err(not_in_effect(
                            name,
                            format!(
                                "{name}'s server clock is {moved:+.3} s from ours, expected {:+.3} s",
                                expected[usize::from(*strobe_ms != 0)]
                            ),
                        ));
                    }
                }
            }
            Fault::Netem { nodes, delay_ms, .. } => {
                for name in nodes {
                    let before = before.get(name).copied().unwrap_or_default();
                    let after = self.latency(self.node(name)?).await?;
                    let wanted = before + Duration::from_millis(delay_ms / 2);
                    if *delay_ms > 0 && after.is_none_or(|a| a < wanted) {
                        return Err(not_in_effect(
                            name,
                            format!("connecting to {name} took {after:?}, {before:?} before a {delay_ms} ms delay"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Drops everything from and to `ip` inside `node` (its chains made).
    async fn drop_peer(&self, node: &Node, ip: &str) -> Result<(), Error> {
        self.run(node, &["iptables", "-A", CHAIN_IN, "-s", ip, "-j", "DROP"]).await?;
        self.run(node, &["iptables", "-A", CHAIN_OUT, "-d", ip, "-j", "DROP"]).await?;
        Ok(())
    }

    /// fencepost's chains on `node`, created if missing.
    async fn own_chains(&self, node: &Node) -> Result<(), Error> {
        let keep = node.control_port().map(|p| p.to_string()).unwrap_or_default();
        self.run(node, &["sh", "-c", OWN_CHAINS, &keep]).await.map(|_| ())
    }

    /// Probes every cut pair of `grudge` at once (each blocked probe waits
    /// out its one-second timeout): (from, to, reached?).
    async fn probe_pairs<'a>(&self, grudge: &'a Grudge) -> Vec<(&'a String, &'a String, Result<bool, Error>)> {
        let pairs: Vec<(&String, &String)> = grudge.iter().flat_map(|(a, d)| d.iter().map(move |b| (a, b))).collect();
        let probes = pairs.iter().map(|(a, b)| async move { self.reaches(self.node(a)?, self.node(b)?).await });
        let results = futures_util::future::join_all(probes).await;
        pairs.into_iter().zip(results).map(|((a, b), r)| (a, b, r)).collect()
    }

    /// The node the system names as its leader (`/fencepost/role` prints
    /// `leader`, or `primary` on a replicated system), waiting up to 10 s
    /// for an election in progress to settle.
    async fn leader(&self, spec: FaultSpec) -> Result<String, Error> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut leaders = Vec::new();
            for node in &self.nodes {
                let out = exec(node, &[&node.tool("role")]).await?;
                if out.code == 126 || out.code == 127 {
                    return Err(Error::Refused { fault: spec, why: no_leader(spec.target) });
                }
                if out.success() && matches!(out.stdout.trim(), "leader" | "primary") {
                    leaders.push(node.name().to_string());
                }
            }
            if leaders.len() == 1 {
                return Ok(leaders.remove(0));
            }
            if Instant::now() >= deadline {
                return Err(Error::Verify {
                    fault: spec.kind,
                    node: None,
                    why: format!("no single {} after 10 s (found: {leaders:?})", spec.target),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Undoes `fault` (as returned by [`Nemesis::start`]), checks the nodes
    /// recovered, and reports `<name>-stop`.
    pub async fn stop(&self, fault: impl Into<Aimed>) -> Result<(), Error> {
        let aimed: Aimed = fault.into();
        let fault = &aimed.fault;
        self.report(Phase::Begin, FaultEvent::stop(fault.name()), &aimed.describe());
        let not_healed =
            |node: &str, why: String| Error::Heal { fault: fault.kind(), node: Some(node.to_string()), why };
        if let Fault::ClientPause { .. } = fault {
            let stall = self.stall.as_ref().ok_or_else(no_clients)?;
            stall.release();
            let deadline = Instant::now() + Duration::from_secs(10);
            while !stall.stalled().is_empty() {
                if Instant::now() >= deadline {
                    return Err(Error::Heal {
                        fault: FaultKind::ClientPause,
                        node: None,
                        why: format!("paused clients did not resume: {:?}", stall.stalled()),
                    });
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        for name in fault.targets() {
            self.heal_node(self.node(&name)?).await?;
        }
        match fault {
            Fault::Partition { grudge, .. } => {
                for (a, b, reached) in self.probe_pairs(grudge).await {
                    if !reached? {
                        return Err(not_healed(a, format!("{a} still cannot reach {b}")));
                    }
                }
            }
            Fault::ClientPartition { nodes } => {
                for name in nodes {
                    if self.client_connect(self.node(name)?).await?.is_none() {
                        return Err(not_healed(name, format!("the harness still cannot reach {name}")));
                    }
                }
            }
            Fault::Clock { nodes, .. } => {
                for name in nodes {
                    let off = self.server_time(self.node(name)?).await? - unix_now();
                    if off.abs() > CLOCK_SLACK {
                        return Err(not_healed(name, format!("{name}'s server is still {off:+.3} s off")));
                    }
                }
            }
            _ => {}
        }
        self.report(Phase::Done, FaultEvent::stop(fault.name()), &aimed.describe());
        Ok(())
    }

    /// Brings one node back whatever was done to it: resumed, started, its
    /// iptables rules flushed, its qdisc removed, its clock reset; then
    /// waits until its server listens.
    async fn heal_node(&self, node: &Node) -> Result<(), Error> {
        match node.state().await.map_err(node_error)? {
            NodeState::Paused => node.unpause().await.map_err(node_error)?,
            NodeState::Stopped => node.start().await.map_err(node_error)?,
            NodeState::Running => {}
        }
        self.run(node, &["sh", "-c", DROP_CHAINS]).await?;
        // Deleting the root qdisc when there is none is an error we expect.
        let device = node.device().await.map_err(node_error)?;
        let _ = node.exec(&["tc", "qdisc", "del", "dev", &device, "root"], EXEC).await;
        let reset = format!("if [ -f {CLOCK_FILE} ]; then {WRITE_CLOCK}; fi");
        self.run(node, &["sh", "-c", &reset, "0 0 0"]).await?;
        let deadline = Instant::now() + RECOVER;
        let port = self.port.to_string();
        loop {
            let argv = ["timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", port.as_str()];
            if node.exec(&argv, EXEC).await.is_ok_and(|o| o.success()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Recover {
                    node: node.name().to_string(),
                    why: format!("does not listen on {} {:?} after healing", self.port, RECOVER),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// What any fault left behind: a paused or stopped node, an iptables
    /// rule, a qdisc, a moved clock, a stalled client. Empty when clean.
    pub async fn leftovers(&self) -> Result<Vec<String>, Error> {
        let mut left = Vec::new();
        for node in &self.nodes {
            let name = node.name();
            let state = node.state().await.map_err(node_error)?;
            if state != NodeState::Running {
                left.push(format!("{name} is {state:?}"));
                continue;
            }
            let rules = self.run(node, &["iptables", "-S"]).await?;
            for rule in rules.lines().filter(|l| l.contains("fencepost")) {
                left.push(format!("{name}: iptables {rule}"));
            }
            let device = node.device().await.map_err(node_error)?;
            let qdisc = self.run(node, &["tc", "qdisc", "show", "dev", &device]).await?;
            if qdisc.contains("netem") {
                left.push(format!("{name}: {}", qdisc.trim()));
            }
            let clock = exec(node, &["cat", CLOCK_FILE]).await?;
            if clock.success() && clock.stdout.split_whitespace().any(|n| n != "0") {
                left.push(format!("{name}: clock offset {}", clock.stdout.trim()));
            }
        }
        if let Some(stall) = &self.stall {
            if !stall.stalled().is_empty() {
                left.push(format!("stalled clients {:?}", stall.stalled()));
            }
        }
        Ok(left)
    }

    /// Heals every node and client (the final heal before a quiet period
    /// and final reads), then checks nothing was left behind.
    pub async fn heal_all(&self) -> Result<(), Error> {
        let info = FaultInfo { targets: self.node_names(), ..FaultInfo::default() };
        self.report(Phase::Begin, FaultEvent::HealAll, &info);
        if let Some(stall) = &self.stall {
            stall.release();
        }
        for node in &self.nodes {
            self.heal_node(node).await?;
        }
        let left = self.leftovers().await?;
        if !left.is_empty() {
            return Err(Error::Leftovers(left));
        }
        self.report(Phase::Done, FaultEvent::HealAll, &info);
        Ok(())
    }

    /// Does each step's fault and undoes it at once, without verifying or
    /// waiting: a dry run's backends record the commands. A leader or
    /// holder target is aimed at the first node, client pauses touch no node.
    pub async fn rehearse(&self, steps: &[Step]) -> Result<(), Error> {
        let first = self.node_names().into_iter().take(1).collect::<Vec<_>>();
        for step in steps {
            let planned = step.aimed();
            let fault = if planned.unresolved() {
                planned.fault.aimed_at(&first, &self.node_names())
            } else {
                planned.fault.clone()
            };
            if matches!(fault, Fault::ClientPause { .. }) {
                continue;
            }
            self.inject(&fault).await?;
            for name in fault.targets() {
                self.heal_node(self.node(&name)?).await?;
            }
        }
        // The run's final heal.
        for node in &self.nodes {
            self.heal_node(node).await?;
        }
        Ok(())
    }

    /// Plays `steps` from `t0`, then heals everything. Stops early (healing)
    /// when `stop` is cancelled. A step aimed at the holder waits for one
    /// (up to its `wait`) and is skipped, and recorded so, if nobody held a
    /// lock by then; it lasts its whole duration from when it began.
    pub async fn play(&self, steps: &[Step], t0: Instant, stop: &CancellationToken) -> Result<Played, Error> {
        let mut played = Played::default();
        let result = async {
            for step in steps {
                if !sleep_until(t0 + step.at, stop).await {
                    break;
                }
                let planned = step.aimed();
                let wait = HolderWait { deadline: Instant::now() + step.wait, seed: step.seed, stop: stop.clone() };
                let aimed = match &planned.fault {
                    Fault::ClientPause { .. } => match self.any_holder(&planned, &wait).await {
                        Aim::At(aimed) => aimed,
                        Aim::Skipped => {
                            played.skipped.push(step.spec);
                            continue;
                        }
                        Aim::Stopped => break,
                    },
                    _ => planned,
                };
                // The fault lasts what was asked from when injection began,
                // however long verifying it took (but not waiting for a holder).
                let asked = Instant::now();
                let (started, waited) = match self.begin(aimed, &wait).await? {
                    Begun::Started(started, waited) => (started, waited),
                    Begun::Skipped => {
                        played.skipped.push(step.spec);
                        continue;
                    }
                    Begun::Stopped => break,
                };
                played.injected.push(step.spec);
                let heal_at = asked + waited + step.duration;
                sleep_until(heal_at, stop).await;
                self.stop(&started).await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        let healed = self.heal_all().await;
        result.and(healed).map(|()| played)
    }
}

fn netem_unavailable(tc_error: &str) -> String {
    if tc_error.contains("qdisc kind is unknown") {
        format!("this kernel has no sch_netem (tc: {tc_error}), so delay faults cannot run here; packet loss can (--nemesis loss, through iptables)")
    } else {
        format!("tc failed: {tc_error}")
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Sleeps until `t` unless `stop` is cancelled first; false when stopped.
async fn sleep_until(t: Instant, stop: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep_until(t.into()) => !stop.is_cancelled(),
    }
}

/// Runs `argv` in `node`; only the engine failing is an error here.
async fn exec(node: &Node, argv: &[&str]) -> Result<node::ExecOutput, Error> {
    node.exec(argv, EXEC).await.map_err(node_error)
}

async fn ip(node: &Node) -> Result<String, Error> {
    node.ip().await.map_err(node_error)
}

fn node_error(source: node::Error) -> Error {
    Error::Node { source }
}

fn no_clients() -> Error {
    Error::Refused { fault: FaultSpec::plain(FaultKind::ClientPause), why: "no workload clients to pause".into() }
}
