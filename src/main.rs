//! `fencepost` — the command line. A thin layer: parse arguments, call the
//! crates, print, and exit with a code scripts can rely on.

/// `println!` that ignores a closed stdout (`fencepost runs | head`): a
/// finished run must still be checked, stored and cleaned up, never panic.
#[macro_export]
macro_rules! out {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod analyze;
mod bench;
mod bench_api;
mod bench_clients;
mod check;
mod clusters;
mod report;
mod run;
mod scenarios;
mod soak;
mod ssh_hosts;
mod store_cmds;

use checker::formats::Format;
use checker::Verdict;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Exit codes shared by every command that gives a verdict; every other
/// command exits 0 or `EXIT_UNUSABLE`. A usage error is `EXIT_UNUSABLE`
/// too, never clap's own 2, which here means `unknown`.
pub const EXIT_VALID: u8 = 0;
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_UNKNOWN: u8 = 2;
pub const EXIT_UNUSABLE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "fencepost",
    version,
    about = "Is your distributed lock safe when things break?",
    after_help = "Exit codes: 0 valid, 1 invalid, 2 unknown, 3 could not run (including a mistyped command line)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a recorded history: linearizability, and for a lock history
    /// every checker `import` applies.
    ///
    /// Exit codes: 0 valid, 1 invalid, 2 unknown, 3 unusable input. The
    /// verdict is linearizability's, except on a lock history whose lock
    /// checkers ran: then theirs, together (README: "Checking a history").
    Check(check::CheckArgs),
    /// Benchmark the checker over the reference corpus and a generated
    /// 1,000,000-operation mutex history.
    Bench {
        /// The corpus folder (holding EXPECTED.tsv); default: the
        /// repository's own `checker/tests/data`.
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// Operations in the generated mutex history (0 to skip it).
        #[arg(long, default_value_t = 1_000_000)]
        mutex_ops: usize,
        /// Repeat each case this many times and report the fastest.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Measure lock operations per second per system (no faults), with and
    /// without recording the history.
    BenchClients {
        /// Systems (default: all).
        systems: Vec<String>,
        /// Concurrent clients.
        #[arg(long, default_value_t = 10)]
        concurrency: usize,
        /// Locks k0..k{N-1} (default: one per client).
        #[arg(long)]
        keys: Option<usize>,
        /// How long a holder keeps the lock.
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        hold: Duration,
        /// How long each measurement runs.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        time_limit: Duration,
    },
    /// Send a burst of concurrent uploads to the check API of a server in
    /// this process and report how each was answered, how the pages fared
    /// meanwhile, and the peak memory.
    BenchApi {
        /// Concurrent uploads.
        #[arg(long, default_value_t = 200)]
        uploads: usize,
        /// Size of each uploaded history in bytes (about).
        #[arg(long, default_value_t = 1_000_000)]
        size: usize,
    },
    /// Build the container images (all systems, or those named), bootstrapping
    /// debian:bookworm-slim with debootstrap when no registry has it.
    Images {
        /// Systems or image names (default: every image).
        systems: Vec<String>,
        /// Build even when an image with the same content hash exists.
        #[arg(long)]
        rebuild: bool,
    },
    /// Start a system's cluster, print its endpoints, and keep it until Ctrl-C.
    Up {
        /// The system (the help lists them, from the registry).
        system: String,
        /// Give up when the cluster is not serving after this long.
        #[arg(long, default_value = "120s", value_parser = parse_duration)]
        timeout: Duration,
        /// Remove the cluster after this long instead of waiting for Ctrl-C.
        #[arg(long, value_parser = parse_duration)]
        hold: Option<Duration>,
        /// Start SSH hosts instead (containers running sshd, the system
        /// installed on them as an ordinary service, as on VMs), to try
        /// `run --nodes`: etcd, redis or zookeeper. Needs --nodes-out.
        #[arg(long, requires = "nodes_out")]
        ssh_hosts: bool,
        /// With --ssh-hosts: write the node file here (its key and
        /// known_hosts beside it, FILE.key and FILE.known_hosts).
        #[arg(long, value_name = "FILE", requires = "ssh_hosts")]
        nodes_out: Option<PathBuf>,
        /// With --ssh-hosts: leave the system uninstalled (to try `run --install`).
        #[arg(long, requires = "ssh_hosts")]
        bare: bool,
    },
    /// Undo every fault fencepost may have left on SSH hosts (after a run
    /// that was killed): its iptables rules, paused or stopped servers,
    /// clock offsets, the clock shim and its tools.
    Heal {
        /// The node file the run used.
        #[arg(long, value_name = "FILE")]
        nodes: PathBuf,
        /// Accept and remember host keys never seen before.
        #[arg(long)]
        accept_new_host_keys: bool,
    },
    /// Remove containers and networks left by runs whose process died.
    Cleanup,
    /// Run a real test: start the system's cluster, drive concurrent lock
    /// clients against it, record the history, check it, store it.
    ///
    /// Ends with the headline: service, clients and data, each with its
    /// verdict, then the overall verdict and why.
    ///
    /// Exit codes (the overall verdict): 0 valid, 1 invalid (the service
    /// broke its promise, the data was lost, or clients acted at once for a
    /// reason their own leases do not explain), 2 unknown, 3 could not run.
    Run {
        /// The system (the help lists them, from the registry).
        system: String,
        #[command(flatten)]
        opts: Box<RunOpts>,
        /// Print the fault schedule the run would play (and any refusal),
        /// then exit without starting anything.
        #[arg(long)]
        plan: bool,
    },
    /// An endurance run: run a test exactly as `run` does (stored and
    /// indexed like any run) while sampling this process's resident memory,
    /// then check that the harness held up.
    ///
    /// Every --sample it prints the elapsed time, the resident memory
    /// (VmRSS; the harness runs in this process), the completions so far
    /// and per second; at the end the curve and four checks: memory (flat
    /// when, from the first sample at or after --warm-up, RSS grows by at
    /// most 16 MiB or 10 % of that sample, whichever is larger; skipped
    /// when the run is too short to tell), history (every ok/fail/info the
    /// recorder counted is in history.jsonl, read line by line), index and
    /// report (the index lists the run with its verdict; the web app,
    /// started here on a loopback port, answers the run's page and its
    /// timeline with 200 and a body), leftovers (no container or network of
    /// the run, nothing the nemesis could not heal). The run's own verdict
    /// is printed, not judged.
    ///
    /// Exit codes: 0 every check passed, 1 some check failed, 3 could not run.
    Soak {
        /// The system (the help lists them, from the registry).
        system: String,
        #[command(flatten)]
        opts: Box<RunOpts>,
        /// Time between memory samples (with a unit: 10s, 1m).
        #[arg(long, default_value = "10s", value_parser = parse_sample)]
        sample: Duration,
        /// The memory curve is judged from the first sample at or after this
        /// much of the run (allocations that settle early do not count).
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        warm_up: Duration,
    },
    /// List stored runs, newest first.
    ///
    /// A filter value fencepost does not know (and no stored run has) is
    /// refused with exit code 3.
    Runs {
        /// The results store.
        #[arg(long, default_value = "store")]
        store: PathBuf,
        /// Only runs of this system (the help lists them, from the registry),
        /// `imported`, or a name given to `import --system`.
        #[arg(long)]
        system: Option<String>,
        /// Only runs of this workload: lock, fenced-counter,
        /// fenced-counter-unfenced, election; imported histories also
        /// register, cas-register, kv.
        #[arg(long)]
        workload: Option<String>,
        /// Only runs with this fault mix, e.g. `partition,kill:holder` (in
        /// any order) or `none`.
        #[arg(long)]
        nemesis: Option<String>,
        /// Only runs with this verdict: valid, invalid, unknown.
        #[arg(long)]
        verdict: Option<Verdict>,
        /// Only runs made for this scenario (`fencepost scenarios` lists them).
        #[arg(long)]
        scenario: Option<String>,
        /// Rebuild the index from the run directories first.
        #[arg(long)]
        reindex: bool,
        /// Print the rows as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete stored runs: each run's directory and its index row.
    ///
    /// Every id is checked before anything is deleted; an unknown id, or one
    /// that is not a run id (a path), deletes nothing and exits 3.
    Rm {
        /// Run ids, as `fencepost runs` lists them.
        #[arg(required = true, value_name = "RUN")]
        runs: Vec<String>,
        /// The results store.
        #[arg(long, default_value = "store")]
        store: PathBuf,
    },
    /// The systems × faults matrix of stored runs: the overall verdict and
    /// each layer's (service, clients, data), ops/s, grant latency,
    /// progress, recovery time; then each cell's story.
    Compare {
        /// The results store.
        #[arg(long, default_value = "store")]
        store: PathBuf,
        /// Only runs of this system (values as for `runs --system`).
        #[arg(long)]
        system: Option<String>,
        /// Only runs of this workload (values as for `runs --workload`).
        #[arg(long)]
        workload: Option<String>,
        /// Print the cells as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run every system × fault mix once and print their matrix.
    ///
    /// Exit codes as for `run`, over all the runs.
    // The fault mixes are `run`'s --nemesis under the name --nemeses (one
    // spelling, not both): a mix list is not a fault list.
    #[command(mut_arg("nemesis", |a| a
        .long("nemeses")
        .value_name("MIXES")
        .default_value("none,partition,kill")
        .help(SUITE_NEMESES_HELP)
        .long_help(SUITE_NEMESES_HELP)))]
    Suite {
        /// Comma-separated systems (default: every system; see `with_registry`).
        #[arg(long)]
        systems: String,
        #[command(flatten)]
        opts: Box<RunOpts>,
    },
    /// The scenario library: published lock and election failures, and
    /// controls, each with the verdicts a run of it must reach. Without a
    /// subcommand, lists them (and what the store has of each).
    ///
    /// Exit codes for `run`: 0 every run matched its scenario, 1 some did
    /// not, 3 could not run.
    Scenarios {
        #[command(subcommand)]
        action: Option<ScenarioAction>,
        /// A scenario file of the same format (TOML) instead of the built-in
        /// library.
        #[arg(long, global = true)]
        file: Option<PathBuf>,
        /// The results store: where runs are stored, and what the listing
        /// reports on.
        #[arg(long, default_value = "store", global = true)]
        store: PathBuf,
        /// List the scenarios as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the web UI and API over the results store.
    Serve {
        /// Where to listen; 127.0.0.1 unless told otherwise.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// The results store.
        #[arg(long, default_value = "store")]
        store: PathBuf,
    },
    /// Write a stored run's history as Jepsen EDN.
    Export {
        /// The run id, as `fencepost runs` lists it.
        run: String,
        /// EDN (the only export format; JSONL is the run's history.jsonl).
        #[arg(long)]
        edn: bool,
        /// The results store.
        #[arg(long, default_value = "store")]
        store: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Store a recorded history (Jepsen EDN, JSONL, Porcupine) as a run and
    /// check it with every checker that applies.
    ///
    /// The workload is inferred from the ops (acquire, write and final-read:
    /// fenced-counter; campaign: election; acquire: lock; else the register
    /// or kv model), the faults from its nemesis `…-start` ops.
    ///
    /// Exit codes as for `check`.
    Import {
        /// The history file.
        file: PathBuf,
        #[arg(long, default_value = "auto", value_parser = parse_format)]
        format: Format,
        /// The results store.
        #[arg(long, default_value = "store")]
        store: PathBuf,
        /// The system the history came from, for listing and comparison.
        #[arg(long, default_value = "imported")]
        system: String,
    },
}

#[derive(Subcommand)]
enum ScenarioAction {
    /// Run scenarios as `run` would, store each run tagged with its
    /// scenario, judge it against the scenario's expectation, and print per
    /// scenario: runs, matched, median time to the first anomaly, and the
    /// runs that did not match with why.
    Run {
        /// Scenario names, as `fencepost scenarios` lists them.
        names: Vec<String>,
        /// Every scenario in the library.
        #[arg(long)]
        all: bool,
        /// Run each scenario this many times (seeds --seed, --seed + 1, …).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        repeat: u64,
        /// The first run's seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

const SUITE_NEMESES_HELP: &str = "Comma-separated fault mixes, one run each; `+` joins kinds in one mix \
     (`none,partition,kill+pause`). Kinds as for `run --nemesis`.";

/// `--workload`: the names come from the workloads' registry, so a new
/// workload is on the command line without touching it.
fn workload_parser() -> impl clap::builder::TypedValueParser<Value = workloads::Workload> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(workloads::Workload::names())
        .try_map(|name| name.parse::<workloads::Workload>())
}

/// The options of one test run (`run`, and each run of `suite`).
#[derive(clap::Args)]
struct RunOpts {
    /// What the clients do: lock (acquire, hold, release), fenced-counter
    /// (increment a counter in a fenced resource while holding the lock),
    /// election (campaign, lead, resign; one client observes).
    #[arg(long, default_value = "lock", value_parser = workload_parser())]
    workload: workloads::Workload,
    /// fenced-counter: let the resource accept writes with stale tokens.
    #[arg(long)]
    no_fencing: bool,
    /// How long the workload runs, quiet period included (with a unit: 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    time_limit: Duration,
    /// Concurrent clients.
    #[arg(long, default_value_t = 5)]
    concurrency: usize,
    /// Locks k0..k{N-1}.
    #[arg(long, default_value_t = 1)]
    keys: usize,
    /// Acquire attempts per second across all clients (default: as fast as answered).
    #[arg(long)]
    rate: Option<f64>,
    /// Shortest time a client holds a granted lock.
    #[arg(long, default_value = "5ms", value_parser = parse_duration)]
    hold_min: Duration,
    /// Longest time a client holds a granted lock.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    hold_max: Duration,
    /// Lease / lock TTL where the recipe has one.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    ttl: Duration,
    /// One request's deadline; past it the outcome is unknown (`info`).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    timeout: Duration,
    /// How long an acquire may wait for a busy lock (0: try once).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    acquire_wait: Duration,
    /// Seeds the clients' choices and the fault schedule (same seed, same faults).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How much faster a server's clock may run than fencepost's, in percent
    /// (e.g. 1 or 1%): a lease of TTL is counted as guaranteed for TTL × (1 − drift).
    #[arg(long, default_value = "1%", value_parser = parse_percent)]
    drift: f64,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    store: PathBuf,
    /// Test an existing cluster at these `host:port`s (comma-separated)
    /// instead of starting one: no containers, and of the faults only
    /// client-pause.
    #[arg(long, value_delimiter = ',')]
    endpoints: Vec<String>,
    #[command(flatten)]
    ssh: SshOpts,
    #[command(flatten)]
    faults: FaultArgs,
}

/// A cluster on SSH hosts, for `run`.
#[derive(clap::Args)]
struct SshOpts {
    /// Test the cluster on the SSH hosts this node file lists (README:
    /// "Your own cluster over SSH"), with every fault, instead of starting
    /// containers.
    #[arg(long, value_name = "FILE", conflicts_with = "endpoints")]
    nodes: Option<PathBuf>,
    /// Accept and remember host keys never seen before (ssh's
    /// StrictHostKeyChecking=accept-new); without it an unknown host is refused.
    #[arg(long, requires = "nodes")]
    accept_new_host_keys: bool,
    /// First install the system on the hosts from the distribution's
    /// packages (Debian/Ubuntu; etcd, redis and zookeeper) and form the cluster.
    #[arg(long, requires = "nodes")]
    install: bool,
    /// At the end, remove what --install added.
    #[arg(long, requires = "nodes")]
    teardown: bool,
    /// Print the commands the run would run on the nodes (all that change
    /// them; not the probes), and exit without connecting.
    #[arg(long, requires = "nodes")]
    dry_run: bool,
}

/// The nemesis's options for `run` (and `suite`).
#[derive(clap::Args)]
struct FaultArgs {
    // The help lists the kinds from the nemesis's registry.
    #[arg(long, default_value = "none", value_name = "KIND[:TARGET],…", help = nemesis::nemesis_help())]
    nemesis: String,
    /// Time between faults, and how long each lasts (client pauses last
    /// --client-pause). Faults play from the start until the quiet period;
    /// the default is a quarter of that time, at most 5 s, so at least two
    /// faults fit. A holder fault waits up to this long for a holder (never
    /// past the next fault or the quiet period), then is skipped.
    #[arg(long, value_parser = parse_duration)]
    nemesis_interval: Option<Duration>,
    /// After the last fault is healed, the workload runs this long without
    /// faults before the end (default: a quarter of the time limit, ≤ 5 s).
    #[arg(long, value_parser = parse_duration)]
    quiet: Option<Duration>,
    /// loss: share of packets dropped.
    #[arg(long, default_value_t = 0.3)]
    loss_probability: f64,
    /// clock: how far a jump moves a server's clock (its sign as
    /// --clock-mode says), and how far a strobe flips it.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    clock_offset: Duration,
    /// clock: which faults to draw: random (a jump or a strobe, either
    /// sign), forward (jumps ahead only: leases expire early), backward
    /// (jumps back only), strobe (strobes only).
    #[arg(long, default_value = "random", value_parser = parse_clock_mode, value_name = "MODE")]
    clock_mode: nemesis::ClockMode,
    /// clock: a strobing clock flips every this long.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    clock_strobe_period: Duration,
    /// netem: delay added to every packet a node sends.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    netem_delay: Duration,
    /// netem: random variation of that delay, ±.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    netem_jitter: Duration,
    /// netem: share of packets also dropped.
    #[arg(long, default_value_t = 0.0)]
    netem_loss: f64,
    /// client-pause: how long a lock holder stalls (default: 1.5 × --ttl,
    /// at least --ttl + 1 s, so its lease runs out while it sleeps).
    #[arg(long, value_parser = parse_duration)]
    client_pause: Option<Duration>,
    /// client-pause: how many holders one pause catches.
    #[arg(long, default_value_t = 1)]
    client_pause_clients: usize,
}

/// `run`'s numbers that cannot mean what they say (no clients, no locks, a
/// shortest hold longer than the longest) are refused naming the flag,
/// never quietly made into others: the run would not be the one asked for.
fn refuse_meaningless_numbers(opts: &RunOpts) -> anyhow::Result<()> {
    let f = &opts.faults;
    let ms = Duration::from_millis(1);
    let refusal = if opts.concurrency == 0 {
        Some("--concurrency 0: a run needs at least one client".to_string())
    } else if opts.keys == 0 {
        Some("--keys 0: the clients need at least one lock to take (k0)".to_string())
    } else if let Some(rate) = opts.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
        Some(format!(
            "--rate {rate}: acquire attempts per second must be above 0 (leave --rate out for as fast as answered)"
        ))
    } else if opts.hold_min > opts.hold_max {
        Some(format!(
            "--hold-min {} is longer than --hold-max {} (their defaults are 5ms and 50ms; give both)",
            show_duration(opts.hold_min),
            show_duration(opts.hold_max)
        ))
    } else if opts.time_limit.is_zero() {
        Some("--time-limit 0s: the workload would not run at all".to_string())
    } else if opts.ttl < ms {
        Some(format!("--ttl {}: a lease needs at least 1ms", show_duration(opts.ttl)))
    } else if opts.timeout.is_zero() {
        Some("--timeout 0s: every request would time out before it was sent".to_string())
    } else if f.nemesis_interval.is_some_and(|i| i.is_zero()) {
        Some("--nemesis-interval 0s: faults need time between them (leave it out for a quarter of the run)".to_string())
    } else if f.client_pause_clients == 0 {
        Some("--client-pause-clients 0: a client pause catches at least one holder".to_string())
    } else if f.clock_strobe_period < ms {
        Some(format!(
            "--clock-strobe-period {}: the clock shim flips at most once a millisecond",
            show_duration(f.clock_strobe_period)
        ))
    } else {
        None
    };
    match refusal {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// A duration as the command line takes it (`5ms`, `1s 500ms`).
fn show_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The run's arguments from its options; `system` may be empty (suite).
fn run_args(system: String, opts: &RunOpts) -> anyhow::Result<harness::RunArgs> {
    let RunOpts {
        workload,
        no_fencing,
        time_limit,
        concurrency,
        keys,
        rate,
        hold_min,
        hold_max,
        ttl,
        timeout,
        acquire_wait,
        seed,
        drift,
        store,
        endpoints,
        ssh,
        faults,
    } = opts;
    refuse_meaningless_numbers(opts)?;
    let workload = match workload {
        workloads::Workload::FencedCounter if *no_fencing => workloads::Workload::FencedCounterUnfenced,
        w => *w,
    };
    let options = workloads::RunOptions {
        workload,
        concurrency: *concurrency,
        keys: *keys,
        rate: *rate,
        hold: (*hold_min, *hold_max),
        ttl: *ttl,
        time_limit: *time_limit,
        seed: *seed,
        client: workloads::ClientOptions { timeout: *timeout, acquire_wait: *acquire_wait, ..Default::default() },
        ..Default::default()
    };
    let nemesis = nemesis::FaultSpec::parse_list(&faults.nemesis).map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
    let quiet = faults.quiet.unwrap_or((*time_limit / 4).min(Duration::from_secs(5)));
    let share = |name: &str, p: f64| {
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(anyhow::anyhow!("--{name}: {p} is not a share between 0 and 1"))
        }
    };
    let fault_options = nemesis::FaultOptions {
        loss: share("loss-probability", faults.loss_probability)?,
        clock_offset: faults.clock_offset,
        clock_strobe_period: faults.clock_strobe_period,
        netem_delay: faults.netem_delay,
        netem_jitter: faults.netem_jitter,
        netem_loss: share("netem-loss", faults.netem_loss)?,
        client_pause: faults.client_pause.unwrap_or(nemesis::FaultOptions::default_client_pause(*ttl)),
        client_pause_clients: faults.client_pause_clients,
        clock_mode: faults.clock_mode,
    };
    Ok(harness::RunArgs {
        system,
        workload,
        options,
        store: store.clone(),
        nemesis,
        nemesis_interval: faults.nemesis_interval,
        quiet,
        fault_options,
        endpoints: endpoints.clone(),
        leases: checker::lease::LeaseOptions { drift: *drift },
        scenario: None,
        ssh: ssh.nodes.as_ref().map(|file| harness::SshArgs {
            file: file.clone(),
            connect: ssh::Connect { accept_new_host_keys: ssh.accept_new_host_keys, dry_run: ssh.dry_run },
            install: ssh.install,
            teardown: ssh.teardown,
        }),
    })
}

/// Whether to draw the progress line: only on a terminal.
fn progress() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Runs one async command on a fresh runtime; errors exit with code 3.
fn run_async(command: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(EXIT_UNUSABLE);
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_UNUSABLE)
        }
    }
}

