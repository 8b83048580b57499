//! Scenarios: published lock and election failures (and controls), as
//! data, each with the verdicts it should produce. A scenario names a
//! system (and its configuration variant), a workload, aimed faults and the
//! rest of `fencepost run`'s options, who found the failure and where, and
//! per checker what a run of it must conclude. Running one many times
//! measures fencepost's detection power: how often it finds the failure,
//! and how soon.
//!
//! The library fencepost ships is `scenarios.toml` beside this crate; a
//! user's own file has the same format ([`Library::load`]). A run made for
//! a scenario carries a [`ScenarioTag`] in its `test.json` (the name and
//! the expectation it was run against), so that its [`Judgement`] stays
//! what it was when the library changes; the index keeps the judgement and
//! [`summarize`] turns a scenario's runs into its row of the table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use checker::analysis::Analysis;
use checker::checkers::CheckerId;
use checker::lease::Cause;
use checker::Verdict;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::record::RunResults;
use crate::RunRow;

/// The library fencepost ships.
const BUILTIN: &str = include_str!("../scenarios.toml");

/// Why a scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TOML parser's message names the line, the column and the field.
    #[error("{}: {source}", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{}: scenario {name} is defined twice", path.display())]
    Duplicate { path: PathBuf, name: String },
    #[error("{}: scenario {name:?}: {why}", path.display())]
    Invalid { path: PathBuf, name: String, why: String },
}

/// One scenario, as written in the library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Scenario {
    /// What `scenarios run` is given; letters, digits and `-`.
    pub name: String,
    /// One line: what happens.
    pub title: String,
    /// A registered system, with its variant (`redis:aof-always`).
    pub system: String,
    pub workload: String,
    /// `--nemesis`: `KIND[:TARGET]`, comma-separated, or `none` (a control).
    #[serde(default = "no_faults")]
    pub nemesis: String,
    /// The rest of `fencepost run`'s options, as typed on its command line
    /// (`--ttl 2s --hold-min 700ms`), so that the scenario means exactly
    /// what the same `run` does and can be pasted to reproduce it.
    #[serde(default)]
    pub options: String,
    /// The published failure it reproduces: who found it, where.
    pub source: String,
    pub expect: Expectation,
}

fn no_faults() -> String {
    "none".to_string()
}

/// What a checker must conclude.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Valid,
    Invalid,
    /// No expectation: how often it is invalid is the measurement (e.g. how
    /// often an asynchronous failover loses the latest lock).
    Measure,
}

/// A scenario's expectation, per checker (a checker not named may conclude
/// anything), and the causes its overlaps may have. Written as one table:
/// `{ mutual-exclusion = "invalid", lease-safety = "valid", causes =
/// ["lease-expired"] }`, or `{ all-valid = true }`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expectation {
    /// What each named checker must conclude, by the [`CheckerId`] its
    /// result is stored under (`linearizable` for both lock models).
    pub checkers: BTreeMap<CheckerId, Expect>,
    /// Every overlapping hold (or pair of leaders) must have one of these
    /// causes; absent: any cause.
    pub causes: Option<BTreeSet<Cause>>,
    /// Every checker the run has must be valid (a control): the named ones
    /// above only add to it.
    pub all_valid: bool,
}

impl Expectation {
    /// The checkers an expectation can name: those a result is stored
    /// under that judge (`availability` only informs).
    fn nameable(id: CheckerId) -> bool {
        id.reported() == id && checker::checkers::checker(id).judges()
    }

    /// In words: `mutual-exclusion invalid (lease-expired), fencing valid`.
    pub fn words(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.all_valid {
            parts.push("every checker valid".into());
        }
        for (&id, e) in &self.checkers {
            let e = match e {
                Expect::Valid => "valid",
                Expect::Invalid => "invalid",
                Expect::Measure => "measured",
            };
            let causes = match &self.causes {
                Some(c) if matches!(id, CheckerId::MutualExclusion | CheckerId::Election) => {
                    format!(" ({})", c.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" or "))
                }
                _ => String::new(),
            };
            parts.push(format!("{id} {e}{causes}"));
        }
        parts.join(", ")
    }
}

const CAUSES: &str = "causes";
const ALL_VALID: &str = "all-valid";

impl Serialize for Expectation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (id, e) in &self.checkers {
            map.serialize_entry(id, e)?;
        }
        if let Some(causes) = &self.causes {
            map.serialize_entry(CAUSES, causes)?;
        }
        if self.all_valid {
            map.serialize_entry(ALL_VALID, &true)?;
        }
        map.end()
    }
}

