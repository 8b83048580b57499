//! The values of lock, election and counter ops, typed.
//!
//! The recorder writes each value from one of these structs, and every
//! reader (the JSONL and EDN readers through the checker's `settle`, the
//! web's live feed, an import) parses it back through [`check`] once, so a
//! mistyped field is refused naming it, and a field no struct knows is a
//! warning naming it, never a silent "no lease".
//!
//! An op's `value` stays a JSON value in [`crate::Op`]: foreign histories
//! (Knossos registers, Porcupine's kv) carry values of their own shape, and
//! a JSON object's keys are written in sorted order, so a value built from
//! these structs has the same bytes on disk as before they existed.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

use crate::OpName;

/// What ended the locks a completion concerns, in its `released_by`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReleasedBy {
    /// The server ended the client's session (and every lock it held).
    SessionLost,
    /// The client undid whatever the call may have done before answering.
    Undone,
    /// A word fencepost does not read; kept as written.
    Other(String),
}

impl ReleasedBy {
    pub fn as_str(&self) -> &str {
        match self {
            ReleasedBy::SessionLost => crate::RELEASED_BY_SESSION_LOST,
            ReleasedBy::Undone => crate::RELEASED_BY_UNDONE,
            ReleasedBy::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> ReleasedBy {
        match s {
            crate::RELEASED_BY_SESSION_LOST => ReleasedBy::SessionLost,
            crate::RELEASED_BY_UNDONE => ReleasedBy::Undone,
            other => ReleasedBy::Other(other.to_string()),
        }
    }
}

impl fmt::Display for ReleasedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReleasedBy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What is wrong with a field of an op's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueError {
    /// `field` holds `found`, which is not what it must be.
    Mistyped { field: &'static str, found: String, expected: &'static str },
    /// A bare `ttl`: its unit is anyone's guess.
    UnitlessTtl,
    /// Both `ttl_ms` (or a spelling of it) and `ttl_s`.
    TwoTtls,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Mistyped { field, found, expected } => {
                write!(f, "field `{field}` is {found}; expected {expected}")
            }
            ValueError::UnitlessTtl => {
                f.write_str("field `ttl` does not say its unit; write `ttl_ms` (milliseconds) or `ttl_s` (seconds)")
            }
            ValueError::TwoTtls => f.write_str("both `ttl_ms` and `ttl_s` are given; expected one"),
        }
    }
}

impl std::error::Error for ValueError {}

/// The fields of one object value as an [`OpValue`] reads them; what is
/// left unread afterwards is unknown to the struct that read them.
pub struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
    /// The names asked for so far, spellings included: a fixed array, since
    /// every client op of a history is read (no struct asks for more).
    read: [&'static str; 16],
    asked: usize,
    /// How many of the object's keys were among them.
    found: usize,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value) -> Fields<'a> {
        Fields { map: value.as_object(), read: [""; 16], asked: 0, found: 0 }
    }

    /// The field under `name` or one of its other spellings, `None` for a
    /// missing field or null.
    fn get(&mut self, names: &[&'static str]) -> Option<&'a Value> {
        let map = self.map?;
        let mut got = None;
        for n in names {
            let v = map.get(*n);
            if !self.read[..self.asked].contains(n) && self.asked < self.read.len() {
                self.read[self.asked] = n;
                self.asked += 1;
                self.found += usize::from(v.is_some());
            }
            got = got.or(v);
        }
        got.filter(|v| !v.is_null())
    }

    fn mistyped(field: &'static str, found: &Value, expected: &'static str) -> ValueError {
        ValueError::Mistyped { field, found: found.to_string(), expected }
    }

    fn int(&mut self, field: &'static str) -> Result<Option<i64>, ValueError> {
        match self.get(&[field]) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| Self::mistyped(field, v, "an integer")),
        }
    }

    fn count(&mut self, field: &'static str) -> Result<Option<u64>, ValueError> {
        match self.get(&[field]) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| Self::mistyped(field, v, "a non-negative integer")),
        }
    }

    fn text(&mut self, field: &'static str) -> Result<Option<String>, ValueError> {
        match self.get(&[field]) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(Self::mistyped(field, v, "a string")),
        }
    }

    fn flag(&mut self, field: &'static str) -> Result<Option<bool>, ValueError> {
        match self.get(&[field]) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(Self::mistyped(field, v, "true or false")),
        }
    }

    fn texts(&mut self, field: &'static str) -> Result<Option<Vec<String>>, ValueError> {
        match self.get(&[field]) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(|| Self::mistyped(field, i, "a list of strings")))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(Self::mistyped(field, v, "a list of strings")),
        }
    }

    fn released_by(&mut self) -> Result<Option<ReleasedBy>, ValueError> {
        match self.get(&["released_by"]) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(ReleasedBy::parse(s))),
            Some(v) => Err(ValueError::Mistyped {
                field: "released_by",
                found: v.to_string(),
                expected: "a string such as \"session-lost\"",
            }),
        }
    }

    /// A duration as a non-negative number, or a string holding one, scaled
    /// to milliseconds and rounded down (a shorter lease promises less).
    fn duration(&mut self, names: &[&'static str], scale: f64) -> Result<Option<u64>, ValueError> {
        let Some(v) = self.get(names) else { return Ok(None) };
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n.is_finite() && n >= 0.0 && n * scale < u64::MAX as f64 => Ok(Some((n * scale) as u64)),
            _ => Err(ValueError::Mistyped {
                field: if scale == 1.0 { "ttl_ms` (or `ttl-ms`, `ttlMs`" } else { "ttl_s` (or `ttl-s`" },
                found: v.to_string(),
                expected: if scale == 1.0 {
                    "a non-negative number of milliseconds (or a string holding one)"
                } else {
                    "a non-negative number of seconds (or a string holding one)"
                },
            }),
        }
    }

    /// The fields of the object no struct read, in sorted order.
    fn unread(&self) -> Vec<String> {
        match self.map {
            Some(map) if map.len() > self.found => {
                map.keys().filter(|k| !self.read[..self.asked].contains(&k.as_str())).cloned().collect()
            }
            _ => Vec::new(),
        }
    }
}

