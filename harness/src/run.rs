//! One real test end to end: [`prepare`] → [`execute`] → [`finish`].
//!
//! A cancelled run (Ctrl-C, or the caller's `stop`) stops the workload
//! (each client finishes the cycle it is in, so held locks are released),
//! heals every fault, and is still checked, stored and indexed; the
//! containers are removed either way.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use checker::evidence::{ClusterEvent, Evidence};
use checker::faults::{FaultEvent, Step};
use checker::lease::LeaseOptions;
use checker::sufficiency::Sufficiency;
use checker::Verdict;
use docker::Engine;
use results::{CounterEnd, Recorded, RunResults, Store, TestSpec, WorkloadSummary};
use workloads::{CancellationToken, CheckerId, FencedResource, Recorder, RunOptions, Workload};

use crate::checks::{analyze, checks_for, Analyzed};
use crate::cluster::Started;
use crate::{io, Error};

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct RunArgs {
    pub system: String,
    pub workload: Workload,
    pub options: RunOptions,
    pub store: PathBuf,
    /// Faults to mix, each a kind and its target (empty: no faults).
    pub nemesis: Vec<nemesis::FaultSpec>,
    /// Time between faults, and how long each lasts (`None`: fit to the run).
    pub nemesis_interval: Option<Duration>,
    /// Fault-free time at the end, after the final heal.
    pub quiet: Duration,
    pub fault_options: nemesis::FaultOptions,
    /// `host:port` of each member of an existing cluster to test instead of
    /// starting one (empty: start one in containers).
    pub endpoints: Vec<String>,
    /// The lease arithmetic's clock-rate bound, for the checkers.
    pub leases: LeaseOptions,
    /// The scenario this run is made for (`fencepost scenarios run`).
    pub scenario: Option<results::scenario::ScenarioTag>,
    /// The margin study this run is a probe of.
    pub study: Option<results::StudyTag>,
    /// Nodes over SSH from a node file, instead of containers.
    pub ssh: Option<SshArgs>,
    /// Play a stored run's faults as they happened instead of a plan.
    pub replay: Option<crate::replay::Replay>,
}

/// A run on SSH hosts (`run --nodes FILE`).
#[derive(Clone, Debug)]
pub struct SshArgs {
    pub file: PathBuf,
    pub connect: ssh::Connect,
    /// Install the system from the distribution's packages first.
    pub install: bool,
    /// Remove what `install` added at the end.
    pub teardown: bool,
}

