//! The timeline: a run's operations, holds, faults and anomalies, built once
//! from the checker's own views of the history — the holds it judges
//! ([`holds_of`]), the faults ([`fault_windows`]) and each anomaly's span
//! ([`locate`]) — so the timeline draws what the report says.
//!
//! A run of a million events does not go to the browser whole. The built
//! [`Columns`] stay on the server (a few runs are cached), and the page
//! asks for a [`View`]: a time window at the canvas's width in pixels. When
//! no more than two operations per pixel are visible the view carries the
//! operations themselves, column by column; otherwise it carries, per lane
//! and pixel, one digit: the most telling outcome there and whether a lock
//! was held. Either way a view is a few hundred kilobytes at most, and
//! building one scans only the window, found by binary search per lane.
//!
//! A live run is different: its operations stream in as server-sent events,
//! paired here ([`Feed`]), and the page keeps and bins them itself.

use std::collections::HashMap;
use std::path::Path;

use checker::analysis::{fault_windows, holds_of, locate, Analysis};
use checker::evidence::Anomaly;
use checker::history::{History, Op, OpType, Outcome, Process};
use serde::Serialize;

use crate::Error;

/// At most this many operations are sent one by one, however wide the
/// canvas: past it a view is binned per pixel.
pub const DETAIL_MAX: usize = 20_000;

/// Widest view (pixels) the server bins for.
pub const MAX_PX: usize = 8192;

/// Latency rows per decade in the latency chart's cells.
pub const LATENCY_ROWS_PER_DECADE: f64 = 50.0;

/// The latency chart's floor is the decade under the shortest latency, but
/// no lower than this (1 µs): what is shorter (a zero-length op of an
/// imported history) is drawn under the floor, marked as such.
const LATENCY_FLOOR_MIN_NS: u64 = 1_000;

/// Outcome codes: 0 ok, 1 fail (an error), 2 info, 3 busy (a `fail` that
/// was refused because another client held the lock: contention).
const BUSY: u8 = 3;

/// Bin digits: the most telling outcome in a pixel (0 none, 1 fail or
/// busy, 2 ok, 3 info), plus 4 when a lock or leadership was held there;
/// indexed by outcome code.
const RANK: [u8; 4] = [2, 1, 3, 1];
const HELD: u8 = 4;

/// One operation, invoke to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bar {
    start: u64,
    /// The completion's time, or the run's end for an op never completed.
    end: u64,
    completed: bool,
    /// 0 ok, 1 fail, 2 info, 3 busy.
    outcome: u8,
    f: u32,
    key: u32,
}

/// One process's operations and holds, each by start time. A process does
/// one thing at a time, but nothing here relies on it: `reach[i]` is the
/// latest end among the first `i + 1`, so the first one that can reach into
/// a window is found by binary search whatever the order of the ends.
#[derive(Debug, Default)]
struct Lane {
    ops: Vec<Bar>,
    reach: Vec<u64>,
    holds: Vec<(u64, u64)>,
    hold_reach: Vec<u64>,
}

impl Lane {
    /// The ops overlapping `[t0, t1]`.
    fn ops_in(&self, t0: u64, t1: u64) -> impl Iterator<Item = &Bar> {
        let from = self.reach.partition_point(|&r| r < t0);
        let to = self.ops.partition_point(|b| b.start <= t1);
        self.ops[from..to.max(from)].iter().filter(move |b| b.end >= t0)
    }

    fn holds_in(&self, t0: u64, t1: u64) -> impl Iterator<Item = &(u64, u64)> {
        let from = self.hold_reach.partition_point(|&r| r < t0);
        let to = self.holds.partition_point(|h| h.0 <= t1);
        self.holds[from..to.max(from)].iter().filter(move |h| h.1 >= t0)
    }
}

/// A run's timeline as the server keeps it.
#[derive(Debug, Default)]
pub struct Columns {
    /// The client processes, one lane each, in order.
    pub lanes: Vec<u64>,
    /// Operation names, interned.
    pub fs: Vec<String>,
    /// Keys, interned (`""` for none).
    pub keys: Vec<String>,
    by_lane: Vec<Lane>,
    pub faults: Vec<FaultSpan>,
    /// Each node's clock offset over the run, where a clock fault moved one.
    pub clock_svg: Option<String>,
    pub anomalies: Vec<Mark>,
    /// For elections: who led each election, as its observers saw it.
    pub leaders: Vec<LeaderSpan>,
    /// Operations in all.
    pub total: usize,
    /// The last event's time.
    pub end: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultSpan {
    pub name: String,
    pub start: u64,
    pub end: u64,
    /// The fault in words (`a one partition (n1 | n2,n3)`).
    pub text: String,
}

impl From<checker::analysis::FaultWindow> for FaultSpan {
    fn from(w: checker::analysis::FaultWindow) -> FaultSpan {
        FaultSpan { text: w.words(), name: w.name, start: w.start, end: w.end }
    }
}

/// Who led an election (`key`) from `start` to `end`, as observed: from an
/// `observe` that answered it to the first that answered otherwise (or the
/// last that answered it). The times are the observations' completions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderSpan {
    pub key: String,
    pub start: u64,
    pub end: u64,
    /// The leader's id; none when the observer saw nobody lead.
    pub leader: Option<String>,
    pub term: Option<i64>,
}

