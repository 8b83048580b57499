//! The clock plot on a run's page: each node's wall-clock offset over the
//! run, as the clock faults set its shim (a jump holds an offset, a strobe
//! flips between two, a rate fault gains or loses steadily until healed),
//! with every fault window shaded, so that an anomaly's time can be read
//! against what each server's clock said then.
//!
//! The offsets are the values each fault recorded when it was verified in
//! effect: the nemesis writes them to the shim's state and checks them on
//! the server's own clock, so the history holds the shim's state without a
//! poller reading every node during the run. Drawn as SVG on the server:
//! a few faults make a few hundred points at most.

use std::collections::BTreeMap;
use std::fmt::Write;

use checker::analysis::FaultWindow;

const W: f64 = 960.0;
const H: f64 = 220.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;
/// A strobe drawn flip by flip up to this many flips; past it, as a band.
const FLIPS: u64 = 400;
const COLOURS: &[&str] = &["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"];

/// What one clock fault did to one node's clock over `[start, end]` ns.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Set {
    Jump { offset_ms: f64 },
    Strobe { offset_ms: f64, strobe_ms: f64, period_ms: f64 },
    Rate { rate: f64 },
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    set: Set,
}

impl Span {
    /// The offset `t` ns after the run's start, inside the span.
    fn at(&self, t: u64) -> f64 {
        match self.set {
            Set::Jump { offset_ms } => offset_ms,
            Set::Strobe { offset_ms, .. } => offset_ms,
            Set::Rate { rate } => (rate - 1.0) * (t.saturating_sub(self.start)) as f64 / 1e6,
        }
    }

    /// The least and greatest offsets it reaches.
    fn range(&self) -> (f64, f64) {
        let (a, b) = match self.set {
            Set::Strobe { offset_ms, strobe_ms, .. } => (offset_ms, offset_ms + strobe_ms),
            _ => (self.at(self.start), self.at(self.end)),
        };
        (a.min(b), a.max(b))
    }
}

/// Each node's clock spans, from the clock faults among `windows`.
fn spans(windows: &[FaultWindow]) -> BTreeMap<String, Vec<Span>> {
    let mut by_node: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for w in windows {
        let i = &w.info;
        let set = match (w.name.as_str(), i.rate, i.offset_ms) {
            ("clock-rate", Some(rate), _) => Set::Rate { rate },
            ("clock", _, Some(offset)) => match (i.strobe_ms, i.period_ms) {
                (Some(s), Some(p)) if s != 0 && p > 0 => {
                    Set::Strobe { offset_ms: offset as f64, strobe_ms: s as f64, period_ms: p as f64 }
                }
                _ => Set::Jump { offset_ms: offset as f64 },
            },
            _ => continue,
        };
        // From when it was verified in effect: before that the shim may
        // not hold it yet.
        let start = w.in_effect.unwrap_or(w.start);
        for node in &i.targets {
            by_node.entry(node.clone()).or_default().push(Span { start, end: w.end.max(start), set });
        }
    }
    for spans in by_node.values_mut() {
        spans.sort_by_key(|s| s.start);
    }
    by_node
}