/// What a value says about a lease or a session.
///
/// Spellings read (docs/HISTORY.md): `ttl_ms`, `ttl-ms` (EDN's `:ttl-ms`,
/// Jepsen's usual spelling) and `ttlMs` in milliseconds; `ttl_s` and
/// `ttl-s` in seconds; each a non-negative number or a string holding one
/// (a fraction is rounded down). A bare `ttl` is refused, since its unit is
/// anyone's guess, and so is any value that is not a number: read as "no
/// lease", it would make every grant "held until released" and blame the
/// service for the client's spelling. Written as `ttl_ms` and
/// `session: true`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeaseTerms {
    /// The lease's TTL in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// `session: true`: held while the client's session lives.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub session: bool,
}

impl LeaseTerms {
    pub fn lease(ttl_ms: u64) -> LeaseTerms {
        LeaseTerms { ttl_ms: Some(ttl_ms), session: false }
    }

    pub fn session() -> LeaseTerms {
        LeaseTerms { ttl_ms: None, session: true }
    }

    fn read(f: &mut Fields) -> Result<LeaseTerms, ValueError> {
        let ms = f.duration(&["ttl_ms", "ttl-ms", "ttlMs"], 1.0)?;
        let s = f.duration(&["ttl_s", "ttl-s"], 1000.0)?;
        if f.get(&["ttl"]).is_some() {
            return Err(ValueError::UnitlessTtl);
        }
        let session = f.flag("session")?;
        let ttl_ms = match (ms, s) {
            (Some(_), Some(_)) => return Err(ValueError::TwoTtls),
            (ms, s) => ms.or(s),
        };
        Ok(LeaseTerms { ttl_ms, session: session == Some(true) })
    }
}

/// A typed op value: how it is read from a history's value, and written.
pub trait OpValue: Sized + Serialize + Default {
    /// Reads the fields this value has; a value that is not an object
    /// (null, a bare number) has none of them.
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError>;

    /// The value, or the first of its fields that is mistyped, and the
    /// fields of the object it does not know.
    fn parse(value: &Value) -> Result<(Self, Vec<String>), ValueError> {
        let mut f = Fields::of(value);
        let v = Self::read_fields(&mut f)?;
        Ok((v, f.unread()))
    }

    /// The value of a history already checked by [`check`]; a value read
    /// otherwise (built in memory by a test) that is mistyped reads as empty.
    fn of(value: &Value) -> Self {
        Self::parse(value).map(|(v, _)| v).unwrap_or_default()
    }

    /// The value as the history writes it: a JSON object whose keys are in
    /// sorted order, as every value on disk.
    fn to_value(&self) -> Value {
        // These structs hold strings, numbers and lists of strings: JSON
        // always represents them.
        serde_json::to_value(self).unwrap_or_else(|e| unreachable!("an op value is plain JSON: {e}"))
    }
}