/// A key that is neither a checker an expectation can name, `causes` nor
/// `all-valid` is refused with the key and what it could have been.
impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = Expectation;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of checkers' expected verdicts, `causes` and `all-valid`")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expectation, A::Error> {
                let mut expect = Expectation::default();
                while let Some(key) = map.next_key::<String>()? {
                    let twice = || -> A::Error { de::Error::custom(format_args!("`{key}` is given twice")) };
                    match key.as_str() {
                        CAUSES if expect.causes.is_some() => return Err(twice()),
                        CAUSES => expect.causes = Some(map.next_value()?),
                        ALL_VALID => expect.all_valid = map.next_value()?,
                        name => match name.parse::<CheckerId>() {
                            Ok(id) if Expectation::nameable(id) => {
                                if expect.checkers.insert(id, map.next_value()?).is_some() {
                                    return Err(twice());
                                }
                            }
                            _ => {
                                let known: Vec<String> = CheckerId::ALL
                                    .iter()
                                    .filter(|&&id| Expectation::nameable(id))
                                    .map(|id| format!("`{id}`"))
                                    .chain([format!("`{CAUSES}`"), format!("`{ALL_VALID}`")])
                                    .collect();
                                return Err(de::Error::custom(format_args!(
                                    "unknown field `{name}`, expected one of {}",
                                    known.join(", ")
                                )));
                            }
                        },
                    }
                }
                Ok(expect)
            }
        }
        d.deserialize_map(Table)
    }
}

impl Scenario {
    /// `fencepost run`'s arguments after `run`: the system first.
    pub fn run_args(&self) -> Vec<String> {
        let mut args = vec![self.system.clone(), "--workload".into(), self.workload.clone()];
        args.extend(["--nemesis".into(), self.nemesis.clone()]);
        args.extend(self.options.split_whitespace().map(str::to_string));
        args
    }

    /// The command that runs it by hand.
    pub fn command(&self) -> String {
        format!("fencepost run {}", self.run_args().join(" "))
    }

    /// A control: no faults, nothing may go wrong.
    pub fn is_control(&self) -> bool {
        self.nemesis == "none"
    }

    /// What a run for it records.
    pub fn tag(&self) -> ScenarioTag {
        ScenarioTag { name: self.name.clone(), expect: self.expect.clone() }
    }
}

/// Scenarios by name, in the file's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Library {
    pub scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    scenario: Vec<Scenario>,
}

impl Library {
    /// The library fencepost ships (checked by this crate's tests, so it
    /// always parses).
    pub fn builtin() -> Library {
        Library::parse(BUILTIN, Path::new("scenarios.toml")).expect("the built-in scenarios parse (tested)")
    }

    /// A scenario file of the same format.
    pub fn load(path: &Path) -> Result<Library, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        Library::parse(&text, path)
    }

    /// Parses `text`; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Library, Error> {
        let file: File = toml::from_str(text).map_err(|source| Error::Toml { path: path.to_path_buf(), source })?;
        let invalid = |s: &Scenario, why: &str| Error::Invalid {
            path: path.to_path_buf(),
            name: s.name.clone(),
            why: why.to_string(),
        };
        let mut seen = BTreeSet::new();
        for s in &file.scenario {
            if s.name.is_empty() || !s.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(invalid(s, "a name is letters, digits and `-`"));
            }
            if !seen.insert(s.name.as_str()) {
                return Err(Error::Duplicate { path: path.to_path_buf(), name: s.name.clone() });
            }
            if !s.expect.all_valid && s.expect.checkers.is_empty() {
                return Err(invalid(s, "`expect` names no checker and is not `all-valid`"));
            }
            if s.expect.all_valid && s.expect.checkers.values().any(|e| *e != Expect::Valid) {
                return Err(invalid(s, "`all-valid` with a checker expected other than valid"));
            }
        }
        Ok(Library { scenarios: file.scenario })
    }

    pub fn get(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }
}

/// What a run made for a scenario records in its `test.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioTag {
    pub name: String,
    pub expect: Expectation,
}

/// A run against its scenario's expectation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub matched: bool,
    /// Why not, one line per checker that concluded otherwise.
    pub mismatches: Vec<String>,
    /// When the first anomaly happened, in milliseconds of test time: the
    /// earliest timed anomaly of a checker expected (or measured) invalid,
    /// else of any invalid checker.
    pub first_anomaly_ms: Option<u64>,
}

