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
mod margin;
mod report;
mod run;
mod scenarios;
mod shrink;
mod soak;
mod ssh_hosts;
mod store_cmds;

use checker::formats::Format;
use checker::Verdict;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
pub use harness::options::{parse_duration, parse_percent, RunOpts};
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
    /// The lock clients `run --client NAME` can use: fencepost's own
    /// recipes (the default) and the shipped adapters over lock libraries,
    /// each with its library, pinned version, language and systems.
    /// `--client-cmd` runs your own (docs/CLIENTS.md).
    Clients,
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
        #[arg(required_unless_present = "replay")]
        system: Option<String>,
        #[command(flatten)]
        opts: Box<RunOpts>,
        /// Print the fault schedule the run would play (and any refusal),
        /// then exit without starting anything.
        #[arg(long)]
        plan: bool,
        /// Run stored run RUN again: its system, options and seed, its
        /// faults at the moments they began (a holder fault finds the
        /// holder again), and say whether its failure came back. Takes
        /// every option from RUN: others are refused (--store aside).
        #[arg(long, value_name = "RUN", conflicts_with = "system")]
        replay: Option<String>,
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
    /// How large a fault a configuration survives: the size of one fault
    /// (a client pause's length, a kill's downtime, a cut's length, a
    /// clock jump, a netem delay) searched between --from and --to for the
    /// largest at which every run is valid and the smallest at which one is
    /// not, for the clients' view (mutual-exclusion, or election) and the
    /// service's (lease-safety). Each probe is a stored run tagged with the
    /// study. The rest of the options are `run`'s.
    ///
    /// Exit codes: 0 measured (whatever the margins), 3 could not run.
    Margin {
        /// The system (the help lists them, from the registry).
        system: String,
        /// The fault whose size is searched, KIND[:TARGET] (one; `--nemesis`
        /// is not taken).
        #[arg(long, value_name = "KIND[:TARGET]")]
        fault: String,
        /// The smallest size tried (default: a quarter of --ttl).
        #[arg(long, value_parser = parse_duration)]
        from: Option<Duration>,
        /// The largest size tried (default: twice --ttl).
        #[arg(long, value_parser = parse_duration)]
        to: Option<Duration>,
        /// Runs per size (seeds --seed, --seed + 1, …); a size is safe when
        /// every run is valid.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Stop searching once this much time is spent (between probes).
        #[arg(long, default_value = "20m", value_parser = parse_duration)]
        budget: Duration,
        /// The study as JSON on stdout (progress goes to stderr).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        opts: Box<RunOpts>,
    },
    /// Reduce a failing run to the fewest faults, the shortest time limit
    /// and the fewest clients that still fail the same way (same checkers,
    /// same main cause): each attempt a replay of some of its faults,
    /// stored like any run. Prints the smallest, and how to replay it.
    Shrink {
        /// The failing run's id.
        run: String,
        /// Stop trying once this much time is spent (between attempts).
        #[arg(long, default_value = "15m", value_parser = parse_duration)]
        budget: Duration,
        /// The results store.
        #[arg(long, default_value = "store")]
        store: PathBuf,
    },
    /// The stored margin studies: per system, fault and view, the largest
    /// size survived and the smallest that broke.
    Margins {
        /// The results store.
        #[arg(long, default_value = "store")]
        store: PathBuf,
        /// Every study as JSON (`safe_up_to_ms`, `unsafe_from_ms` per view).
        #[arg(long)]
        json: bool,
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
        // The help lists the profiles from their table.
        #[arg(long, value_name = "NAME", help = harness::profile::help(), conflicts_with_all = [
            "ttl", "concurrency", "keys", "hold_min", "hold_max", "time_limit", "nemesis_interval", "nemesis", "repeat",
        ])]
        profile: Option<String>,
        /// Runs per system × fault mix, the seed counting up from --seed
        /// (repeats of one configuration: one cell of the comparison).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat: u32,
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
    /// Write a stored run's report (or the comparison, or the scenario
    /// library) as one HTML file that opens with no server: the page with
    /// its timeline, charts and evidence inlined, for a ticket or an email.
    #[command(group = clap::ArgGroup::new("what").required(true).args(["run", "suite", "scenarios"]))]
    Report {
        /// The run id, as `fencepost runs` lists it.
        run: Option<String>,
        /// The comparison instead: every system × faults × configuration
        /// cell of the store (what `suite` runs fill), and the margins.
        #[arg(long)]
        suite: bool,
        /// The scenario library instead, with the store's runs of each.
        #[arg(long)]
        scenarios: bool,
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        html: PathBuf,
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
        #[arg(long, default_value = "auto", value_parser = parse_format, help = format_help())]
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

/// Whether to draw the progress line: only on a terminal.
fn progress() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Runs one async command on a fresh runtime; errors exit with code 3.
/// A token Ctrl-C cancels (a study or a shrink stops between runs), and
/// the task that waits for it, to abort when done.
pub(crate) fn cancel_on_ctrl_c() -> (workloads::CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = workloads::CancellationToken::new();
    let cancel = stop.clone();
    let task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    (stop, task)
}

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

/// `soak --sample`: a duration, and not zero (a sampler that never sleeps
/// would measure itself).
fn parse_sample(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d < Duration::from_millis(100) => Err(format!("`{s}` is too short a sample interval: at least 100ms")),
        d => Ok(d),
    }
}

