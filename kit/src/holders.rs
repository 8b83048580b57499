//! Who holds what right now, as the clients see it: the registry aimed
//! faults read to find their `holder`.
//!
//! The workload's workers write it (an acquire or campaign that ended `ok`
//! adds the process, the key and the nodes that granted it; invoking the
//! release or resign, or retiring the process, removes it), and the nemesis
//! reads a [`Holders::snapshot`]. It lives here, beside [`crate::Stall`], so
//! that the nemesis needs no workload crate to read it. Pure std: no
//! runtime, because readers poll it.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One lock (or leadership) held right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub process: u64,
    /// The lock or election (`k0`, `e0`).
    pub key: String,
    /// The nodes that granted it: the one member a client talks to, or
    /// every node of a Redlock majority that said yes. Empty when the
    /// recipe cannot tell.
    pub nodes: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Holders {
    /// (process, key) → granting nodes.
    held: Mutex<BTreeMap<(u64, String), Vec<String>>>,
}

impl Holders {
    /// `process` holds `key`, granted by `nodes`.
    pub fn hold(&self, process: u64, key: &str, nodes: Vec<String>) {
        self.lock().insert((process, key.to_string()), nodes);
    }

    /// `process` no longer relies on `key` (its release or resign was invoked).
    pub fn release(&self, process: u64, key: &str) {
        self.lock().remove(&(process, key.to_string()));
    }

    /// `process` retired or stopped: whatever it held, it no longer acts on.
    pub fn retire(&self, process: u64) {
        self.lock().retain(|(p, _), _| *p != process);
    }

    /// Every holding now, by process then key.
    pub fn snapshot(&self) -> Vec<Holding> {
        self.lock()
            .iter()
            .map(|((process, key), nodes)| Holding { process: *process, key: key.clone(), nodes: nodes.clone() })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(u64, String), Vec<String>>> {
        // A worker that panicked mid-update leaves a map that is still whole.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_until_released_or_retired() {
        let h = Holders::default();
        h.hold(3, "k0", vec!["n1".into()]);
        h.hold(4, "k1", vec!["n1".into(), "n2".into(), "n4".into()]);
        h.hold(4, "k2", vec![]);
        assert_eq!(h.snapshot().len(), 3);
        h.release(3, "k0");
        assert_eq!(h.snapshot().iter().map(|x| x.process).collect::<Vec<_>>(), [4, 4]);
        h.release(4, "k9");
        h.retire(4);
        assert!(h.snapshot().is_empty());
    }
}
