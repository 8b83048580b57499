//! `fencepost soak`'s checks: whether the harness held up over a long run.
//! The caller runs the test (exactly as `run` does), samples this process's
//! memory into [`Sample`]s, and asks each check for its [`Check`]:
//!
//! - [`memory_check`]: RSS stays flat after the warm-up (the harness runs in
//!   the caller's process, so its RSS is the harness's);
//! - [`history_check`]: every completion the recorder counted is in
//!   `history.jsonl`;
//! - [`index_check`]: the index lists the run with its verdict;
//! - [`leftovers_check`]: no container or network of the run is left, and
//!   the nemesis's final heal left nothing.
//!
//! Nothing here prints; the text of each check is the caller's to show.

use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

use checker::history::{OpType, Process};

/// RSS after the warm-up may grow by this much and still count as flat…
const FLAT_MIB: f64 = 16.0;
/// …or by this share of the RSS at the end of the warm-up, whichever is larger.
const FLAT_SHARE: f64 = 0.10;

/// One point of the memory curve.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Since the workload started.
    pub elapsed: Duration,
    pub rss_mib: f64,
    /// Client completions (ok, fail, info) recorded so far.
    pub completions: u64,
    /// Completions per second since the previous sample.
    pub rate: f64,
}

/// One check's outcome, for the summary.
pub struct Check {
    pub name: &'static str,
    pub state: State,
    pub text: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum State {
    Passed,
    Failed,
    /// Not measurable in this run (shorter than the warm-up, no containers).
    Skipped,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Passed => "ok",
            State::Failed => "FAILED",
            State::Skipped => "skipped",
        }
    }
}

/// Flat: from the first sample at or after the warm-up, RSS never grows by
/// more than [`FLAT_MIB`] or [`FLAT_SHARE`] of it, whichever is larger.
pub fn memory_check(samples: &[Sample], warm_up: Duration) -> Check {
    let Some(first) = samples.iter().position(|s| s.elapsed >= warm_up) else {
        return Check {
            name: "memory",
            state: State::Skipped,
            text: format!("no sample at or after {} (the run is shorter)", clock(warm_up)),
        };
    };
    let base = samples[first];
    let Some(top) = samples[first + 1..].iter().max_by(|a, b| a.rss_mib.total_cmp(&b.rss_mib)) else {
        return Check {
            name: "memory",
            state: State::Skipped,
            text: format!("no sample after the one at {} to compare with", clock(base.elapsed)),
        };
    };
    let growth = top.rss_mib - base.rss_mib;
    let allowed = FLAT_MIB.max(base.rss_mib * FLAT_SHARE);
    let flat = growth <= allowed;
    Check {
        name: "memory",
        state: if flat { State::Passed } else { State::Failed },
        text: format!(
            "{}: RSS {:.1} MiB at {}, at most {:.1} MiB after (at {}): {:+.1} MiB, {:+.1} % (flat up to +{allowed:.1} MiB)",
            if flat { "flat" } else { "grew" },
            base.rss_mib,
            clock(base.elapsed),
            top.rss_mib,
            clock(top.elapsed),
            growth,
            100.0 * growth / base.rss_mib.max(f64::MIN_POSITIVE),
        ),
    }
}