/// Every `observe` that answered, per election in time order, merged while
/// the answer stays the same. Observers are merged per election: fencepost
/// runs one at a time (a retired observer's successor continues its lane).
fn leader_spans(history: &History, calls: &[checker::history::Call]) -> Vec<LeaderSpan> {
    use ops::values::OpValue;
    let mut seen: Vec<(String, u64, Option<String>, Option<i64>)> = calls
        .iter()
        .filter(|c| c.outcome == Outcome::Ok && history.ops[c.invoke].f == ops::OpName::Observe)
        .filter_map(|c| {
            let done = &history.ops[c.completion?];
            let leader = ops::values::Leader::of(&done.value);
            Some((done.key.clone().unwrap_or_default(), done.time, leader.leader, leader.term))
        })
        .collect();
    seen.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut spans: Vec<LeaderSpan> = Vec::new();
    for (key, time, leader, term) in seen {
        match spans.last_mut() {
            Some(last) if last.key == key && last.leader == leader && last.term == term => last.end = time,
            Some(last) if last.key == key => {
                last.end = time;
                spans.push(LeaderSpan { key, start: time, end: time, leader, term });
            }
            _ => spans.push(LeaderSpan { key, start: time, end: time, leader, term }),
        }
    }
    spans
}

/// An anomaly to mark: its processes' lanes over `[start, end]`.
#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    pub checker: &'static str,
    pub processes: Vec<u64>,
    pub start: u64,
    pub end: u64,
    pub text: String,
}

/// What the page asks for: `GET /api/v1/runs/{id}/timeline?t0=&t1=&px=&charts=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewRequest {
    /// The window, ns since the run's start (default: the whole run).
    pub t0: u64,
    pub t1: Option<u64>,
    /// The canvas's plot width in pixels.
    pub px: usize,
    /// The latency chart's plot width, when the page wants the charts, the
    /// faults and the anomalies too (its first request).
    pub charts: Option<usize>,
}

impl Default for ViewRequest {
    fn default() -> ViewRequest {
        ViewRequest { t0: 0, t1: None, px: 1000, charts: Some(1000) }
    }
}

impl ViewRequest {
    /// From the query string, each field checked: a bad one is an error
    /// naming it, not a default in its place.
    pub fn from_query(query: &HashMap<String, String>) -> Result<ViewRequest, Error> {
        let number = |name: &'static str| -> Result<Option<u64>, Error> {
            query
                .get(name)
                .map(|v| v.parse::<u64>().map_err(|_| Error::BadQuery { field: name, value: v.clone() }))
                .transpose()
        };
        let width = |name: &'static str| -> Result<Option<usize>, Error> {
            match number(name)? {
                Some(w) if w == 0 || w > MAX_PX as u64 => {
                    Err(Error::BadQuery { field: name, value: query.get(name).cloned().unwrap_or_default() })
                }
                w => Ok(w.map(|w| w as usize)),
            }
        };
        let t0 = number("t0")?.unwrap_or(0);
        let t1 = number("t1")?;
        if t1.is_some_and(|t1| t1 <= t0) {
            return Err(Error::BadQuery { field: "t1", value: query.get("t1").cloned().unwrap_or_default() });
        }
        Ok(ViewRequest { t0, t1, px: width("px")?.unwrap_or(1000), charts: width("charts")? })
    }
}

/// One view of the timeline, times in ns:
/// `{lanes, fs, keys, total, end, t0, t1, px, visible, ops | bins, holds,
/// faults?, anomalies?, charts?}`.
#[derive(Debug, Serialize)]
pub struct View<'a> {
    pub lanes: &'a [u64],
    pub fs: &'a [String],
    pub keys: &'a [String],
    pub total: usize,
    pub end: u64,
    pub t0: u64,
    pub t1: u64,
    pub px: usize,
    /// Operations overlapping the window.
    pub visible: usize,
    /// The visible operations, when few enough to draw one by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops: Option<OpColumns>,
    /// Otherwise per lane a string of `px` digits (see [`HELD`] and [`RANK`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bins: Option<Vec<String>>,
    /// The visible holds, with the operations (binned views fold them in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds: Option<HoldColumns>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<&'a [FaultSpan]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomalies: Option<&'a [Mark]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaders: Option<&'a [LeaderSpan]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charts: Option<Charts>,
}

