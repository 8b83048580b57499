//! fencepost's native format: one JSON object per line (DESIGN.md).

use crate::error::InputError;
use crate::history::{History, Op};
use std::io::{self, Write};

pub fn read(name: &str, text: &str) -> Result<History, InputError> {
    let mut h = History::new(name, "jsonl");
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let op: Op = serde_json::from_str(line).map_err(|e| {
            let what =
                if e.is_eof() { "truncated line (the JSON object ends early)".to_string() } else { e.to_string() };
            InputError::at(
                name,
                line_no,
                format!("{what}; expected one op object like {{\"time\":…,\"process\":…,\"type\":\"invoke\",\"f\":…}}"),
            )
        })?;
        h.push(op, line_no);
    }
    Ok(h)
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
