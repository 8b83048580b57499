//! fencepost's native format: one JSON object per line (DESIGN.md).

use crate::error::InputError;
use crate::history::{Event, History, Op, OpType, OpView, Process, Warning};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// Below this many bytes a history is parsed on one thread.
const PARALLEL_FROM: usize = 1 << 22;

/// One line as read: an [`Op`] whose strings are borrowed from the text
/// (unless they hold escapes), so that reading a history allocates only
/// for what it keeps. Same fields, same errors as [`Op`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LineOp<'a> {
    /// What the line says its position is; only checked, never relied on.
    #[serde(default)]
    pub index: Index,
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpType,
    #[serde(borrow)]
    pub f: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "key_de")]
    pub key: Option<Cow<'a, str>>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, borrow)]
    pub node: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub error: Option<Cow<'a, str>>,
}

impl LineOp<'_> {
    /// The same op, owning its strings: what outlives the text it was read from.
    pub fn into_owned(self) -> LineOp<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        LineOp {
            index: self.index,
            time: self.time,
            process: self.process,
            kind: self.kind,
            f: own(self.f),
            key: self.key.map(own),
            value: self.value,
            node: self.node.map(own),
            error: self.error.map(own),
        }
    }
}

impl From<LineOp<'_>> for Op {
    fn from(op: LineOp<'_>) -> Op {
        Op {
            index: 0,
            time: op.time,
            process: op.process,
            kind: op.kind,
            f: op.f.into(),
            key: op.key.map(Cow::into_owned),
            value: op.value,
            node: op.node.map(Cow::into_owned),
            error: op.error.map(Cow::into_owned),
        }
    }
}

impl Event for LineOp<'_> {
    fn view(&self) -> OpView<'_> {
        OpView {
            time: self.time,
            process: self.process,
            kind: self.kind,
            f: &self.f,
            key: self.key.as_deref(),
            value: &self.value,
        }
    }
}

/// A line's `index` field. The contract says it is the op's position from
/// 0; nothing reads it, so one that is wrong, or not a number, is a warning
/// (see [`IndexCheck`]), never a refusal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Index {
    #[default]
    Absent,
    At(u64),
    /// Anything but a non-negative integer.
    Other,
}

impl<'de> Deserialize<'de> for Index {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => Index::Absent,
            v => v.as_u64().map_or(Index::Other, Index::At),
        })
    }
}

/// The `index` of each op against its position: the first that differs,
/// and how many do, for one warning.
#[derive(Debug, Default)]
pub struct IndexCheck {
    position: u64,
    first: Option<(usize, Index, u64)>,
    wrong: usize,
}

impl IndexCheck {
    /// The next op, on `line`.
    pub fn see(&mut self, index: Index, line: usize) {
        if !matches!(index, Index::Absent | Index::At(_)) || index.at().is_some_and(|i| i != self.position) {
            self.wrong += 1;
            self.first.get_or_insert((line, index, self.position));
        }
        self.position += 1;
    }

    pub fn warning(&self) -> Option<Warning> {
        let (line, index, position) = self.first?;
        let found = match index {
            Index::At(i) => i.to_string(),
            _ => "not a non-negative integer".to_string(),
        };
        let more =
            if self.wrong > 1 { format!("; {} ops' indexes are wrong in all", self.wrong) } else { String::new() };
        Some(Warning {
            line: Some(line),
            message: format!(
                "`index` is {found}, but this is op {position} counted from 0{more}; the checkers go by the \
                 ops' order and times, not by `index`"
            ),
        })
    }
}

impl Index {
    fn at(self) -> Option<u64> {
        match self {
            Index::At(i) => Some(i),
            _ => None,
        }
    }
}

pub(crate) use ops::key_de_borrowed as key_de;

/// Reads a whole history (see [`History::settle`]: in time order, lease
/// fields checked, broken rules warned of).
pub fn read(name: &str, text: &str) -> Result<History, InputError> {
    let mut h = History::new(name, "jsonl");
    let indexes = read_into(&mut h, text, 1)?;
    finish(&mut h, indexes)?;
    Ok(h)
}

/// What [`read`] and a file read in blocks do once every op is in: the
/// warnings only a JSONL file can give, then [`History::settle`].
pub(crate) fn finish(h: &mut History, indexes: IndexCheck) -> Result<(), InputError> {
    h.warnings.extend(indexes.warning());
    let events = h.ops.iter().zip(&h.lines).map(|(op, &line)| (op.process, op.kind, line));
    h.warnings.extend(crate::history::reuse_after_info(events));
    h.settle()
}

