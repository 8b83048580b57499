//! `client-pause`: lock holders stalled (like a GC pause) at the workload's
//! holding points through [`kit::Stall`], longer than their lease. It
//! touches no node: its one target is the holder.

use std::time::{Duration, Instant};

use kit::Rng;
use ops::faults::{FaultEvent, FaultInfo, Reach};

use super::{ms, Baseline, Exposure, Kind};
use crate::fault::{FaultOptions, Target};
use crate::nemesis::{no_clients, Nemesis, Phase};
use crate::{Error, FaultKind};

/// Lock holders stall for `duration_ms`; once started, `stalled` names the
/// (process, key) caught.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientPause {
    pub clients: usize,
    pub duration_ms: u64,
    pub stalled: Vec<(u64, String)>,
}

impl ClientPause {
    fn planned(options: &FaultOptions) -> ClientPause {
        ClientPause {
            clients: options.client_pause_clients.max(1),
            duration_ms: ms(options.client_pause),
            stalled: Vec::new(),
        }
    }
}

impl Kind for ClientPause {
    const DESCRIPTION: &'static str =
        "lock holders stalled between reading and writing, past their lease (--client-pause, --client-pause-clients)";
    const PLURAL: &'static str = "client pauses";
    /// A process-wide pause stops a client's heartbeats too.
    const REACH: Reach = Reach::Processes;
    const MAGNITUDE: super::Magnitude = super::Magnitude::ClientPause;
    const ON_CLIENTS: bool = true;

    /// The holder, the only client a pause can catch: its stall points are
    /// reached only while holding a lock or leading.
    fn default_target() -> Target {
        Target::Holder
    }

    fn cannot_aim(target: Target) -> Option<&'static str> {
        match target {
            Target::Holder => None,
            t if t.is_shape() => super::shape_only(t),
            Target::Random => Some(
                "a client pause always catches a client holding a lock (the next to reach a holding point), never \
                 one at random: its target is `holder`, the default",
            ),
            _ => Some("a client pause stalls clients, not nodes: its only target is `holder`, the default"),
        }
    }

    /// A holder paused keeps holding for the pause, but cannot renew: a
    /// pause within what is surely left of its lease never outlasts it.
    fn blind_spot(e: &Exposure, show: &dyn Fn(Duration) -> String) -> Option<String> {
        let instead = format!(
            "pause for {} or more (--client-pause; its default is 1.5 × --ttl, at least --ttl + 1s)",
            show(e.guaranteed()?)
        );
        super::within_the_lease(e, "pause", &instead, show)
    }

    /// A pause lasts its own duration, not the interval.
    fn length(options: &FaultOptions, _interval: Duration) -> Duration {
        options.client_pause
    }

    fn draw(_: &[String], _one: Vec<String>, _some: Vec<String>, options: &FaultOptions, _: &mut Rng) -> Self {
        ClientPause::planned(options)
    }

    fn unaimed(_: Target, options: &FaultOptions, _: &mut Rng) -> Self {
        ClientPause::planned(options)
    }

    fn targets(&self) -> Vec<String> {
        Vec::new()
    }

    fn aim(&mut self, _chosen: &[String], _nodes: &[String]) {}

    /// Who it caught is not replayed: the replay catches its own holder.
    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(ClientPause {
            clients: super::field(info.clients, "clients")?,
            duration_ms: super::field(info.duration_ms, "duration_ms")?,
            stalled: Vec::new(),
        })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo {
            kind: Some("client-pause".into()),
            clients: Some(self.clients),
            duration_ms: Some(self.duration_ms),
            processes: self.stalled.iter().map(|(p, _)| *p).collect(),
            keys: self.stalled.iter().map(|(_, k)| k.clone()).collect(),
            ..FaultInfo::default()
        }
    }

    /// Arms the stall (the fault's start is recorded then) and waits for a
    /// holder to walk into it, up to `window` (at most the pause's length):
    /// that is when the pause begins, lasting its whole length.
    async fn catch(&self, nemesis: &Nemesis, info: &FaultInfo, window: Duration) -> Result<Option<Self>, Error> {
        let stall = nemesis.stall().ok_or_else(no_clients)?;
        let duration = Duration::from_millis(self.duration_ms);
        let window = window.min(duration);
        nemesis.report(Phase::Begin, FaultEvent::start(FaultKind::ClientPause.name()), info);
        stall.arm(self.clients, window, duration);
        let deadline = Instant::now() + window;
        let stalled = loop {
            let stalled = stall.stalled();
            if !stalled.is_empty() {
                break stalled;
            }
            if Instant::now() >= deadline {
                stall.release();
                return Err(Error::Verify {
                    fault: FaultKind::ClientPause,
                    node: None,
                    why: format!(
                        "no client reached a holding point within {window:?} (is the workload taking locks?)"
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        Ok(Some(ClientPause { clients: self.clients, duration_ms: self.duration_ms, stalled }))
    }

    async fn inject(&self, _nemesis: &Nemesis) -> Result<(), Error> {
        Ok(())
    }

    async fn verify(&self, _nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        Ok(())
    }

    /// Releases the stalled clients and waits (up to 10 s) until they run.
    async fn undo(&self, nemesis: &Nemesis) -> Result<(), Error> {
        let stall = nemesis.stall().ok_or_else(no_clients)?;
        stall.release();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !stall.stalled().is_empty() {
            if Instant::now() >= deadline {
                return Err(Error::Heal {
                    fault: FaultKind::ClientPause,
                    node: None,
                    why: format!("paused clients did not resume: {:?}", stall.stalled()),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}
