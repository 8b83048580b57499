//! A small EDN reader and writer — just what Jepsen and Knossos histories use.
//!
//! Why our own: the EDN crates (`edn-format`, `edn-rs`) do report a line and
//! column for a syntax error, but a history needs more than that: the line
//! of every *op* (each event keeps its source line, so a checker's evidence
//! and a semantic error — a bad `:type`, a completion without its invoke —
//! can say `file:line` long after parsing), tolerance for the Clojure
//! printed forms Jepsen emits (`#{}`, `#inst`, `#_`, `1N`), and a direct
//! path into the history's JSON values without an intermediate tree per
//! file. A small recursive-descent reader (~300 lines, tested below) does
//! that; it is kept for the per-op lines, not for want of a crate.

use serde_json::{Map, Number, Value};
use std::fmt::Write;

/// An EDN value. Keywords and symbols keep their text without the colon.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    Nil,
    Bool(bool),
    Int(i64),
    /// Integers too large for i64 (or `N`-suffixed ones that overflow), as text.
    BigInt(String),
    Float(f64),
    Str(String),
    Char(char),
    Keyword(String),
    Symbol(String),
    Vector(Vec<Edn>),
    List(Vec<Edn>),
    Set(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
    Tagged(String, Box<Edn>),
}

impl Edn {
    /// Looks up a keyword key in a map.
    pub fn get(&self, keyword: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => entries.iter().find_map(|(k, v)| match k {
                Edn::Keyword(name) if name == keyword => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Edn::Nil => "nil",
            Edn::Bool(_) => "a boolean",
            Edn::Int(_) | Edn::BigInt(_) => "an integer",
            Edn::Float(_) => "a float",
            Edn::Str(_) => "a string",
            Edn::Char(_) => "a character",
            Edn::Keyword(_) => "a keyword",
            Edn::Symbol(_) => "a symbol",
            Edn::Vector(_) => "a vector",
            Edn::List(_) => "a list",
            Edn::Set(_) => "a set",
            Edn::Map(_) => "a map",
            Edn::Tagged(..) => "a tagged value",
        }
    }

    /// Converts to JSON: keywords and symbols become strings, collections
    /// arrays, map keys their text, tagged values their inner value.
    pub fn to_json(&self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(*b),
            Edn::Int(i) => Value::Number((*i).into()),
            Edn::BigInt(s) => Value::String(s.clone()),
            Edn::Float(f) => Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s.clone()),
            Edn::Char(c) => Value::String(c.to_string()),
            Edn::Vector(v) | Edn::List(v) | Edn::Set(v) => Value::Array(v.iter().map(Edn::to_json).collect()),
            Edn::Map(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    let key = match k {
                        Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => s.clone(),
                        other => other.to_string(),
                    };
                    m.insert(key, v.to_json());
                }
                Value::Object(m)
            }
            Edn::Tagged(_, inner) => inner.to_json(),
        }
    }
}

impl std::fmt::Display for Edn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        write_edn(&mut s, self);
        f.write_str(&s)
    }
}

fn write_edn(out: &mut String, v: &Edn) {
    let seq = |out: &mut String, open: &str, items: &[Edn], close: &str| {
        out.push_str(open);
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            write_edn(out, x);
        }
        out.push_str(close);
    };
    match v {
        Edn::Nil => out.push_str("nil"),
        Edn::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Edn::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Edn::BigInt(s) => {
            let _ = write!(out, "{s}N");
        }
        Edn::Float(x) => {
            let _ = write!(out, "{x:?}");
        }
        Edn::Str(s) => write_string(out, s),
        Edn::Char(c) => {
            let _ = write!(out, "\\{c}");
        }
        Edn::Keyword(k) => {
            out.push(':');
            out.push_str(k);
        }
        Edn::Symbol(s) => out.push_str(s),
        Edn::Vector(v) => seq(out, "[", v, "]"),
        Edn::List(v) => seq(out, "(", v, ")"),
        Edn::Set(v) => seq(out, "#{", v, "}"),
        Edn::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_edn(out, k);
                out.push(' ');
                write_edn(out, v);
            }
            out.push('}');
        }
        Edn::Tagged(tag, inner) => {
            out.push('#');
            out.push_str(tag);
            out.push(' ');
            write_edn(out, inner);
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether `s` can be written as a keyword and read back unchanged.
pub fn is_keyword_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || "*+!_?<>=-".contains(c) => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || "*+!_?<>=-./".contains(c))
}

/// JSON → EDN for export: objects become maps with keyword keys where the
/// key allows it, arrays vectors, null nil.
pub fn from_json(v: &Value) -> Edn {
    match v {
        Value::Null => Edn::Nil,
        Value::Bool(b) => Edn::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Edn::Int(i),
            None => match n.as_f64() {
                Some(f) if n.is_f64() => Edn::Float(f),
                _ => Edn::BigInt(n.to_string()),
            },
        },
        Value::String(s) => Edn::Str(s.clone()),
        Value::Array(a) => Edn::Vector(a.iter().map(from_json).collect()),
        Value::Object(m) => Edn::Map(
            m.iter()
                .map(|(k, v)| {
                    let key = if is_keyword_name(k) { Edn::Keyword(k.clone()) } else { Edn::Str(k.clone()) };
                    (key, from_json(v))
                })
                .collect(),
        ),
    }
}