/// Judges a run's results against an expectation.
pub fn judge(expect: &Expectation, results: &RunResults) -> Judgement {
    let mut mismatches = Vec::new();
    let by_id = |id: CheckerId| results.checkers.iter().find(|c| c.id() == id);
    for (&name, e) in &expect.checkers {
        let want = match e {
            Expect::Valid => Verdict::Valid,
            Expect::Invalid => Verdict::Invalid,
            Expect::Measure => continue,
        };
        match by_id(name) {
            None => mismatches.push(format!("{name}: expected {}, but the run has no such checker", want.as_str())),
            Some(c) if c.validity != want => mismatches.push(format!(
                "{name}: expected {}, got {} ({})",
                want.as_str(),
                c.validity.as_str(),
                c.summary
            )),
            Some(_) => {}
        }
    }
    if expect.all_valid {
        for c in results.checkers.iter().filter(|c| c.validity != Verdict::Valid) {
            let name = c.id();
            if !expect.checkers.contains_key(&name) {
                mismatches.push(format!("{name}: expected valid, got {} ({})", c.validity.as_str(), c.summary));
            }
        }
    }
    if let Some(allowed) = &expect.causes {
        for c in &results.checkers {
            let other: Vec<String> = c
                .overlap_causes()
                .into_iter()
                .filter(|(cause, _)| !allowed.contains(cause))
                .map(|(cause, n)| format!("{n} {cause}"))
                .collect();
            if !other.is_empty() {
                mismatches.push(format!("{}: overlaps of another cause: {}", c.checker(), other.join(", ")));
            }
        }
    }
    if results.interrupted {
        mismatches.push("interrupted before its time limit".into());
    }
    if let Some(e) = &results.nemesis_error {
        mismatches.push(format!("the nemesis failed: {e}"));
    }
    Judgement { matched: mismatches.is_empty(), mismatches, first_anomaly_ms: first_anomaly(expect, &results.checkers) }
}

fn first_anomaly(expect: &Expectation, checkers: &[Analysis]) -> Option<u64> {
    let earliest = |pick: &dyn Fn(&Analysis) -> bool| {
        checkers
            .iter()
            .filter(|c| c.validity == Verdict::Invalid && pick(c))
            .flat_map(|c| c.anomalies().into_iter().filter_map(|a| a.span.map(|(start, _)| start)))
            .min()
    };
    let looked_for = |c: &Analysis| expect.checkers.get(&c.id()).is_some_and(|e| *e != Expect::Valid);
    earliest(&looked_for).or_else(|| earliest(&|_| true)).map(|ns| ns / 1_000_000)
}

/// One scenario's row of the table: its runs, how many matched, how soon
/// the anomaly came.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub runs: usize,
    pub matched: usize,
    /// The median over the runs that had an anomaly, in milliseconds.
    pub median_first_anomaly_ms: Option<u64>,
    /// Runs that had an anomaly (any checker invalid).
    pub anomalous: usize,
    /// Per checker expected `measure`: how many runs it judged invalid.
    pub measured: Vec<(CheckerId, usize)>,
    /// Every run, newest first: id, whether it matched, why not.
    pub run_list: Vec<RunMark>,
}

/// One run in a scenario's row.
#[derive(Clone, Debug, Serialize)]
pub struct RunMark {
    pub id: String,
    pub seed: Option<u64>,
    pub matched: bool,
    pub first_anomaly_ms: Option<u64>,
    pub mismatches: Vec<String>,
}

/// The row of scenario `name` over `runs` (any runs: those of another
/// scenario are skipped).
pub fn summarize(name: &str, expect: &Expectation, runs: &[RunRow]) -> Summary {
    let mine: Vec<&RunRow> = runs.iter().filter(|r| r.scenario.as_ref().is_some_and(|s| s.name == name)).collect();
    let mut firsts: Vec<u64> = mine.iter().filter_map(|r| r.scenario.as_ref()?.judgement.first_anomaly_ms).collect();
    firsts.sort_unstable();
    let measured = expect
        .checkers
        .iter()
        .filter(|(_, e)| **e == Expect::Measure)
        .map(|(&checker, _)| {
            let n = mine.iter().filter(|r| r.checkers.get(&checker) == Some(&Verdict::Invalid)).count();
            (checker, n)
        })
        .collect();
    Summary {
        name: name.to_string(),
        runs: mine.len(),
        matched: mine.iter().filter(|r| r.scenario.as_ref().is_some_and(|s| s.judgement.matched)).count(),
        median_first_anomaly_ms: median(&firsts),
        anomalous: mine.iter().filter(|r| r.checkers.values().any(|v| *v == Verdict::Invalid)).count(),
        measured,
        run_list: mine
            .iter()
            .map(|r| {
                let s = r.scenario.as_ref().expect("filtered on it");
                RunMark {
                    id: r.id.clone(),
                    seed: s.seed,
                    matched: s.judgement.matched,
                    first_anomaly_ms: s.judgement.first_anomaly_ms,
                    mismatches: s.judgement.mismatches.clone(),
                }
            })
            .collect(),
    }
}