/// `--format`'s help: the formats `check` and `import` read.
fn format_help() -> String {
    format!(
        "The history's format: {} (auto: from the file's name and first line; jsonl is fencepost's own, edn \
         Jepsen's and Knossos's, porcupine-* Porcupine's test logs)",
        Format::NAMES.join(", ")
    )
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
        .mut_subcommand("margin", |c| c.mut_arg("system", |a| a.help(system.clone())))
        .mut_subcommand("up", |c| c.mut_arg("system", |a| a.help(system.clone())))
        .mut_subcommand("runs", |c| c.mut_arg("system", |a| a.help(runs)))
        .mut_subcommand("suite", |c| {
            c.mut_arg("systems", |a| {
                a.help("Comma-separated systems.").default_value(EVERY_SYSTEM.as_str()).required(false)
            })
        })
}

fn suite(systems: String, nemeses: String, repeat: usize, opts: &RunOpts) -> ExitCode {
    let split = |s: &str| s.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    match opts.args(String::new()) {
        Ok(template) => {
            let args = store_cmds::SuiteArgs {
                systems: split(&systems),
                nemeses: split(&nemeses),
                repeat,
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
fn run(system: Option<String>, opts: &RunOpts, plan: bool, replay: Option<String>) -> ExitCode {
    let args = match replay {
        Some(of) => run_async_value(run::replay_args(opts, of)),
        None => opts.args(system.unwrap_or_default()).map_err(|e| eprintln!("error: {e:#}")).ok(),
    };
    let Some(args) = args else {
        return ExitCode::from(EXIT_UNUSABLE);
    };
    if plan {
        return match run::plan_command(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_UNUSABLE)
            }
        };
    }
    if opts.ssh.dry_run {
        return run_async(ssh_hosts::dry_run_command(args));
    }
    run_exit(run_async_value(async {
        let prepared = harness::run::prepare(args)?;
        Ok(run::run_command(prepared, progress()).await?.verdict)
    }))
}

/// `fencepost soak`: 0 when every check passed, 1 when one failed.
fn soak(system: String, opts: &RunOpts, options: soak::SoakOptions) -> ExitCode {
    if opts.ssh.dry_run {
        eprintln!("error: --dry-run: soak runs the test; `fencepost run --dry-run` shows what it would do");
        return ExitCode::from(EXIT_UNUSABLE);
    }
    match opts.args(system) {
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
        Command::Clients => {
            clients_command();
            ExitCode::SUCCESS
        }
        Command::BenchApi { uploads, size } => run_async(bench_api::bench_api(uploads.max(1), size.max(200))),
        Command::BenchClients { systems, concurrency, keys, hold, time_limit } => {
            let concurrency = concurrency.max(1);
            let keys = keys.unwrap_or(concurrency).max(1);
            run_async(bench_clients::bench_clients(&systems, concurrency, keys, hold, time_limit))
        }
        Command::Run { system, opts, plan, replay } => run(system, &opts, plan, replay),
        Command::Margin { system, fault, from, to, runs, budget, json, opts } => {
            let args = margin::MarginCmd { system, fault, from, to, runs, budget, json };
            match run_async_value(margin::margin_command(args, &opts)) {
                Some(()) => ExitCode::SUCCESS,
                None => ExitCode::from(EXIT_UNUSABLE),
            }
        }
        Command::Shrink { run, budget, store } => run_async(shrink::shrink_command(&store, &run, budget)),
        Command::Margins { store, json } => match margin::margins_command(&store, json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(EXIT_UNUSABLE)
            }
        },
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
        Command::Suite { systems, profile, repeat, mut opts } => {
            let mut repeat = repeat as usize;
            if let Some(name) = profile {
                match harness::profile::by_name(&name) {
                    Ok(p) => {
                        opts.faults.nemesis = p.apply(&mut opts);
                        repeat = p.repeat;
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(EXIT_UNUSABLE);
                    }
                }
            }
            // --nemeses lands in the field --nemesis fills for `run`; the
            // template runs without faults and each mix sets its own.
            let nemeses = std::mem::replace(&mut opts.faults.nemesis, "none".into());
            suite(systems, nemeses, repeat, &opts)
        }
        Command::Scenarios { action, file, store, json } => scenarios(action, file, store, json),
        Command::Serve { bind, store } => run_async(async move { Ok(web::serve(bind, store).await?) }),
        Command::Report { run, suite, scenarios, html, store } => {
            let of = match (&run, suite, scenarios) {
                (Some(id), _, _) => web::ReportOf::Run(id),
                (None, true, _) => web::ReportOf::Comparison,
                _ => web::ReportOf::Scenarios,
            };
            run_async(store_cmds::report_html(&store, of, &html))
        }
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

/// `fencepost clients`: the table of lock clients.
fn clients_command() {
    use workloads::external::{Adapter, ADAPTERS};
    out!("{:<12} {:<28} {:<9} {:<10} {:<24} installed", "client", "library", "version", "language", "systems");
    out!("{:<12} {:<28} {:<9} {:<10} {:<24} yes", "fencepost", "its own recipes", "-", "Rust", "every system");
    for a in ADAPTERS {
        let installed = match Adapter::external(a) {
            Ok(_) => "yes".to_string(),
            Err(_) => "no: bash scripts/setup.sh".to_string(),
        };
        out!(
            "{:<12} {:<28} {:<9} {:<10} {:<24} {installed}",
            a.name,
            a.library,
            a.version,
            a.language,
            a.systems.join(", ")
        );
    }
    out!("your own: fencepost run SYSTEM --client-cmd 'PROGRAM ARGS…' (the protocol: docs/CLIENTS.md)");
}