/// Operations column by column; `end` is -1 for one never completed.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct OpColumns {
    pub lane: Vec<u32>,
    pub start: Vec<u64>,
    pub end: Vec<i64>,
    /// 0 ok, 1 fail, 2 info, 3 busy.
    pub outcome: Vec<u8>,
    pub f: Vec<u32>,
    pub key: Vec<u32>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct HoldColumns {
    pub lane: Vec<u32>,
    pub start: Vec<u64>,
    pub end: Vec<u64>,
}

/// The whole run's charts, already reduced to what is drawn.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Charts {
    /// Completions per second of the run, by outcome code (`[ok, fail,
    /// info, busy]`).
    pub throughput: Vec<[u32; 4]>,
    /// The longest latency, ns (the chart's top).
    pub latency_max: u64,
    /// The chart's floor, ns: a power of ten at or under the shortest
    /// latency above zero.
    pub latency_floor: u64,
    /// Occupied latency cells, flat `[x, row, outcomes, f]…`: `x` a pixel
    /// of the `charts` width over the run by invoke time, `row` the
    /// latency's log10 above the floor in [`LATENCY_ROWS_PER_DECADE`]ths
    /// (-1: under the floor), `outcomes` a bit per outcome code (1 ok, 2
    /// fail, 4 info, 8 busy), `f` the operation (an index of `fs`): the
    /// chart draws one strip per kind of operation.
    pub latency: Vec<i64>,
}

/// The timeline of a stored run. A run in progress (its history still
/// growing, no `results.json` yet) is read up to its last complete line and
/// has no anomalies to mark; a `results.json` that does not read is an
/// error naming the file and the field, not a timeline without marks.
pub fn for_run(dir: &Path) -> Result<Columns, Error> {
    let path = dir.join("history.jsonl");
    let id = || dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let size = std::fs::metadata(&path).map_err(|source| Error::NoHistory { id: id(), source })?.len();
    let checkers = crate::read_results(dir)?.map(|r| r.checkers);
    let history = if checkers.is_some() {
        // A finished run's file is whole: read it in blocks, in parallel.
        if size == 0 {
            return Ok(Columns::default());
        }
        checker::formats::read_path(&path, checker::formats::Format::Jsonl).map_err(Error::History)?
    } else {
        let text = std::fs::read_to_string(&path).map_err(|source| Error::NoHistory { id: id(), source })?;
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        if complete.trim().is_empty() {
            return Ok(Columns::default());
        }
        checker::formats::jsonl::read(&path.display().to_string(), complete).map_err(Error::History)?
    };
    build(&history, &checkers.unwrap_or_default())
}

/// The timeline of `history`, marking every anomaly `checkers` list.
pub fn build(history: &History, checkers: &[Analysis]) -> Result<Columns, Error> {
    let calls = history.calls().map_err(Error::History)?;
    let end = history.ops.last().map_or(0, |op| op.time);
    let mut lanes: Vec<u64> =
        history.ops.iter().filter_map(|op| if let Process::Client(p) = op.process { Some(p) } else { None }).collect();
    lanes.sort_unstable();
    lanes.dedup();
    let lane_of: HashMap<u64, usize> = lanes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut by_lane: Vec<Lane> = (0..lanes.len()).map(|_| Lane::default()).collect();
    let mut fs = Interned::default();
    let mut keys = Interned::default();
    for call in &calls {
        let inv = &history.ops[call.invoke];
        let Process::Client(p) = inv.process else { continue };
        let outcome = match call.outcome {
            Outcome::Ok => 0,
            Outcome::Fail if call.completion.is_some_and(|c| ops::values::busy(&inv.f, &history.ops[c].value)) => BUSY,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        };
        let done = call.completion.map(|c| history.ops[c].time);
        by_lane[lane_of[&p]].ops.push(Bar {
            start: inv.time,
            end: done.unwrap_or(end).max(inv.time),
            completed: done.is_some(),
            outcome,
            f: fs.id(&inv.f),
            key: keys.id(inv.key.as_deref().unwrap_or("")),
        });
    }
    for h in holds_of(history).map_err(Error::History)? {
        if let Some(&lane) = lane_of.get(&h.process) {
            by_lane[lane].holds.push((h.start, h.end.max(h.start)));
        }
    }
    for lane in &mut by_lane {
        lane.ops.sort_by_key(|b| b.start);
        lane.reach = running_max(lane.ops.iter().map(|b| b.end));
        lane.holds.sort_unstable();
        lane.hold_reach = running_max(lane.holds.iter().map(|h| h.1));
    }
    let leaders = leader_spans(history, &calls);
    let windows = fault_windows(history);
    let clock_svg = crate::clock::svg(&windows, end);
    let faults = windows.into_iter().map(FaultSpan::from).collect();
    Ok(Columns {
        clock_svg,
        lanes,
        fs: fs.names,
        keys: keys.names,
        total: by_lane.iter().map(|l| l.ops.len()).sum(),
        by_lane,
        faults,
        anomalies: anomalies(checkers, history),
        leaders,
        end,
    })
}