/// The lower median (a run's own figure, never an average of two).
fn median(sorted: &[u64]) -> Option<u64> {
    (!sorted.is_empty()).then(|| sorted[(sorted.len() - 1) / 2])
}

/// A run's scenario, as the index keeps it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioRun {
    pub name: String,
    pub seed: Option<u64>,
    pub judgement: Judgement,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_library_parses_and_names_are_unique() {
        let library = Library::builtin();
        assert!(library.scenarios.len() >= 10, "{}", library.scenarios.len());
        for s in &library.scenarios {
            // A control that tolerated any verdict would measure nothing.
            assert!(!s.is_control() || s.expect.all_valid, "{}", s.name);
            assert!(!s.source.trim().is_empty(), "{} names its source", s.name);
        }
    }

    #[test]
    fn mistakes_are_named_with_the_line_and_the_scenario() {
        let path = Path::new("mine.toml");
        let typo = "[[scenario]]\nname = \"a\"\ntitle = \"t\"\nsystem = \"redis\"\nworkload = \"lock\"\nsource = \"s\"\nexpect = { lease-saftey = \"invalid\" }\n";
        let e = Library::parse(typo, path).unwrap_err().to_string();
        assert!(e.contains("mine.toml") && e.contains("line 7") && e.contains("lease-saftey"), "{e}");
        let bad_verdict = typo.replace("lease-saftey = \"invalid\"", "fencing = \"broken\"");
        let e = Library::parse(&bad_verdict, path).unwrap_err().to_string();
        assert!(e.contains("broken"), "{e}");
        let empty = typo.replace("lease-saftey = \"invalid\"", "");
        let e = Library::parse(&empty, path).unwrap_err().to_string();
        assert!(e.contains("scenario \"a\"") && e.contains("names no checker"), "{e}");
        let twice = format!("{}{}", typo.replace("lease-saftey", "fencing"), typo.replace("lease-saftey", "fencing"));
        let e = Library::parse(&twice, path).unwrap_err().to_string();
        assert!(e.contains("defined twice"), "{e}");
    }

    #[test]
    fn an_expectation_reads_and_writes_as_before() {
        let stored = r#"{"linearizable":"valid","mutual-exclusion":"invalid","lease-safety":"measure","causes":["lease-expired"]}"#;
        let e: Expectation = serde_json::from_str(stored).unwrap();
        assert_eq!(e.checkers[&CheckerId::MutualExclusion], Expect::Invalid);
        assert_eq!(e.checkers.len(), 3);
        assert!(!e.all_valid);
        assert_eq!(serde_json::to_string(&e).unwrap(), stored);
        assert_eq!(e.words(), "linearizable valid, mutual-exclusion invalid (lease-expired), lease-safety measured");
        let control: Expectation = serde_json::from_str(r#"{"all-valid":true}"#).unwrap();
        assert_eq!(control, Expectation { all_valid: true, ..Default::default() });
        assert_eq!(serde_json::to_string(&control).unwrap(), r#"{"all-valid":true}"#);
        // Only checkers a result is stored under, and that judge, can be named.
        for refused in [r#"{"availability":"valid"}"#, r#"{"linearizable-mutex":"invalid"}"#, r#"{"fencng":"valid"}"#] {
            let e = serde_json::from_str::<Expectation>(refused).unwrap_err().to_string();
            assert!(e.contains("unknown field") && e.contains("`lease-safety`, `fencing`"), "{e}");
        }
        let twice = serde_json::from_str::<Expectation>(r#"{"fencing":"valid","fencing":"invalid"}"#).unwrap_err();
        assert!(twice.to_string().contains("`fencing` is given twice"), "{twice}");
    }

    fn results_with(overlaps: &[(u64, Cause)], fencing: Verdict) -> RunResults {
        use checker::evidence::{Evidence, Fencing, MutualExclusion, Overlap};
        let anomalies: Vec<Overlap> = overlaps
            .iter()
            .map(|&(start_ms, cause)| Overlap {
                key: "k0".into(),
                processes: [1, 2],
                start: start_ms * 1_000_000,
                duration: 1_000_000,
                faults: Vec::new(),
                text: "both held".into(),
                cause: Some(cause),
            })
            .collect();
        let mut causes = std::collections::BTreeMap::new();
        for (_, cause) in overlaps {
            *causes.entry(*cause).or_insert(0) += 1;
        }
        let mutex = MutualExclusion { holds: 5, overlaps: anomalies.len(), causes, anomalies };
        let validity = if overlaps.is_empty() { Verdict::Valid } else { Verdict::Invalid };
        let fenced = Fencing { grants: 5, rejected_writes: 0, anomalies_total: 0, anomalies: Vec::new() };
        RunResults {
            run: "r".into(),
            verdict: validity.combine(fencing),
            checkers: vec![
                Analysis { validity, summary: "mutex".into(), evidence: Evidence::MutualExclusion(mutex) },
                Analysis { validity: fencing, summary: "fence".into(), evidence: Evidence::Fencing(fenced) },
            ],
            stats: Default::default(),
            interrupted: false,
            workload: None,
            nemesis_error: None,
            node_crashes: Vec::new(),
            faults_planned: None,
            cluster_events: Vec::new(),
            warnings: Vec::new(),
            sufficiency: None,
        }
    }

    #[test]
    fn a_run_matches_when_every_named_checker_and_cause_agrees() {
        let expect = Expectation {
            checkers: [(CheckerId::MutualExclusion, Expect::Invalid), (CheckerId::Fencing, Expect::Valid)].into(),
            causes: Some([Cause::LeaseExpired].into()),
            ..Default::default()
        };
        let found = results_with(&[(7_200, Cause::LeaseExpired), (3_100, Cause::LeaseExpired)], Verdict::Valid);
        let j = judge(&expect, &found);
        assert!(j.matched, "{:?}", j.mismatches);
        assert_eq!(j.first_anomaly_ms, Some(3_100), "the earliest, not the first listed");

        let other_cause = results_with(&[(3_100, Cause::LeaseExpired), (4_000, Cause::PromiseBroken)], Verdict::Valid);
        let j = judge(&expect, &other_cause);
        assert_eq!(j.mismatches, ["mutual-exclusion: overlaps of another cause: 1 promise-broken"]);

        let missed = judge(&expect, &results_with(&[], Verdict::Invalid));
        assert!(!missed.matched && missed.first_anomaly_ms.is_none());
        assert!(missed.mismatches[0].starts_with("mutual-exclusion: expected invalid, got valid"), "{missed:?}");
        assert!(missed.mismatches[1].starts_with("fencing: expected valid, got invalid"), "{missed:?}");
    }

    #[test]
    fn a_control_needs_every_checker_valid_and_a_measurement_anything() {
        let control = Expectation { all_valid: true, ..Default::default() };
        assert!(judge(&control, &results_with(&[], Verdict::Valid)).matched);
        let j = judge(&control, &results_with(&[], Verdict::Invalid));
        assert!(!j.matched && j.mismatches[0].starts_with("fencing: expected valid"), "{j:?}");
        let measure = Expectation { checkers: [(CheckerId::Fencing, Expect::Measure)].into(), ..Default::default() };
        let j = judge(&measure, &results_with(&[(900, Cause::PromiseBroken)], Verdict::Invalid));
        assert!(j.matched);
        assert_eq!(j.first_anomaly_ms, Some(900), "a measured checker's anomaly is untimed: the overlap's time");
        let mut interrupted = results_with(&[], Verdict::Valid);
        interrupted.interrupted = true;
        assert!(!judge(&control, &interrupted).matched);
    }

    #[test]
    fn the_command_reproduces_the_scenario() {
        let s = Library::builtin();
        let s = &s.scenarios[0];
        let command = s.command();
        assert!(command.starts_with(&format!("fencepost run {} --workload {}", s.system, s.workload)), "{command}");
        assert!(command.contains(&format!("--nemesis {}", s.nemesis)), "{command}");
    }
}