/// What happens while a run goes, for the caller to show.
pub enum Event<'a> {
    /// Our own cluster is up.
    ClusterReady { after: Duration, run: &'a str },
    /// An existing cluster answered on every endpoint.
    ExternalCluster,
    /// Something the user should know about how the run differs from the ask.
    Note(&'a str),
    /// A planned fault this run's shape keeps from showing its anomaly
    /// (`KIND[:TARGET]: why, and what would let it`).
    BlindSpot(&'a str),
    /// Something left behind or not undone (containers that would not go
    /// away, a host the harness could not restore): the run is still kept.
    Warning(&'a str),
    /// The workload started; `live` tells how it is going.
    Started(Live),
}

/// The run as it goes: completions so far and the faults in place.
#[derive(Clone)]
pub struct Live {
    recorder: Recorder,
    active: Arc<Mutex<Vec<String>>>,
}

impl Live {
    pub fn counts(&self) -> workloads::Counts {
        self.recorder.counts()
    }

    /// The faults in effect now, by name.
    pub fn active_faults(&self) -> Vec<String> {
        self.active.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

/// A run decided, nothing touched yet.
pub struct Prepared {
    pub args: RunArgs,
    pub system: &'static dyn workloads::System,
    pub plan: FaultPlan,
}

/// The nemesis's schedule for a run, decided before anything starts.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    pub steps: Vec<nemesis::Step>,
    pub interval: Duration,
    /// What the user should know about how the plan differs from the ask.
    pub notes: Vec<String>,
    /// What a planned fault cannot show with this run's lease and holds,
    /// and what would let it, as `KIND[:TARGET]: why`.
    pub blind_spots: Vec<String>,
}

/// Everything that depends only on the system and the options, decided
/// before any image, container or store is touched.
pub fn prepare(mut args: RunArgs) -> Result<Prepared, Error> {
    let system = workloads::systems::lookup(&args.system)?;
    args.fault_options.data_file = system.layout().data_file.map(str::to_string);
    let external = !args.endpoints.is_empty();
    let node_count = match &args.ssh {
        Some(ssh_args) => {
            if ssh_args.install && !ssh::INSTALLABLE.contains(&system.layout().name) {
                return Err(Error::Refused(format!(
                    "--install knows {} only, not {}",
                    ssh::INSTALLABLE.join(", "),
                    system.layout().name
                )));
            }
            let file = ssh::NodeFile::load(&ssh_args.file)?;
            if file.system != system.layout().name {
                return Err(Error::Refused(format!(
                    "{}: its nodes run {}, not {}",
                    ssh_args.file.display(),
                    file.system,
                    system.layout().name
                )));
            }
            file.nodes.len()
        }
        None if external => args.endpoints.len(),
        None => system.layout().nodes,
    };
    let capabilities = nemesis::Capabilities {
        nodes: node_count,
        names_leader: system.layout().names_leader,
        clock_refusal: system.layout().clock_refusal,
        durability_refusal: if args.ssh.is_some() {
            Some(
                "over SSH the node file's own command starts the server, not fencepost's image entrypoint, which \
                 drops what a power cut loses before the server starts again"
                    .into(),
            )
        } else {
            system.layout().durability_refusal.map(str::to_string)
        },
        corrupt_refusal: if args.ssh.is_some() {
            Some(
                "over SSH the node file's own command starts the server, not fencepost's image entrypoint, which \
                 corrupts the file while the server is down"
                    .into(),
            )
        } else if system.layout().data_file.is_none() {
            Some(format!("{} keeps no data file (no persistence) to corrupt", system.layout().name))
        } else {
            None
        },
        member_refusal: if args.ssh.is_some() {
            Some(
                "over SSH the node file's own command starts the server, not fencepost's image start script, which \
                 joins a removed member back with an empty data dir"
                    .into(),
            )
        } else {
            system.layout().member_refusal.map(str::to_string)
        },
        touchable: !external,
    };
    nemesis::refuse_up_front(&args.nemesis, &capabilities).map_err(|e| Error::Refused(format!("--nemesis {e}")))?;
    let names: Vec<String> = (1..=node_count).map(|i| format!("n{i}")).collect();
    let mut plan = FaultPlan::new(&args, &names)?;
    // A system that cannot hold a lock for --ttl says so before it starts.
    plan.notes.extend(system.ttl_note(args.options.ttl));
    plan.blind_spots = blind_spots(&args, system, node_count, &plan);
    Ok(Prepared { args, system, plan })
}

/// What each planned fault cannot show given the run's lease and holds
/// ([`nemesis::FaultKind::blind_spot`]), named by its `--nemesis` spelling:
/// a run that could not have failed must not read as a pass unremarked.
fn blind_spots(args: &RunArgs, system: &dyn workloads::System, nodes: usize, plan: &FaultPlan) -> Vec<String> {
    let mut seen = Vec::new();
    let mut notes = Vec::new();
    for step in &plan.steps {
        if seen.contains(&step.spec) {
            continue;
        }
        seen.push(step.spec);
        let lease = system.lease(args.options.ttl);
        let exposure = nemesis::Exposure {
            ttl: lease.map(|l| l.ttl),
            renewal: lease.and_then(|l| l.renewal),
            hold_max: args.options.hold.1,
            nodes,
            length: step.duration,
        };
        notes.extend(step.spec.kind.blind_spot(&exposure, &show).map(|why| format!("{}: {why}", step.spec)));
    }
    notes
}

/// A run whose workload has ended and whose cluster is gone: its history
/// is on disk, not yet judged.
pub struct Executed {
    prepared: Prepared,
    store: Store,
    pub id: String,
    pub dir: PathBuf,
    test: TestSpec,
    pub summary: WorkloadSummary,
    /// The faults injected and skipped, or why the nemesis failed.
    pub played: Result<nemesis::Played, nemesis::Error>,
    pub interrupted: bool,
    /// Events recorded in the history.
    pub recorded_ops: u64,
    /// The history's span, first event to last, ns.
    pub recorded_ns: u64,
    cluster_events: Vec<ClusterEvent>,
    /// Node log lines saying a server crashed.
    pub node_crashes: Vec<results::NodeCrash>,
    /// What went wrong after the history was safe (a cluster that would not
    /// go away); each was also told as an [`Event::Warning`].
    pub warnings: Vec<String>,
}

/// Starts the cluster, runs the workload beside the nemesis's plan, heals,
/// waits the quiet period, takes the final reads, and keeps the nodes'
/// logs. `stop` ends the workload early (Ctrl-C); the run is still kept.
/// Whatever happens after the cluster is up, one [`Undo`] takes it down.
pub async fn execute(
    prepared: Prepared,
    stop: CancellationToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Executed, Error> {
    // Open the store first: a run that cannot be kept should not start.
    let store = Store::open(&prepared.args.store).await?;
    let run_id = docker::new_run_id();
    let (undo, nodes) = bring_up(&prepared, &run_id, on_event).await?;
    let recorded = record(&prepared, &store, &run_id, &undo, &nodes, &stop, on_event).await;
    let teardown = recorded.is_ok() && prepared.args.ssh.as_ref().is_some_and(|a| a.teardown);
    // A cluster that will not go away must not cost the recorded run: it
    // is still checked and kept, and the caller is told what is left.
    let warnings = undo.undo(prepared.system, teardown, on_event).await;
    for w in &warnings {
        on_event(Event::Warning(w));
    }
    let recorded = recorded?;
    Ok(Executed {
        interrupted: stop.is_cancelled(),
        prepared,
        store,
        id: run_id,
        dir: recorded.dir,
        test: recorded.test,
        summary: recorded.summary,
        played: recorded.played,
        recorded_ops: recorded.ops,
        recorded_ns: recorded.span_ns,
        cluster_events: recorded.cluster_events,
        node_crashes: recorded.node_crashes,
        warnings,
    })
}

/// What a run put in place and must take back on every path: its own
/// containers, or the node tools (and clock shim) on SSH hosts. An
/// existing cluster reached as a client holds neither.
struct Undo {
    started: Option<Started>,
    hosts: Option<ssh::Hosts>,
    run_id: String,
}

impl Undo {
    /// Whether the nodes are ours to read logs from.
    fn owns_nodes(&self) -> bool {
        self.started.is_some() || self.hosts.is_some()
    }

    /// Removes the containers, undoes what the SSH hosts carry, and with
    /// `teardown` removes what `--install` added; returns what is left.
    async fn undo(
        mut self,
        system: &dyn workloads::System,
        teardown: bool,
        on_event: &(dyn Fn(Event) + Sync),
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(started) = self.started.take() {
            // Drop would not retry a removal that failed: say so.
            if let Err(e) = started.cluster.remove().await {
                warnings
                    .push(format!("removing run {}'s containers: {e} (`fencepost cleanup` removes them)", self.run_id));
            }
        }
        if let Some(hosts) = self.hosts.take() {
            warnings.extend(hosts.finish().await.into_iter().map(|w| format!("could not undo on {w}")));
            if teardown {
                let left = hosts.teardown(system.layout().name).await;
                if left.is_empty() {
                    on_event(Event::Note("removed what --install added (packages, their users, fencepost's files)"));
                }
                warnings.extend(left);
            }
        }
        warnings
    }
}

/// Dropped without [`Undo::undo`] (the caller dropped the run's future, or
/// a panic unwinds through it): the containers go with `Cluster`'s own
/// drop, and the SSH hosts are undone on the runtime, if one still runs.
impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(hosts) = self.hosts.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    hosts.finish().await;
                });
            }
        }
    }
}