/// Completions by type in a history file.
#[derive(Default, Debug)]
pub struct HistoryCounts {
    pub events: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

/// The two fields of a history line the count needs; serde skips the rest
/// (values, errors) without building them.
#[derive(serde::Deserialize)]
struct Line {
    process: Process,
    #[serde(rename = "type")]
    kind: OpType,
}

/// Counts the client completions of a history line by line: a full-rate
/// run's history can be gigabytes, so it is never held whole.
pub fn count_history(path: &Path) -> Result<HistoryCounts, crate::Error> {
    let file = std::fs::File::open(path).map_err(crate::io("opening", path))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let (mut counts, mut line, mut number) = (HistoryCounts::default(), String::new(), 0u64);
    loop {
        line.clear();
        number += 1;
        if reader.read_line(&mut line).map_err(crate::io("reading", path))? == 0 {
            return Ok(counts);
        }
        if line.trim().is_empty() {
            continue;
        }
        let op: Line = serde_json::from_str(&line)
            .map_err(|e| crate::Error::Refused(format!("{}:{number}: not an op: {e}", path.display())))?;
        counts.events += 1;
        if op.process == Process::Nemesis {
            continue;
        }
        match op.kind {
            OpType::Ok => counts.ok += 1,
            OpType::Fail => counts.fail += 1,
            OpType::Info => counts.info += 1,
            OpType::Invoke => {}
        }
    }
}

/// Every completion the recorder counted (client processes, as it counts
/// them: workers, background keep-alives, final reads) is in the file.
pub fn history_check(path: &Path, recorder: workloads::Counts, recorded_events: u64) -> Check {
    let started = Instant::now();
    let history = match count_history(path) {
        Ok(h) => h,
        Err(e) => return Check { name: "history", state: State::Failed, text: e.to_string() },
    };
    let took = started.elapsed();
    let fewer = history.ok < recorder.ok || history.fail < recorder.fail || history.info < recorder.info;
    let same = history.ok == recorder.ok && history.fail == recorder.fail && history.info == recorder.info;
    let verdict = if fewer {
        "MISSING completions"
    } else if same {
        "complete"
    } else {
        "complete, with more than counted"
    };
    Check {
        name: "history",
        state: if fewer { State::Failed } else { State::Passed },
        text: format!(
            "{verdict}: recorder ok {} fail {} info {}; history.jsonl ok {} fail {} info {} ({} events, the recorder wrote {recorded_events}; read in {:.1} s)",
            recorder.ok,
            recorder.fail,
            recorder.info,
            history.ok,
            history.fail,
            history.info,
            history.events,
            took.as_secs_f64()
        ),
    }
}

/// The index lists the run among its system's runs, with the verdict the
/// run reached.
pub async fn index_check(store_dir: &Path, system: &str, id: &str, verdict: checker::Verdict) -> Check {
    let started = Instant::now();
    let listed = async {
        let store = results::Store::open(store_dir).await?;
        let filter = results::Filter { system: Some(system.to_string()), ..Default::default() };
        let rows = store.list(&filter).await?;
        Ok::<_, results::Error>((rows.len(), rows.into_iter().find(|r| r.id == id)))
    }
    .await;
    let took = ms(started.elapsed());
    let (state, text) = match listed {
        Err(e) => (State::Failed, format!("{e}")),
        Ok((n, None)) => (State::Failed, format!("run {id} is not among the {n} runs of {system} listed ({took})")),
        Ok((n, Some(row))) if row.verdict == verdict => (
            State::Passed,
            format!(
                "listed ({n} run{} of {system}): verdict {}, {} ops ({took})",
                if n == 1 { "" } else { "s" },
                row.verdict.as_str(),
                row.ops
            ),
        ),
        Ok((_, Some(row))) => (
            State::Failed,
            format!("listed with verdict {}, but the run's is {} ({took})", row.verdict.as_str(), verdict.as_str()),
        ),
    };
    Check { name: "index", state, text }
}

/// Nothing of the run is left: no container or network labelled with its
/// id, nothing the nemesis's final heal found, nothing its teardown could
/// not remove.
pub async fn leftovers_check(
    in_containers: bool,
    id: &str,
    warnings: &[String],
    nemesis_leftovers: &[String],
) -> Check {
    let mut left: Vec<String> = warnings.to_vec();
    left.extend(nemesis_leftovers.iter().map(|l| format!("after the final heal: {l}")));
    let docker = if in_containers {
        let resources = async { docker::run_resources(&docker::Engine::connect().await?, id).await }.await;
        match resources {
            Ok(r) => {
                left.extend(r.containers.iter().map(|c| format!("container {c}")));
                left.extend(r.networks.iter().map(|n| format!("network {n}")));
                "no container or network labelled with the run"
            }
            Err(e) => {
                left.push(format!("could not list the run's containers: {e}"));
                ""
            }
        }
    } else {
        "no containers (an existing cluster or SSH hosts)"
    };
    if left.is_empty() {
        Check {
            name: "leftovers",
            state: State::Passed,
            text: format!("none: {docker}; the nemesis healed everything"),
        }
    } else {
        Check { name: "leftovers", state: State::Failed, text: left.join("; ") }
    }
}

/// A memory figure of this process from `/proc/self/status` (`VmRSS`,
/// `VmHWM`, given in kB there) in MiB; `None` where /proc is unavailable.
pub fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

/// `1m 30s` style, to the second (`0s` at the start).
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m {s:02}s"),
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(secs: u64, rss_mib: f64) -> Sample {
        Sample { elapsed: Duration::from_secs(secs), rss_mib, completions: 0, rate: 0.0 }
    }

    #[test]
    fn memory_is_judged_after_the_warm_up_against_the_larger_allowance() {
        let warm = Duration::from_secs(60);
        // Growth before the warm-up does not count; 15 MiB after it is flat.
        let flat = [sample(0, 10.0), sample(30, 80.0), sample(60, 100.0), sample(90, 115.0), sample(120, 101.0)];
        assert!(memory_check(&flat, warm).state == State::Passed);
        // 10 % of 500 MiB is the allowance above 16 MiB.
        let big = [sample(60, 500.0), sample(70, 549.0)];
        assert!(memory_check(&big, warm).state == State::Passed);
        let grew = [sample(60, 100.0), sample(70, 117.0)];
        let check = memory_check(&grew, warm);
        assert!(check.state == State::Failed && check.text.starts_with("grew"), "{}", check.text);
        // Too short to judge.
        let short = [sample(0, 10.0), sample(60, 10.0)];
        assert!(memory_check(&short, warm).state == State::Skipped);
    }

    #[test]
    fn history_counts_client_completions_only() {
        let dir = std::env::temp_dir().join(format!("fencepost-soak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        std::fs::write(
            &path,
            concat!(
                "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"acquire\",\"key\":\"k0\",\"value\":{\"ttl_ms\":5000}}\n",
                "{\"index\":1,\"time\":2,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill-start\",\"value\":{}}\n",
                "{\"index\":2,\"time\":3,\"process\":0,\"type\":\"ok\",\"f\":\"acquire\",\"key\":\"k0\",\"value\":{\"token\":1},\"node\":\"n1\"}\n",
                "\n",
                "{\"index\":3,\"time\":4,\"process\":3000000,\"type\":\"info\",\"f\":\"keep-alive\",\"value\":null}\n",
            ),
        )
        .unwrap();
        let counts = count_history(&path).unwrap();
        assert_eq!((counts.events, counts.ok, counts.fail, counts.info), (4, 1, 0, 1));
        let recorder = workloads::Counts { invoke: 1, ok: 1, fail: 0, info: 1, busy: 0 };
        assert!(history_check(&path, recorder, 4).state == State::Passed);
        let more = workloads::Counts { ok: 2, ..recorder };
        assert!(history_check(&path, more, 4).state == State::Failed);
        std::fs::write(&path, "{\"process\":0,\"type\":\"ok\"\n").unwrap();
        let check = history_check(&path, recorder, 1);
        assert!(check.state == State::Failed && check.text.contains(":1:"), "{}", check.text);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