/// Appends the ops of `text`, whose first line is line `first_line` of the
/// file `h` names, and says which of their `index` fields are wrong.
pub fn read_into(h: &mut History, text: &str, first_line: usize) -> Result<IndexCheck, InputError> {
    let name = h.file.clone();
    let mut indexes = IndexCheck::default();
    parse_each(&name, text.as_bytes(), first_line, &mut |piece| {
        h.ops.reserve(piece.len());
        for (op, line) in piece {
            indexes.see(op.index, line);
            h.push(op.into(), line);
        }
        Ok(())
    })?;
    Ok(indexes)
}

/// Ops with their lines, in order.
pub type Piece<'a> = Vec<(LineOp<'a>, usize)>;

/// Parses `text` (whose first line is line `first_line` of the file `name`)
/// and hands its ops to `sink` in order, a piece at a time.
///
/// A long text is cut at line ends into pieces checked for UTF-8 and
/// parsed on every core (lines are independent), while this thread hands each parsed piece on as soon
/// as it and those before it are ready, so that it is taken while still in
/// cache, and parsers stay at most [`AHEAD`] pieces ahead. A bad line ends
/// it after the ops before it were handed on: the first error by line wins,
/// the sink's or the parser's, as on one thread. Returns how many lines
/// `text` has.
pub fn parse_each<'a>(
    name: &str,
    text: &'a [u8],
    first_line: usize,
    sink: &mut dyn FnMut(Piece<'a>) -> Result<(), InputError>,
) -> Result<usize, InputError> {
    let threads = rayon::current_num_threads();
    if text.len() < PARALLEL_FROM || threads < 2 {
        let parsed = parse_piece(name, text);
        return hand_on(parsed, first_line, sink);
    }
    let mut cuts = vec![0];
    while *cuts.last().unwrap_or(&0) < text.len() {
        let at = (cuts.last().unwrap_or(&0) + PIECE).min(text.len());
        let end = text[at..].iter().position(|&b| b == b'\n').map_or(text.len(), |n| at + n + 1);
        cuts.push(end);
    }
    let chunks: Vec<&'a [u8]> = cuts.windows(2).map(|w| &text[w[0]..w[1]]).collect();

    let state = Mutex::new(State { ready: (0..chunks.len()).map(|_| None).collect(), taken: 0, stop: false });
    let changed = Condvar::new();
    let next = AtomicUsize::new(0);
    let lock = || state.lock().unwrap_or_else(PoisonError::into_inner);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let _wake = StopOnPanic(&state, &changed);
                parse_pieces(name, &chunks, &next, &state, &changed)
            });
        }
        let _wake = StopOnPanic(&state, &changed);
        let mut line = first_line;
        let mut result = Ok(());
        for i in 0..chunks.len() {
            let mut st = lock();
            let parsed = loop {
                match st.ready[i].take() {
                    Some(p) => break Some(p),
                    // A parser panicked: the scope passes it on.
                    None if st.stop => break None,
                    None => st = changed.wait(st).unwrap_or_else(PoisonError::into_inner),
                }
            };
            let Some(parsed) = parsed else { break };
            st.taken = i + 1;
            drop(st);
            changed.notify_all();
            match hand_on(parsed, line, sink) {
                Ok(lines) => line += lines,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        lock().stop = true;
        changed.notify_all();
        result.map(|()| line - first_line)
    })
}

/// The pieces parsed and not yet handed on, shared by the parsers and the
/// thread that hands them on.
struct State<'a> {
    ready: Vec<Option<Parsed<'a>>>,
    /// Pieces handed on so far.
    taken: usize,
    stop: bool,
}

/// A thread that panics stops the others and wakes them: each would
/// otherwise wait forever for a piece or a turn, and the scope, which
/// passes the panic on, for them.
struct StopOnPanic<'s, 'a>(&'s Mutex<State<'a>>, &'s Condvar);

impl Drop for StopOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
            self.1.notify_all();
        }
    }
}

/// A parser: takes the next piece, in order, while it is at most [`AHEAD`]
/// pieces ahead of the one being handed on.
fn parse_pieces<'a>(name: &str, chunks: &[&'a [u8]], next: &AtomicUsize, state: &Mutex<State<'a>>, changed: &Condvar) {
    let lock = || state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= chunks.len() {
            return;
        }
        let mut st = lock();
        while !st.stop && i >= st.taken + AHEAD {
            st = changed.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        if st.stop {
            return;
        }
        drop(st);
        let parsed = parse_piece(name, chunks[i]);
        lock().ready[i] = Some(parsed);
        changed.notify_all();
    }
}