/// A parse error: 1-based line and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// A cursor over EDN text that tracks the line it is on.
pub struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

type PResult<T> = Result<T, ParseError>;

/// Recursion is bounded so that a hostile file of `[[[[…` cannot overflow the stack.
const MAX_DEPTH: usize = 200;

impl<'a> Parser<'a> {
    pub fn new(text: &'a str) -> Self {
        Parser { src: text.as_bytes(), pos: 0, line: 1 }
    }

    pub fn line(&self) -> usize {
        self.line
    }

    fn err<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(ParseError { line: self.line, message: message.into() })
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms.
    pub fn skip_ws(&mut self) -> PResult<()> {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                    self.bump();
                }
                b';' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                b'#' if self.src.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.value(0)?;
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// True at the end of input (after skipping whitespace and comments).
    pub fn at_end(&mut self) -> PResult<bool> {
        self.skip_ws()?;
        Ok(self.peek().is_none())
    }

    /// The next byte after whitespace, without consuming it.
    pub fn peek_token(&mut self) -> PResult<Option<u8>> {
        self.skip_ws()?;
        Ok(self.peek())
    }

    /// Consumes one expected byte (after whitespace).
    pub fn expect(&mut self, byte: u8) -> PResult<()> {
        self.skip_ws()?;
        match self.peek() {
            Some(c) if c == byte => {
                self.bump();
                Ok(())
            }
            Some(c) => self.err(format!("expected `{}`, found `{}`", byte as char, c as char)),
            None => self.err(format!("expected `{}`, found end of file", byte as char)),
        }
    }

    /// Consumes the opening bracket of a top-level collection so that its
    /// elements can be read one at a time (each with its own line).
    pub fn parse_open(&mut self) -> PResult<()> {
        self.skip_ws()?;
        match self.peek() {
            Some(b'[') | Some(b'(') => {
                self.bump();
                Ok(())
            }
            _ => self.err("expected `[` or `(`"),
        }
    }

    /// Reads one value.
    pub fn parse(&mut self) -> PResult<Edn> {
        self.value(0)
    }