/// Our own cluster in containers, hosts over SSH, or the members of an
/// existing one reached as a client only; the guard that takes them back.
async fn bring_up(
    prepared: &Prepared,
    run_id: &str,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<(Undo, Vec<node::Node>), Error> {
    let (args, system) = (&prepared.args, prepared.system);
    let mut undo = Undo { started: None, hosts: None, run_id: run_id.to_string() };
    let nodes = if let Some(ssh_args) = &args.ssh {
        let t0 = Instant::now();
        let (hosts, nodes) = ssh_cluster(system, ssh_args, &args.nemesis).await?;
        undo.hosts = Some(hosts);
        if ssh_args.install {
            let names: Vec<&str> = nodes.iter().map(|n| n.name()).collect();
            let note =
                format!("installed {} on {} from the distribution's packages", system.layout().name, names.join(", "));
            on_event(Event::Note(&note));
        }
        on_event(Event::ClusterReady { after: t0.elapsed(), run: run_id });
        nodes
    } else if !args.endpoints.is_empty() {
        let nodes = external_nodes(system, &args.endpoints).await?;
        on_event(Event::ExternalCluster);
        nodes
    } else {
        let engine = Engine::connect().await?;
        let started = crate::cluster::start_cluster(&engine, system, run_id, Duration::from_secs(120)).await?;
        on_event(Event::ClusterReady { after: started.ready_after, run: run_id });
        let nodes = started.cluster.nodes().to_vec();
        undo.started = Some(started);
        nodes
    };
    Ok((undo, nodes))
}

/// What [`record`] leaves: the run's folder with its history and logs.
struct Ran {
    dir: PathBuf,
    test: TestSpec,
    summary: WorkloadSummary,
    played: Result<nemesis::Played, nemesis::Error>,
    ops: u64,
    span_ns: u64,
    cluster_events: Vec<ClusterEvent>,
    node_crashes: Vec<results::NodeCrash>,
}

/// The run's folder and `test.json`, the nemesis checked against the live
/// nodes, the workload beside the fault plan, the final reads, the nodes'
/// logs. A refusal before the workload starts leaves no folder.
async fn record(
    prepared: &Prepared,
    store: &Store,
    run_id: &str,
    undo: &Undo,
    nodes: &[node::Node],
    stop: &CancellationToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Ran, Error> {
    let (args, system) = (&prepared.args, prepared.system);
    let ssh_hosts = undo.hosts.as_ref().map(|h| h.describe()).unwrap_or_default();
    let image = undo.started.as_ref().map(|s| s.image.tag.clone());
    let test = test_spec(prepared, run_id, unix_ms(), image, nodes, ssh_hosts);
    let (dir, history_path, recorder) = run_files(store, run_id, &test)?;
    // The history's time 0 on the wall clock, to place node log lines on it.
    let history_epoch_ms = unix_ms();
    let mut options = args.options.clone();
    options.workload = args.workload;
    let active: Arc<Mutex<Vec<String>>> = Arc::default();
    // Against a cluster reached only as a client, the nemesis acts on
    // clients only.
    let touchable = if args.endpoints.is_empty() { nodes.to_vec() } else { Vec::new() };
    let faults = nemesis::Nemesis::new(touchable, system.layout().client_port(), report_faults(&recorder, &active))
        .with_stall(options.stall.clone())
        .with_holders(options.holders.clone());
    // What only a live node can tell (netem needs the kernel's sch_netem).
    if let Err(e) = faults.check(&args.nemesis).await {
        drop(recorder);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(match e {
            nemesis::Error::Refused { .. } => Error::Refused(format!("--nemesis {e}")),
            e => Error::Nemesis(e),
        });
    }
    // A client program that cannot start or answer its init would leave an
    // empty history: it is tried once first, and the run refused with its
    // words (its stderr's last lines).
    if let Some(program) = &options.client.external {
        let seat = workloads::systems::Seat { nodes, process: 0, slot: 0, options: &options.client };
        let layout = system.layout();
        let tried =
            workloads::external::ExternalClient::connect(seat, program, layout.name, layout.client_port()).await;
        if let Err(e) = tried {
            drop(recorder);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(Error::Refused(e.to_string()));
        }
    }
    for note in &prepared.plan.notes {
        on_event(Event::Note(note));
    }
    for blind in &prepared.plan.blind_spots {
        on_event(Event::BlindSpot(blind));
    }
    let resource = Arc::new(FencedResource::new(args.workload.enforces_fencing()));
    let workload = workloads::run(system, nodes.to_vec(), options, recorder.clone(), resource.clone(), stop.clone());
    on_event(Event::Started(Live { recorder: recorder.clone(), active }));
    let (summary, played) = beside(workload, &faults, &prepared.plan.steps).await;
    // Final reads, after the heal and the quiet period: the workload's own.
    args.workload.final_reads(&resource, &recorder);
    let recorded = recorder.finish().map_err(io("writing", &history_path))?;
    // After the history is safe: a nemesis that failed part-way leaves
    // none, and such a run is refused a replay with that reason.
    if let Ok(played) = &played {
        results::write_json(&dir.join("schedule.json"), &schedule(played))?;
    }
    let (cluster_events, node_crashes) = if undo.owns_nodes() {
        keep_logs(system, nodes, &dir, history_epoch_ms).await
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Ran {
        dir,
        test,
        summary: workload_summary(&summary),
        played,
        ops: recorded.ops,
        span_ns: recorded.end_ns.saturating_sub(recorded.start_ns),
        cluster_events,
        node_crashes,
    })
}

/// The faults as they happened, for `schedule.json`.
fn schedule(played: &nemesis::Played) -> results::replay::Schedule {
    let ms = |d: Duration| d.as_millis() as u64;
    let faults = played.happened.iter().map(|(step, info)| results::replay::ScheduledFault {
        fault: step.spec.to_string(),
        at_ms: ms(step.at),
        duration_ms: ms(step.duration),
        wait_ms: ms(step.wait),
        seed: step.seed,
        value: info.clone(),
    });
    results::replay::Schedule { faults: faults.collect() }
}

/// The run's folder, its `test.json`, and the recorder of its history.
fn run_files(store: &Store, run_id: &str, test: &TestSpec) -> Result<(PathBuf, PathBuf, Recorder), Error> {
    let dir = store.run_dir(run_id)?;
    std::fs::create_dir_all(dir.join("nodes")).map_err(io("creating", &dir))?;
    results::write_json(&dir.join("test.json"), test)?;
    let history_path = dir.join("history.jsonl");
    let recorder = Recorder::create(&history_path).map_err(io("creating", &history_path))?;
    Ok((dir, history_path, recorder))
}

/// The nemesis's report: every step into the history, and the faults in
/// place into `active`, for the caller's progress line.
fn report_faults(recorder: &Recorder, active: &Arc<Mutex<Vec<String>>>) -> nemesis::Report {
    let (recorder, active) = (recorder.clone(), active.clone());
    Arc::new(move |phase, event, info| {
        let kind = match phase {
            nemesis::Phase::Begin => checker::OpType::Invoke,
            nemesis::Phase::Done => checker::OpType::Info,
        };
        recorder.nemesis(kind, event, info);
        if phase == nemesis::Phase::Begin {
            return;
        }
        let mut active = active.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            FaultEvent::Fault { fault, step: Step::Start } => active.push(fault.clone()),
            FaultEvent::Fault { fault, step: Step::Stop } => {
                if let Some(i) = active.iter().position(|a| a == fault) {
                    active.remove(i);
                }
            }
            FaultEvent::HealAll => active.clear(),
            FaultEvent::Skipped { .. } => {}
        }
    })
}

/// The workload and the nemesis's plan side by side; the nemesis stops
/// (and heals everything) when the workload ends.
async fn beside(
    workload: impl std::future::Future<Output = workloads::Summary>,
    faults: &nemesis::Nemesis,
    steps: &[nemesis::Step],
) -> (workloads::Summary, Result<nemesis::Played, nemesis::Error>) {
    let nemesis_done = CancellationToken::new();
    let t0 = Instant::now();
    let playing = async {
        if steps.is_empty() {
            return Ok(nemesis::Played::default());
        }
        faults.play(steps, t0, &nemesis_done).await
    };
    tokio::join!(
        async {
            let summary = workload.await;
            nemesis_done.cancel();
            summary
        },
        playing
    )
}

/// Writes each node's log into the run's folder and returns what the
/// system's logs say happened during the history, in time order, and the
/// lines that say a server crashed.
async fn keep_logs(
    system: &dyn workloads::System,
    nodes: &[node::Node],
    dir: &std::path::Path,
    history_epoch_ms: u64,
) -> (Vec<ClusterEvent>, Vec<results::NodeCrash>) {
    let mut cluster_events = Vec::new();
    let mut node_crashes = Vec::new();
    for node in nodes {
        let log = node.logs().await.unwrap_or_else(|e| format!("(logs unavailable: {e})"));
        node_crashes.extend(
            crashes(system.crash_patterns(), &log)
                .map(|line| results::NodeCrash { node: node.name().to_string(), line }),
        );
        for e in system.log_events(&log) {
            // Lines from before the history began (cluster start-up) are
            // not about the run.
            if let Some(ms) = e.unix_ms.checked_sub(history_epoch_ms) {
                cluster_events.push(ClusterEvent { node: node.name().to_string(), time: ms * 1_000_000, text: e.text });
            }
        }
        let _ = std::fs::write(dir.join("nodes").join(format!("{}.log", node.name())), log);
    }
    cluster_events.sort_by_key(|e| e.time);
    (cluster_events, node_crashes)
}

/// The lines of `log` with one of `patterns` (Jepsen's `log-file-pattern`),
/// at most [`CRASH_LINES`] of them, each cut to 500 bytes.
fn crashes<'a>(patterns: &'a [&'a str], log: &'a str) -> impl Iterator<Item = String> + 'a {
    log.lines()
        .filter(|l| patterns.iter().any(|p| l.contains(p)))
        .take(CRASH_LINES)
        .map(|l| l.chars().take(500).collect::<String>().trim().to_string())
}

