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

/// Reads a history file whole. Bytes that are not UTF-8 are an error naming the line.
pub fn read_path(path: &Path, format: Format) -> Result<History, InputError> {
    open(path, format)?.into_history()
}

/// Opens a history file: one in any format but JSONL is read and parsed
/// whole; a JSONL file is left to be read a block at a time, so that its text
/// is never held whole beside the ops parsed from it (a 10-million-op
/// history is 2 GB of text), and a checker can take its ops as they come.
pub fn open(path: &Path, format: Format) -> Result<Source, InputError> {
    open_with(path, format, JSONL_BLOCK)
}

/// A history file, opened by [`open`].
pub enum Source {
    Whole(History),
    Jsonl(JsonlFile),
}

/// How many ops [`Source::head`] reads: enough to tell what a history is
/// the history of.
pub const HEAD_OPS: usize = 10_000;

impl Source {
    /// The first [`HEAD_OPS`] ops (all of a history read whole).
    pub fn head(&self) -> Result<std::borrow::Cow<'_, History>, InputError> {
        match self {
            Source::Whole(h) => Ok(std::borrow::Cow::Borrowed(h)),
            Source::Jsonl(f) => f.head().map(std::borrow::Cow::Owned),
        }
    }

    pub fn into_history(self) -> Result<History, InputError> {
        match self {
            Source::Whole(h) => Ok(h),
            Source::Jsonl(f) => f.into_history(),
        }
    }
}

/// A JSONL history file being read a block at a time.
pub struct JsonlFile {
    name: String,
    file: std::fs::File,
    /// The first block, already read to tell the format.
    head: Vec<u8>,
    block_size: usize,
}

pub(crate) fn open_with(path: &Path, format: Format, block_size: usize) -> Result<Source, InputError> {
    let name = path.display().to_string();
    let cannot = |e: std::io::Error| InputError::new(&name, None, format!("cannot read the file: {e}"));
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    // Room for the whole first block up front, or read_to_end would grow it
    // by doubling: a copy of everything read so far each time.
    let size = file.metadata().map_or(0, |m| m.len());
    let mut head = Vec::with_capacity(size.min(block_size as u64) as usize + 1);
    (&mut file).take(block_size as u64).read_to_end(&mut head).map_err(cannot)?;
    let format = match format {
        // A cut character at the block's end is no reason to refuse to guess.
        // The first lines tell; a megabyte of them will do unless they are
        // all blank.
        Format::Auto => {
            let some = &head[..head.len().min(1 << 20)];
            detect(&name, &String::from_utf8_lossy(some)).or_else(|e| match some.len() < head.len() {
                true => detect(&name, &String::from_utf8_lossy(&head)),
                false => Err(e),
            })?
        }
        f => f,
    };
    if format != Format::Jsonl {
        file.read_to_end(&mut head).map_err(cannot)?;
        return Ok(Source::Whole(read_bytes(&name, &head, format)?));
    }
    Ok(Source::Jsonl(JsonlFile { name, file, head, block_size }))
}

impl JsonlFile {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first [`HEAD_OPS`] ops (or as many as the first block holds).
    pub fn head(&self) -> Result<History, InputError> {
        // Cut after HEAD_OPS lines that are not blank, then read only that:
        // the block may be many megabytes.
        let end = self.head.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let (mut ops, mut cut) = (0, 0);
        for line in self.head[..end].split_inclusive(|&b| b == b'\n') {
            if ops == HEAD_OPS {
                break;
            }
            ops += usize::from(!line.trim_ascii().is_empty());
            cut += line.len();
        }
        let text = utf8(&self.name, &self.head[..cut], 1)?;
        let mut h = History::new(&self.name, "jsonl");
        jsonl::read_into(&mut h, text, 1)?;
        Ok(h)
    }

    /// Reads the whole file into a [`History`] (see [`History::settle`]).
    pub fn into_history(self) -> Result<History, InputError> {
        let mut history = History::new(&self.name.clone(), "jsonl");
        let mut indexes = jsonl::IndexCheck::default();
        self.for_each_piece(|piece| {
            history.ops.reserve(piece.len());
            for (op, line) in piece {
                indexes.see(op.index, line);
                history.push(op.into(), line);
            }
            Ok(())
        })?;
        jsonl::finish(&mut history, indexes)?;
        Ok(history)
    }