/// The whole timeline for a report read with no server (`fencepost report
/// --html`): every operation as a live run's events carry them
/// (`[process, start, end, outcome, f, key]`), every hold (`[process,
/// start, end]`), the faults and the anomalies. The page's script keeps
/// them and makes its own views, as it does for a live run.
#[derive(Debug, Serialize)]
pub struct Offline<'a> {
    ops: Vec<(u64, u64, u64, u8, &'a str, &'a str)>,
    holds: Vec<(u64, u64, u64)>,
    faults: &'a [FaultSpan],
    anomalies: &'a [Mark],
    leaders: &'a [LeaderSpan],
    end: u64,
}

impl Columns {
    pub fn offline(&self) -> Offline<'_> {
        let mut ops = Vec::with_capacity(self.total);
        let mut holds = Vec::new();
        for (lane, p) in self.by_lane.iter().zip(&self.lanes) {
            for b in &lane.ops {
                ops.push((
                    *p,
                    b.start,
                    b.end,
                    b.outcome,
                    self.fs[b.f as usize].as_str(),
                    self.keys[b.key as usize].as_str(),
                ));
            }
            holds.extend(lane.holds.iter().map(|&(s, e)| (*p, s, e)));
        }
        Offline { ops, holds, faults: &self.faults, anomalies: &self.anomalies, leaders: &self.leaders, end: self.end }
    }
}

fn running_max(values: impl Iterator<Item = u64>) -> Vec<u64> {
    values
        .scan(0, |max, v| {
            *max = v.max(*max);
            Some(*max)
        })
        .collect()
}

/// Which pixel of `px` over `[t0, t1]` the time `t` falls in, clamped.
fn pixel(t: u64, t0: u64, t1: u64, px: usize) -> usize {
    let at = (t.saturating_sub(t0)) as f64 / (t1 - t0).max(1) as f64 * px as f64;
    (at as usize).min(px - 1)
}

impl Columns {
    /// The view `request` asks for.
    pub fn view(&self, request: &ViewRequest) -> View<'_> {
        let px = request.px.clamp(1, MAX_PX);
        let (t0, t1) = (request.t0, request.t1.unwrap_or(self.end.max(request.t0 + 1)));
        let visible: usize = self.by_lane.iter().map(|l| l.ops_in(t0, t1).count()).sum();
        let detail = visible <= (2 * px).min(DETAIL_MAX);
        let (mut ops, mut bins, mut holds) = (None, None, None);
        if detail {
            let (mut o, mut h) = (OpColumns::default(), HoldColumns::default());
            for (lane, l) in self.by_lane.iter().enumerate() {
                for b in l.ops_in(t0, t1) {
                    o.lane.push(lane as u32);
                    o.start.push(b.start);
                    o.end.push(if b.completed { b.end as i64 } else { -1 });
                    o.outcome.push(b.outcome);
                    o.f.push(b.f);
                    o.key.push(b.key);
                }
                for &(s, e) in l.holds_in(t0, t1) {
                    h.lane.push(lane as u32);
                    h.start.push(s);
                    h.end.push(e);
                }
            }
            (ops, holds) = (Some(o), Some(h));
        } else {
            bins = Some(self.by_lane.iter().map(|l| bin(l, t0, t1, px)).collect());
        }
        let whole = request.charts.is_some();
        View {
            lanes: &self.lanes,
            fs: &self.fs,
            keys: &self.keys,
            total: self.total,
            end: self.end,
            t0,
            t1,
            px,
            visible,
            ops,
            bins,
            holds,
            faults: whole.then_some(&self.faults[..]),
            anomalies: whole.then_some(&self.anomalies[..]),
            leaders: whole.then_some(&self.leaders[..]),
            charts: request.charts.map(|w| self.charts(w.clamp(1, MAX_PX))),
        }
    }

    /// Throughput per second and latency cells `width` pixels wide, over the whole run.
    fn charts(&self, width: usize) -> Charts {
        let end = self.end.max(1);
        let seconds = end.div_ceil(1_000_000_000).max(1) as usize;
        let mut throughput = vec![[0u32; 4]; seconds];
        let mut latency_max = 1_000_000u64;
        let mut shortest = u64::MAX;
        for b in self.by_lane.iter().flat_map(|l| &l.ops).filter(|b| b.completed) {
            throughput[((b.end / 1_000_000_000) as usize).min(seconds - 1)][b.outcome as usize] += 1;
            latency_max = latency_max.max(b.end - b.start);
            if b.end > b.start {
                shortest = shortest.min(b.end - b.start);
            }
        }
        let floor = latency_floor(shortest);
        let row_of =
            |ns: u64| (ns >= floor).then(|| ((ns as f64).log10() - (floor as f64).log10()) * LATENCY_ROWS_PER_DECADE);
        let rows = row_of(latency_max).unwrap_or(0.0) as usize + 1;
        // Per kind of operation, a grid of pixels × rows (row 0: under the floor).
        let mut grids: HashMap<u32, Vec<u8>> = HashMap::new();
        for b in self.by_lane.iter().flat_map(|l| &l.ops).filter(|b| b.completed) {
            let x = pixel(b.start, 0, end, width);
            let row = row_of(b.end - b.start).map_or(0, |r| (r as usize).min(rows - 1) + 1);
            grids.entry(b.f).or_insert_with(|| vec![0u8; width * (rows + 1)])[row * width + x] |= 1 << b.outcome;
        }
        let mut kinds: Vec<u32> = grids.keys().copied().collect();
        kinds.sort_unstable();
        let latency = kinds
            .into_iter()
            .flat_map(|f| {
                let grid = grids.remove(&f).unwrap_or_default();
                grid.into_iter()
                    .enumerate()
                    .filter(|(_, m)| *m != 0)
                    .flat_map(move |(i, m)| [(i % width) as i64, (i / width) as i64 - 1, i64::from(m), i64::from(f)])
            })
            .collect();
        Charts { throughput, latency_max, latency_floor: floor, latency }
    }
}