/// A server that crashes on every restart says so once per restart: the
/// first lines are the finding, the rest are in the node's log.
const CRASH_LINES: usize = 20;

fn workload_summary(summary: &workloads::Summary) -> WorkloadSummary {
    WorkloadSummary {
        ok: summary.ok,
        fail: summary.fail,
        info: summary.info,
        busy: summary.busy,
        processes: summary.processes,
        elapsed_ms: summary.elapsed_ms,
        counters: summary
            .counters
            .iter()
            .map(|c| CounterEnd { key: c.key.clone(), value: c.value, accepted: c.accepted, rejected: c.rejected })
            .collect(),
        orphans_revoked: summary.orphans_revoked,
        orphans_left: summary.orphans_left,
    }
}

/// A run judged and kept.
pub struct Finished {
    pub id: String,
    pub dir: PathBuf,
    pub results: RunResults,
}

impl Finished {
    pub fn verdict(&self) -> Verdict {
        self.results.verdict
    }
}

/// Judges the recorded history with the workload's checkers, writes
/// `results.json`, and indexes the run.
pub fn finish_blocking(executed: &Executed, timeout: Duration) -> Result<RunResults, Error> {
    let history_path = executed.dir.join("history.jsonl");
    let history = checker::formats::read_path(&history_path, checker::formats::Format::Jsonl)?;
    let leases =
        executed.test.recorded.as_ref().map_or_else(LeaseOptions::default, |r| LeaseOptions { drift: r.drift });
    let mut analyzed: Analyzed = analyze(&history, &executed.test.workload, timeout, &leases)?;
    explain_outages(&mut analyzed, &executed.cluster_events);
    // A nemesis that could not inject or heal a fault leaves the run's
    // premise broken: do not call it valid.
    if executed.played.is_err() {
        analyzed.verdict = analyzed.verdict.combine(Verdict::Unknown);
    }
    let sufficiency = sufficiency(&history, &executed.test.workload)?;
    let results = RunResults {
        run: executed.id.clone(),
        verdict: overall(analyzed.verdict, &sufficiency),
        checkers: analyzed.checkers,
        stats: analyzed.stats,
        interrupted: executed.interrupted,
        workload: Some(executed.summary.clone()),
        nemesis_error: executed.played.as_ref().err().map(|e| e.to_string()),
        faults_planned: Some(executed.prepared.plan.steps.len()),
        cluster_events: executed.cluster_events.clone(),
        node_crashes: executed.node_crashes.clone(),
        warnings: history.warnings.clone(),
        sufficiency: Some(sufficiency),
    };
    results::write_json(&executed.dir.join("results.json"), &results)?;
    Ok(results)
}

