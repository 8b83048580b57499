//! # ops — the history contract every crate writes and reads
//!
//! One [`Op`] per event (its [`OpType`], the [`Process`] that made it, its
//! `f`, key and value), the typed fault events the nemesis records
//! ([`faults`]), and the checkers' identities ([`checkers`]). This crate is a leaf: the recorder (`workloads`), the
//! nemesis, the checkers, the harness and the web UI share these types
//! without pulling in the checker's search (no rayon, no petgraph).

pub mod checkers;
pub mod faults;
pub mod values;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// `invoke` starts an operation; `ok` it took effect; `fail` it definitely did
/// not; `info` unknown — it may take effect at any time after its invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<OpType> {
        Some(match s {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            _ => return None,
        })
    }
}

/// A client process number, or the nemesis that injects faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative process number or \"nemesis\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Process, E> {
                Ok(Process::Client(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Process, E> {
                match v {
                    "nemesis" => Ok(Process::Nemesis),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Where a completion says the server ended the client's session (and every
/// lock it held): `{"released_by": "session-lost"}`.
pub const RELEASED_BY_SESSION_LOST: &str = "session-lost";

/// Where a completion of unknown outcome says the client itself undid
/// whatever the call may have done before answering (etcd revoked the
/// lease, Redlock unlocked every node that may have said yes):
/// `{"released_by": "undone"}`. The call may have taken effect between its
/// invocation and its completion, but not after.
pub const RELEASED_BY_UNDONE: &str = "undone";

/// What an op does: its `f`, named on disk as today. The names the recorder
/// writes and the checkers read are variants; anything else (a nemesis
/// event such as `kill-start`, read by [`faults::FaultEvent`]; a foreign
/// history's own ops) is kept as written in [`OpName::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpName {
    Acquire,
    Release,
    /// An election's leadership renewal (or a lease renewal).
    Renew,
    /// A lease keep-alive recorded on behalf of a holder (etcd).
    KeepAlive,
    Campaign,
    Resign,
    /// Who leads an election.
    Observe,
    Read,
    Write,
    Cas,
    /// A counter read after the final heal.
    FinalRead,
    /// The orphan revoker's revocation of a retired client's lease.
    RevokeOrphan,
    /// A lease lapse, which the checker writes for the lapse model.
    Lapse,
    /// Porcupine's key-value ops.
    Get,
    Put,
    Append,
    Other(String),
}

impl OpName {
    pub fn as_str(&self) -> &str {
        match self {
            OpName::Acquire => "acquire",
            OpName::Release => "release",
            OpName::Renew => "renew",
            OpName::KeepAlive => "keep-alive",
            OpName::Campaign => "campaign",
            OpName::Resign => "resign",
            OpName::Observe => "observe",
            OpName::Read => "read",
            OpName::Write => "write",
            OpName::Cas => "cas",
            OpName::FinalRead => "final-read",
            OpName::RevokeOrphan => "revoke-orphan",
            OpName::Lapse => "lapse",
            OpName::Get => "get",
            OpName::Put => "put",
            OpName::Append => "append",
            OpName::Other(s) => s,
        }
    }

    /// The variant written `s`, without allocating for a named one.
    fn named(s: &str) -> Option<OpName> {
        Some(match s {
            "acquire" => OpName::Acquire,
            "release" => OpName::Release,
            "renew" => OpName::Renew,
            "keep-alive" => OpName::KeepAlive,
            "campaign" => OpName::Campaign,
            "resign" => OpName::Resign,
            "observe" => OpName::Observe,
            "read" => OpName::Read,
            "write" => OpName::Write,
            "cas" => OpName::Cas,
            "final-read" => OpName::FinalRead,
            "revoke-orphan" => OpName::RevokeOrphan,
            "lapse" => OpName::Lapse,
            "get" => OpName::Get,
            "put" => OpName::Put,
            "append" => OpName::Append,
            _ => return None,
        })
    }
}

impl From<&str> for OpName {
    fn from(s: &str) -> OpName {
        OpName::named(s).unwrap_or_else(|| OpName::Other(s.to_string()))
    }
}

impl From<String> for OpName {
    fn from(s: String) -> OpName {
        OpName::named(&s).unwrap_or(OpName::Other(s))
    }
}

impl From<Cow<'_, str>> for OpName {
    fn from(s: Cow<'_, str>) -> OpName {
        match s {
            Cow::Borrowed(s) => s.into(),
            Cow::Owned(s) => s.into(),
        }
    }
}

/// Read as the text it is written as, so code that compares or prints an
/// op's `f` as text keeps working.
impl std::ops::Deref for OpName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for OpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OpName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OpName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = OpName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an op name such as \"acquire\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OpName, E> {
                Ok(v.into())
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<OpName, E> {
                Ok(v.into())
            }
        }
        d.deserialize_str(V)
    }
}

/// Keys as the JSONL reader takes them (strings, or integers kept as their
/// decimal text), owned.
fn key_de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    key_de_borrowed(d).map(|key| key.map(Cow::into_owned))
}

/// One event of the history contract (see DESIGN.md, "The history contract").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    #[serde(default)]
    pub index: u64,
    /// Nanoseconds since the test started. Formats without timestamps use the
    /// event's position, which keeps real-time order.
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub f: OpName,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "key_de")]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Keys are strings in the contract; Jepsen's independent keys are often
/// integers, so those are accepted and kept as their decimal text.
pub fn key_de_borrowed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("field `key`: a string or an integer")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()))))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Err(E::custom(format!("field `key`: expected a string or an integer, found {v}")))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom("field `key`: expected a string or an integer, found an array"))
        }
        fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom("field `key`: expected a string or an integer, found an object"))
        }
    }
    d.deserialize_option(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_keep_their_spelling() {
        let names = [
            "acquire",
            "release",
            "renew",
            "keep-alive",
            "campaign",
            "resign",
            "observe",
            "read",
            "write",
            "cas",
            "final-read",
            "revoke-orphan",
            "lapse",
            "get",
            "put",
            "append",
        ];
        for n in names {
            let op = OpName::from(n);
            assert!(!matches!(op, OpName::Other(_)), "{n}");
            assert_eq!(op.as_str(), n);
            assert_eq!(serde_json::to_string(&op).unwrap(), format!("\"{n}\""));
            assert_eq!(serde_json::from_str::<OpName>(&format!("\"{n}\"")).unwrap(), op);
        }
        assert_eq!(OpName::from("kill-start"), OpName::Other("kill-start".into()));
        assert!(OpName::Other("lock".into()).as_str() == "lock" && OpName::Acquire.as_str() != "lock");
    }

    /// A recorded line reads back into the same bytes.
    #[test]
    fn a_recorded_line_keeps_its_bytes() {
        let lines = [
            r#"{"index":3,"time":1200,"process":2,"type":"ok","f":"acquire","key":"k0","value":{"granted_by":["n1","n2"],"token":7,"ttl_ms":2000},"node":"n1"}"#,
            r#"{"index":4,"time":1300,"process":2,"type":"info","f":"campaign","key":"e0","value":{"id":"p2","released_by":"undone"},"error":"timed out"}"#,
            r#"{"index":5,"time":1400,"process":"nemesis","type":"info","f":"kill-start","value":{"kind":"kill","targets":["n1"]}}"#,
        ];
        for line in lines {
            let op: Op = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&op).unwrap(), line);
        }
    }
}