/// How many bytes of text a parser takes at a time: its ops fit in cache.
const PIECE: usize = 256 << 10;
/// How many pieces parsers may be ahead of the sink.
const AHEAD: usize = 16;

/// One piece of text, parsed: its ops with lines counted from 0, the
/// first bad line's error if there was one (ops stop before it), and how
/// many lines the piece has.
struct Parsed<'a> {
    ops: Piece<'a>,
    error: Option<InputError>,
    lines: usize,
}

fn parse_piece<'a>(name: &str, bytes: &'a [u8]) -> Parsed<'a> {
    // Bytes that are not UTF-8 end the piece at their line, after the lines before it.
    let (text, mut error) = match super::utf8(name, bytes, 0) {
        Ok(text) => (text, None),
        Err(e) => {
            let bad = e.line.unwrap_or(0);
            let end = bytes.split_inclusive(|&b| b == b'\n').take(bad).map(<[u8]>::len).sum();
            (std::str::from_utf8(&bytes[..end]).unwrap_or_default(), Some(e))
        }
    };
    let mut ops = Vec::with_capacity(text.len() / 100);
    let mut lines = 0;
    for (i, line) in text.lines().enumerate() {
        lines = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match canonical(line).map_or_else(|| serde_json::from_str::<LineOp>(line), Ok) {
            Ok(op) => ops.push((op, i)),
            Err(e) => {
                let what = if e.is_eof() {
                    "truncated line (the JSON object ends early)".to_string()
                } else {
                    within_line(&e)
                };
                error = Some(InputError::at(
                    name,
                    i,
                    format!(
                        "{what}; expected one op object like {{\"time\":…,\"process\":…,\"type\":\"invoke\",\"f\":…}}"
                    ),
                ));
                break;
            }
        }
    }
    Parsed { ops, error, lines }
}

/// serde's message for a line without its "at line 1 column 33" (the line
/// is always 1: serde sees one line) — the error names the file's line —
/// and with the column kept as the place in that line.
fn within_line(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("{message} (at column {})", e.column()),
        None => text,
    }
}

/// Hands a parsed piece that starts at line `first` to `sink`, then its
/// error if it had one; returns how many lines it had.
fn hand_on<'a>(
    mut parsed: Parsed<'a>,
    first: usize,
    sink: &mut dyn FnMut(Piece<'a>) -> Result<(), InputError>,
) -> Result<usize, InputError> {
    for (_, line) in &mut parsed.ops {
        *line += first;
    }
    sink(parsed.ops)?;
    match parsed.error {
        Some(mut e) => {
            e.line = e.line.map(|l| l + first);
            Err(e)
        }
        None => Ok(parsed.lines),
    }
}

/// A line exactly as [`write`] (and the recorder) writes it — fields in
/// that order, no spaces, strings without escapes, `value` last but for
/// `node` and `error` — read without serde's general machinery, which
/// takes most of the time of reading a long history; `None` for any other
/// line, which serde then reads (and names what is wrong with it). A
/// property test holds the two to the same answers.
fn canonical(line: &str) -> Option<LineOp<'_>> {
    let mut c = Cursor(line);
    c.eat("{\"index\":")?;
    let index = Index::At(c.number()?);
    c.eat(",\"time\":")?;
    let time = c.number()?;
    c.eat(",\"process\":")?;
    let process = if c.eat("\"nemesis\"").is_some() { Process::Nemesis } else { Process::Client(c.number()?) };
    c.eat(",\"type\":")?;
    let kind = OpType::parse(c.string()?)?;
    c.eat(",\"f\":")?;
    let f = Cow::Borrowed(c.string()?);
    let key = match c.eat(",\"key\":") {
        Some(()) => Some(Cow::Borrowed(c.string()?)),
        None => None,
    };
    c.eat(",\"value\":")?;
    let value = if c.eat("null").is_some() {
        Value::Null
    } else {
        // Any JSON value: serde reads it and says where it ended.
        let mut values = serde_json::Deserializer::from_str(c.0).into_iter::<Value>();
        let value = values.next()?.ok()?;
        c.0 = &c.0[values.byte_offset()..];
        value
    };
    let node = match c.eat(",\"node\":") {
        Some(()) => Some(Cow::Borrowed(c.string()?)),
        None => None,
    };
    let error = match c.eat(",\"error\":") {
        Some(()) => Some(Cow::Borrowed(c.string()?)),
        None => None,
    };
    c.eat("}")?;
    c.0.is_empty().then_some(LineOp { index, time, process, kind, f, key, value, node, error })
}

