//! `clock-rate`: servers' wall clocks run fast or slow by a factor
//! (`--clock-rate`), through the same LD_PRELOAD shim as `clock`
//! (`docker/images/common/fptime.c`), rather than jumping. A lease a server
//! times on its wall clock (a Redis key's TTL) ends early on a fast clock
//! and late on a slow one, by an error that grows while the fault lasts:
//! what a drifting oscillator or a bad NTP slew does, which jumps do not
//! show (Jepsen plays it through libfaketime's rate).

use std::time::Duration;

use kit::Rng;
use node::Node;
use ops::faults::{FaultInfo, Reach};

use super::clock::{unix_now, CLOCK_SLACK};
use super::{not_healed, not_in_effect, Baseline, Kind};
use crate::fault::{Capabilities, FaultOptions, Target};
use crate::nemesis::Nemesis;
use crate::{Error, FaultKind};

/// Writes the shim's file with the rate (parts per million) and the node's
/// own real time as where the drift starts; `sh -c` takes the rate as an
/// argument, never spliced in.
const WRITE_RATE: &str = "printf '%-63s\\n' \"0 0 0 $0 $(date +%s%N)\" \
     | dd of=/run/fencepost/clock conv=notrunc bs=64 count=1 iflag=fullblock status=none";
/// How long verification watches a clock run.
const WATCH: Duration = Duration::from_secs(1);
/// Slack on the drift seen while watching, beyond what the probes' own
/// timing leaves open.
const DRIFT_SLACK: f64 = 0.15;

#[derive(Debug, Clone, PartialEq)]
pub struct ClockRate {
    pub nodes: Vec<String>,
    /// 2.0 runs twice as fast as real time.
    pub rate: f64,
}

impl ClockRate {
    fn ppm(&self) -> i64 {
        (self.rate * 1e6).round() as i64
    }
}

impl Kind for ClockRate {
    const DESCRIPTION: &'static str = "servers' wall clocks run fast or slow by a factor (--clock-rate)";
    const PLURAL: &'static str = "clock-rate faults";
    /// Sessions run on monotonic time, which the shim leaves alone.
    const REACH: Reach = Reach::Nothing;

    fn refusal(caps: &Capabilities) -> Option<String> {
        caps.clock_refusal.map(str::to_string)
    }

    async fn check(nemesis: &Nemesis, first: &Node) -> Result<Option<String>, Error> {
        super::clock::shim_check(nemesis, first).await
    }

    fn draw(_: &[String], _one: Vec<String>, some: Vec<String>, options: &FaultOptions, _: &mut Rng) -> Self {
        ClockRate { nodes: some, rate: options.clock_rate }
    }

    fn unaimed(_: Target, options: &FaultOptions, _: &mut Rng) -> Self {
        ClockRate { nodes: Vec::new(), rate: options.clock_rate }
    }

    fn targets(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn aim(&mut self, chosen: &[String], _nodes: &[String]) {
        self.nodes = chosen.to_vec();
    }

    fn replayed(info: &FaultInfo) -> Result<Self, String> {
        Ok(ClockRate { nodes: info.targets.clone(), rate: super::field(info.rate, "rate")? })
    }

    fn describe(&self) -> FaultInfo {
        FaultInfo { kind: Some("rate".into()), rate: Some(self.rate), ..FaultInfo::default() }
    }

    fn plan_words(&self, _show: &dyn Fn(Duration) -> String) -> String {
        format!("clock runs {}× real time ", self.rate)
    }

    async fn baseline(&self, nemesis: &Nemesis, nodes: &[String]) -> Result<Baseline, Error> {
        super::clock::read_each(nemesis, nodes).await
    }

    async fn inject(&self, nemesis: &Nemesis) -> Result<(), Error> {
        let ppm = self.ppm().to_string();
        let writes = self.nodes.iter().map(|name| async {
            nemesis.run(nemesis.node(name)?, &["sh", "-c", WRITE_RATE, &ppm]).await.map(|_| ())
        });
        futures_util::future::join_all(writes).await.into_iter().collect::<Result<(), Error>>()
    }

    /// Each clock is read twice, `WATCH` apart, our own clock read around
    /// each probe: the server's clock must have gained on ours what the
    /// rate says, within what the probes' timing leaves open.
    async fn verify(&self, nemesis: &Nemesis, _: &Baseline) -> Result<(), Error> {
        for name in &self.nodes {
            let node = nemesis.node(name)?;
            let read = || async {
                let before = unix_now();
                let server = nemesis.server_time(node).await?;
                Ok::<_, Error>((server - unix_now(), server - before))
            };
            let (low0, high0) = read().await?;
            let start = unix_now();
            tokio::time::sleep(WATCH).await;
            let (low1, high1) = read().await?;
            let elapsed = unix_now() - start;
            // The drift seen lies in [low1 - high0, high1 - low0]; the rate
            // asks for (rate - 1) × the real time between the two reads.
            let (seen_low, seen_high) = (low1 - high0 - DRIFT_SLACK, high1 - low0 + DRIFT_SLACK);
            let want = (self.rate - 1.0) * WATCH.as_secs_f64();
            let want_far = (self.rate - 1.0) * elapsed;
            let (want_low, want_high) = (want.min(want_far), want.max(want_far));
            if want_high < seen_low || want_low > seen_high {
                let why = format!(
                    "{name}'s server clock gained {:+.3} s on ours in {elapsed:.3} s, expected {want:+.3} s at {}× real \
                     time",
                    (seen_low + seen_high) / 2.0,
                    self.rate
                );
                return Err(not_in_effect(FaultKind::ClockRate, name, why));
            }
        }
        Ok(())
    }

    async fn verify_healed(&self, nemesis: &Nemesis) -> Result<(), Error> {
        for name in &self.nodes {
            let off = nemesis.server_time(nemesis.node(name)?).await? - unix_now();
            if off.abs() > CLOCK_SLACK {
                let why = format!("{name}'s server is still {off:+.3} s off");
                return Err(not_healed(FaultKind::ClockRate, name, why));
            }
        }
        Ok(())
    }
}
