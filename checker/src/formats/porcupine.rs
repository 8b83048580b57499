//! Jepsen etcd logs as shipped in Porcupine's `test_data/jepsen`:
//! `INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>` (tabs or spaces).
//!
//! Porcupine's semantics are kept exactly:
//! - `:fail :cas [F T]` completed and did NOT apply — the register did not
//!   hold F. It becomes an `ok` cas whose result value is `false`.
//! - `:fail :read :timed-out` constrains nothing: it becomes an `info` read.
//! - `:info … :timed-out` may take effect at any time after its invocation.
//! - Every other line (nemesis, set-up) is ignored.

use crate::edn::{parse_one, Edn};
use crate::error::InputError;
use crate::history::{History, Op, OpType, Process, Times};
use serde_json::Value;

const MARK: &str = "jepsen.util - ";

pub fn read_etcd(name: &str, text: &str) -> Result<History, InputError> {
    let mut h = History::new(name, "porcupine-etcd");
    // The logs have no times: each op's position keeps their order.
    h.times = Times::Positions;
    // Each op's type as the log wrote it, for the retirement rule.
    let mut written = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let Some(at) = line.find(MARK) else { continue };
        let rest = &line[at + MARK.len()..];
        let (proc_s, rest) = token(rest);
        let (type_s, rest) = token(rest);
        // Only lines that name an op type are history events; jepsen.util
        // logs other things too.
        let Some(kind) = type_s.strip_prefix(':').and_then(OpType::parse) else { continue };
        let err = |m: String| InputError::at(name, line_no, m);
        if proc_s.starts_with(':') {
            continue; // `:nemesis` and other named processes are not clients
        }
        let process: u64 =
            proc_s.parse().map_err(|_| err(format!("process `{proc_s}`: expected a non-negative integer")))?;
        let (f_s, value_text) = token(rest);
        let f = match f_s.strip_prefix(':') {
            Some(f) if !f.is_empty() => f.to_string(),
            _ if f_s.is_empty() => return Err(err("missing op: expected :read, :write or :cas after the type".into())),
            _ => return Err(err(format!("op `{f_s}`: expected a keyword such as :read, :write or :cas"))),
        };
        let value_text = value_text.trim();
        let value = if value_text.is_empty() {
            Edn::Nil
        } else {
            parse_one(value_text).map_err(|e| err(format!("value `{value_text}`: {}", e.message)))?
        };
        written.push((Process::Client(process), kind, line_no));
        let timed_out = matches!(&value, Edn::Keyword(k) if k == "timed-out");
        let (kind, value, error) = match (kind, f.as_str()) {
            (OpType::Fail, "cas") if !timed_out => {
                (OpType::Ok, Value::Bool(false), Some("cas compared unequal".to_string()))
            }
            (OpType::Fail, "read") if timed_out => (OpType::Info, Value::Null, Some("timed-out".to_string())),
            (_, _) if timed_out => (kind, Value::Null, Some("timed-out".to_string())),
            _ => (kind, value.to_json(), None),
        };
        let time = h.ops.len() as u64;
        h.push(
            Op {
                index: 0,
                time,
                process: Process::Client(process),
                kind,
                f: f.into(),
                key: None,
                value,
                node: None,
                error,
            },
            line_no,
        );
    }
    if h.ops.is_empty() {
        return Err(InputError::new(name, None, "no `INFO  jepsen.util - <process> :<type> :<f> <value>` lines found"));
    }
    h.warnings.extend(crate::history::reuse_after_info(written));
    h.settle()?;
    Ok(h)
}

/// Splits off the first whitespace-separated token (tabs and spaces alike).
fn token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    const TABS: &str = "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\nINFO  jepsen.util - 0\t:fail\t:cas\t[1 2]\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:fail\t:read\t:timed-out\nINFO  jepsen.util - 2\t:invoke\t:write\t3\nINFO  jepsen.util - 2\t:info\t:write\t:timed-out\nINFO  jepsen.util - :nemesis\t:info\t:start\tnil\n";

    #[test]
    fn tabs_and_spaces_read_alike() {
        let spaces = TABS.replace('\t', "   ");
        let a = read_etcd("a.log", TABS).unwrap();
        let b = read_etcd("b.log", &spaces).unwrap();
        assert_eq!(a.ops, b.ops);
        assert_eq!(a.ops.len(), 6);
    }

    #[test]
    fn porcupine_semantics() {
        let h = read_etcd("a.log", TABS).unwrap();
        // A failed cas completed and compared unequal.
        assert_eq!(h.ops[1].kind, OpType::Ok);
        assert_eq!(h.ops[1].value, Value::Bool(false));
        // A timed-out read constrains nothing.
        assert_eq!(h.ops[3].kind, OpType::Info);
        let calls = h.calls().unwrap();
        assert_eq!(calls[2].outcome, Outcome::Info);
        assert_eq!(h.ops[0].value, serde_json::json!([1, 2]));
    }

    #[test]
    fn malformed_event_lines_are_errors() {
        let e = read_etcd("a.log", "INFO  jepsen.util - x\t:invoke\t:read\tnil\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = read_etcd("a.log", "hello\nINFO  jepsen.util - 1\t:invoke\t:cas\t[1 2\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(read_etcd("a.log", "nothing here\n").is_err());
    }
}