impl OpValue for LeaseTerms {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        LeaseTerms::read(f)
    }
}

/// A value that can say what ended the locks its op concerns: an unknown
/// outcome's completion carries `released_by` next to what it would
/// have carried anyway.
pub trait Released: OpValue {
    fn released_by(self, by: ReleasedBy) -> Self;
}

macro_rules! released {
    ($($t:ty),*) => {$(
        impl Released for $t {
            fn released_by(mut self, by: ReleasedBy) -> Self {
                self.released_by = Some(by);
                self
            }
        }
    )*};
}

released!(Grant, Release, Campaign, Renewal, KeepAlive);

/// `acquire`'s value: the invocation's asked TTL; the grant's token, the
/// lease (`ttl_ms`) or `session` the service promised, and `granted_by`
/// where more than one node granted the lock (Redlock); an unknown
/// outcome's `released_by`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Grant {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<i64>,
    #[serde(flatten)]
    pub terms: LeaseTerms,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<ReleasedBy>,
    /// On a `fail`: refused because another held the lock, the refusal
    /// contention is expected to bring (not an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy: Option<bool>,
}

impl OpValue for Grant {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(Grant {
            token: f.int("token")?,
            terms: LeaseTerms::read(f)?,
            granted_by: f.texts("granted_by")?,
            released_by: f.released_by()?,
            busy: f.flag("busy")?,
        })
    }
}

/// `release`'s value: null, or an unknown outcome's `released_by`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Release {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<ReleasedBy>,
}

impl OpValue for Release {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(Release { released_by: f.released_by()? })
    }
}

/// `campaign`'s value: the candidate's `id` and asked TTL; the won term
/// and the lease or session promised; an unknown outcome's `released_by`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Campaign {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<i64>,
    #[serde(flatten)]
    pub terms: LeaseTerms,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<ReleasedBy>,
    /// On a `fail`: refused because another leads (see [`Grant::busy`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy: Option<bool>,
}

impl OpValue for Campaign {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(Campaign {
            id: f.text("id")?,
            term: f.int("term")?,
            terms: LeaseTerms::read(f)?,
            released_by: f.released_by()?,
            busy: f.flag("busy")?,
        })
    }
}

/// Whether a `fail` completion of `f` says it was refused because another
/// client held the lock or led (`"busy": true`), not an error. A value
/// that does not read is not busy: its warning is [`check`]'s to give.
pub fn busy(f: &OpName, value: &Value) -> bool {
    if !value.is_object() {
        return false;
    }
    let flag = match f {
        OpName::Acquire => Grant::parse(value).ok().and_then(|(g, _)| g.busy),
        OpName::Campaign => Campaign::parse(value).ok().and_then(|(c, _)| c.busy),
        _ => None,
    };
    flag == Some(true)
}

/// `renew`'s and `resign`'s value: the leadership's `term` asked about; an
/// acknowledged renewal's `ttl_ms` (what extends the lease); an unknown
/// outcome's `released_by`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Renewal {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<i64>,
    #[serde(flatten)]
    pub terms: LeaseTerms,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<ReleasedBy>,
}

impl OpValue for Renewal {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(Renewal { term: f.int("term")?, terms: LeaseTerms::read(f)?, released_by: f.released_by()? })
    }
}

/// `observe`'s value: the `leader` seen and its `term` (null where the
/// service gives none); the whole value is null when no one leads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Leader {
    pub leader: Option<String>,
    pub term: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<ReleasedBy>,
}

impl OpValue for Leader {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(Leader { leader: f.text("leader")?, term: f.int("term")?, released_by: f.released_by()? })
    }
}

/// `keep-alive`'s value, recorded on behalf of process `of_process` for its
/// `lease`; its acknowledgement carries the TTL the lease was renewed for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KeepAlive {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of_process: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<i64>,
    #[serde(flatten)]
    pub terms: LeaseTerms,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<ReleasedBy>,
}

impl OpValue for KeepAlive {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(KeepAlive {
            of_process: f.count("of_process")?,
            lease: f.int("lease")?,
            terms: LeaseTerms::read(f)?,
            released_by: f.released_by()?,
        })
    }
}

/// `revoke-orphan`'s value: the `lease` revoked on behalf of process
/// `of_process`, and whether it was `already_gone`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RevokeOrphan {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of_process: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_gone: Option<bool>,
}

