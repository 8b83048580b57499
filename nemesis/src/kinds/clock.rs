//! `clock`: servers' wall clocks jumped or strobed through fencepost's
//! LD_PRELOAD shim (`docker/images/common/fptime.c`), which reads the
//! offset from a file the nemesis writes; the server's own clock is read
//! back by the image's `/fencepost/server-time`.

use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use kit::Rng;
use node::Node;
use ops::faults::{FaultInfo, Reach};

use super::{ms, not_healed, not_in_effect, Baseline, Kind, Undo};
use crate::fault::{Capabilities, ClockMode, FaultOptions, Target};
use crate::nemesis::{exec, Nemesis};
use crate::{Error, FaultKind};

/// How far a server's clock may sit from where we put it: the probe itself
/// (a client program started in the container) takes some of this.
pub(crate) const CLOCK_SLACK: f64 = 3.0;
const CLOCK_FILE: &str = "/run/fencepost/clock";
/// `sh -c` scripts take their inputs as arguments, never spliced in.
const WRITE_CLOCK: &str =
    "printf '%-63s\\n' \"$0\" | dd of=/run/fencepost/clock conv=notrunc bs=64 count=1 iflag=fullblock status=none";

/// These servers' wall clocks move by `offset_ms`, plus `strobe_ms`
/// during every other `period_ms` when strobing.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    pub nodes: Vec<String>,
    pub offset_ms: i64,
    pub strobe_ms: i64,
    pub period_ms: u64,
}

impl Clock {
    /// A jump or a strobe on `nodes`, as `options.clock_mode` says.
    fn drawn(nodes: Vec<String>, options: &FaultOptions, rng: &mut Rng) -> Clock {
        // Both draws in every mode, so that the mode changes the clock
        // faults only, and `random` plans what it always did.
        let sign = if rng.below(2) == 0 { 1 } else { -1 };
        let jump = rng.below(2) == 0;
        let (sign, jump) = match options.clock_mode {
            ClockMode::Random => (sign, jump),
            ClockMode::Forward => (1, true),
            ClockMode::Backward => (-1, true),
            ClockMode::Strobe => (sign, false),
        };
        let offset = ms(options.clock_offset) as i64;
        if jump {
            Clock { nodes, offset_ms: sign * offset, strobe_ms: 0, period_ms: 0 }
        } else {
            let period_ms = ms(options.clock_strobe_period).max(1);
            Clock { nodes, offset_ms: 0, strobe_ms: sign * offset, period_ms }
        }
    }
}

impl Kind for Clock {
    const DESCRIPTION: &'static str =
        "servers' wall clocks jumped or strobed (--clock-mode, --clock-offset, --clock-strobe-period)";
    const PLURAL: &'static str = "clock faults";
    /// A server clock does not end sessions: they run on monotonic time.
    const REACH: Reach = Reach::Nothing;
    const MAGNITUDE: super::Magnitude = super::Magnitude::ClockOffset;

    fn refusal(caps: &Capabilities) -> Option<String> {
        caps.clock_refusal.map(str::to_string)
    }

    async fn check(nemesis: &Nemesis, first: &Node) -> Result<Option<String>, Error> {
        shim_check(nemesis, first).await
    }

    fn draw(_: &[String], _one: Vec<String>, some: Vec<String>, options: &FaultOptions, rng: &mut Rng) -> Self {
        Clock::drawn(some, options, rng)
    }

    fn unaimed(_: Target, options: &FaultOptions, rng: &mut Rng) -> Self {
        Clock::drawn(Vec::new(), options, rng)
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(Clock {
            nodes: info.targets.clone(),
            offset_ms: super::field(info.offset_ms, "offset_ms")?,
            strobe_ms: super::field(info.strobe_ms, "strobe_ms")?,
            period_ms: super::field(info.period_ms, "period_ms")?,
        })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo {
            kind: Some(if self.strobe_ms != 0 { "strobe" } else { "jump" }.into()),
            offset_ms: Some(self.offset_ms),
            strobe_ms: Some(self.strobe_ms),
            period_ms: Some(self.period_ms),
            ..FaultInfo::default()
        }
    }