/// Runs one async command that returns a value; `None` when it failed
/// (the error is printed).
fn run_async_value<T>(command: impl std::future::Future<Output = anyhow::Result<T>>) -> Option<T> {
    let mut value = None;
    let code = run_async(async {
        value = Some(command.await?);
        Ok(())
    });
    if code == ExitCode::SUCCESS {
        value
    } else {
        None
    }
}

/// Exit codes for a test's verdict: 0 valid, 1 invalid, 2 unknown, 3 it
/// could not run.
fn run_exit(verdict: Option<Verdict>) -> ExitCode {
    match verdict {
        Some(v) => ExitCode::from(analyze::exit_code(v)),
        None => ExitCode::from(EXIT_UNUSABLE),
    }
}

/// Parses a duration with its unit (`500ms`, `30s`, `5m`, `1h 30m`); a
/// bare number is refused, since `5` could mean seconds or milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    humantime::parse_duration(s).map_err(|e| match e {
        humantime::DurationError::UnknownUnit { unit, value, .. } if unit.is_empty() => {
            format!("duration `{s}` has no unit; add a unit: {value}s (or {value}ms, {value}m)")
        }
        e => format!("duration `{s}`: {e}"),
    })
}

/// `soak --sample`: a duration, and not zero (a sampler that never sleeps
/// would measure itself).
fn parse_sample(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d < Duration::from_millis(100) => Err(format!("`{s}` is too short a sample interval: at least 100ms")),
        d => Ok(d),
    }
}

