//! `run`'s options as the command line (and a scenario, and later a
//! browser's form) gives them: parsed by clap, checked, and turned into
//! [`RunArgs`]. They live here, not in the binary, so that everything that
//! starts a run reads them with one parser and one set of refusals.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use results::scenario::Scenario;

use crate::{Error, RunArgs, SshArgs};

/// `--workload`: the names come from the workloads' registry, so a new
/// workload is on the command line without touching it.
pub fn workload_parser() -> impl clap::builder::TypedValueParser<Value = workloads::Workload> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(workloads::Workload::names())
        .try_map(|name| name.parse::<workloads::Workload>())
}

/// The options of one test run (`run`, and each run of `suite`).
#[derive(clap::Args)]
pub struct RunOpts {
    /// What the clients do: lock (acquire, hold, release), fenced-counter
    /// (increment a counter in a fenced resource while holding the lock),
    /// election (campaign, lead, resign; one client observes).
    #[arg(long, default_value = "lock", value_parser = workload_parser())]
    pub workload: workloads::Workload,
    /// fenced-counter: let the resource accept writes with stale tokens.
    #[arg(long)]
    pub no_fencing: bool,
    /// How long the workload runs, quiet period included (with a unit: 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub time_limit: Duration,
    /// Concurrent clients.
    #[arg(long, default_value_t = 5)]
    pub concurrency: usize,
    /// Locks k0..k{N-1}.
    #[arg(long, default_value_t = 1)]
    pub keys: usize,
    /// Acquire attempts per second across all clients (default: as fast as answered).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Shortest time a client holds a granted lock.
    #[arg(long, default_value = "5ms", value_parser = parse_duration)]
    pub hold_min: Duration,
    /// Longest time a client holds a granted lock.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub hold_max: Duration,
    /// Lease / lock TTL where the recipe has one.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub ttl: Duration,
    /// One request's deadline; past it the outcome is unknown (`info`).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How long an acquire may wait for a busy lock (0: try once).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub acquire_wait: Duration,
    /// Seeds the clients' choices and the fault schedule (same seed, same faults).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The lock client: `fencepost` (its own recipe for the system) or a
    /// shipped adapter over a lock library (`fencepost clients` lists them).
    #[arg(long, default_value = "fencepost", value_name = "NAME")]
    pub client: String,
    /// Your own program as the lock client, speaking JSON lines on stdin
    /// and stdout (docs/CLIENTS.md): its command line, split as a shell
    /// would (quotes kept) but never run through one.
    #[arg(long, value_name = "COMMAND", conflicts_with = "client")]
    pub client_cmd: Option<String>,
    /// How much faster a server's clock may run than fencepost's, in percent
    /// (e.g. 1 or 1%): a lease of TTL is counted as guaranteed for TTL × (1 − drift).
    #[arg(long, default_value = "1%", value_parser = parse_percent)]
    pub drift: f64,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Test an existing cluster at these `host:port`s (comma-separated)
    /// instead of starting one: no containers, and of the faults only
    /// client-pause.
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    #[command(flatten)]
    pub ssh: SshOpts,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// A cluster on SSH hosts, for `run`.
#[derive(clap::Args)]
pub struct SshOpts {
    /// Test the cluster on the SSH hosts this node file lists (README:
    /// "Your own cluster over SSH"), with every fault, instead of starting
    /// containers.
    #[arg(long, value_name = "FILE", conflicts_with = "endpoints")]
    pub nodes: Option<PathBuf>,
    /// Accept and remember host keys never seen before (ssh's
    /// StrictHostKeyChecking=accept-new); without it an unknown host is refused.
    #[arg(long, requires = "nodes")]
    pub accept_new_host_keys: bool,
    /// First install the system on the hosts from the distribution's
    /// packages (Debian/Ubuntu; etcd, redis and zookeeper) and form the cluster.
    #[arg(long, requires = "nodes")]
    pub install: bool,
    /// At the end, remove what --install added.
    #[arg(long, requires = "nodes")]
    pub teardown: bool,
    /// Print the commands the run would run on the nodes (all that change
    /// them; not the probes), and exit without connecting.
    #[arg(long, requires = "nodes")]
    pub dry_run: bool,
}

/// The nemesis's options for `run` (and `suite`).
#[derive(clap::Args)]
pub struct FaultArgs {
    // The help lists the kinds from the nemesis's registry.
    #[arg(long, default_value = "none", value_name = "KIND[:TARGET],…", help = nemesis::nemesis_help())]
    pub nemesis: String,
    /// Time between faults, and how long each lasts (client pauses last
    /// --client-pause). Faults play from the start until the quiet period;
    /// the default is a quarter of that time, at most 5 s, so at least two
    /// faults fit. A holder fault waits up to this long for a holder (never
    /// past the next fault or the quiet period), then is skipped.
    #[arg(long, value_parser = parse_duration)]
    pub nemesis_interval: Option<Duration>,
    /// After the last fault is healed, the workload runs this long without
    /// faults before the end (default: a quarter of the time limit, ≤ 5 s).
    #[arg(long, value_parser = parse_duration)]
    pub quiet: Option<Duration>,
    /// loss: share of packets dropped.
    #[arg(long, default_value_t = 0.3)]
    pub loss_probability: f64,
    /// clock: how far a jump moves a server's clock (its sign as
    /// --clock-mode says), and how far a strobe flips it.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub clock_offset: Duration,
    /// clock: which faults to draw: random (a jump or a strobe, either
    /// sign), forward (jumps ahead only: leases expire early), backward
    /// (jumps back only), strobe (strobes only).
    #[arg(long, default_value = "random", value_parser = parse_clock_mode, value_name = "MODE")]
    pub clock_mode: nemesis::ClockMode,
    /// clock: a strobing clock flips every this long.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub clock_strobe_period: Duration,
    /// clock-rate: how fast a server's clock runs while the fault lasts (2:
    /// twice real time, 0.5: half), from 0.01 to 100, not 1.
    #[arg(long, default_value_t = 2.0, value_name = "FACTOR")]
    pub clock_rate: f64,
    /// netem: delay added to every packet a node sends.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub netem_delay: Duration,
    /// netem: random variation of that delay, ±.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    pub netem_jitter: Duration,
    /// netem: share of packets also dropped.
    #[arg(long, default_value_t = 0.0)]
    pub netem_loss: f64,
    /// client-pause: how long a lock holder stalls (default: 1.5 × --ttl,
    /// at least --ttl + 1 s, so its lease runs out while it sleeps).
    #[arg(long, value_parser = parse_duration)]
    pub client_pause: Option<Duration>,
    /// client-pause: how many holders one pause catches.
    #[arg(long, default_value_t = 1)]
    pub client_pause_clients: usize,
}

/// `run`'s numbers that cannot mean what they say (no clients, no locks, a
/// shortest hold longer than the longest) are refused naming the flag,
/// never quietly made into others: the run would not be the one asked for.
fn refuse_meaningless_numbers(opts: &RunOpts) -> Result<(), Error> {
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
    } else if !(f.clock_rate.is_finite() && (0.01..=100.0).contains(&f.clock_rate)) || f.clock_rate == 1.0 {
        Some(format!(
            "--clock-rate {}: a clock-rate fault runs a clock from 0.01 to 100 times real time, and not at 1 (that \
             is no fault)",
            f.clock_rate
        ))
    } else {
        None
    };
    match refusal {
        Some(why) => Err(Error::Options(why)),
        None => Ok(()),
    }
}