impl OpValue for RevokeOrphan {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(RevokeOrphan {
            lease: f.int("lease")?,
            of_process: f.count("of_process")?,
            already_gone: f.flag("already_gone")?,
        })
    }
}

/// A lease lapse as the lapse model sees it: the holder `of_process`
/// whose grant lapsed (the checker writes these, never the recorder).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Lapse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of_process: Option<u64>,
}

impl OpValue for Lapse {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(Lapse { of_process: f.count("of_process")? })
    }
}

/// A fenced counter's `write`: `value` fenced by a lock's `token` (written
/// as null when the writer had none). A `read`'s and `final-read`'s value
/// is the counter, a bare integer. Fields other than these are the
/// workload's own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CounterWrite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    pub token: Option<i64>,
}

impl OpValue for CounterWrite {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(CounterWrite { value: f.int("value")?, token: f.int("token")? })
    }
}

/// A leader's `write` to the fenced resource: `value` fenced by its
/// `term`, by candidate `id`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeaderWrite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
}

impl OpValue for LeaderWrite {
    fn read_fields(f: &mut Fields) -> Result<Self, ValueError> {
        Ok(LeaderWrite { id: f.text("id")?, term: f.int("term")?, value: f.int("value")? })
    }
}

/// Reads the value of a client op named `f` as its typed struct: the
/// field that is mistyped, or the fields it does not know (none for the
/// ops whose values are the workload's own, and for foreign ops).
///
/// Only an object's fields are read: a Knossos register's `write 3`, a
/// Porcupine `put` or a fenced-mutex history's bare token say nothing a
/// lock value would. A `write` whose value is an object is a counter's;
/// other fields it holds are the workload's own, so only the ones the
/// checkers read are checked. Every op's `released_by` is read.
pub fn check(f: &OpName, value: &Value) -> Result<Vec<String>, ValueError> {
    if !value.is_object() {
        return Ok(Vec::new());
    }
    let unknown = match f {
        OpName::Acquire => Grant::parse(value)?.1,
        OpName::Release => Release::parse(value)?.1,
        OpName::Campaign => Campaign::parse(value)?.1,
        OpName::Renew | OpName::Resign => Renewal::parse(value)?.1,
        OpName::Observe => Leader::parse(value)?.1,
        OpName::KeepAlive => KeepAlive::parse(value)?.1,
        OpName::RevokeOrphan => RevokeOrphan::parse(value)?.1,
        OpName::Lapse => Lapse::parse(value)?.1,
        OpName::Write => {
            CounterWrite::parse(value)?;
            LeaderWrite::parse(value)?;
            Release::parse(value)?;
            Vec::new()
        }
        _ => {
            Release::parse(value)?;
            Vec::new()
        }
    };
    Ok(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The values the recorder writes, with the bytes they had on disk
    /// before they were typed.
    #[test]
    fn written_values_keep_their_bytes_and_read_back() {
        let grant = Grant {
            token: Some(7),
            terms: LeaseTerms::lease(2000),
            granted_by: Some(vec!["n1".into(), "n2".into()]),
            released_by: None,
            busy: None,
        };
        assert_eq!(grant.to_value().to_string(), r#"{"granted_by":["n1","n2"],"token":7,"ttl_ms":2000}"#);
        assert_eq!(Grant::parse(&grant.to_value()), Ok((grant, vec![])));
        let session = Grant { token: Some(3), terms: LeaseTerms::session(), ..Default::default() };
        assert_eq!(session.to_value().to_string(), r#"{"session":true,"token":3}"#);
        assert_eq!(Grant::of(&session.to_value()), session);
        let lost = Release { released_by: Some(ReleasedBy::SessionLost) };
        assert_eq!(lost.to_value().to_string(), r#"{"released_by":"session-lost"}"#);
        assert_eq!(Release::of(&lost.to_value()), lost);
        let won = Campaign {
            id: Some("p1".into()),
            term: Some(4),
            terms: LeaseTerms::lease(5000),
            released_by: None,
            busy: None,
        };
        assert_eq!(won.to_value().to_string(), r#"{"id":"p1","term":4,"ttl_ms":5000}"#);
        assert_eq!(Campaign::of(&won.to_value()), won);
        // A refusal under contention: busy, read back by `busy` alone.
        let refused = Grant { busy: Some(true), ..Default::default() };
        assert_eq!(refused.to_value().to_string(), r#"{"busy":true}"#);
        assert!(busy(&OpName::Acquire, &refused.to_value()) && !busy(&OpName::Acquire, &Value::Null));
        let lost_race = Campaign { id: Some("p1".into()), busy: Some(true), ..Default::default() };
        assert_eq!(lost_race.to_value().to_string(), r#"{"busy":true,"id":"p1"}"#);
        assert!(busy(&OpName::Campaign, &lost_race.to_value()) && !busy(&OpName::Release, &lost_race.to_value()));
        assert_eq!(check(&OpName::Acquire, &json!({"busy": true})), Ok(vec![]), "a known field: no warning");
        assert!(check(&OpName::Acquire, &json!({"busy": "yes"})).is_err(), "mistyped: refused");
        let undone = Campaign { id: Some("p1".into()), released_by: Some(ReleasedBy::Undone), ..Default::default() };
        assert_eq!(undone.to_value().to_string(), r#"{"id":"p1","released_by":"undone"}"#);
        let kept =
            KeepAlive { of_process: Some(2), lease: Some(99), terms: LeaseTerms::lease(3000), released_by: None };
        assert_eq!(kept.to_value().to_string(), r#"{"lease":99,"of_process":2,"ttl_ms":3000}"#);
        assert_eq!(KeepAlive::of(&kept.to_value()), kept);
        let revoked = RevokeOrphan { lease: Some(99), of_process: Some(2), already_gone: Some(false) };
        assert_eq!(revoked.to_value().to_string(), r#"{"already_gone":false,"lease":99,"of_process":2}"#);
        assert_eq!(RevokeOrphan::of(&revoked.to_value()), revoked);
        let write = CounterWrite { value: Some(5), token: None };
        assert_eq!(write.to_value().to_string(), r#"{"token":null,"value":5}"#);
        assert_eq!(CounterWrite::of(&write.to_value()), write);
        let led = LeaderWrite { id: Some("p1".into()), term: Some(2), value: Some(5) };
        assert_eq!(led.to_value().to_string(), r#"{"id":"p1","term":2,"value":5}"#);
        assert_eq!(LeaderWrite::of(&led.to_value()), led);
        let leader = Leader { leader: Some("p2".into()), term: Some(1), released_by: None };
        assert_eq!(leader.to_value().to_string(), r#"{"leader":"p2","term":1}"#);
        let termless = Leader { leader: Some("p2".into()), ..Default::default() };
        assert_eq!(termless.to_value().to_string(), r#"{"leader":"p2","term":null}"#);
        assert_eq!(Leader::of(&termless.to_value()), termless);
        assert_eq!(Renewal { term: Some(1), ..Default::default() }.to_value().to_string(), r#"{"term":1}"#);
    }

    #[test]
    fn a_mistyped_field_is_named_and_an_unknown_one_listed() {
        let e = check(&OpName::Acquire, &json!({"token": "7"})).unwrap_err();
        assert!(e.to_string().contains("`token`"), "{e}");
        let e = check(&OpName::Acquire, &json!({"ttl": 1000})).unwrap_err();
        assert_eq!(e, ValueError::UnitlessTtl);
        let e = check(&OpName::Campaign, &json!({"term": 1.5})).unwrap_err();
        assert!(e.to_string().contains("`term`"), "{e}");
        let e = check(&OpName::KeepAlive, &json!({"of_process": -1})).unwrap_err();
        assert!(e.to_string().contains("`of_process`"), "{e}");
        assert_eq!(check(&OpName::Acquire, &json!({"tokn": 7, "ttl-ms": 5})), Ok(vec!["tokn".to_string()]));
        // A workload's own values hold what they like; a register's are bare.
        assert_eq!(check(&OpName::Write, &json!({"ttl": "x"})), Ok(vec![]));
        assert_eq!(check(&OpName::Write, &json!(3)), Ok(vec![]));
        assert!(check(&OpName::Write, &json!({"token": "x"})).is_err());
        assert!(check(&OpName::Other("cas".into()), &json!({"released_by": 1})).is_err());
    }

    #[test]
    fn ttl_spellings_read_as_milliseconds() {
        for v in [json!({"ttl_ms": 1500}), json!({"ttl-ms": "1500"}), json!({"ttlMs": 1500.9}), json!({"ttl_s": 1.5})] {
            assert_eq!(Grant::of(&v).terms.ttl_ms, Some(1500), "{v}");
        }
        assert_eq!(check(&OpName::Acquire, &json!({"ttl_ms": 1, "ttl_s": 1})), Err(ValueError::TwoTtls));
    }
}
