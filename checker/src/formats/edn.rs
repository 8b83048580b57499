//! Jepsen / Knossos EDN histories: one collection of op maps, or one map per
//! line (Jepsen's `history.edn`). Porcupine's kv files are the latter.
//!
//! Knossos semantics are kept: `:fail` did not happen, `:info` may have
//! happened at any time after its invocation, and — as in Knossos's register
//! models — a read that returned `nil` constrains nothing. Such reads are
//! mapped to `info` (with an `error` saying why) so that every model treats
//! them as unknown; the op itself is kept for display.

use crate::edn::{self as e, Edn, Parser};
use crate::error::InputError;
use crate::formats::jsonl;
use crate::history::{History, Op, OpType, Process, Times, Warning};
use crate::models::{ModelName, ModelSpec, Stated};
use std::io::{self, Write};

pub fn read(name: &str, text: &str, porcupine_kv: bool) -> Result<History, InputError> {
    let mut h = History::new(name, if porcupine_kv { "porcupine-kv" } else { "edn" });
    let mut p = Parser::new(text);
    let perr = |pe: e::ParseError| InputError::at(name, pe.line, pe.message);
    let close = match p.peek_token().map_err(perr)? {
        Some(b'[') => Some(b']'),
        Some(b'(') => Some(b')'),
        Some(b'{') => None,
        Some(c) => {
            return Err(InputError::at(
                name,
                p.line(),
                format!("expected a `[`/`(` collection of op maps or one `{{…}}` map per line, found `{}`", c as char),
            ))
        }
        None => return Err(InputError::new(name, None, "empty file: expected a history")),
    };
    if close.is_some() {
        p.parse_open().map_err(perr)?;
    }
    let opened_at = p.line();
    // Each op's type as the file wrote it (a Knossos `:ok` read of nil is
    // read as `info`), for the retirement rule, and its `:index`.
    let mut written = Vec::new();
    let mut indexes = jsonl::IndexCheck::default();
    loop {
        match (p.peek_token().map_err(perr)?, close) {
            (None, None) => break,
            (None, Some(c)) => {
                return Err(InputError::at(
                    name,
                    p.line(),
                    format!(
                        "unexpected end of file: the history opened at line {opened_at} is not closed; expected `{}`",
                        c as char
                    ),
                ))
            }
            (Some(c), Some(cl)) if c == cl => {
                p.expect(cl).map_err(perr)?;
                if !p.at_end().map_err(perr)? {
                    return Err(InputError::at(name, p.line(), "unexpected text after the history's closing bracket"));
                }
                break;
            }
            _ => {}
        }
        let line = p.line();
        let form = p.parse().map_err(perr)?;
        let (op, written_kind) = op_from_edn(&form).map_err(|m| InputError::at(name, line, m))?;
        written.push((op.process, written_kind, line));
        indexes.see(
            match form.get("index") {
                None | Some(Edn::Nil) => jsonl::Index::Absent,
                Some(Edn::Int(i)) if *i >= 0 => jsonl::Index::At(*i as u64),
                Some(_) => jsonl::Index::Other,
            },
            line,
        );
        h.push(op, line);
    }
    // A history without times (Knossos's usually have none) keeps real-time
    // order through the ops' positions, and says durations mean nothing.
    if h.ops.iter().any(|o| o.time == u64::MAX) {
        let untimed = h.ops.iter().position(|o| o.time == u64::MAX).unwrap_or(0);
        if h.ops.iter().any(|o| o.time != u64::MAX) {
            h.warnings.push(Warning {
                line: Some(h.line_of(untimed)),
                message: "this op has no `:time` while others have one: every op's position stands in for its \
                          time, and no checker reads a duration from this history"
                    .into(),
            });
        }
        for (i, op) in h.ops.iter_mut().enumerate() {
            op.time = i as u64;
        }
        h.times = Times::Positions;
    }
    h.stated = stated(name, text, h.lines.first().copied())?;
    h.warnings.extend(indexes.warning());
    h.warnings.extend(crate::history::reuse_after_info(written));
    if porcupine_kv {
        for (i, op) in h.ops.iter().enumerate() {
            if !matches!(op.f.as_str(), "get" | "put" | "append") {
                return Err(InputError::at(
                    name,
                    h.lines[i],
                    format!("unknown kv op `{}`; expected :get, :put or :append", op.f),
                ));
            }
        }
    }
    h.settle()?;
    Ok(h)
}