/// The power of ten at or under `shortest` ns, at least
/// [`LATENCY_FLOOR_MIN_NS`].
fn latency_floor(shortest: u64) -> u64 {
    let mut floor = LATENCY_FLOOR_MIN_NS;
    while floor.saturating_mul(10) <= shortest && floor < 1_000_000_000 {
        floor *= 10;
    }
    floor
}

/// One lane over `[t0, t1]` in `px` digits.
fn bin(lane: &Lane, t0: u64, t1: u64, px: usize) -> String {
    let mut cells = vec![0u8; px];
    for b in lane.ops_in(t0, t1) {
        let rank = RANK[b.outcome as usize];
        for cell in &mut cells[pixel(b.start, t0, t1, px)..=pixel(b.end, t0, t1, px)] {
            if rank > *cell & 3 {
                *cell = (*cell & HELD) | rank;
            }
        }
    }
    for &(s, e) in lane.holds_in(t0, t1) {
        for cell in &mut cells[pixel(s, t0, t1, px)..=pixel(e, t0, t1, px)] {
            *cell |= HELD;
        }
    }
    cells.into_iter().map(|c| char::from(b'0' + c)).collect()
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
    ids: HashMap<String, u32>,
}

impl Interned {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), (self.names.len() - 1) as u32);
        (self.names.len() - 1) as u32
    }
}

/// A live run's operations as they are recorded: each completion is paired
/// with its invocation here, and the page appends what [`Feed::push`]
/// returns. Faults are redrawn whole from the nemesis's events so far (a
/// run has a few dozen); holds and anomalies come with the finished report.
#[derive(Default)]
pub struct Feed {
    open: HashMap<u64, Op>,
    nemesis: Vec<Op>,
}