    /// The direction in words: the sign in the JSON is easy to miss.
    fn plan_words(&self, show: &dyn Fn(Duration) -> String) -> String {
        let show = |v: i64| show(Duration::from_millis(v.unsigned_abs()));
        match self {
            Clock { offset_ms, strobe_ms: 0, .. } if *offset_ms >= 0 => {
                format!("clock jumps forward {} ", show(*offset_ms))
            }
            Clock { offset_ms, strobe_ms: 0, .. } => format!("clock jumps back {} ", show(*offset_ms)),
            Clock { strobe_ms, period_ms, .. } => {
                format!("clock strobes {} every {} ", show(*strobe_ms), show(*period_ms as i64))
            }
        }
    }

    /// Each server's clock is read once first: a refusal or a broken probe
    /// stops the fault before anything is touched.
    async fn baseline(&self, nemesis: &Nemesis, nodes: &[String]) -> Result<Baseline, Error> {
        read_each(nemesis, nodes).await
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        let line =
            format!("{} {} {}", self.offset_ms * 1_000_000, self.strobe_ms * 1_000_000, self.period_ms * 1_000_000);
        // All at once: the clocks of a majority (a `holder`'s) move
        // together, before the lock they hold can be released.
        let writes = self.nodes.iter().map(|name| async {
            nemesis.run(nemesis.node(name)?, &["sh", "-c", WRITE_CLOCK, &line]).await.map(|_| ())
        });
        futures_util::future::join_all(writes).await.into_iter().collect::<Result<(), Error>>()
    }

    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        let expected = [self.offset_ms as f64 / 1e3, (self.offset_ms + self.strobe_ms) as f64 / 1e3];
        for name in &self.nodes {
            let moved = nemesis.server_time(nemesis.node(name)?).await? - unix_now();
            if !expected.iter().any(|e| (moved - e).abs() <= CLOCK_SLACK) {
                let why = format!(
                    "{name}'s server clock is {moved:+.3} s from ours, expected {:+.3} s",
                    expected[usize::from(self.strobe_ms != 0)]
                );
                return Err(not_in_effect(FaultKind::Clock, name, why));
            }
        }
        Ok(())
    }

    async fn verify_healed(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let off = nemesis.server_time(nemesis.node(name)?).await? - unix_now();
            if off.abs() > CLOCK_SLACK {
                return Err(not_healed(FaultKind::Clock, name, format!("{name}'s server is still {off:+.3} s off")));
            }
        }
        Ok(())
    }
}

/// Why the server's clock cannot be read through the shim on `first`
/// (the image's `server-time` refuses, or fails), for every clock kind.
pub(super) async fn shim_check(nemesis: &Nemesis, first: &Node) -> Result<Option<String>, Error> {
    match nemesis.server_time(first).await {
        Ok(_) => Ok(None),
        Err(Error::Refused { why, .. }) => Ok(Some(why)),
        Err(e) => Ok(Some(e.to_string())),
    }
}

/// Each server's clock read once before a clock kind touches it: a
/// refusal or a broken probe stops the fault first.
pub(super) async fn read_each(nemesis: &Nemesis, nodes: &[String]) -> Result<Baseline, Error> {
    for name in nodes {
        nemesis.server_time(nemesis.node(name)?).await?;
    }
    Ok(Baseline::new())
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A node's clock is put back by zeroing the shim's file, where it has one.
pub(crate) const UNDO: Undo = Undo { heal, leftovers };

fn heal<'a>(nemesis: &'a Nemesis, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let reset = format!("if [ -f {CLOCK_FILE} ]; then {WRITE_CLOCK}; fi");
        nemesis.run(node, &["sh", "-c", &reset, "0 0 0"]).await.map(|_| ())
    })
}

fn leftovers<'a>(_nemesis: &'a Nemesis, node: &'a Node) -> BoxFuture<'a, Result<Vec<String>, Error>> {
    Box::pin(async move {
        let clock = exec(node, &["cat", CLOCK_FILE]).await?;
        if clock.success() && clock.stdout.split_whitespace().any(|n| n != "0") {
            return Ok(vec![format!("{}: clock offset {}", node.name(), clock.stdout.trim())]);
        }
        Ok(Vec::new())
    })
}