/// A percentage (`1`, `1%`, `0.5 %`) as a share (0.01), below 100 %.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let number = s.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if (0.0..100.0).contains(&p) => Ok(p / 100.0),
        Ok(p) => Err(format!("`{s}` is not a percentage from 0 up to (not including) 100: {p}")),
        Err(_) => Err(format!("`{s}` is not a percentage (e.g. 1 or 1%)")),
    }
}

/// A clock mode by name (`random`, `forward`, `backward`, `strobe`).
fn parse_clock_mode(s: &str) -> Result<nemesis::ClockMode, String> {
    nemesis::ClockMode::parse(s).map_err(|e| e.to_string())
}

/// A history format by name (`auto`, `jsonl`, `edn`, …).
fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("unknown format `{s}` (known: {})", Format::NAMES.join(", ")))
}

/// Parses the command line. Usage errors exit 3 ("could not run") with
/// clap's message, because clap's own exit code 2 means "unknown" here;
/// `--help` and `--version` print to stdout and exit 0.
fn parse_cli() -> Result<Cli, ExitCode> {
    let parsed = with_registry(Cli::command()).try_get_matches().and_then(|m| Cli::from_arg_matches(&m));
    parsed.map_err(|e| {
        let _ = e.print();
        // Only --help and --version "fail" to stdout.
        if e.use_stderr() {
            ExitCode::from(EXIT_UNUSABLE)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// What the command line says about the systems, from `workloads::REGISTRY`
/// (help texts, `suite`'s default), so that adding a system changes nothing
/// here.
fn with_registry(cli: clap::Command) -> clap::Command {
    static EVERY_SYSTEM: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| workloads::systems::names().join(","));
    let names = workloads::systems::names().join(", ");
    let system = format!("The system: {names}.");
    let runs = format!("Only runs of this system: {names}, imported (or a name given to `import --system`).");
    cli.mut_subcommand("run", |c| c.mut_arg("system", |a| a.help(system.clone())))
        .mut_subcommand("soak", |c| c.mut_arg("system", |a| a.help(system.clone())))
        .mut_subcommand("up", |c| c.mut_arg("system", |a| a.help(system.clone())))
        .mut_subcommand("runs", |c| c.mut_arg("system", |a| a.help(runs)))
        .mut_subcommand("suite", |c| {
            c.mut_arg("systems", |a| {
                a.help("Comma-separated systems.").default_value(EVERY_SYSTEM.as_str()).required(false)
            })
        })
}

fn suite(systems: String, nemeses: String, opts: &RunOpts) -> ExitCode {
    let split = |s: &str| s.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    match run_args(String::new(), opts) {
        Ok(template) => {
            let args = store_cmds::SuiteArgs {
                systems: split(&systems),
                nemeses: split(&nemeses),
                template,
                progress: progress(),
            };
            run_exit(run_async_value(store_cmds::suite(args)))
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_UNUSABLE)
        }
    }
}

/// `fencepost run`: the plan, the dry run, or the run itself.
fn run(system: String, opts: &RunOpts, plan: bool) -> ExitCode {
    match run_args(system, opts) {
        Ok(args) if plan => match run::plan_command(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_UNUSABLE)
            }
        },
        Ok(args) if opts.ssh.dry_run => run_async(ssh_hosts::dry_run_command(args)),
        Ok(args) => run_exit(run_async_value(async {
            let prepared = harness::run::prepare(args)?;
            Ok(run::run_command(prepared, progress()).await?.verdict)
        })),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_UNUSABLE)
        }
    }
}