/// The client program `--client NAME` or `--client-cmd COMMAND` asks
/// for (`None`: fencepost's own recipe), or why it cannot play `system`'s
/// `workload`. `system` is empty for a suite's template (checked per run).
fn external_client(
    client: &str,
    command: Option<&str>,
    system: &str,
    workload: workloads::Workload,
) -> Result<Option<workloads::external::External>, Error> {
    use workloads::external::{Adapter, External, ADAPTERS};
    let external = match command {
        Some(command) => {
            let argv = shlex::split(command)
                .ok_or_else(|| Error::Options(format!("--client-cmd `{command}`: its quotes do not close")))?;
            if argv.is_empty() {
                return Err(Error::Options("--client-cmd: empty; give the program and its arguments".into()));
            }
            External { name: "custom".into(), argv }
        }
        None if client == "fencepost" => return Ok(None),
        None => {
            let Some(adapter) = Adapter::by_name(client) else {
                let known: Vec<&str> = ADAPTERS.iter().map(|a| a.name).collect();
                return Err(Error::Options(format!(
                    "--client {client}: no such client (known: fencepost, {}; or --client-cmd for your own)",
                    known.join(", ")
                )));
            };
            if !system.is_empty() {
                client_speaks_to(client, system)?;
            }
            adapter.external().map_err(|why| Error::Options(format!("--client {client}: {why}")))?
        }
    };
    if workload == workloads::Workload::Election {
        return Err(Error::Options(format!(
            "--client {}: client programs play the lock workloads (lock, fenced-counter); election adapters are \
             not built yet",
            external.name
        )));
    }
    Ok(Some(external))
}