/// Whether `history` held enough to judge, for a run or an import of
/// `workload`: grants count where its checkers judge locks or elections.
pub fn sufficiency(history: &checker::History, workload: &str) -> Result<Sufficiency, Error> {
    let grants = checks_for(workload)
        .iter()
        .any(|c| matches!(c, CheckerId::MutualExclusion | CheckerId::LeaseSafety | CheckerId::Election));
    Ok(checker::sufficiency::judge(history, grants)?)
}

/// The overall verdict of a run or import: the checkers' `verdict`, which
/// thin evidence bounds at `unknown` (an `invalid` stands: an anomaly found
/// is evidence by itself). The one place evidence changes the verdict.
pub fn overall(verdict: Verdict, sufficiency: &Sufficiency) -> Verdict {
    sufficiency.bound(verdict)
}

/// [`finish_blocking`], then the index row.
pub async fn finish(executed: Executed, timeout: Duration) -> Result<Finished, Error> {
    let results = finish_blocking(&executed, timeout)?;
    executed.store.index(&executed.id).await?;
    Ok(Finished { id: executed.id, dir: executed.dir, results })
}

/// prepare → execute → finish, with the linearizability search capped at a
/// minute.
pub async fn run(args: RunArgs, stop: CancellationToken, on_event: &(dyn Fn(Event) + Sync)) -> Result<Finished, Error> {
    let prepared = prepare(args)?;
    let executed = execute(prepared, stop, on_event).await?;
    finish(executed, Duration::from_secs(60)).await
}