/// New operations of a live run: `ops: [[process, start, end, outcome, f,
/// key]]` (outcome 0 ok, 1 fail, 2 info, 3 busy), every fault so far when it changed, and the
/// latest event's time.
#[derive(Debug, Default, Serialize)]
pub struct Delta {
    pub ops: Vec<(u64, u64, u64, u8, String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<Vec<FaultSpan>>,
    pub end: u64,
}

impl Feed {
    pub fn push(&mut self, events: Vec<Op>) -> Delta {
        let mut delta = Delta::default();
        let mut faults_changed = false;
        for op in events {
            delta.end = delta.end.max(op.time);
            let Process::Client(p) = op.process else {
                self.nemesis.push(op);
                faults_changed = true;
                continue;
            };
            let outcome = match op.kind {
                OpType::Invoke => {
                    self.open.insert(p, op);
                    continue;
                }
                OpType::Ok => 0,
                OpType::Fail if ops::values::busy(&op.f, &op.value) => BUSY,
                OpType::Fail => 1,
                OpType::Info => 2,
            };
            if let Some(inv) = self.open.remove(&p) {
                delta.ops.push((p, inv.time, op.time, outcome, inv.f.to_string(), inv.key.unwrap_or_default()));
            }
        }
        if faults_changed {
            let history = History { ops: self.nemesis.clone(), ..History::default() };
            delta.faults = Some(fault_windows(&history).into_iter().map(FaultSpan::from).collect());
        }
        delta
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
        let columns = build(&history, &checkers).unwrap();
        let t = columns.view(&ViewRequest::default());
        assert_eq!(t.lanes, &[1, 2]);
        assert_eq!(t.fs, &["acquire", "release"]);
        assert_eq!(t.keys, &["k0"]);
        assert_eq!((t.total, t.visible, t.t0, t.t1), (4, 4, 0, 8000));
        let ops = t.ops.as_ref().expect("four ops are drawn one by one");
        assert_eq!(
            (ops.lane[0], ops.start[0], ops.end[0], ops.outcome[0], ops.f[0], ops.key[0]),
            (0, 1000, 2000, 0, 0, 0)
        );
        let holds = t.holds.as_ref().unwrap();
        let mut holds: Vec<_> = (0..holds.lane.len()).map(|i| (holds.lane[i], holds.start[i], holds.end[i])).collect();
        holds.sort_unstable();
        assert_eq!(holds, vec![(0, 2000, 5000), (1, 4000, 7000)]);
        let faults = t.faults.unwrap();
        assert_eq!(faults.len(), 1);
        assert_eq!((faults[0].name.as_str(), faults[0].start, faults[0].end), ("partition", 2500, 6500));
        assert!(faults[0].text.contains("partition"), "{}", faults[0].text);
        // The overlap as the checker timed it; the duplicate token at its grants.
        let marks = t.anomalies.unwrap();
        let overlap = marks.iter().find(|a| a.checker == "mutual-exclusion").expect("the overlap");
        assert_eq!((overlap.processes.as_slice(), overlap.start, overlap.end), (&[1, 2][..], 4000, 5000));
        let duplicate = marks.iter().find(|a| a.checker == "fencing").expect("the duplicate token");
        assert_eq!((duplicate.start, duplicate.end), (2000, 4000));
        // The charts: one second, four completions, all ok.
        let charts = t.charts.unwrap();
        assert_eq!(charts.throughput, vec![[4, 0, 0, 0]]);
        assert!(!charts.latency.is_empty() && charts.latency.len().is_multiple_of(4));
    }

