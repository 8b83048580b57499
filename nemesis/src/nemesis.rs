//! Doing and undoing faults on a cluster's nodes and clients. Every start
//! checks the fault took effect and every stop checks the nodes recovered;
//! either is an error when it did not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::{CancellationToken, Holders, Rng, Stall};
use node::{Node, NodeState};
use ops::faults::{FaultEvent, FaultInfo};

use crate::fault::{aim_at_holder, no_leader, size_refusal, Aimed, FaultKind, FaultSpec, Grudge, Target};
use crate::kinds::UNDO;
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
    /// The injected faults as they happened: each step with the moment it
    /// began (from the run's start) and the fault as aimed, with its value
    /// (what it acted on, and for `holder` whose grant chose it). A replay
    /// plays these again ([`Step::replayed`]).
    pub happened: Vec<(Step, FaultInfo)>,
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
    /// Started (and verified), after waiting this long for a holder (or,
    /// for a fault that catches one, for the catch).
    Started(Aimed, Duration),
    Skipped,
    Stopped,
}

pub(crate) const EXEC: Duration = Duration::from_secs(10);
const RECOVER: Duration = Duration::from_secs(90);
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

    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The workload's stall, which client pauses arm.
    pub(crate) fn stall(&self) -> Option<&Arc<Stall>> {
        self.stall.as_ref()
    }

    pub(crate) fn node(&self, name: &str) -> Result<&Node, Error> {
        self.nodes.iter().find(|n| n.name() == name).ok_or_else(|| Error::NoNode(name.to_string()))
    }

    pub(crate) fn report(&self, phase: Phase, event: FaultEvent, info: &FaultInfo) {
        (self.report)(phase, &event, info)
    }

    pub(crate) async fn run(&self, node: &Node, argv: &[&str]) -> Result<String, Error> {
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
            let needs_nodes = !spec.kind.on_clients();
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
            if let Some(why) = spec.kind.check(self, first).await? {
                return refused(why);
            }
        }
        if specs.iter().any(|s| s.kind.on_clients()) && self.stall.is_none() {
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
    pub(crate) async fn latency(&self, node: &Node) -> Result<Option<Duration>, Error> {
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
        // A fault that begins when something else happens (a client pause,
        // when a holder walks into the stall) has recorded its own start.
        let mut begun = false;
        let mut waited = Duration::ZERO;
        let started = if for_holder {
            fault.clone()
        } else if aimed.unresolved() {
            let leader = self.leader(aimed.spec()).await?;
            fault.aimed_at(&[leader], &self.node_names())
        } else {
            // The fault lasts from when it caught somebody, not from when it
            // started waiting: the holder paused lives its whole pause.
            let t = Instant::now();
            // `start` gives no wait: then up to the pause's own length.
            let window = wait.deadline.saturating_duration_since(t);
            let window = if window.is_zero() { Duration::MAX } else { window };
            match fault.catch(self, &aimed.describe(), window).await? {
                Some(caught) => {
                    begun = true;
                    waited = t.elapsed();
                    caught
                }
                None => fault.clone(),
            }
        };
        let mut started = Aimed { fault: started, target, holder };
        // Refusals and baselines come before anything is touched: on every
        // node the holder could lead to, when it is not known yet.
        let baseline = if for_holder { self.node_names() } else { started.fault.targets() };
        let before = started.fault.baseline(self, &baseline).await?;
        if for_holder {
            let t = Instant::now();
            match self.holder(&started, wait).await {
                Aim::At(aimed) => started = aimed,
                Aim::Skipped => return Ok(Begun::Skipped),
                Aim::Stopped => return Ok(Begun::Stopped),
            }
            waited = t.elapsed();
        }
        if !begun {
            self.report(Phase::Begin, FaultEvent::start(started.name()), &started.describe());
        }
        started.fault.inject(self).await?;
        started.fault.verify(self, &before).await?;
        self.report(Phase::Done, FaultEvent::start(started.name()), &started.describe());
        Ok(Begun::Started(started, waited))
    }

    /// `planned` aimed at whoever holds a lock, polling the registry until
    /// `wait.deadline`; reported as skipped when nobody did by then.
    async fn holder(&self, planned: &Aimed, wait: &HolderWait) -> Aim {
        let mut rng = Rng::new(wait.seed);
        let names = self.node_names();
        // Holdings from before the wait, which a fresh-holder kind passes over.
        let old: Vec<(u64, String)> = if planned.fault.kind().fresh_holder() {
            let now = self.holders.as_ref().map(|h| h.snapshot()).unwrap_or_default();
            now.into_iter().map(|h| (h.process, h.key)).collect()
        } else {
            Vec::new()
        };
        self.poll_holders(planned, wait, |holdings| {
            let new: Vec<kit::Holding> =
                holdings.iter().filter(|h| !old.contains(&(h.process, h.key.clone()))).cloned().collect();
            let (holding, nodes) = aim_at_holder(&new, &names, &mut rng)?;
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

    /// Probes every cut pair of `grudge` at once (each blocked probe waits
    /// out its one-second timeout): (from, to, reached?).
    pub(crate) async fn probe_pairs<'a>(
        &self,
        grudge: &'a Grudge,
    ) -> Vec<(&'a String, &'a String, Result<bool, Error>)> {
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
        fault.undo(self).await?;
        self.heal_nodes(&self.named(&fault.targets())?).await?;
        fault.verify_healed(self).await?;
        self.report(Phase::Done, FaultEvent::stop(fault.name()), &aimed.describe());
        Ok(())
    }

    /// Brings nodes back whatever was done to them: resumed, started, their
    /// iptables rules flushed, their qdiscs removed, their clocks reset;
    /// then waits until each server listens. Every node is woken before any
    /// is waited for: a clustered server's start waits for its peers to be
    /// up (`wait-for-peers`), so nodes started one by one after a majority
    /// went down would each wait for the next.
    async fn heal_nodes(&self, nodes: &[&Node]) -> Result<(), Error> {
        for node in nodes {
            match node.state().await.map_err(node_error)? {
                NodeState::Paused => node.unpause().await.map_err(node_error)?,
                NodeState::Stopped => node.start().await.map_err(node_error)?,
                NodeState::Running => {}
            }
        }
        for node in nodes {
            for undo in UNDO {
                (undo.heal)(self, node).await?;
            }
        }
        for node in nodes {
            if !self.listens(node, RECOVER, false).await? {
                return Err(Error::Recover {
                    node: node.name().to_string(),
                    why: format!("does not listen on {} {:?} after healing", self.port, RECOVER),
                });
            }
        }
        Ok(())
    }

    /// The nodes named `names`.
    fn named(&self, names: &[String]) -> Result<Vec<&Node>, Error> {
        names.iter().map(|n| self.node(n)).collect()
    }

    /// Whether `node`'s server listens on the client port within `within`;
    /// `false` at once when its container stopped (the server exited).
    pub(crate) async fn listens_within(&self, node: &Node, within: Duration) -> Result<bool, Error> {
        self.listens(node, within, true).await
    }

    /// Polls until `node`'s server listens on the client port (`true`),
    /// `within` passes, or, with `give_up_stopped`, its container stops.
    async fn listens(&self, node: &Node, within: Duration, give_up_stopped: bool) -> Result<bool, Error> {
        let deadline = Instant::now() + within;
        let port = self.port.to_string();
        loop {
            let argv = ["timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", port.as_str()];
            if node.exec(&argv, EXEC).await.is_ok_and(|o| o.success()) {
                return Ok(true);
            }
            if Instant::now() >= deadline
                || (give_up_stopped && node.state().await.map_err(node_error)? == NodeState::Stopped)
            {
                return Ok(false);
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
            for undo in UNDO {
                left.extend((undo.leftovers)(self, node).await?);
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
        self.heal_nodes(&self.nodes.iter().collect::<Vec<_>>()).await?;
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
            if fault.kind().on_clients() {
                continue;
            }
            fault.inject(self).await?;
            self.heal_nodes(&self.named(&fault.targets())?).await?;
        }
        // The run's final heal.
        self.heal_nodes(&self.nodes.iter().collect::<Vec<_>>()).await?;
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
                    fault if fault.kind().on_clients() => match self.any_holder(&planned, &wait).await {
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
                // A fault that catches its holder is recorded from its
                // arming, so that a replay arms it when the original did.
                let began = if step.spec.kind.on_clients() { asked } else { asked + waited };
                let began = began.saturating_duration_since(t0);
                let info = started.describe();
                played.happened.push((Step { at: began, fault: started.fault.clone(), ..step.clone() }, info));
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

/// Sleeps until `t` unless `stop` is cancelled first; false when stopped.
async fn sleep_until(t: Instant, stop: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep_until(t.into()) => !stop.is_cancelled(),
    }
}

/// Runs `argv` in `node`; only the engine failing is an error here.
pub(crate) async fn exec(node: &Node, argv: &[&str]) -> Result<node::ExecOutput, Error> {
    node.exec(argv, EXEC).await.map_err(node_error)
}

pub(crate) async fn ip(node: &Node) -> Result<String, Error> {
    node.ip().await.map_err(node_error)
}

pub(crate) fn node_error(source: node::Error) -> Error {
    Error::Node { source }
}

pub(crate) fn no_clients() -> Error {
    Error::Refused { fault: FaultSpec::plain(FaultKind::ClientPause), why: "no workload clients to pause".into() }
}
