//! Readers and writers for every history format fencepost speaks.
//!
//! | format | read | write |
//! | --- | --- | --- |
//! | `jsonl` — fencepost's own contract | yes | yes |
//! | `edn` — Jepsen / Knossos histories | yes | yes (export) |
//! | `porcupine-etcd` — Jepsen etcd logs as shipped with Porcupine | yes | — |
//! | `porcupine-kv` — Porcupine's key-value histories (EDN maps, one per line) | yes | — |
//!
//! Each reader maps its source's semantics onto the contract (see the
//! corpus README): e.g. a Porcupine `:fail :cas` completed and compared
//! unequal, so it becomes an `ok` cas whose result is `false`.

pub mod edn;
pub mod jsonl;
pub mod porcupine;

use crate::error::InputError;
use crate::history::History;
use std::io::Read;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Format {
    Auto,
    /// `json` is accepted too.
    #[strum(serialize = "jsonl", serialize = "json")]
    Jsonl,
    Edn,
    PorcupineEtcd,
    PorcupineKv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        s.parse().ok()
    }

    /// Every format's name, as `--format` takes it.
    pub const NAMES: &'static [&'static str] = <Format as strum::VariantNames>::VARIANTS;
}

/// Reads a history file. Bytes that are not UTF-8 are an error naming the line.
///
/// A JSONL file is read a block at a time, so its text is never held whole
/// beside the ops parsed from it (a 10-million-op history is 2 GB of text).
pub fn read_path(path: &Path, format: Format) -> Result<History, InputError> {
    read_file(path, format, JSONL_BLOCK)
}

fn read_file(path: &Path, format: Format, block_size: usize) -> Result<History, InputError> {
    let name = path.display().to_string();
    let cannot = |e: std::io::Error| InputError::new(&name, None, format!("cannot read the file: {e}"));
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut head = Vec::new();
    (&mut file).take(block_size as u64).read_to_end(&mut head).map_err(cannot)?;
    let format = match format {
        Format::Auto if head.len() < block_size => format,
        // A cut character at the block's end is no reason to refuse to guess.
        Format::Auto => detect(&name, &String::from_utf8_lossy(&head))?,
        f => f,
    };
    if format != Format::Jsonl || head.len() < block_size {
        file.read_to_end(&mut head).map_err(cannot)?;
        return read_bytes(&name, &head, format);
    }
    let mut history = History::new(&name, "jsonl");
    let mut block = head;
    let mut first_line = 1;
    loop {
        let more = (&mut file).take(block_size as u64).read_to_end(&mut block).map_err(cannot)? > 0;
        // Parse up to the last complete line; the rest starts the next block.
        let end = if more { block.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) } else { block.len() };
        let text = utf8(&name, &block[..end], first_line)?;
        jsonl::read_into(&mut history, text, first_line)?;
        first_line += text.bytes().filter(|&b| b == b'\n').count();
        if !more && end == block.len() {
            break;
        }
        block.drain(..end);
    }
    if history.ops.is_empty() {
        return Err(InputError::new(&name, None, "no operations found (read as jsonl)"));
    }
    Ok(history)
}

/// How much of a JSONL file is read and parsed at a time.
const JSONL_BLOCK: usize = 32 << 20;

pub fn read_bytes(name: &str, bytes: &[u8], format: Format) -> Result<History, InputError> {
    read_str(name, utf8(name, bytes, 1)?, format)
}

/// `bytes` as text, or an error naming the line (counted from `first_line`).
fn utf8<'a>(name: &str, bytes: &'a [u8], first_line: usize) -> Result<&'a str, InputError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + first_line;
        let col = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        InputError::at(name, line, format!("byte {col} of this line is not valid UTF-8; expected a UTF-8 text history"))
    })
}

pub fn read_str(name: &str, text: &str, format: Format) -> Result<History, InputError> {
    let format = match format {
        Format::Auto => detect(name, text)?,
        f => f,
    };
    let history = match format {
        Format::Jsonl => jsonl::read(name, text)?,
        Format::Edn => edn::read(name, text, false)?,
        Format::PorcupineKv => edn::read(name, text, true)?,
        Format::PorcupineEtcd => porcupine::read_etcd(name, text)?,
        Format::Auto => unreachable!("detect never returns Auto"),
    };
    if history.ops.is_empty() {
        return Err(InputError::new(name, None, format!("no operations found (read as {})", history.format)));
    }
    Ok(history)
}

/// Guesses the format from the first meaningful lines.
pub fn detect(name: &str, text: &str) -> Result<Format, InputError> {
    for line in text.lines().take(200) {
        if line.contains("jepsen.util") {
            return Ok(Format::PorcupineEtcd);
        }
    }
    let first = text.lines().map(str::trim_start).find(|l| !l.is_empty() && !l.starts_with(';'));
    let Some(first) = first else {
        return Err(InputError::new(name, None, "empty file: expected a history"));
    };
    if first.starts_with("{\"") || first.starts_with("{ \"") || first == "{" {
        return Ok(Format::Jsonl);
    }
    if first.starts_with('[') || first.starts_with('(') || first.starts_with("{:") || first.starts_with('{') {
        // Porcupine's kv histories are EDN too; they are told apart by their ops.
        let kv = first.contains(":f :get") || first.contains(":f :put") || first.contains(":f :append");
        return Ok(if kv { Format::PorcupineKv } else { Format::Edn });
    }
    let line = text.lines().position(|l| l.trim_start() == first).unwrap_or(0) + 1;
    Err(InputError::at(
        name,
        line,
        "cannot tell the format: expected a JSON object per line, an EDN collection or map, \
         or Jepsen `INFO  jepsen.util - …` log lines (use --format to say which)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jsonl_file_read_in_blocks_is_the_file_read_whole() {
        let dir = std::env::temp_dir().join(format!("fencepost-blocks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.jsonl");
        let mut text = String::new();
        for i in 0..500 {
            // Lines of different lengths, a blank one and a multi-byte key, so
            // that blocks end at every kind of place.
            text += &format!(
                "{{\"time\":{i},\"process\":{},\"type\":\"invoke\",\"f\":\"read\",\"key\":\"é{}\"}}\n",
                i % 7,
                "x".repeat(i % 13)
            );
            if i % 97 == 0 {
                text += "\n";
            }
        }
        std::fs::write(&path, &text).unwrap();
        let whole = read_str("h.jsonl", &text, Format::Jsonl).unwrap();
        for block in [64, 100, 1000, 1 << 20] {
            for format in [Format::Auto, Format::Jsonl] {
                let h = read_file(&path, format, block).unwrap();
                assert_eq!(h.ops, whole.ops, "block {block}");
                assert_eq!(h.lines, whole.lines, "block {block}");
            }
        }
        // A bad line deep in the file is named by its line, whatever the block.
        std::fs::write(&path, text.replacen("\"time\":400,", "\"time\":-4,", 1)).unwrap();
        let want = read_str("h.jsonl", &std::fs::read_to_string(&path).unwrap(), Format::Jsonl).unwrap_err().line;
        assert_eq!(read_file(&path, Format::Jsonl, 100).unwrap_err().line, want);
        let _ = std::fs::remove_dir_all(dir);
    }
}