/// Whether the shipped adapter `client` speaks to `system` (its variants
/// too); `fencepost` and a user's own program are taken at their word.
pub fn client_speaks_to(client: &str, system: &str) -> Result<(), Error> {
    let Some(adapter) = workloads::external::Adapter::by_name(client) else { return Ok(()) };
    let base = system.split_once(':').map_or(system, |(s, _)| s);
    if adapter.systems.contains(&base) {
        Ok(())
    } else {
        Err(Error::Options(format!("--client {client} speaks to {}, not {system}", adapter.systems.join(", "))))
    }
}

/// A duration as the command line takes it (`5ms`, `1s 500ms`).
pub fn show_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl RunOpts {
    /// The run's arguments from these options; `system` may be empty (suite).
    pub fn args(&self, system: String) -> Result<RunArgs, Error> {
        let opts = self;
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
            client,
            client_cmd,
            drift,
            store,
            endpoints,
            ssh,
            faults,
        } = opts;
        refuse_meaningless_numbers(opts)?;
        let external = external_client(client, client_cmd.as_deref(), &system, *workload)?;
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
            client: workloads::ClientOptions {
                timeout: *timeout,
                acquire_wait: *acquire_wait,
                external: external.map(std::sync::Arc::new),
                ..Default::default()
            },
            ..Default::default()
        };
        let nemesis =
            nemesis::FaultSpec::parse_list(&faults.nemesis).map_err(|e| Error::Options(format!("--nemesis: {e}")))?;
        let quiet = faults.quiet.unwrap_or(default_quiet(*time_limit));
        let share = |name: &str, p: f64| {
            if (0.0..=1.0).contains(&p) {
                Ok(p)
            } else {
                Err(Error::Options(format!("--{name}: {p} is not a share between 0 and 1")))
            }
        };
        let fault_options = nemesis::FaultOptions {
            loss: share("loss-probability", faults.loss_probability)?,
            clock_offset: faults.clock_offset,
            clock_strobe_period: faults.clock_strobe_period,
            clock_rate: faults.clock_rate,
            netem_delay: faults.netem_delay,
            netem_jitter: faults.netem_jitter,
            netem_loss: share("netem-loss", faults.netem_loss)?,
            client_pause: faults.client_pause.unwrap_or(nemesis::FaultOptions::default_client_pause(*ttl)),
            client_pause_clients: faults.client_pause_clients,
            clock_mode: faults.clock_mode,
            data_file: None,
        };
        Ok(RunArgs {
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
            study: None,
            ssh: ssh.nodes.as_ref().map(|file| SshArgs {
                file: file.clone(),
                connect: ssh::Connect { accept_new_host_keys: ssh.accept_new_host_keys, dry_run: ssh.dry_run },
                install: ssh.install,
                teardown: ssh.teardown,
            }),
            replay: None,
        })
    }
}