/// The `; fencepost: KEY VALUE` comments (see [`Stated`]): `model NAME`
/// and `initial VALUE` (EDN, read as the ops' values are). They belong
/// before the first op (`first_op`, a line); one after it, or one this
/// reader does not know, is refused naming its line rather than ignored —
/// it would change the verdict.
fn stated(name: &str, text: &str, first_op: Option<usize>) -> Result<Stated, InputError> {
    let mut stated = Stated::default();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let Some(comment) = line.trim_start().strip_prefix(';') else { continue };
        let Some(setting) = comment.trim_start_matches(';').trim().strip_prefix("fencepost:") else { continue };
        let err = |m: String| InputError::at(name, number, m);
        if first_op.is_some_and(|first| number > first) {
            return Err(err(format!(
                "`; fencepost:` settings belong before the first op (line {}), where they say how to check the whole history",
                first_op.unwrap_or_default()
            )));
        }
        let (key, value) = setting.trim().split_once(char::is_whitespace).unwrap_or((setting.trim(), ""));
        let value = value.trim();
        if value.is_empty() {
            return Err(err(format!("`; fencepost: {key}` has no value; e.g. `; fencepost: initial 0`")));
        }
        match key {
            "model" if stated.model.is_some() => return Err(err("a second `; fencepost: model`".into())),
            "initial" if stated.initial.is_some() => return Err(err("a second `; fencepost: initial`".into())),
            "model" => {
                let model: ModelName = value.parse().map_err(|_| {
                    err(format!(
                        "`; fencepost: model`: unknown model `{value}`; expected one of {}",
                        ModelSpec::NAMES.join(", ")
                    ))
                })?;
                stated.model = Some((model, number));
            }
            "initial" => {
                let parsed = e::parse_one(value).map_err(|pe| {
                    err(format!("`; fencepost: initial`: `{value}` is not one EDN value: {}", pe.message))
                })?;
                stated.initial = Some((parsed.to_json(), number));
            }
            other => {
                return Err(err(format!(
                    "unknown setting `; fencepost: {other}`; expected `model NAME` or `initial VALUE`"
                )))
            }
        }
    }
    Ok(stated)
}

fn name_of(v: &Edn) -> Option<String> {
    match v {
        Edn::Keyword(s) | Edn::Symbol(s) | Edn::Str(s) => Some(s.clone()),
        _ => None,
    }
}

/// The op, and its type as the file wrote it.
fn op_from_edn(form: &Edn) -> Result<(Op, OpType), String> {
    if !matches!(form, Edn::Map(_)) {
        return Err(format!("expected an op map {{:process … :type … :f …}}, found {}", form.kind()));
    }
    let process = match form.get("process") {
        Some(Edn::Int(p)) if *p >= 0 => Process::Client(*p as u64),
        Some(Edn::Keyword(k)) if k == "nemesis" => Process::Nemesis,
        Some(other) => {
            return Err(format!("field :process: expected a non-negative integer or :nemesis, found {other}"))
        }
        None => return Err("missing field :process".into()),
    };
    let kind = match form.get("type") {
        Some(Edn::Keyword(k)) => {
            OpType::parse(k).ok_or_else(|| format!("field :type: expected :invoke, :ok, :fail or :info, found :{k}"))?
        }
        Some(other) => return Err(format!("field :type: expected a keyword, found {other}")),
        None => return Err("missing field :type".into()),
    };
    let f = match form.get("f") {
        Some(v) => name_of(v).ok_or_else(|| format!("field :f: expected a keyword, found {v}"))?,
        None => return Err("missing field :f".into()),
    };
    let time = match form.get("time") {
        Some(Edn::Int(t)) if *t >= 0 => *t as u64,
        Some(other) => return Err(format!("field :time: expected a non-negative integer, found {other}")),
        None => u64::MAX,
    };
    let key = match form.get("key") {
        None | Some(Edn::Nil) => None,
        Some(Edn::Int(i)) => Some(i.to_string()),
        Some(v) => Some(name_of(v).ok_or_else(|| format!("field :key: expected a string or integer, found {v}"))?),
    };
    let value = form.get("value").map(Edn::to_json).unwrap_or_default();
    let node = form.get("node").and_then(name_of);
    let mut error = form.get("error").map(|e| match e {
        Edn::Str(s) => s.clone(),
        other => other.to_string(),
    });
    let written = kind;
    let mut kind = kind;
    if kind == OpType::Ok && f == "read" && value.is_null() && process != Process::Nemesis {
        kind = OpType::Info;
        error = Some("knossos: a read of nil constrains nothing".into());
    }
    Ok((Op { index: 0, time, process, kind, f: f.into(), key, value, node, error }, written))
}

