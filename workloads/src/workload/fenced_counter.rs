//! `fenced-counter` and `fenced-counter-unfenced`: the lock cycle, and
//! while holding the lock a read-increment-write of the key's counter in the
//! fenced resource with the grant's token (Kleppmann's storage service);
//! the resource rejects stale tokens unless unfenced.

use crate::generator::{ClientKind, Generator};
use crate::runner::RunOptions;
use crate::workload::lock::LockCycle;
use crate::workload::{CheckerId, Spec};

pub struct FencedCounter {
    pub enforce: bool,
}

impl Spec for FencedCounter {
    fn client(&self) -> ClientKind {
        ClientKind::Lock
    }

    fn checkers(&self) -> &'static [CheckerId] {
        use CheckerId::*;
        &[LinearizableMutex, LinearizableFencedMutex, MutualExclusion, LeaseSafety, Fencing, LostUpdates, Availability]
    }

    fn fenced_clients(&self) -> bool {
        true
    }

    fn enforces_fencing(&self) -> bool {
        self.enforce
    }

    fn generator(&self, _slot: usize, _options: &RunOptions) -> Box<dyn Generator> {
        Box::new(LockCycle { increment: true })
    }
}