/// What is left of a line being read by [`canonical`].
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    fn eat(&mut self, token: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(token)?;
        Some(())
    }

    /// A JSON integer that fits a `u64`: digits, no leading zero. (A sign,
    /// fraction or exponent leaves a character no token after it starts with.)
    fn number(&mut self) -> Option<u64> {
        // One pass: the digits are summed as they are found.
        let bytes = self.0.as_bytes();
        let mut n: u64 = 0;
        let mut digits = 0;
        while let Some(d) = bytes.get(digits).and_then(|b| b.checked_sub(b'0')).filter(|&d| d < 10) {
            n = n.checked_mul(10)?.checked_add(d as u64)?;
            digits += 1;
        }
        if digits == 0 || (digits > 1 && bytes[0] == b'0') {
            return None;
        }
        self.0 = &self.0[digits..];
        Some(n)
    }

    /// A JSON string with nothing to unescape: no `\\` and no control character.
    fn string(&mut self) -> Option<&'a str> {
        let rest = self.0.strip_prefix('"')?;
        let end = rest.bytes().position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.as_bytes()[end] != b'"' {
            return None;
        }
        self.0 = &rest[end + 1..];
        Some(&rest[..end])
    }
}

/// Writes ops one per line; `index` is rewritten to the position.
pub fn write<W: Write>(out: &mut W, ops: &[Op]) -> io::Result<()> {
    for (i, op) in ops.iter().enumerate() {
        let mut op = op.clone();
        op.index = i as u64;
        serde_json::to_writer(&mut *out, &op)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};
    use proptest::prelude::*;

    /// A line as `write` puts it, from arbitrary fields: strings with
    /// quotes, backslashes, control characters and non-ASCII, values of
    /// every JSON kind.
    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-z0-9\"\\\\\\x00-\\x1f é😀/ -]{0,8}").unwrap()
    }

    fn written_line() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text().prop_map(Value::from),
            (text(), any::<u32>()).prop_map(|(k, v)| serde_json::json!({ k: v, "list": [v, null, true] })),
        ];
        let process = prop_oneof![any::<u64>().prop_map(Process::Client), Just(Process::Nemesis)];
        let kind = prop_oneof![Just(OpType::Invoke), Just(OpType::Ok), Just(OpType::Fail), Just(OpType::Info)];
        let optional = || proptest::option::of(text());
        (any::<u64>(), any::<u64>(), process, kind, text(), optional(), value, optional(), optional()).prop_map(
            |(index, time, process, kind, f, key, value, node, error)| {
                serde_json::to_string(&Op { index, time, process, kind, f: f.into(), key, value, node, error }).unwrap()
            },
        )
    }

    /// The written line, then a few characters replaced, dropped or added.
    fn edited_line() -> impl Strategy<Value = String> {
        let edit = (
            any::<prop::sample::Index>(),
            0..3u8,
            prop::sample::select("{}[]\":,0000123456789-.eEnulxk \\\t\u{1}\u{7f}".chars().collect::<Vec<_>>()),
        );
        (written_line(), proptest::collection::vec(edit, 0..4)).prop_map(|(line, edits)| {
            let mut chars: Vec<char> = line.chars().collect();
            for (at, how, c) in edits {
                let i = at.index(chars.len() + 1);
                match how {
                    0 if i < chars.len() => chars[i] = c,
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ => chars.insert(i, c),
                }
            }
            chars.into_iter().collect()
        })
    }

    #[test]
    fn the_fast_reading_leaves_every_doubtful_line_to_serde() {
        let ok = r#"{"index":0,"time":5,"process":8,"type":"invoke","f":"acquire","key":"k1","value":null}"#;
        assert!(canonical(ok).is_some());
        for (from, to) in [
            ("\"time\":5", "\"time\":05"),
            ("\"time\":5", "\"time\":-5"),
            ("\"time\":5", "\"time\":5.0"),
            ("\"time\":5", "\"time\":5e0"),
            ("\"time\":5", "\"time\":99999999999999999999"),
            ("\"index\":0", "\"index\":00"),
            ("\"process\":8", "\"process\":\"8\""),
            ("\"k1\"", "\"k\\u0031\""),
            ("\"k1\"", "\"k\u{1}\""),
            ("\"k1\"", "\"k\t\""),
            ("\"k1\"", "1"),
            ("\"invoke\"", "\"Invoke\""),
            ("\"value\":null", "\"value\":nul"),
            ("\"value\":null", "\"value\":1x"),
            ("\"value\":null", "\"value\":{\"a\":1"),
            ("\"acquire\"", "\"acquire\",\"f\":\"release\""),
            ("null}", "null} "),
            ("null}", "null}}"),
            ("{\"index", "{ \"index"),
        ] {
            let line = ok.replacen(from, to, 1);
            assert_ne!(line, ok);
            let serde = serde_json::from_str::<LineOp>(&line).map_err(|e| e.to_string());
            if let Some(fast) = canonical(&line) {
                assert_eq!(Ok(fast), serde, "{line}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// The fast reading of a written line is serde's, whenever it reads
        /// one at all — and it reads every written line without escapes.
        #[test]
        fn the_fast_reading_of_a_line_is_serdes(line in edited_line()) {
            if let Some(fast) = canonical(&line) {
                prop_assert_eq!(Ok(fast), serde_json::from_str::<LineOp>(&line).map_err(|e| e.to_string()), "{}", line);
            }
        }

        #[test]
        fn every_written_line_without_escapes_is_read_fast(line in written_line()) {
            if !line.contains('\\') {
                prop_assert!(canonical(&line).is_some(), "{}", line);
            }
        }
    }

    #[test]
    fn round_trip() {
        let text = r#"{"index":0,"time":1204331,"process":3,"type":"invoke","f":"acquire","key":"k0","value":{"ttl_ms":2000}}
{"index":1,"time":9911020,"process":3,"type":"ok","f":"acquire","key":"k0","value":{"token":42},"node":"n2"}
{"index":2,"time":9950000,"process":"nemesis","type":"info","f":"partition-start","value":{"grudge":{"n1":["n3"]},"kind":"majorities-ring"}}
"#;
        let h = read("h.jsonl", text).unwrap();
        assert_eq!(h.ops.len(), 3);
        assert_eq!(h.ops[2].process, Process::Nemesis);
        assert_eq!(h.ops[1].kind, OpType::Ok);
        let mut out = Vec::new();
        write(&mut out, &h.ops).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }

    #[test]
    fn a_long_history_parses_in_pieces_with_the_same_lines() {
        let line = r#"{"time":1,"process":0,"type":"invoke","f":"read","key":"é€😀"}"#;
        let n = PARALLEL_FROM / line.len() + 1000;
        let mut text: String = (0..n).map(|i| line.replace("\"time\":1", &format!("\"time\":{i}")) + "\n").collect();
        let h = read("h.jsonl", &text).unwrap();
        assert_eq!(h.ops.len(), n);
        assert!(h.ops.iter().enumerate().all(|(i, op)| op.time == i as u64 && op.index == i as u64));
        assert!(h.lines.iter().enumerate().all(|(i, &l)| l == i + 1));
        // Two bad lines far apart: the first is reported, with its number.
        text = text.replacen(&format!("\"time\":{}", n - 10), "\"time\":-1", 1);
        text = text.replacen(&format!("\"time\":{}", n / 3), "\"tme\":0", 1);
        let e = read("h.jsonl", &text).unwrap_err();
        assert_eq!(e.line, Some(n / 3 + 1), "{}", e.message);
    }

    /// A panic while pieces are handed on reaches the caller; no thread
    /// is left waiting for a piece that will never come.
    #[test]
    #[should_panic(expected = "the sink gives up")]
    fn a_panic_in_the_sink_is_passed_on_not_waited_for() {
        let line = "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n";
        let text = line.repeat(2 * PARALLEL_FROM / line.len());
        let mut pieces = 0;
        let _ = parse_each("h.jsonl", text.as_bytes(), 1, &mut |_| {
            pieces += 1;
            assert!(pieces < 3, "the sink gives up");
            Ok(())
        });
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = read("h.jsonl", "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"time\":2,\"process\":0,\"type\":\"okay\",\"f\":\"read\"}\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("okay"), "{}", e.message);
        let e = read("h.jsonl", "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}").unwrap_err();
        assert!(e.message.contains("time"), "{}", e.message);
        let e = read("h.jsonl", "{\"time\":1,\"process\":-1,\"type\":\"invoke\",\"f\":\"read\"}").unwrap_err();
        assert!(e.message.contains("nemesis"), "{}", e.message);
        let e = read("h.jsonl", "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"time\":2,\"proc")
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("truncated"), "{}", e.message);
    }
}
