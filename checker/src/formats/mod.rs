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
pub fn read_path(path: &Path, format: Format) -> Result<History, InputError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| InputError::new(&name, None, format!("cannot read the file: {e}")))?;
    read_bytes(&name, &bytes, format)
}

pub fn read_bytes(name: &str, bytes: &[u8], format: Format) -> Result<History, InputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        InputError::at(name, line, format!("byte {col} of this line is not valid UTF-8; expected a UTF-8 text history"))
    })?;
    read_str(name, text, format)
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
