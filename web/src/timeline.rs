//! The timeline's data, compact enough for 100,000 operations: one small
//! array per operation instead of an object, names interned. Built from
//! the checker's own views of the history — the holds it judges
//! ([`holds_of`]), the faults ([`fault_windows`]) and each anomaly's span
//! ([`locate`]) — so the timeline draws what the report says.

use std::collections::HashMap;
use std::path::Path;

use checker::analysis::{fault_windows, holds_of, locate, Analysis};
use checker::evidence::Anomaly;
use checker::history::{History, Outcome, Process};
use serde::Serialize;

use crate::Error;

/// What `GET /api/v1/runs/{id}/timeline` answers, times in ns:
/// `{lanes, fs, keys, ops: [[lane, start, end|-1, outcome, f, key]], holds:
/// [[lane, start, end]], faults: [{name, start, end, text}], anomalies:
/// [{checker, processes, start, end, text}], end}`.
#[derive(Debug, Default, Serialize)]
pub struct Timeline {
    /// The client processes, one lane each, in order.
    pub lanes: Vec<u64>,
    /// Operation names, interned.
    pub fs: Vec<String>,
    /// Keys, interned (`""` for none).
    pub keys: Vec<String>,
    pub ops: Vec<OpBar>,
    pub holds: Vec<HoldBar>,
    pub faults: Vec<FaultSpan>,
    pub anomalies: Vec<Mark>,
    /// The last event's time.
    pub end: u64,
}

/// `[lane, invoke time, completion time or -1, outcome (0 ok, 1 fail, 2 info), f, key]`.
pub type OpBar = (usize, u64, i64, u8, usize, usize);

/// `[lane, start, end]` of a definite hold of a lock or a leadership.
pub type HoldBar = (usize, u64, u64);

#[derive(Debug, Serialize)]
pub struct FaultSpan {
    pub name: String,
    pub start: u64,
    pub end: u64,
    /// The fault in words (`a one partition (n1 | n2,n3)`).
    pub text: String,
}

/// An anomaly to mark: its processes' lanes over `[start, end]`.
#[derive(Debug, Serialize)]
pub struct Mark {
    pub checker: &'static str,
    pub processes: Vec<u64>,
    pub start: u64,
    pub end: u64,
    pub text: String,
}

/// The timeline of a stored run. A run in progress (its history still
/// growing, no `results.json` yet) is read up to its last complete line and
/// has no anomalies to mark; a `results.json` that does not read is an
/// error naming the file and the field, not a timeline without marks.
pub fn for_run(dir: &Path) -> Result<Timeline, Error> {
    let path = dir.join("history.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::NoHistory {
        id: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        source,
    })?;
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    if complete.trim().is_empty() {
        return Ok(Timeline::default());
    }
    let history = checker::formats::jsonl::read(&path.display().to_string(), complete).map_err(Error::History)?;
    let checkers = crate::read_results(dir)?.map(|r| r.checkers).unwrap_or_default();
    build(&history, &checkers)
}

/// The timeline of `history`, marking every anomaly `checkers` list.
pub fn build(history: &History, checkers: &[Analysis]) -> Result<Timeline, Error> {
    let calls = history.calls().map_err(Error::History)?;
    let mut lanes: Vec<u64> =
        history.ops.iter().filter_map(|op| if let Process::Client(p) = op.process { Some(p) } else { None }).collect();
    lanes.sort_unstable();
    lanes.dedup();
    let lane_of: HashMap<u64, usize> = lanes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut fs = Interned::default();
    let mut keys = Interned::default();
    let mut ops = Vec::with_capacity(calls.len());
    for call in &calls {
        let inv = &history.ops[call.invoke];
        let Process::Client(p) = inv.process else { continue };
        let outcome = match call.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        };
        let done = call.completion.map_or(-1, |c| history.ops[c].time as i64);
        let f = fs.id(&inv.f);
        let k = keys.id(inv.key.as_deref().unwrap_or(""));
        ops.push((lane_of[&p], inv.time, done, outcome, f, k));
    }
    let holds = holds_of(history)
        .map_err(Error::History)?
        .into_iter()
        .filter_map(|h| Some((*lane_of.get(&h.process)?, h.start, h.end)))
        .collect();
    let faults = fault_windows(history)
        .into_iter()
        .map(|w| FaultSpan { text: w.words(), name: w.name, start: w.start, end: w.end })
        .collect();
    Ok(Timeline {
        lanes,
        fs: fs.names,
        keys: keys.names,
        ops,
        holds,
        faults,
        anomalies: anomalies(checkers, history),
        end: history.ops.last().map_or(0, |op| op.time),
    })
}

