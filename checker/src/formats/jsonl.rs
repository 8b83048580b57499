//! fencepost's native format: one JSON object per line (DESIGN.md).

use crate::error::InputError;
use crate::history::{History, Op};
use std::io::{self, Write};

/// Below this many bytes a history is parsed on one thread.
const PARALLEL_FROM: usize = 1 << 22;

pub fn read(name: &str, text: &str) -> Result<History, InputError> {
    let mut h = History::new(name, "jsonl");
    read_into(&mut h, text, 1)?;
    Ok(h)
}

/// Appends the ops of `text`, whose first line is line `first_line` of the
/// file `h` names.
pub fn read_into(h: &mut History, text: &str, first_line: usize) -> Result<(), InputError> {
    let name = h.file.clone();
    let name = name.as_str();
    if text.len() < PARALLEL_FROM {
        for (op, line) in parse_lines(name, text, first_line)? {
            h.push(op, line);
        }
        return Ok(());
    }
    // A long history is cut at line ends into pieces parsed side by side
    // (lines are independent); the pieces are joined in order, and the
    // first error by line wins, as on one thread.
    use rayon::prelude::*;
    let pieces = 8 * rayon::current_num_threads();
    let mut cuts = vec![0];
    for i in 1..pieces {
        let at = (text.len() * i / pieces).max(*cuts.last().unwrap_or(&0));
        // Bytes, not chars: `at` may fall inside a character; just past a
        // newline never does.
        let end = text.as_bytes()[at..].iter().position(|&b| b == b'\n').map_or(text.len(), |n| at + n + 1);
        cuts.push(end);
    }
    cuts.push(text.len());
    cuts.dedup();
    let chunks: Vec<&str> = cuts.windows(2).map(|w| &text[w[0]..w[1]]).collect();
    let newlines: Vec<usize> = chunks.par_iter().map(|c| c.bytes().filter(|&b| b == b'\n').count()).collect();
    let first_lines: Vec<usize> = newlines
        .iter()
        .scan(first_line, |line, n| {
            let first = *line;
            *line += n;
            Some(first)
        })
        .collect();
    let parsed: Vec<Result<Vec<(Op, usize)>, InputError>> =
        chunks.par_iter().zip(first_lines).map(|(chunk, first)| parse_lines(name, chunk, first)).collect();
    h.ops.reserve(parsed.iter().map(|p| p.as_ref().map_or(0, Vec::len)).sum());
    for piece in parsed {
        for (op, line) in piece? {
            h.push(op, line);
        }
    }
    Ok(())
}

/// The ops of `text`, whose first line is line `first` of the file.
fn parse_lines(name: &str, text: &str, first: usize) -> Result<Vec<(Op, usize)>, InputError> {
    let mut ops = Vec::with_capacity(text.len() / 100);
    for (i, line) in text.lines().enumerate() {
        let line_no = first + i;
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
        ops.push((op, line_no));
    }
    Ok(ops)
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
