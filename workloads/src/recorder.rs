//! The recorder: every operation of a run, in the history contract, streamed
//! to `history.jsonl` as it happens.
//!
//! One clock and one writer. Callers stamp and enqueue under one lock (held
//! for a push, never across I/O), so the file's order is the order of the
//! timestamps; a dedicated thread writes and flushes at least every 100 ms,
//! so a harness that dies (even by SIGKILL) loses at most the last 100 ms.
//! The queue is unbounded: recording never blocks the async task (and so
//! the tokio worker) that records, and no op is ever dropped; if the disk
//! cannot keep up, the backlog waits in memory and `finish` writes it all.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ops::faults::{FaultEvent, FaultInfo};
use ops::OpName;
use ops::{Op, OpType, Process};
use serde_json::Value;

/// How often the writer flushes at the latest.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// How long the writer sleeps between drains of the queue: what it holds
/// is at most this much of the run, and `finish` waits at most this long.
const DRAIN_EVERY: Duration = Duration::from_millis(5);

/// A cheap handle; clone it into every client task.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    start: Instant,
    /// The next index and the sending side, under one lock: stamping and
    /// queueing together keeps indices in time order.
    queue: Mutex<Option<(u64, Sender<Op>)>>,
    writer: Mutex<Option<JoinHandle<io::Result<u64>>>>,
    /// Client events by type (invoke, ok, fail, info), then the fails that
    /// were refusals under contention (busy), for live progress.
    counts: [AtomicU64; 5],
    /// The first and the last event's time (ns): what the history spans.
    first: AtomicU64,
    last: AtomicU64,
}

/// Client events recorded so far, by type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub invoke: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Of the fails, those refused because another client held the lock
    /// (`{"busy": true}`): contention, not errors.
    pub busy: u64,
}

/// What a finished recording holds.
#[derive(Debug, Clone, Copy)]
pub struct Recorded {
    pub ops: u64,
    /// The first and the last event's time, ns since the run started: the
    /// span is the one duration a run reports (the checkers' figures span
    /// the same history).
    pub start_ns: u64,
    pub end_ns: u64,
}

/// The first process number of the clients' background tasks (etcd's
/// lease keep-alives), far above any worker's, the final reads'
/// ([`crate::FINAL_READER`]) and the revoker's ([`crate::REVOKER`]).
pub const BACKGROUND: u64 = 3_000_000;

/// Where clients record what they do in the background on a process's
/// behalf (etcd's lease keep-alives, `{"of_process": p}`): each background
/// task is a process of its own, numbered from [`BACKGROUND`] up, so every
/// process's history stays sequential, and a keep-alive cut short when its
/// holder releases ends that task's process, not the holder's.
#[derive(Clone)]
pub struct Background {
    recorder: Recorder,
    next: Arc<AtomicU64>,
}

impl Background {
    pub fn new(recorder: Recorder) -> Background {
        Background { recorder, next: Arc::default() }
    }

