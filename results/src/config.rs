//! A run's configuration as the comparison groups runs: two runs are one
//! cell of `compare` only when the system, workload and faults match *and*
//! so does everything else that decides what a run can show — the TTL, the
//! clients and keys, the holds, the client's timeouts, how long and how
//! large each fault is, whether the resource enforced fencing. The seed
//! and the time limit are left out: they are what repeats of one
//! configuration vary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use checker::analysis::counted;

use crate::Recorded;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub ttl_ms: u64,
    pub concurrency: usize,
    pub keys: usize,
    /// `[min, max]`.
    pub hold_ms: [u64; 2],
    /// Acquire attempts per second across clients, if paced.
    pub rate: Option<f64>,
    pub timeout_ms: u64,
    pub acquire_wait_ms: u64,
    pub nemesis_interval_ms: u64,
    /// The faults' own parameters, as the nemesis names them.
    pub fault_options: BTreeMap<String, f64>,
    pub clock_mode: String,
    pub fencing_enforced: bool,
    /// The client program, when not fencepost's own recipe: runs of one
    /// system with another client are another cell (system × client ×
    /// faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

impl Config {
    pub fn of(r: &Recorded) -> Config {
        Config {
            ttl_ms: r.ttl_ms,
            concurrency: r.concurrency,
            keys: r.keys,
            hold_ms: r.hold_ms,
            rate: r.rate,
            timeout_ms: r.timeout_ms,
            acquire_wait_ms: r.acquire_wait_ms,
            nemesis_interval_ms: r.nemesis_interval_ms,
            fault_options: r.fault_options.clone(),
            clock_mode: r.clock_mode.clone(),
            fencing_enforced: r.fencing_enforced,
            client: r.client.clone(),
        }
    }

    /// What a reader compares first: `TTL 5s · 5 clients · 1 key · holds
    /// 50ms–500ms · a fault every 5s`, then whatever else `apart` names
    /// (the fault options that tell this cell from its neighbours).
    pub fn words(&self, apart: &[String]) -> String {
        let mut words: Vec<String> = self.client.iter().map(|c| format!("client {c}")).collect();
        words.extend([
            format!("TTL {}", ms(self.ttl_ms)),
            counted(self.concurrency, "client", "clients"),
            counted(self.keys, "key", "keys"),
            format!("holds {}–{}", ms(self.hold_ms[0]), ms(self.hold_ms[1])),
            format!("faults every {}", ms(self.nemesis_interval_ms)),
        ]);
        if let Some(rate) = self.rate {
            words.push(format!("{rate} acquires/s"));
        }
        if !self.fencing_enforced {
            words.push("no fencing".into());
        }
        for key in apart {
            match key.as_str() {
                "timeout_ms" => words.push(format!("timeout {}", ms(self.timeout_ms))),
                "acquire_wait_ms" => words.push(format!("acquire wait {}", ms(self.acquire_wait_ms))),
                "clock_mode" => words.push(format!("clock mode {}", self.clock_mode)),
                option => {
                    if let Some(v) = self.fault_options.get(option) {
                        words.push(format!("{option} {v}"));
                    }
                }
            }
        }
        words.join(" · ")
    }

    /// What of `self` and `other` differs beyond [`Config::words`]' own
    /// first part: the names [`Config::words`] takes as `apart`.
    pub fn differences(&self, other: &Config) -> Vec<String> {
        let mut keys = Vec::new();
        if self.timeout_ms != other.timeout_ms {
            keys.push("timeout_ms".to_string());
        }
        if self.acquire_wait_ms != other.acquire_wait_ms {
            keys.push("acquire_wait_ms".to_string());
        }
        if self.clock_mode != other.clock_mode {
            keys.push("clock_mode".to_string());
        }
        let names: std::collections::BTreeSet<&String> =
            self.fault_options.keys().chain(other.fault_options.keys()).collect();
        for name in names {
            if self.fault_options.get(name) != other.fault_options.get(name) {
                keys.push(name.clone());
            }
        }
        keys
    }
}