fn test_spec(
    prepared: &Prepared,
    run_id: &str,
    started_ms: u64,
    image: Option<String>,
    nodes: &[node::Node],
    ssh_hosts: Vec<String>,
) -> TestSpec {
    let (args, system) = (&prepared.args, prepared.system);
    let o = &args.options;
    let fault_options =
        serde_json::to_value(&args.fault_options).ok().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    TestSpec {
        run: run_id.to_string(),
        started_ms: started_ms as i64,
        system: system.layout().name.to_string(),
        workload: args.workload.name().to_string(),
        nemesis: fault_names(&args.nemesis),
        fencepost: env!("CARGO_PKG_VERSION").to_string(),
        recorded: Some(Recorded {
            description: system.layout().description.to_string(),
            image,
            endpoints: args.endpoints.clone(),
            ssh_hosts,
            nodes: nodes.iter().map(|n| n.name().to_string()).collect(),
            fencing_enforced: args.workload.enforces_fencing(),
            concurrency: o.concurrency,
            keys: o.keys,
            rate: o.rate,
            hold_ms: [o.hold.0.as_millis() as u64, o.hold.1.as_millis() as u64],
            ttl_ms: o.ttl.as_millis() as u64,
            time_limit_ms: o.time_limit.as_millis() as u64,
            timeout_ms: o.client.timeout.as_millis() as u64,
            acquire_wait_ms: o.client.acquire_wait.as_millis() as u64,
            seed: o.seed,
            nemesis_interval_ms: prepared.plan.interval.as_millis() as u64,
            quiet_ms: args.quiet.as_millis() as u64,
            fault_options,
            clock_mode: args.fault_options.clock_mode.name().to_string(),
            drift: args.leases.drift,
            command: args.command(),
            client: o.client.external.as_ref().map(|e| e.name.clone()),
        }),
        imported: None,
        scenario: args.scenario.clone(),
        study: args.study.clone(),
        replay: args.replay.as_ref().map(|r| r.tag()),
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Adds to each outage what the nodes' logs say happened in it (an etcd
/// member campaigning and refused, a ZooKeeper ensemble looking for a
/// leader): the system's own doing, told apart from the harness's.
fn explain_outages(analyzed: &mut Analyzed, events: &[ClusterEvent]) {
    const SHOWN: usize = 6;
    for checker in analyzed.checkers.iter_mut() {
        let Evidence::Availability(availability) = &mut checker.evidence else { continue };
        for outage in availability.outages.iter_mut() {
            // Log times have a second's resolution on some systems (etcd's raft).
            let during: Vec<&ClusterEvent> =
                events.iter().filter(|e| e.time + 1_000_000_000 >= outage.start && e.time <= outage.end).collect();
            if during.is_empty() {
                continue;
            }
            let mut words: Vec<String> = during
                .iter()
                .take(SHOWN)
                .map(|e| format!("{} {} at t={:.1} s", e.node, e.text, e.time as f64 / 1e9))
                .collect();
            if during.len() > SHOWN {
                words.push(format!("and {} more", during.len() - SHOWN));
            }
            outage.text = format!("{}; the nodes' logs: {}", outage.text, words.join(", "));
            outage.cluster_events = during.into_iter().cloned().collect();
        }
    }
}

impl FaultPlan {
    /// Faults fit between the start and the quiet period. Without
    /// `--nemesis-interval` the interval is a quarter of that room (at most
    /// 5 s), which leaves room for two faults of any kind but the longest
    /// client pauses; an interval given that leaves no room is shrunk, with
    /// a note; a plan that cannot fit even one fault is refused.
    fn new(args: &RunArgs, nodes: &[String]) -> Result<FaultPlan, Error> {
        let time_limit = args.options.time_limit;
        let room = time_limit.saturating_sub(args.quiet);
        let auto = (room / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
        let mut interval = args.nemesis_interval.unwrap_or(auto);
        if let Some(replay) = &args.replay {
            // The recorded faults are the plan: nothing is drawn or fitted.
            let steps = replay.steps(nodes)?;
            let note = format!(
                "replaying {} of run {} at the moments they began",
                checker::analysis::counted(steps.len(), "fault", "faults"),
                replay.of
            );
            return Ok(FaultPlan { steps, interval, notes: vec![note], blind_spots: Vec::new() });
        }
        let plan =
            |interval| nemesis::schedule(&args.nemesis, nodes, args.options.seed, interval, room, &args.fault_options);
        let mut steps = plan(interval);
        let mut notes = Vec::new();
        if steps.is_empty() && !args.nemesis.is_empty() {
            // Faults were asked for: fit at least one rather than run without.
            let asked = interval;
            interval = (room / 3).max(Duration::from_millis(200));
            steps = plan(interval);
            if steps.is_empty() {
                return Err(Error::Refused(format!(
                    "--nemesis: no fault fits in --time-limit {} less the quiet period {} (a client pause lasts {}); give the run more time",
                    show(time_limit),
                    show(args.quiet),
                    show(args.fault_options.client_pause)
                )));
            }
            notes.push(format!(
                "--nemesis-interval {} leaves no room for a fault before the quiet period; using {}",
                show(asked),
                show(interval)
            ));
        }
        let unplayed = nemesis::unplayed(&args.nemesis, &steps);
        if !steps.is_empty() && !unplayed.is_empty() {
            notes.push(format!(
                "no room for {} in this run (give it more --time-limit or a shorter --nemesis-interval)",
                fault_names(&unplayed)
            ));
        }
        Ok(FaultPlan { steps, interval, notes, blind_spots: Vec::new() })
    }
}

/// A duration as a person writes it: `250ms`, `4s`, `2.5s`.
pub fn show(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", (d.as_millis() as f64 / 1000.0))
    }
}

/// "2 partitions, 1 kill aimed at the holder; 1 skipped: kill:holder
/// (nobody held a lock) (asked for partition,kill:holder)".
pub fn injected_words(played: &nemesis::Played, asked: &[nemesis::FaultSpec]) -> String {
    let count = |specs: &[nemesis::FaultSpec]| {
        let mut counts: Vec<(nemesis::FaultSpec, usize)> = Vec::new();
        for k in specs {
            match counts.iter_mut().find(|(c, _)| c == k) {
                Some((_, n)) => *n += 1,
                None => counts.push((*k, 1)),
            }
        }
        counts
    };
    let injected: Vec<String> = count(&played.injected)
        .iter()
        .map(|(spec, n)| {
            let name = spec.history_name();
            let aim = match spec.target {
                t if t == spec.kind.default_target() || name == "partition-leader" => String::new(),
                t => format!(" aimed at {}", target_words(t)),
            };
            format!("{n} {}{aim}", if *n == 1 { name } else { spec.plural() })
        })
        .collect();
    let mut words = if injected.is_empty() { "none".to_string() } else { injected.join(", ") };
    if !played.skipped.is_empty() {
        let skipped: Vec<String> = count(&played.skipped).iter().map(|(spec, n)| format!("{n} {spec}")).collect();
        words.push_str(&format!("; skipped for want of a holder: {}", skipped.join(", ")));
    }
    format!("{words} (asked for {})", fault_names(asked))
}

/// A target in a sentence: "aimed at the holder".
fn target_words(target: nemesis::Target) -> &'static str {
    use nemesis::Target::*;
    match target {
        Random => "random nodes",
        Leader => "the leader",
        Primary => "the primary",
        Majority => "a majority",
        Minority => "a minority",
        All => "every node",
        Holder => "the holder",
        Ring => "a majorities ring",
        MinorityThird => "a minority third",
    }
}

/// Every command a run on SSH hosts would run on its nodes, in order, each
/// line `node: command`: installing (with `--install`), the node tools, each
/// planned fault and its heal (a leader or holder target aimed at the
/// first node, as the run would find it), undoing, and `--teardown`.
pub async fn dry_run(prepared: &Prepared) -> Result<Vec<String>, Error> {
    let (args, system) = (&prepared.args, prepared.system);
    let Some(ssh_args) = &args.ssh else {
        return Err(Error::Refused("--dry-run needs --nodes FILE".into()));
    };
    let mut dry = ssh_args.clone();
    dry.connect.dry_run = true;
    let (hosts, nodes) = ssh_cluster(system, &dry, &args.nemesis).await?;
    let report: nemesis::Report = Arc::new(|_, _, _| {});
    let faults = nemesis::Nemesis::new(nodes, system.layout().client_port(), report);
    faults.rehearse(&prepared.plan.steps).await.map_err(Error::Nemesis)?;
    hosts.finish().await;
    if ssh_args.teardown {
        hosts.teardown(system.layout().name).await;
    }
    Ok(hosts.printed())
}

/// The node tools a system's image carries (`role`, `server-time`), and the
/// clock shim's source, for SSH hosts.
pub fn node_tools(system: &dyn workloads::System) -> ssh::Tools {
    let image = system.layout().image;
    let files = ["role", "server-time"]
        .iter()
        .filter_map(|name| Some((name.to_string(), docker::images::file(&format!("{image}/{name}"))?.to_vec())))
        .collect();
    let shim_source = system
        .layout()
        .clock_refusal
        .is_none()
        .then(|| docker::images::file("common/fptime.c").map(<[u8]>::to_vec))
        .flatten();
    ssh::Tools { files, shim_source }
}

/// Logs in to the node file's hosts, installs the system when asked, checks
/// every server runs, puts the node tools in place (and the clock shim when
/// a clock fault may run), and waits until the cluster answers.
async fn ssh_cluster(
    system: &'static dyn workloads::System,
    args: &SshArgs,
    faults: &[nemesis::FaultSpec],
) -> Result<(ssh::Hosts, Vec<node::Node>), Error> {
    let file = ssh::NodeFile::load(&args.file)?;
    let mut hosts = ssh::Hosts::connect(file, &args.connect).await?;
    if args.install {
        hosts.install(system.layout().name).await?;
    }
    hosts.check_service().await?;
    let clock = faults.iter().any(|f| matches!(f.kind, nemesis::FaultKind::Clock | nemesis::FaultKind::ClockRate));
    hosts.prepare(&node_tools(system), clock).await?;
    let nodes = hosts.nodes(system.layout().client_port());
    if !args.connect.dry_run {
        if let Err(why) = workloads::wait_serving(system, &nodes, Duration::from_secs(120)).await {
            let _ = hosts.finish().await;
            return Err(Error::Refused(format!("--nodes: {why}")));
        }
    }
    Ok((hosts, nodes))
}

/// The members of an existing cluster, each checked to answer as `system`.
async fn external_nodes(
    system: &'static dyn workloads::System,
    endpoints: &[String],
) -> Result<Vec<node::Node>, Error> {
    let mut nodes = Vec::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let (host, port) = endpoint
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| Error::Endpoints(format!("`{endpoint}` is not host:port")))?;
        let node = node::Node::unmanaged(&format!("n{}", i + 1), host, system.layout().client_port(), port);
        match tokio::time::timeout(Duration::from_secs(5), system.probe(&node)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(Error::Endpoints(format!("{endpoint} does not answer as {}: {e}", system.layout().name)))
            }
            Err(_) => return Err(Error::Endpoints(format!("{endpoint} did not answer within 5 s"))),
        }
        nodes.push(node);
    }
    Ok(nodes)
}

/// `partition,kill:holder`, or `none`: the canonical spelling
/// ([`nemesis::FaultSpec`]) that `test.json`, `runs` and `compare` use.
pub fn fault_names(specs: &[nemesis::FaultSpec]) -> String {
    nemesis::FaultSpec::list_name(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_lines_are_those_with_a_pattern_at_most_twenty() {
        let log = "1:M * Ready to accept connections\n1:M # Bad file format reading the append only file x.aof\nok\n";
        let found: Vec<String> = crashes(&["Bad file format", "REDIS BUG REPORT"], log).collect();
        assert_eq!(found, ["1:M # Bad file format reading the append only file x.aof"]);
        let many = "panic: x\n".repeat(50);
        assert_eq!(crashes(&["panic: "], &many).count(), CRASH_LINES);
        assert_eq!(crashes(&[], log).count(), 0);
    }
}