impl RunArgs {
    /// The `run` command line that makes these arguments again (`--store`
    /// aside), naming only what differs from `run`'s defaults: recorded
    /// in `test.json`, it is how a replay reads a run's options and the
    /// command a report shows. The scenario and study tags are not options.
    pub fn command(&self) -> Vec<String> {
        let defaults = RunLine::try_parse_from([self.system.as_str()]).ok().and_then(|l| l.opts.args(l.system).ok());
        let default_flags = defaults.map(|d| d.flags()).unwrap_or_default();
        // Defaults that follow from other options are compared with what
        // they follow from here, not from `run`'s defaults.
        let derived = [
            ("--quiet", Some(flag_duration(default_quiet(self.options.time_limit)))),
            ("--client-pause", Some(flag_duration(nemesis::FaultOptions::default_client_pause(self.options.ttl)))),
        ];
        let mut line = vec![self.system.clone()];
        for (flag, value) in self.flags() {
            let derived_here = derived.iter().any(|(f, _)| *f == flag);
            let default = if derived_here {
                derived.contains(&(flag, value.clone()))
            } else {
                default_flags.contains(&(flag, value.clone()))
            };
            if default {
                continue;
            }
            line.push(flag.to_string());
            line.extend(value);
        }
        line
    }

    /// Every option as (flag, value); a switch that is on has no value and
    /// one that is off is left out.
    fn flags(&self) -> Vec<(&'static str, Option<String>)> {
        let (o, f) = (&self.options, &self.fault_options);
        let d = |d: Duration| Some(flag_duration(d));
        let workload = match self.workload {
            workloads::Workload::FencedCounterUnfenced => workloads::Workload::FencedCounter,
            w => w,
        };
        let mut flags = vec![
            ("--workload", Some(workload.name().to_string())),
            ("--time-limit", d(o.time_limit)),
            ("--concurrency", Some(o.concurrency.to_string())),
            ("--keys", Some(o.keys.to_string())),
            ("--hold-min", d(o.hold.0)),
            ("--hold-max", d(o.hold.1)),
            ("--ttl", d(o.ttl)),
            ("--timeout", d(o.client.timeout)),
            ("--acquire-wait", d(o.client.acquire_wait)),
            ("--seed", Some(o.seed.to_string())),
            ("--drift", Some(format!("{}%", self.leases.drift * 100.0))),
            ("--nemesis", Some(crate::run::fault_names(&self.nemesis))),
            ("--quiet", d(self.quiet)),
            ("--loss-probability", Some(f.loss.to_string())),
            ("--clock-offset", d(f.clock_offset)),
            ("--clock-mode", Some(f.clock_mode.name().to_string())),
            ("--clock-strobe-period", d(f.clock_strobe_period)),
            ("--clock-rate", Some(f.clock_rate.to_string())),
            ("--netem-delay", d(f.netem_delay)),
            ("--netem-jitter", d(f.netem_jitter)),
            ("--netem-loss", Some(f.netem_loss.to_string())),
            ("--client-pause", d(f.client_pause)),
            ("--client-pause-clients", Some(f.client_pause_clients.to_string())),
        ];
        if self.workload == workloads::Workload::FencedCounterUnfenced {
            flags.push(("--no-fencing", None));
        }
        if let Some(rate) = o.rate {
            flags.push(("--rate", Some(rate.to_string())));
        }
        match o.client.external.as_deref() {
            Some(e) if e.name == "custom" => flags
                .push(("--client-cmd", Some(shlex::try_join(e.argv.iter().map(String::as_str)).unwrap_or_default()))),
            Some(e) => flags.push(("--client", Some(e.name.clone()))),
            None => {}
        }
        if let Some(interval) = self.nemesis_interval {
            flags.push(("--nemesis-interval", d(interval)));
        }
        if !self.endpoints.is_empty() {
            flags.push(("--endpoints", Some(self.endpoints.join(","))));
        }
        if let Some(ssh) = &self.ssh {
            flags.push(("--nodes", Some(ssh.file.display().to_string())));
            let switches = [
                ("--accept-new-host-keys", ssh.connect.accept_new_host_keys),
                ("--install", ssh.install),
                ("--teardown", ssh.teardown),
            ];
            flags.extend(switches.into_iter().filter(|(_, on)| *on).map(|(flag, _)| (flag, None)));
        }
        flags
    }
}