/// Writes a Jepsen-compatible history: one op map per line.
pub fn write<W: Write>(out: &mut W, ops: &[Op]) -> io::Result<()> {
    for (i, op) in ops.iter().enumerate() {
        let mut entries = vec![
            (Edn::Keyword("index".into()), Edn::Int(i as i64)),
            (Edn::Keyword("time".into()), Edn::Int(op.time.min(i64::MAX as u64) as i64)),
            (
                Edn::Keyword("process".into()),
                match op.process {
                    Process::Client(p) => Edn::Int(p as i64),
                    Process::Nemesis => Edn::Keyword("nemesis".into()),
                },
            ),
            (Edn::Keyword("type".into()), Edn::Keyword(op.kind.as_str().into())),
            (
                Edn::Keyword("f".into()),
                if e::is_keyword_name(&op.f) { Edn::Keyword(op.f.to_string()) } else { Edn::Str(op.f.to_string()) },
            ),
        ];
        if let Some(k) = &op.key {
            entries.push((Edn::Keyword("key".into()), Edn::Str(k.clone())));
        }
        entries.push((Edn::Keyword("value".into()), e::from_json(&op.value)));
        if let Some(n) = &op.node {
            entries.push((Edn::Keyword("node".into()), Edn::Str(n.clone())));
        }
        if let Some(err) = &op.error {
            entries.push((Edn::Keyword("error".into()), Edn::Str(err.clone())));
        }
        writeln!(out, "{}", Edn::Map(entries))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    #[test]
    fn collection_with_comments_and_pending_ops() {
        let text = "; header comment\n[{:process 0, :type :invoke, :f :write, :value 1}\n ; mid comment\n {:process 0, :type :ok, :f :write, :value 1}\n {:process 1, :type :invoke, :f :read, :value nil}]\n";
        let h = read("x.edn", text, false).unwrap();
        assert_eq!(h.ops.len(), 3);
        assert_eq!(h.lines, vec![2, 4, 5]);
        assert_eq!(h.ops[2].time, 2, "event order stands in for time");
        let calls = h.calls().unwrap();
        assert_eq!(calls[1].completion, None);
        assert_eq!(calls[1].outcome, Outcome::Info, "pending at the end counts as info");
    }

    #[test]
    fn one_map_per_line_and_list_form() {
        let h = read(
            "x.edn",
            "{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read, :value 3 :time 99}\n",
            false,
        )
        .unwrap();
        assert_eq!(h.ops.len(), 2);
        let h = read("x.edn", "({:type :invoke, :f :write, :value 0, :process 0})", false).unwrap();
        assert_eq!(h.ops[0].value, serde_json::json!(0));
    }

    #[test]
    fn fail_info_and_nil_reads() {
        let text = "[{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value nil}\n{:process 2, :type :invoke, :f :write, :value 3}\n{:process 2, :type :fail, :f :write, :value 3, :error [:temporarily-unavailable nil]}]";
        let h = read("x.edn", text, false).unwrap();
        assert_eq!(h.ops[1].kind, OpType::Info, "a nil read is unknown under Knossos semantics");
        assert_eq!(h.ops[3].kind, OpType::Fail);
        assert_eq!(h.ops[3].error.as_deref(), Some("[:temporarily-unavailable nil]"));
    }

    #[test]
    fn process_retirement_after_info() {
        // Process 3 times out; the client continues as process 8. The info op
        // stays pending forever, so a much later read of its value is legal.
        let text = "[{:process 3, :type :invoke, :f :write, :value 7}\n{:process 3, :type :info, :f :write, :value 7}\n{:process 8, :type :invoke, :f :read, :value nil}\n{:process 8, :type :ok, :f :read, :value 0}\n{:process 8, :type :invoke, :f :read, :value nil}\n{:process 8, :type :ok, :f :read, :value 7}]";
        let h = read("x.edn", text, false).unwrap();
        let calls = h.calls().unwrap();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].outcome, Outcome::Info);
    }

    #[test]
    fn bad_input_names_the_line() {
        let e = read("x.edn", "[{:process 0, :type :invoke, :f :read}\n{:process 0, :type :okk, :f :read}]", false)
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains(":okk"));
        let e = read("x.edn", "[{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok,", false).unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = read("x.edn", "[{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read}\n", false)
            .unwrap_err();
        assert!(e.message.contains("not closed"), "{}", e.message);
        let e = read("x.edn", "[{:type :invoke, :f :read}]", false).unwrap_err();
        assert!(e.message.contains(":process"));
    }

    #[test]
    fn a_history_states_its_model_and_initial_value_before_its_first_op() {
        let ops = "[{:process 0, :type :invoke, :f :read, :value nil}\n {:process 0, :type :ok, :f :read, :value 0}]\n";
        let h =
            read("x.edn", &format!(";; a register\n; fencepost: initial 0\n;fencepost: model register\n{ops}"), false)
                .unwrap();
        assert_eq!(h.stated.initial, Some((serde_json::json!(0), 2)));
        assert_eq!(h.stated.model, Some((ModelName::Register, 3)));
        // EDN values, as the ops' are read.
        let h = read("x.edn", &format!("; fencepost: initial [1 \"a\" nil]\n{ops}"), false).unwrap();
        assert_eq!(h.stated.initial, Some((serde_json::json!([1, "a", null]), 1)));
        assert_eq!(read("x.edn", ops, false).unwrap().stated, Stated::default());
        for (text, line, says) in [
            (format!("; fencepost: initial 0\n; fencepost: initial 1\n{ops}"), 2, "a second"),
            (format!("; fencepost: model regster\n{ops}"), 1, "unknown model `regster`"),
            (format!("; fencepost: initial\n{ops}"), 1, "has no value"),
            (format!("; fencepost: initial [1\n{ops}"), 1, "not one EDN value"),
            (format!("; fencepost: start 0\n{ops}"), 1, "unknown setting"),
            (format!("{ops}; fencepost: initial 0\n"), 3, "before the first op (line 1)"),
        ] {
            let e = read("x.edn", &text, false).unwrap_err();
            assert_eq!(e.line, Some(line), "{text}: {e}");
            assert!(e.message.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn write_then_read_keeps_the_ops() {
        let json = "{\"time\":5,\"process\":3,\"type\":\"invoke\",\"f\":\"acquire\",\"key\":\"k0\",\"value\":{\"ttl_ms\":2000}}\n{\"time\":9,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"partition-start\",\"value\":{\"grudge\":{\"n1\":[\"n3\"]}}}\n{\"time\":11,\"process\":3,\"type\":\"fail\",\"f\":\"acquire\",\"key\":\"k0\",\"value\":null,\"error\":\"busy\"}\n";
        let h = crate::formats::jsonl::read("h.jsonl", json).unwrap();
        let mut out = Vec::new();
        write(&mut out, &h.ops).unwrap();
        let back = read("h.edn", std::str::from_utf8(&out).unwrap(), false).unwrap();
        assert_eq!(back.ops, h.ops);
    }
}