    fn value(&mut self, depth: usize) -> PResult<Edn> {
        if depth > MAX_DEPTH {
            return self.err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.skip_ws()?;
        let start_line = self.line;
        let Some(c) = self.peek() else {
            return self.err("expected a value, found end of file");
        };
        match c {
            b'[' => {
                self.bump();
                Ok(Edn::Vector(self.seq(b']', start_line, depth)?))
            }
            b'(' => {
                self.bump();
                Ok(Edn::List(self.seq(b')', start_line, depth)?))
            }
            b'{' => {
                self.bump();
                let items = self.seq(b'}', start_line, depth)?;
                if items.len() % 2 == 1 {
                    return Err(ParseError {
                        line: start_line,
                        message: "map has an odd number of forms: expected key/value pairs".into(),
                    });
                }
                let mut entries = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Ok(Edn::Map(entries))
            }
            b'#' => {
                self.bump();
                match self.peek() {
                    Some(b'{') => {
                        self.bump();
                        Ok(Edn::Set(self.seq(b'}', start_line, depth)?))
                    }
                    Some(c) if c.is_ascii_alphabetic() => {
                        let tag = self.token();
                        let inner = self.value(depth + 1)?;
                        Ok(Edn::Tagged(tag, Box::new(inner)))
                    }
                    _ => self.err("expected `#{`, `#_` or a tag after `#`"),
                }
            }
            b'"' => self.string(),
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return self.err("expected a keyword name after `:`");
                }
                Ok(Edn::Keyword(name))
            }
            b'\\' => {
                self.bump();
                let tok = self.token();
                let ch = match tok.as_str() {
                    "newline" => '\n',
                    "space" => ' ',
                    "tab" => '\t',
                    "return" => '\r',
                    _ => {
                        let mut cs = tok.chars();
                        match (cs.next(), cs.next()) {
                            (Some(c), None) => c,
                            // `\(` and friends: the token stops at delimiters.
                            (None, _) => match self.bump() {
                                Some(b) => b as char,
                                None => return self.err("expected a character after `\\`"),
                            },
                            _ => return self.err(format!("unknown character literal `\\{tok}`")),
                        }
                    }
                };
                Ok(Edn::Char(ch))
            }
            b']' | b')' | b'}' => self.err(format!("unexpected `{}`", c as char)),
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return self.err(format!("unexpected character `{}`", c as char));
                }
                self.atom(tok)
            }
        }
    }

    fn seq(&mut self, close: u8, start_line: usize, depth: usize) -> PResult<Vec<Edn>> {
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => {
                    return self.err(format!(
                    "unexpected end of file: the collection opened at line {start_line} is not closed; expected `{}`",
                    close as char
                ))
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => items.push(self.value(depth + 1)?),
            }
        }
    }

    /// A run of symbol/number characters.
    fn token(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || b",;()[]{}\"".contains(&c) {
                break;
            }
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    fn atom(&self, tok: String) -> PResult<Edn> {
        match tok.as_str() {
            "nil" => return Ok(Edn::Nil),
            "true" => return Ok(Edn::Bool(true)),
            "false" => return Ok(Edn::Bool(false)),
            _ => {}
        }
        let b = tok.as_bytes();
        let numeric = b[0].is_ascii_digit() || (b.len() > 1 && (b[0] == b'-' || b[0] == b'+') && b[1].is_ascii_digit());
        if !numeric {
            return Ok(Edn::Symbol(tok));
        }
        let digits = tok.strip_suffix('N').unwrap_or(&tok);
        if let Ok(i) = digits.parse::<i64>() {
            return Ok(Edn::Int(i));
        }
        if digits.bytes().skip(1).all(|c| c.is_ascii_digit()) {
            return Ok(Edn::BigInt(digits.trim_start_matches('+').to_string()));
        }
        let float = tok.strip_suffix('M').unwrap_or(&tok);
        match float.parse::<f64>() {
            Ok(f) => Ok(Edn::Float(f)),
            Err(_) => self.err(format!("malformed number `{tok}`")),
        }
    }

    fn string(&mut self) -> PResult<Edn> {
        let start_line = self.line;
        self.bump(); // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(ParseError {
                    line: start_line,
                    message: "unterminated string: expected a closing `\"`".into(),
                });
            };
            match c {
                b'"' => break,
                b'\\' => {
                    let esc = match self.bump() {
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'u') => {
                            let hex = self.src.get(self.pos..self.pos + 4).unwrap_or(b"");
                            let code = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            let Some(ch) = code else {
                                return self.err("malformed `\\u` escape: expected 4 hex digits");
                            };
                            self.pos += 4;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        Some(other) => return self.err(format!("unknown escape `\\{}` in string", other as char)),
                        None => return self.err("unterminated string: expected a closing `\"`"),
                    };
                    out.push(esc);
                }
                c => out.push(c),
            }
        }
        // The input is a &str and escapes produce UTF-8, so this cannot fail;
        // stay total anyway.
        Ok(Edn::Str(String::from_utf8_lossy(&out).into_owned()))
    }
}

/// Parses exactly one value from `text`.
pub fn parse_one(text: &str) -> PResult<Edn> {
    let mut p = Parser::new(text);
    let v = p.parse()?;
    if !p.at_end()? {
        return p.err("unexpected text after the value");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jepsen_forms() {
        let v = parse_one(
            "{:process 3, :type :fail, :f :cas, :value [1 2], :error [:timed-out nil] :x #{1} :t #inst \"2020\" :n 12N}",
        )
        .unwrap();
        assert_eq!(v.get("process"), Some(&Edn::Int(3)));
        assert_eq!(v.get("type"), Some(&Edn::Keyword("fail".into())));
        assert_eq!(v.get("value"), Some(&Edn::Vector(vec![Edn::Int(1), Edn::Int(2)])));
        assert_eq!(v.get("n"), Some(&Edn::Int(12)));
        assert_eq!(v.get("error").unwrap().to_string(), "[:timed-out nil]");
    }

    #[test]
    fn comments_discard_and_strings() {
        let v = parse_one("; a comment\n[1 #_ 2 \"a\\\"b\\n\" ; trailing\n 3.5 -4 \\a]").unwrap();
        assert_eq!(
            v,
            Edn::Vector(vec![Edn::Int(1), Edn::Str("a\"b\n".into()), Edn::Float(3.5), Edn::Int(-4), Edn::Char('a')])
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_one("[{:a 1}\n {:b 2}\n {:c").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("end of file"), "{}", e.message);
        let e = parse_one("{:a}").unwrap_err();
        assert!(e.message.contains("odd number"));
        let e = parse_one("\"abc").unwrap_err();
        assert!(e.message.contains("unterminated"));
        assert!(parse_one(&"[".repeat(10_000)).is_err());
    }

    #[test]
    fn json_round_trip() {
        let j: Value = serde_json::json!({"ttl_ms": 2000, "grudge": {"n1": ["n3"]}, "x y": null, "f": 1.5, "s": "q\""});
        let text = from_json(&j).to_string();
        assert_eq!(parse_one(&text).unwrap().to_json(), j);
    }

    #[test]
    fn keyword_names() {
        assert!(is_keyword_name("ttl_ms"));
        assert!(is_keyword_name("partition-start"));
        assert!(!is_keyword_name("x y"));
        assert!(!is_keyword_name("1abc"));
        assert!(!is_keyword_name(""));
    }
}