/// `5s`, `1.5s`, `250ms`.
fn ms(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(100) {
        let s = ms as f64 / 1000.0;
        format!("{s}s")
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            ttl_ms: 5000,
            concurrency: 5,
            keys: 1,
            hold_ms: [50, 500],
            rate: None,
            timeout_ms: 2000,
            acquire_wait_ms: 1000,
            nemesis_interval_ms: 1500,
            fault_options: BTreeMap::from([("loss".to_string(), 0.3), ("clock_offset_ms".to_string(), 60000.0)]),
            clock_mode: "random".into(),
            fencing_enforced: true,
            client: None,
        }
    }

    #[test]
    fn words_name_what_a_reader_compares_and_what_tells_two_apart() {
        let a = config();
        assert_eq!(a.words(&[]), "TTL 5s · 5 clients · 1 key · holds 50ms–500ms · faults every 1.5s");
        let b = Config { fault_options: BTreeMap::from([("loss".to_string(), 0.5)]), ..config() };
        let apart = a.differences(&b);
        assert_eq!(apart, ["clock_offset_ms", "loss"]);
        assert!(b.words(&apart).ends_with("· loss 0.5"), "{}", b.words(&apart));
        assert!(a.differences(&a).is_empty());
    }

    fn row(id: &str, config: Option<Config>, verdict: crate::Verdict) -> crate::RunRow {
        crate::RunRow {
            id: id.into(),
            system: "redis".into(),
            workload: "lock".into(),
            nemesis: "kill".into(),
            started_ms: 0,
            duration_ms: 1000,
            ops: 10,
            verdict,
            checkers: BTreeMap::new(),
            ops_per_s: Some(10.0),
            grant_p50_ms: None,
            grant_p99_ms: None,
            progress_share: None,
            recovery_ms: None,
            overlap_causes: BTreeMap::new(),
            layers: crate::Layers::default(),
            scenario: None,
            config,
        }
    }

    #[test]
    fn runs_with_another_ttl_are_another_cell_and_repeats_are_one() {
        use crate::Verdict::{Invalid, Valid};
        let short = Config { ttl_ms: 2000, ..config() };
        let cells = crate::cells(vec![
            row("a", Some(config()), Valid),
            row("b", Some(config()), Invalid),
            row("c", Some(short.clone()), Valid),
            row("d", None, Valid),
        ]);
        let shown: Vec<(&str, usize, usize)> =
            cells.iter().map(|c| (c.config_words.as_str(), c.runs, c.invalid)).collect();
        assert_eq!(
            shown,
            [
                ("TTL 2s · 5 clients · 1 key · holds 50ms–500ms · faults every 1.5s", 1, 0),
                ("TTL 5s · 5 clients · 1 key · holds 50ms–500ms · faults every 1.5s", 2, 1),
                ("not recorded", 1, 0),
            ]
        );
        assert_eq!(cells[0].config.as_ref(), Some(&short));
    }

    /// A client library under test is a dimension of the comparison:
    /// system × client × faults.
    #[test]
    fn runs_with_another_client_are_another_cell_named_by_it() {
        use crate::Verdict::{Invalid, Valid};
        let adapter = Config { client: Some("redis-py".into()), ..config() };
        let cells = crate::cells(vec![row("a", Some(config()), Valid), row("b", Some(adapter.clone()), Invalid)]);
        let shown: Vec<(&str, usize)> = cells.iter().map(|c| (c.config_words.as_str(), c.invalid)).collect();
        assert_eq!(
            shown,
            [
                ("TTL 5s · 5 clients · 1 key · holds 50ms–500ms · faults every 1.5s", 0),
                ("client redis-py · TTL 5s · 5 clients · 1 key · holds 50ms–500ms · faults every 1.5s", 1),
            ]
        );
    }
}