/// `--quiet` when not given: a quarter of the time limit, at most 5 s.
fn default_quiet(time_limit: Duration) -> Duration {
    (time_limit / 4).min(Duration::from_secs(5))
}

/// A duration as one word `parse_duration` reads back: whole seconds,
/// milliseconds, or microseconds (finer is not kept).
fn flag_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}us", d.as_micros())
    }
}

/// The arguments a recorded `run` command line (`test.json`'s `command`)
/// stands for, stored in `store`.
pub fn command_args(line: &[String], store: &Path) -> Result<RunArgs, Error> {
    let parsed = RunLine::try_parse_from(line).map_err(|e| {
        Error::Options(format!(
            "the recorded command `{}`: {}",
            line.join(" "),
            e.render().to_string().trim_start_matches("error: ").trim_end()
        ))
    })?;
    let mut opts = parsed.opts;
    opts.store = store.to_path_buf();
    opts.args(parsed.system)
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
pub fn parse_clock_mode(s: &str) -> Result<nemesis::ClockMode, String> {
    nemesis::ClockMode::parse(s).map_err(|e| e.to_string())
}

/// A scenario's `run` command line, parsed by the same options as `run`.
#[derive(Parser)]
#[command(name = "fencepost run", no_binary_name = true)]
struct RunLine {
    system: String,
    #[command(flatten)]
    opts: RunOpts,
}

/// Options a scenario may not set: `scenarios run` decides them.
const DECIDED_BY_THE_RUNNER: &[&str] = &["--seed", "--store", "--endpoints"];

/// Options of `run` a scenario cannot carry: a library is portable, so its
/// scenarios run on fencepost's own containers, never on someone's hosts.
// A scenario file is shared: it may name a shipped adapter, never a
// program to run (`--client-cmd`).
const NOT_IN_A_SCENARIO: &[&str] =
    &["--nodes", "--install", "--teardown", "--dry-run", "--accept-new-host-keys", "--client-cmd"];

/// The run a scenario stands for, with `seed` and `store`.
pub fn scenario_args(scenario: &Scenario, seed: u64, store: &Path) -> Result<RunArgs, Error> {
    let refused = |why: String| Error::Scenario { name: scenario.name.clone(), why };
    let line = scenario.run_args();
    let named = |list: &[&str]| line.iter().find(|a| list.iter().any(|d| a.split('=').next() == Some(d))).cloned();
    if let Some(flag) = named(DECIDED_BY_THE_RUNNER) {
        return Err(refused(format!("`{flag}` is set by `scenarios run`, not in the scenario's options")));
    }
    if let Some(flag) = named(NOT_IN_A_SCENARIO) {
        let why = if flag.starts_with("--client-cmd") {
            "a scenario file is shared: it may name a shipped adapter (`--client NAME`), never a program to run"
        } else {
            "scenarios run on fencepost's own containers"
        };
        return Err(refused(format!("`{flag}` cannot be in a scenario ({why})")));
    }
    // clap's message starts with "error: "; ours names the scenario.
    let parsed = RunLine::try_parse_from(&line)
        .map_err(|e| refused(e.render().to_string().trim_start_matches("error: ").trim_end().to_string()))?;
    let mut opts = parsed.opts;
    opts.seed = seed;
    opts.store = store.to_path_buf();
    let mut args = opts.args(parsed.system).map_err(|e| refused(e.to_string()))?;
    args.scenario = Some(scenario.tag());
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use results::scenario::Library;

    /// A run's recorded command line parses back to the same arguments:
    /// every scenario's, and one that sets every kind of option.
    #[test]
    fn a_runs_command_line_makes_the_same_run_again() {
        let library = Library::builtin();
        let mut lines: Vec<Vec<String>> = library.scenarios.iter().map(|s| s.run_args()).collect();
        let odd = "redis --workload fenced-counter --no-fencing --rate 12.5 --drift 0.5% --quiet 1s --keys 3 \
                   --endpoints 127.0.0.1:1,127.0.0.1:2 --client-pause 1500ms --loss-probability 0.25 \
                   --nemesis-interval 750ms --timeout 2s --acquire-wait 10ms --hold-min 1500us --seed 9";
        lines.push(odd.split_whitespace().map(String::from).collect());
        for line in lines {
            let store = Path::new("store");
            let mut args = command_args(&line, store).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            args.scenario = None;
            let again = command_args(&args.command(), store).unwrap();
            assert_eq!(format!("{again:?}"), format!("{args:?}"), "{line:?} → {:?}", args.command());
        }
        // Defaults, and defaults that follow from other options, are left out.
        let line = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let args = command_args(&line("etcd --time-limit 8s --ttl 2s --quiet 2s --client-pause 3s"), Path::new("s"));
        assert_eq!(args.unwrap().command(), line("etcd --time-limit 8s --ttl 2s"));
    }

    /// Every built-in scenario is a valid `run` (system, workload, faults
    /// and options accepted, the plan made), and every checker it expects
    /// is one its workload runs.
    #[test]
    fn every_builtin_scenario_prepares() {
        let library = Library::builtin();
        for s in &library.scenarios {
            let args = scenario_args(s, 1, Path::new("store")).unwrap_or_else(|e| panic!("{e}"));
            let workload = args.workload;
            crate::run::prepare(args).unwrap_or_else(|e| panic!("scenario {}: {e}", s.name));
            let runs = workload.checkers();
            for checker in s.expect.checkers.keys() {
                let runs_it = runs.iter().any(|r| r.reported() == *checker);
                assert!(runs_it, "scenario {}: expects {checker}, but {} runs {runs:?}", s.name, workload.name());
            }
        }
    }

    /// Every registered system (variants too) has a control, so a new
    /// system is run without faults by `tests/scenarios.rs` from the day
    /// it is registered.
    #[test]
    fn every_system_has_a_control() {
        let library = Library::builtin();
        for system in workloads::systems::names() {
            let control = library.scenarios.iter().any(|s| s.system == system && s.is_control() && s.expect.all_valid);
            assert!(control, "no control scenario for {system} in results/scenarios.toml");
        }
    }

    #[test]
    fn options_the_runner_decides_are_refused() {
        let mut s = Library::builtin().scenarios[0].clone();
        s.options = "--seed 3 --ttl 2s".into();
        let e = scenario_args(&s, 1, Path::new("store")).unwrap_err().to_string();
        assert!(e.contains("`--seed` is set by `scenarios run`"), "{e}");
        s.options = "--nodes hosts.toml".into();
        let e = scenario_args(&s, 1, Path::new("store")).unwrap_err().to_string();
        assert!(e.contains("`--nodes` cannot be in a scenario"), "{e}");
        s.options = "--ttl two".into();
        let e = scenario_args(&s, 1, Path::new("store")).unwrap_err().to_string();
        assert!(e.contains(&s.name) && e.contains("--ttl"), "{e}");
    }
}
