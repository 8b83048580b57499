//! The fenced resource: Kleppmann's storage service, living in the harness.
//!
//! It holds one counter per key. A write carries the writer's fencing token;
//! with enforcement on, a write whose token is lower than one the resource
//! already accepted for that key is rejected. With enforcement off (or for
//! recipes that give no token) every write is accepted, which is what lets
//! a stale holder's write overwrite a newer one: a lost update.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Counter {
    value: i64,
    highest_token: Option<i64>,
    accepted: u64,
    rejected: u64,
}

#[derive(Debug)]
pub struct FencedResource {
    enforce: bool,
    counters: Mutex<BTreeMap<String, Counter>>,
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub highest_token: i64,
}

/// Per key: the final value, and how many writes were accepted and rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CounterSummary {
    pub key: String,
    pub value: i64,
    pub accepted: u64,
    pub rejected: u64,
}

impl FencedResource {
    pub fn new(enforce: bool) -> FencedResource {
        FencedResource { enforce, counters: Mutex::new(BTreeMap::new()) }
    }

    pub fn read(&self, key: &str) -> i64 {
        self.counters.lock().unwrap_or_else(|e| e.into_inner()).get(key).map_or(0, |c| c.value)
    }

    /// Writes `value` to `key` under `token`.
    pub fn write(&self, key: &str, value: i64, token: Option<i64>) -> Result<(), Rejected> {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let counter = counters.entry(key.to_string()).or_default();
        if self.enforce {
            if let (Some(token), Some(highest)) = (token, counter.highest_token) {
                if token < highest {
                    counter.rejected += 1;
                    return Err(Rejected { highest_token: highest });
                }
            }
        }
        if let Some(token) = token {
            counter.highest_token = Some(counter.highest_token.map_or(token, |h| h.max(token)));
        }
        counter.value = value;
        counter.accepted += 1;
        Ok(())
    }

    pub fn summary(&self) -> Vec<CounterSummary> {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters
            .iter()
            .map(|(key, c)| CounterSummary {
                key: key.clone(),
                value: c.value,
                accepted: c.accepted,
                rejected: c.rejected,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforcement_rejects_lower_tokens_only() {
        let r = FencedResource::new(true);
        assert_eq!(r.write("k", 1, Some(5)), Ok(()));
        assert_eq!(r.write("k", 2, Some(5)), Ok(()), "the same holder writes again");
        assert_eq!(r.write("k", 3, Some(4)), Err(Rejected { highest_token: 5 }));
        assert_eq!(r.write("k", 3, Some(6)), Ok(()));
        assert_eq!(r.read("k"), 3);
        assert_eq!(r.summary()[0], CounterSummary { key: "k".into(), value: 3, accepted: 3, rejected: 1 });

        let open = FencedResource::new(false);
        open.write("k", 1, Some(5)).unwrap();
        assert_eq!(open.write("k", 7, Some(1)), Ok(()), "no enforcement: a stale token wins");
        assert_eq!(open.read("k"), 7);
    }
}