    /// Reads the file a block at a time and hands its ops, in order, to
    /// `sink` a piece at a time (see [`jsonl::parse_each`]); they borrow the
    /// block's text, so whatever `sink` keeps past the call it must own. A
    /// file with no ops is an error.
    pub fn for_each_piece(
        self,
        mut sink: impl for<'a> FnMut(jsonl::Piece<'a>) -> Result<(), InputError>,
    ) -> Result<(), InputError> {
        let JsonlFile { name, file, head, block_size } = self;
        let cannot = |e: std::io::Error| InputError::new(&name, None, format!("cannot read the file: {e}"));
        let mut block = head;
        // The file may go on only when the first read filled the block.
        let mut more = block.len() == block_size;
        let mut file = Some(file);
        let mut first_line = 1;
        let mut any = false;
        // The block parsed before: its buffer takes the next one, so that
        // reading a big file touches fresh memory for two blocks, not for
        // every block (a page fault and a zeroed page per 4 KB otherwise).
        let mut spare = Vec::new();
        loop {
            // Parse up to the last complete line; the rest starts the next
            // block, which a thread reads while this one is parsed.
            let end = if more { block.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) } else { block.len() };
            let reader = match (more, file.take()) {
                (true, Some(mut f)) => {
                    let mut next = std::mem::take(&mut spare);
                    next.clear();
                    // Room for all of it up front: read_to_end then reads
                    // straight into place instead of growing by doubling.
                    next.reserve(block.len() - end + block_size);
                    next.extend_from_slice(&block[end..]);
                    Some(std::thread::spawn(move || {
                        let read = (&mut f).take(block_size as u64).read_to_end(&mut next);
                        (f, next, read)
                    }))
                }
                _ => None,
            };
            first_line += jsonl::parse_each(&name, &block[..end], first_line, &mut |piece| {
                any |= !piece.is_empty();
                sink(piece)
            })?;
            let Some(reader) = reader else { break };
            let (f, next, read) =
                reader.join().map_err(|_| InputError::new(&name, None, "the thread reading the file stopped"))?;
            more = read.map_err(cannot)? == block_size;
            file = Some(f);
            spare = std::mem::replace(&mut block, next);
        }
        if !any {
            return Err(InputError::new(&name, None, "no operations found (read as jsonl)"));
        }
        Ok(())
    }
}

/// How much of a JSONL file is read and parsed at a time: small enough that
/// a block is still in the shared cache when the parsers read it (8 MB took
/// a tenth off the CPU time of a 208 MB check against 32 MB, and 4 MB was
/// slower again: more pauses between blocks).
const JSONL_BLOCK: usize = 8 << 20;

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
                let h = open_with(&path, format, block).unwrap().into_history().unwrap();
                assert_eq!(h.ops, whole.ops, "block {block}");
                assert_eq!(h.lines, whole.lines, "block {block}");
            }
        }
        // A bad line deep in the file is named by its line, whatever the block.
        std::fs::write(&path, text.replacen("\"time\":400,", "\"time\":-4,", 1)).unwrap();
        let want = read_str("h.jsonl", &std::fs::read_to_string(&path).unwrap(), Format::Jsonl).unwrap_err().line;
        assert_eq!(open_with(&path, Format::Jsonl, 100).and_then(Source::into_history).unwrap_err().line, want);
        // So is a byte that is not UTF-8, in a short file and in one parsed
        // in pieces on every core.
        let mut bytes = text.clone().into_bytes();
        let at = text.match_indices('\n').nth(398).unwrap().0 + 20;
        bytes[at] = 0xff;
        std::fs::write(&path, &bytes).unwrap();
        for block in [64, 100, 1000, 1 << 20] {
            let e = open_with(&path, Format::Jsonl, block).and_then(Source::into_history).unwrap_err();
            assert_eq!(e.line, Some(400), "block {block}: {e}");
            assert!(e.message.contains("UTF-8"), "{e}");
        }
        let line = "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\"}\n";
        let mut long = line.repeat(100_000).into_bytes();
        long[line.len() * 77_777 + 3] = 0xc3;
        std::fs::write(&path, &long).unwrap();
        let e = read_path(&path, Format::Jsonl).unwrap_err();
        assert_eq!(e.line, Some(77_778), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
