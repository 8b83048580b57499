//! What the checker's integration tests share: a history written as the
//! JSONL a run records, then read back as `fencepost check` reads it.

use checker::formats::jsonl;
use serde_json::{json, Value};

/// (time, process, type, f, key, value); process -1 is the nemesis. Lines
/// are written in the order given, not sorted.
pub fn history(events: &[(u64, i64, &str, &str, &str, Value)]) -> checker::History {
    let mut text = String::new();
    for (i, (t, p, ty, f, k, v)) in events.iter().enumerate() {
        let process = if *p < 0 { json!("nemesis") } else { json!(p) };
        let mut op = json!({ "index": i, "time": t, "process": process, "type": ty, "f": f, "value": v });
        if !k.is_empty() {
            op["key"] = json!(k);
        }
        text.push_str(&op.to_string());
        text.push('\n');
    }
    jsonl::read("test.jsonl", &text).unwrap()
}