    /// An election's observations: p2 leads, then nobody, then p3 in a
    /// higher term; the same answer twice in a row is one span.
    pub(crate) const ELECTION: &str = r#"{"time":1000,"process":1,"type":"invoke","f":"campaign","key":"e0","value":{"id":"p1","ttl_ms":1000}}
{"time":2000,"process":1,"type":"fail","f":"campaign","key":"e0","value":{"id":"p1","busy":true},"error":"another candidate leads"}
{"time":3000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":4000,"process":0,"type":"ok","f":"observe","key":"e0","value":{"leader":"p2","term":7}}
{"time":5000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":6000,"process":0,"type":"ok","f":"observe","key":"e0","value":{"leader":"p2","term":7}}
{"time":7000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":8000,"process":0,"type":"ok","f":"observe","key":"e0","value":null}
{"time":9000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":10000,"process":0,"type":"ok","f":"observe","key":"e0","value":{"leader":"p3","term":9}}
"#;

    #[test]
    fn an_election_has_a_row_of_who_led_as_observed() {
        let history = checker::formats::jsonl::read("election.jsonl", ELECTION).unwrap();
        let columns = build(&history, &[]).unwrap();
        let span = |start, end, leader: Option<&str>, term| LeaderSpan {
            key: "e0".into(),
            start,
            end,
            leader: leader.map(str::to_string),
            term,
        };
        assert_eq!(
            columns.leaders,
            vec![
                span(4000, 8000, Some("p2"), Some(7)),
                span(8000, 10000, None, None),
                span(10000, 10000, Some("p3"), Some(9))
            ]
        );
        let v = serde_json::to_value(columns.view(&ViewRequest::default())).unwrap();
        assert_eq!(v["leaders"][0]["leader"], "p2", "{v}");
        // The refused campaign is busy, not an error.
        let ops = columns.view(&ViewRequest::default()).ops.unwrap();
        assert_eq!(ops.outcome[ops.start.iter().position(|&s| s == 1000).unwrap()], BUSY);
    }

    #[test]
    fn busy_refusals_are_told_from_errors_and_latency_is_drawn_per_kind() {
        let text = r#"{"time":0,"process":1,"type":"invoke","f":"acquire","key":"k0","value":null}
{"time":100000,"process":2,"type":"invoke","f":"acquire","key":"k0","value":null}
{"time":200000,"process":3,"type":"invoke","f":"acquire","key":"k0","value":null}
{"time":300000,"process":2,"type":"fail","f":"acquire","key":"k0","value":{"busy":true},"error":"lock busy"}
{"time":1000000,"process":1,"type":"ok","f":"acquire","key":"k0","value":{"ttl_ms":1000}}
{"time":1500000,"process":1,"type":"invoke","f":"release","key":"k0","value":null}
{"time":1500000,"process":1,"type":"ok","f":"release","key":"k0","value":null}
{"time":2200000,"process":3,"type":"fail","f":"acquire","key":"k0","value":null,"error":"connection refused"}
"#;
        let history = checker::formats::jsonl::read("busy.jsonl", text).unwrap();
        let columns = build(&history, &[]).unwrap();
        let view = columns.view(&ViewRequest::default());
        let ops = view.ops.as_ref().unwrap();
        let outcome_of = |lane: u32| ops.lane.iter().zip(&ops.outcome).find(|(l, _)| **l == lane).map(|(_, o)| *o);
        assert_eq!((outcome_of(1), outcome_of(2)), (Some(BUSY), Some(1)), "p2 was refused as busy, p3 failed");
        let charts = view.charts.unwrap();
        // ok (the grant and the release), fail (the error), info, busy.
        assert_eq!(charts.throughput, vec![[2, 1, 0, 1]]);
        // The shortest latency above zero is p2's 0.2 ms: the floor is 0.1 ms.
        assert_eq!(charts.latency_floor, 100_000);
        let cells: Vec<&[i64]> = charts.latency.chunks(4).collect();
        let (acquire, release) = (0, 1);
        assert_eq!(view.fs, &["acquire", "release"]);
        // The release took no time at all: under the floor, on its own strip.
        assert_eq!(cells.iter().filter(|c| c[3] == release).map(|c| (c[1], c[2])).collect::<Vec<_>>(), vec![(-1, 1)]);
        let acquires: Vec<i64> = cells.iter().filter(|c| c[3] == acquire).map(|c| c[2]).collect();
        assert_eq!(acquires.iter().fold(0, |m, c| m | c), 1 | 2 | 8, "ok, fail and busy acquires: {cells:?}");
        assert!(cells.iter().all(|c| c[3] == release || c[1] >= 0), "no acquire is under the floor: {cells:?}");
    }

    #[test]
    fn the_json_keeps_the_shape_the_script_reads() {
        let history = history();
        let checkers = vec![checker::analysis::mutual_exclusion(&history, &Default::default()).unwrap()];
        let columns = build(&history, &checkers).unwrap();
        let v = serde_json::to_value(columns.view(&ViewRequest::default())).unwrap();
        assert_eq!(v["ops"]["start"], serde_json::json!([1000, 5000, 3000, 7000]));
        assert_eq!(v["ops"]["end"][0], 2000);
        assert_eq!(v["holds"]["lane"].as_array().map(Vec::len), Some(2), "{v}");
        for field in ["name", "start", "end", "text"] {
            assert!(!v["faults"][0][field].is_null(), "faults[0].{field}: {v}");
        }
        for field in ["checker", "processes", "start", "end", "text"] {
            assert!(!v["anomalies"][0][field].is_null(), "anomalies[0].{field}: {v}");
        }
        assert_eq!((v["end"].as_u64(), v["total"].as_u64()), (Some(8000), Some(4)));
        // A zoom step asks for no charts and gets only the window.
        let zoom = ViewRequest { t0: 4500, t1: Some(6000), px: 100, charts: None };
        let v = serde_json::to_value(columns.view(&zoom)).unwrap();
        assert!(v.get("faults").is_none() && v.get("charts").is_none() && v.get("bins").is_none(), "{v}");
        assert_eq!(v["ops"]["start"], serde_json::json!([5000]), "only the release overlaps 4.5–6 µs: {v}");
    }

    /// Each bar and hold of a history, by brute force from its calls.
    fn bars(history: &History, columns: &Columns) -> Vec<(usize, u64, u64, u8)> {
        let end = history.ops.last().unwrap().time;
        history
            .calls()
            .unwrap()
            .iter()
            .map(|c| {
                let inv = &history.ops[c.invoke];
                let Process::Client(p) = inv.process else { unreachable!() };
                let lane = columns.lanes.iter().position(|&l| l == p).unwrap();
                let outcome = [Outcome::Ok, Outcome::Fail, Outcome::Info].iter().position(|&o| o == c.outcome).unwrap();
                (lane, inv.time, c.completion.map_or(end, |i| history.ops[i].time), outcome as u8)
            })
            .collect()
    }

    #[test]
    fn every_window_shows_exactly_the_ops_overlapping_it() {
        let history = checker::gen::mutex_history(4000, 5, 6, 0.01, 7);
        let columns = build(&history, &[]).unwrap();
        let all = bars(&history, &columns);
        let holds = holds_of(&history).unwrap();
        let end = columns.end;
        let mut rng = 12345u64;
        let mut next = |n: u64| {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng >> 33) % n.max(1)
        };
        let (mut detailed, mut binned) = (0, 0);
        for round in 0..200 {
            let t0 = next(end);
            let t1 = t0 + 1 + next(end / [1, 10, 100, 1000][round % 4]);
            let px = 1 + next(300) as usize;
            let request = ViewRequest { t0, t1: Some(t1), px, charts: None };
            let view = columns.view(&request);
            let seen: Vec<_> = all.iter().filter(|b| b.2 >= t0 && b.1 <= t1).collect();
            assert_eq!(view.visible, seen.len(), "window {t0}..{t1}");
            if let Some(ops) = &view.ops {
                let mut got: Vec<_> = (0..ops.lane.len()).map(|i| (ops.lane[i] as usize, ops.start[i])).collect();
                let mut want: Vec<_> = seen.iter().map(|b| (b.0, b.1)).collect();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want);
                detailed += 1;
                continue;
            }
            binned += 1;
            // Binned: every pixel has the most telling outcome of the ops
            // it touches, and the hold bit where a hold touches it.
            let bins = view.bins.as_ref().expect("bins when not detailed");
            for (lane, digits) in bins.iter().enumerate() {
                let mut want = vec![0u8; px];
                for b in seen.iter().filter(|b| b.0 == lane) {
                    for cell in &mut want[pixel(b.1, t0, t1, px)..=pixel(b.2, t0, t1, px)] {
                        *cell = (*cell).max(RANK[b.3 as usize]);
                    }
                }
                for h in holds.iter().filter(|h| columns.lanes[lane] == h.process && h.end >= t0 && h.start <= t1) {
                    for cell in &mut want[pixel(h.start, t0, t1, px)..=pixel(h.end, t0, t1, px)] {
                        *cell |= HELD;
                    }
                }
                let got: Vec<u8> = digits.bytes().map(|d| d - b'0').collect();
                assert_eq!(got, want, "lane {lane}, window {t0}..{t1} at {px} px");
            }
        }
        assert!(detailed > 20 && binned > 20, "both kinds of view: {detailed} detailed, {binned} binned");
    }

    #[test]
    fn a_bad_query_names_its_field() {
        let q = |pairs: &[(&str, &str)]| {
            ViewRequest::from_query(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        };
        assert_eq!(q(&[]).unwrap(), ViewRequest { t0: 0, t1: None, px: 1000, charts: None });
        assert_eq!(q(&[("t0", "5"), ("t1", "9"), ("px", "640"), ("charts", "300")]).unwrap().charts, Some(300));
        for (pairs, field) in [
            (&[("t0", "soon")][..], "t0"),
            (&[("t0", "9"), ("t1", "9")][..], "t1"),
            (&[("px", "0")][..], "px"),
            (&[("charts", "100000")][..], "charts"),
        ] {
            let e = q(pairs).unwrap_err();
            assert!(matches!(e, Error::BadQuery { field: f, .. } if f == field), "{pairs:?}: {e}");
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn a_live_feed_pairs_completions_across_chunks() {
        let history = history();
        let (first, second) = history.ops.split_at(4);
        let mut feed = Feed::default();
        let d = feed.push(first.to_vec());
        assert_eq!(d.ops, vec![(1, 1000, 2000, 0, "acquire".to_string(), "k0".to_string())]);
        assert_eq!(d.faults.as_ref().map(Vec::len), Some(1), "the partition so far");
        let d = feed.push(second.to_vec());
        let starts: Vec<u64> = d.ops.iter().map(|o| o.1).collect();
        assert_eq!(starts, vec![3000, 5000, 7000], "p2's acquire began in the first chunk");
        assert_eq!(d.faults.unwrap()[0].end, 6500);
        assert_eq!(d.end, 8000);
    }

    #[test]
    fn a_run_in_progress_has_no_marks_and_a_broken_results_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("fencepost-web-timeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The last line is still being written.
        std::fs::write(dir.join("history.jsonl"), format!("{OVERLAP}{{\"index\":10,\"ti")).unwrap();
        let live = for_run(&dir).unwrap();
        assert_eq!((live.total, live.anomalies.len()), (4, 0));
        std::fs::write(dir.join("results.json"), r#"{"run":"x","verdict":"valid"}"#).unwrap();
        let e = for_run(&dir).unwrap_err();
        assert!(matches!(e, Error::Store(results::Error::Json { .. })), "{e}");
        let words = e.to_string();
        assert!(words.contains("results.json") && words.contains("checkers"), "{words}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