/// `fencepost soak`: 0 when every check passed, 1 when one failed.
fn soak(system: String, opts: &RunOpts, options: soak::SoakOptions) -> ExitCode {
    if opts.ssh.dry_run {
        eprintln!("error: --dry-run: soak runs the test; `fencepost run --dry-run` shows what it would do");
        return ExitCode::from(EXIT_UNUSABLE);
    }
    match run_args(system, opts) {
        Ok(args) => match run_async_value(async { soak::soak(harness::run::prepare(args)?, options).await }) {
            Some(true) => ExitCode::SUCCESS,
            Some(false) => ExitCode::from(EXIT_INVALID),
            None => ExitCode::from(EXIT_UNUSABLE),
        },
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_UNUSABLE)
        }
    }
}

/// `fencepost scenarios`: the listing, or `scenarios run`.
fn scenarios(action: Option<ScenarioAction>, file: Option<PathBuf>, store: PathBuf, json: bool) -> ExitCode {
    let library = match scenarios::library(file.as_deref()) {
        Ok(library) => library,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_UNUSABLE);
        }
    };
    match action {
        None => run_async(scenarios::list(&library, &store, json)),
        Some(ScenarioAction::Run { names, all, repeat, seed }) => {
            let request =
                scenarios::RunRequest { names, all, repeat: repeat as usize, seed, store, progress: progress() };
            match run_async_value(scenarios::run(&library, request)) {
                Some(scenarios::Ran::AllMatched) => ExitCode::SUCCESS,
                Some(scenarios::Ran::Mismatched) => ExitCode::from(EXIT_INVALID),
                None => ExitCode::from(EXIT_UNUSABLE),
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cli.command {
        Command::Check(args) => check::check_command(args),
        Command::Images { systems, rebuild } => run_async(clusters::images_command(&systems, rebuild)),
        Command::Up { system, timeout, hold, ssh_hosts: true, nodes_out: Some(out), bare } => {
            run_async(ssh_hosts::up_command(&system, timeout, hold, &out, bare))
        }
        Command::Up { system, timeout, hold, .. } => run_async(clusters::up_command(&system, timeout, hold)),
        Command::Heal { nodes, accept_new_host_keys } => {
            run_async(ssh_hosts::heal_command(&nodes, accept_new_host_keys))
        }
        Command::Cleanup => run_async(clusters::cleanup_command()),
        Command::BenchApi { uploads, size } => run_async(bench_api::bench_api(uploads.max(1), size.max(200))),
        Command::BenchClients { systems, concurrency, keys, hold, time_limit } => {
            let concurrency = concurrency.max(1);
            let keys = keys.unwrap_or(concurrency).max(1);
            run_async(bench_clients::bench_clients(&systems, concurrency, keys, hold, time_limit))
        }
        Command::Run { system, opts, plan } => run(system, &opts, plan),
        Command::Soak { system, opts, sample, warm_up } => soak(system, &opts, soak::SoakOptions { sample, warm_up }),
        Command::Runs { store, system, workload, nemesis, verdict, scenario, reindex, json } => {
            let filter = results::Filter { system, workload, nemesis, verdict, scenario };
            run_async(store_cmds::runs(&store, filter, reindex, json))
        }
        Command::Rm { runs, store } => run_async(store_cmds::rm(&store, &runs)),
        Command::Compare { store, system, workload, json } => {
            let filter = results::Filter { system, workload, ..Default::default() };
            run_async(store_cmds::compare(&store, filter, json))
        }
        Command::Suite { systems, mut opts } => {
            // --nemeses lands in the field --nemesis fills for `run`; the
            // template runs without faults and each mix sets its own.
            let nemeses = std::mem::replace(&mut opts.faults.nemesis, "none".into());
            suite(systems, nemeses, &opts)
        }
        Command::Scenarios { action, file, store, json } => scenarios(action, file, store, json),
        Command::Serve { bind, store } => run_async(async move { Ok(web::serve(bind, store).await?) }),
        Command::Export { run, edn: _, store, output } => {
            run_async(store_cmds::export(&store, &run, output.as_deref()))
        }
        Command::Import { file, format, store, system } => {
            run_exit(run_async_value(store_cmds::import(&store, &file, format, &system)))
        }
        Command::Bench { corpus, mutex_ops, repeat } => {
            match bench::run(&bench::corpus_or_default(corpus), mutex_ops, repeat.max(1)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_UNUSABLE)
                }
            }
        }
    }
}