/// The SVG, or `None` when the run moved no clock.
pub fn svg(windows: &[FaultWindow], run_end: u64) -> Option<String> {
    let by_node = spans(windows);
    if by_node.is_empty() {
        return None;
    }
    let end = run_end.max(windows.iter().map(|w| w.end).max().unwrap_or(0)).max(1);
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for s in by_node.values().flatten() {
        let (a, b) = s.range();
        lo = lo.min(a);
        hi = hi.max(b);
    }
    let (step, unit, per) = ticks(lo, hi);
    let lo = (lo / step).floor() * step;
    let hi = ((hi / step).ceil() * step).max(lo + step);
    let x = |t: u64| LEFT + (W - LEFT - RIGHT) * t as f64 / end as f64;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (hi - v) / (hi - lo);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="clock-plot" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="each node's clock offset over the run">"#
    );
    for w in windows {
        let clock = w.name.starts_with("clock");
        let _ = write!(
            out,
            r#"<rect class="fault{}" x="{:.1}" y="{TOP}" width="{:.1}" height="{:.1}"><title>{}: {}</title></rect>"#,
            if clock { " clock" } else { "" },
            x(w.start),
            (x(w.end) - x(w.start)).max(1.0),
            H - TOP - BOTTOM,
            escape(&w.name),
            escape(&w.words())
        );
    }
    let mut v = lo;
    while v <= hi + step / 2.0 {
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            y(v) + 4.0,
            number(v / per, unit),
            y = y(v)
        );
        v += step;
    }
    let (tstep, _, _) = ticks(0.0, end as f64 / 1e9);
    let mut t = 0.0;
    while t <= end as f64 / 1e9 + 1e-9 {
        let px = x((t * 1e9) as u64);
        let _ = write!(
            out,
            r#"<text class="tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            H - BOTTOM + 16.0,
            number(t, "s")
        );
        t += tstep;
    }
    let _ =
        write!(out, r#"<line class="axis" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/>"#, W - RIGHT, y(0.0), y(0.0));
    for (i, (node, spans)) in by_node.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points = vec![(x(0), y(0.0))];
        for s in spans {
            points.push((x(s.start), y(0.0)));
            match s.set {
                Set::Strobe { offset_ms, strobe_ms, period_ms } => {
                    let period = (period_ms * 1e6) as u64;
                    let flips = (s.end - s.start) / period.max(1);
                    if flips > FLIPS {
                        let _ = write!(
                            out,
                            r#"<rect class="strobe" fill="{colour}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{} strobing</title></rect>"#,
                            x(s.start),
                            y(offset_ms.max(offset_ms + strobe_ms)),
                            (x(s.end) - x(s.start)).max(1.0),
                            (y(offset_ms.min(offset_ms + strobe_ms)) - y(offset_ms.max(offset_ms + strobe_ms))).abs(),
                            escape(node)
                        );
                        points.push((x(s.start), y(offset_ms)));
                    } else {
                        for k in 0..=flips {
                            let v = if k % 2 == 0 { offset_ms } else { offset_ms + strobe_ms };
                            let (a, b) = (s.start + k * period, (s.start + (k + 1) * period).min(s.end));
                            points.push((x(a), y(v)));
                            points.push((x(b), y(v)));
                        }
                    }
                }
                _ => {
                    points.push((x(s.start), y(s.at(s.start))));
                    points.push((x(s.end), y(s.at(s.end))));
                }
            }
            points.push((x(s.end), y(0.0)));
        }
        points.push((x(end), y(0.0)));
        let pts: Vec<String> = points.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
        let _ = write!(
            out,
            r#"<polyline class="clock-line" fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            pts.join(" "),
            escape(node)
        );
        let _ = write!(
            out,
            r#"<text class="legend" x="{:.1}" y="{:.1}" fill="{colour}">{}</text>"#,
            LEFT + 8.0 + 60.0 * i as f64,
            TOP + 12.0,
            escape(node)
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// A round step for an axis over `[lo, hi]` (1, 2 or 5 × 10^k, about five
/// ticks), with the unit its labels read in and the values per unit:
/// offsets are in ms, and read in s from 10 s up.
fn ticks(lo: f64, hi: f64) -> (f64, &'static str, f64) {
    let span = (hi - lo).abs().max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let biggest = lo.abs().max(hi.abs());
    if biggest >= 10_000.0 {
        (step, "s", 1000.0)
    } else {
        (step, "ms", 1.0)
    }
}

/// `-1.5 s`, `250 ms`: no more digits than the value has.
fn number(v: f64, unit: &str) -> String {
    let v = if v.abs() < 1e-9 { 0.0 } else { v };
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::faults::FaultInfo;

    fn window(name: &str, start_s: u64, end_s: u64, info: FaultInfo) -> FaultWindow {
        FaultWindow {
            name: name.into(),
            start: start_s * 1_000_000_000,
            end: end_s * 1_000_000_000,
            in_effect: Some(start_s * 1_000_000_000 + 100_000_000),
            healing: None,
            info,
        }
    }

    #[test]
    fn a_jump_holds_and_a_rate_gains_until_healed() {
        let jump = FaultInfo { offset_ms: Some(-2000), targets: vec!["n2".into()], ..FaultInfo::default() };
        let rate = FaultInfo { rate: Some(2.0), targets: vec!["n1".into()], ..FaultInfo::default() };
        let kill = FaultInfo { targets: vec!["n3".into()], ..FaultInfo::default() };
        let windows = [window("clock", 2, 6, jump), window("clock-rate", 8, 12, rate), window("kill", 13, 15, kill)];
        let by_node = spans(&windows);
        assert_eq!(by_node.keys().collect::<Vec<_>>(), ["n1", "n2"], "the kill moves no clock");
        let r = by_node["n1"][0];
        // Twice real time from 8.1 s to 12 s: 3.9 s gained.
        assert!((r.at(r.end) - 3900.0).abs() < 1e-6, "{}", r.at(r.end));
        assert_eq!(by_node["n2"][0].range(), (-2000.0, -2000.0));
        let svg = svg(&windows, 20_000_000_000).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches(r#"<rect class="fault"#).count(), 3, "every fault shaded, the kill too");
        assert!(svg.contains(">-2000 ms<") && svg.contains(">4000 ms<"), "round ticks around both: {svg}");
        assert!(svg.contains(">20 s<"));
    }

    #[test]
    fn a_run_without_clock_faults_has_no_plot() {
        let kill = FaultInfo { targets: vec!["n3".into()], ..FaultInfo::default() };
        assert_eq!(svg(&[window("kill", 1, 2, kill)], 10), None);
    }

    #[test]
    fn a_fast_strobe_is_a_band_and_a_slow_one_flips() {
        let info = |period| FaultInfo {
            offset_ms: Some(0),
            strobe_ms: Some(500),
            period_ms: Some(period),
            targets: vec!["n1".into()],
            ..FaultInfo::default()
        };
        let slow = svg(&[window("clock", 0, 4, info(1000))], 5_000_000_000).unwrap();
        assert!(!slow.contains(r#"class="strobe""#));
        let fast = svg(&[window("clock", 0, 4, info(1))], 5_000_000_000).unwrap();
        assert!(fast.contains(r#"class="strobe""#));
    }
}