    /// A process number no other task has had.
    pub fn process(&self) -> u64 {
        BACKGROUND + self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

impl Default for Background {
    /// Records nothing (clients made outside a run: probes, tests).
    fn default() -> Background {
        Background::new(Recorder::discard())
    }
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background").field("next", &self.next).finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates (truncates) `path` and starts the writer thread. The run's
    /// clock starts now: every `time` is nanoseconds since this call.
    pub fn create(path: &Path) -> io::Result<Recorder> {
        let file = File::create(path)?;
        let (tx, rx) = channel();
        let writer = std::thread::Builder::new().name("recorder".into()).spawn(move || write_loop(rx, file))?;
        Ok(Recorder {
            inner: Arc::new(Inner {
                start: Instant::now(),
                queue: Mutex::new(Some((0, tx))),
                writer: Mutex::new(Some(writer)),
                counts: Default::default(),
                first: AtomicU64::new(0),
                last: AtomicU64::new(0),
            }),
        })
    }

    /// A recorder that keeps nothing: the baseline for measuring what
    /// recording costs the clients.
    pub fn discard() -> Recorder {
        Recorder {
            inner: Arc::new(Inner {
                start: Instant::now(),
                queue: Mutex::new(None),
                writer: Mutex::new(None),
                counts: Default::default(),
                first: AtomicU64::new(0),
                last: AtomicU64::new(0),
            }),
        }
    }

    /// Client events recorded so far.
    pub fn counts(&self) -> Counts {
        let c = |i: usize| self.inner.counts[i].load(Ordering::Relaxed);
        Counts { invoke: c(0), ok: c(1), fail: c(2), info: c(3), busy: c(4) }
    }

    /// Nanoseconds since the run started, on the recorder's clock.
    pub fn now(&self) -> u64 {
        self.inner.start.elapsed().as_nanos() as u64
    }

    /// Records one event; `time` is taken here. Events after `finish` are
    /// dropped (the run is over).
    pub fn record(&self, mut op: Op) {
        let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((next, tx)) = queue.as_mut() {
            op.index = *next;
            op.time = self.now();
            if *next == 0 {
                self.inner.first.store(op.time, Ordering::Relaxed);
            }
            self.inner.last.store(op.time, Ordering::Relaxed);
            if op.process != Process::Nemesis {
                let slot = match op.kind {
                    OpType::Invoke => 0,
                    OpType::Ok => 1,
                    OpType::Fail => 2,
                    OpType::Info => 3,
                };
                self.inner.counts[slot].fetch_add(1, Ordering::Relaxed);
                if op.kind == OpType::Fail && ops::values::busy(&op.f, &op.value) {
                    self.inner.counts[4].fetch_add(1, Ordering::Relaxed);
                }
            }
            if tx.send(op).is_ok() {
                *next += 1;
            }
        }
    }

    pub fn invoke(&self, process: u64, f: impl Into<OpName>, key: Option<&str>, value: Value) {
        self.record(op(Process::Client(process), OpType::Invoke, f.into(), key, value));
    }

    /// A completion: `ok`, `fail` or `info`, with the node that answered and
    /// the error text where there is one.
    #[allow(clippy::too_many_arguments)]
    pub fn complete(
        &self,
        process: u64,
        kind: OpType,
        f: impl Into<OpName>,
        key: Option<&str>,
        value: Value,
        node: Option<&str>,
        error: Option<&str>,
    ) {
        let mut op = op(Process::Client(process), kind, f.into(), key, value);
        op.node = node.map(str::to_string);
        op.error = error.map(str::to_string);
        self.record(op);
    }

    /// A nemesis event: `Invoke` when a step begins, `Info` once it is done
    /// and verified (Jepsen's nemesis convention). On disk `f` is the
    /// event's name (`partition-start`, `heal-all`) and `value` the info.
    pub fn nemesis(&self, kind: OpType, event: &FaultEvent, info: &FaultInfo) {
        let value = serde_json::to_value(info).unwrap_or(Value::Null);
        self.record(op(Process::Nemesis, kind, event.f().into(), None, value));
    }

    /// Stops accepting events, writes and flushes everything queued, and
    /// returns how many ops the file holds. Later calls return the same.
    pub fn finish(&self) -> io::Result<Recorded> {
        let recorded = {
            let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.take().map_or(0, |(next, _)| next)
        };
        let writer = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = writer {
            let written = writer.join().map_err(|_| io::Error::other("the recorder's writer thread panicked"))??;
            debug_assert_eq!(written, recorded);
        }
        Ok(Recorded {
            ops: recorded,
            start_ns: self.inner.first.load(Ordering::Relaxed),
            end_ns: self.inner.last.load(Ordering::Relaxed),
        })
    }
}

fn op(process: Process, kind: OpType, f: OpName, key: Option<&str>, value: Value) -> Op {
    Op { index: 0, time: 0, process, kind, f, key: key.map(str::to_string), value, node: None, error: None }
}

fn write_loop(rx: Receiver<Op>, file: File) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut written = 0u64;
    let mut last_flush = Instant::now();
    loop {
        // Drain on a timer rather than block on each op: a receiver that
        // is blocked makes every `send` wake it (a futex call and a context
        // switch per op, on cores the clients and the servers need); one
        // that sleeps costs the senders nothing.
        let disconnected = loop {
            match rx.try_recv() {
                Ok(op) => {
                    serde_json::to_writer(&mut out, &op)?;
                    out.write_all(b"\n")?;
                    written += 1;
                }
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        if disconnected {
            break;
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            out.flush()?;
            last_flush = Instant::now();
        }
        std::thread::sleep(DRAIN_EVERY);
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_in_order_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("fencepost-recorder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let rec = Recorder::create(&path).unwrap();
        let threads: Vec<_> = (0..4u64)
            .map(|p| {
                let rec = rec.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        rec.invoke(p, "acquire", Some("k0"), json!({"ttl_ms": 1000}));
                        rec.complete(p, OpType::Fail, "acquire", Some("k0"), Value::Null, Some("n1"), Some("busy"));
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let info = FaultInfo { kind: Some("kill".into()), targets: vec!["n1".into()], ..FaultInfo::default() };
        rec.nemesis(OpType::Info, &FaultEvent::start("kill"), &info);
        assert_eq!(rec.finish().unwrap().ops, 4001);
        rec.invoke(9, "acquire", None, Value::Null); // after finish: dropped
        let text = std::fs::read_to_string(&path).unwrap();
        let history = checker::formats::jsonl::read("history.jsonl", &text).unwrap();
        assert_eq!(history.ops.len(), 4001);
        for (i, w) in history.ops.windows(2).enumerate() {
            assert_eq!(w[0].index, i as u64);
            assert!(w[0].time <= w[1].time, "time order at {i}");
        }
        history.calls().unwrap();
        let kill = history.ops.iter().find(|o| o.process == Process::Nemesis).unwrap();
        assert_eq!((kill.f.as_str(), &kill.value), ("kill-start", &json!({"kind": "kill", "targets": ["n1"]})));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