/// Every anomaly of every checker, each with its span to mark, so the
/// timeline marks exactly those the report lists.
pub fn anomalies(checkers: &[Analysis], history: &History) -> Vec<Mark> {
    let (names, anomalies): (Vec<&'static str>, Vec<Anomaly>) =
        checkers.iter().flat_map(|c| c.anomalies().into_iter().map(move |a| (c.checker(), a))).unzip();
    let spans = locate(&anomalies, history);
    names
        .into_iter()
        .zip(anomalies)
        .zip(spans)
        .map(|((checker, a), (start, end))| Mark {
            checker,
            processes: a.processes,
            start,
            end,
            text: a.text.to_string(),
        })
        .collect()
}

/// Names in first-seen order, and each one's place.
#[derive(Default)]
struct Interned {
    names: Vec<String>,
    ids: HashMap<String, usize>,
}

impl Interned {
    fn id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two processes both holding k0 (the second grant reusing the token),
    /// with a partition around the overlap.
    pub(crate) const OVERLAP: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":1,"time":2000,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":2,"time":2500,"process":"nemesis","type":"info","f":"partition-start","value":{"kind":"one","targets":["n1"],"grudge":{"n1":["n2"]}}}
{"index":3,"time":3000,"process":2,"type":"invoke","f":"acquire","key":"k0","value":null}
{"index":4,"time":4000,"process":2,"type":"ok","f":"acquire","key":"k0","value":{"token":1}}
{"index":5,"time":5000,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"index":6,"time":6000,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"index":7,"time":6500,"process":"nemesis","type":"info","f":"partition-stop","value":null}
{"index":8,"time":7000,"process":2,"type":"invoke","f":"release","key":"k0","value":null}
{"index":9,"time":8000,"process":2,"type":"ok","f":"release","key":"k0","value":null}
"#;

    fn history() -> History {
        checker::formats::jsonl::read("overlap.jsonl", OVERLAP).unwrap()
    }

    #[test]
    fn holds_faults_and_anomalies_come_from_the_checkers() {
        let history = history();
        let checkers = vec![
            checker::analysis::mutual_exclusion(&history, &Default::default()).unwrap(),
            checker::analysis::fencing(&history).unwrap().expect("tokens: fencing applies"),
        ];
        let t = build(&history, &checkers).unwrap();
        assert_eq!(t.lanes, vec![1, 2]);
        assert_eq!(t.fs, vec!["acquire", "release"]);
        assert_eq!(t.keys, vec!["k0"]);
        assert_eq!(t.ops.len(), 4);
        assert_eq!(t.ops[0], (0, 1000, 2000, 0, 0, 0));
        let mut holds = t.holds.clone();
        holds.sort_unstable();
        assert_eq!(holds, vec![(0, 2000, 5000), (1, 4000, 7000)]);
        assert_eq!(t.faults.len(), 1);
        assert_eq!((t.faults[0].name.as_str(), t.faults[0].start, t.faults[0].end), ("partition", 2500, 6500));
        assert!(t.faults[0].text.contains("partition"), "{}", t.faults[0].text);
        // The overlap as the checker timed it; the duplicate token at its grants.
        let overlap = t.anomalies.iter().find(|a| a.checker == "mutual-exclusion").expect("the overlap");
        assert_eq!((overlap.processes.as_slice(), overlap.start, overlap.end), (&[1, 2][..], 4000, 5000));
        let duplicate = t.anomalies.iter().find(|a| a.checker == "fencing").expect("the duplicate token");
        assert_eq!((duplicate.start, duplicate.end), (2000, 4000));
    }

    #[test]
    fn the_json_keeps_the_shape_the_script_reads() {
        let history = history();
        let checkers = vec![checker::analysis::mutual_exclusion(&history, &Default::default()).unwrap()];
        let v = serde_json::to_value(build(&history, &checkers).unwrap()).unwrap();
        assert_eq!(v["ops"][0], serde_json::json!([0, 1000, 2000, 0, 0, 0]));
        assert!(v["holds"][0].as_array().is_some_and(|h| h.len() == 3), "{v}");
        for field in ["name", "start", "end", "text"] {
            assert!(!v["faults"][0][field].is_null(), "faults[0].{field}: {v}");
        }
        for field in ["checker", "processes", "start", "end", "text"] {
            assert!(!v["anomalies"][0][field].is_null(), "anomalies[0].{field}: {v}");
        }
        assert_eq!(v["end"], 8000);
        let empty = serde_json::to_value(Timeline::default()).unwrap();
        assert_eq!(
            empty,
            serde_json::json!({ "lanes": [], "fs": [], "keys": [], "ops": [], "holds": [], "faults": [], "anomalies": [], "end": 0 })
        );
    }

    #[test]
    fn a_run_in_progress_has_no_marks_and_a_broken_results_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("fencepost-web-timeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The last line is still being written.
        std::fs::write(dir.join("history.jsonl"), format!("{OVERLAP}{{\"index\":10,\"ti")).unwrap();
        let live = for_run(&dir).unwrap();
        assert_eq!((live.ops.len(), live.anomalies.len()), (4, 0));
        std::fs::write(dir.join("results.json"), r#"{"run":"x","verdict":"valid"}"#).unwrap();
        let e = for_run(&dir).unwrap_err();
        assert!(matches!(e, Error::Store(results::Error::Json { .. })), "{e}");
        let words = e.to_string();
        assert!(words.contains("results.json") && words.contains("checkers"), "{words}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
