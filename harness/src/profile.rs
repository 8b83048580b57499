//! Named comparison profiles (`suite --profile NAME`): the same TTL,
//! clients, keys, holds, run length, fault length, fault mixes and repeats
//! for every system, so that the comparison `suite` prints (and `compare`
//! and `/compare` keep) sets like beside like. A profile fixes what decides
//! what a run can show; the options it does not name keep their defaults.

use std::time::Duration;

use crate::options::RunOpts;

#[derive(Debug)]
pub struct Profile {
    pub name: &'static str,
    /// What it is for, in a line (`suite --help`, the refusal's list).
    pub description: &'static str,
    pub ttl: Duration,
    pub concurrency: usize,
    pub keys: usize,
    pub hold: (Duration, Duration),
    pub time_limit: Duration,
    pub nemesis_interval: Duration,
    /// The fault mixes, as `--nemeses` spells them.
    pub nemeses: &'static str,
    /// Runs per system × mix, seeds counting up from `--seed`.
    pub repeat: usize,
}

const fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

const fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

pub const PROFILES: &[Profile] = &[
    Profile {
        name: "standard",
        description: "the comparison to publish: 60 s runs, 5 clients on one lock held 100 ms–1 s with a 5 s TTL, \
                      no faults, partitions, kills, pauses and client pauses, a fault every 5 s, three runs each",
        ttl: s(5),
        concurrency: 5,
        keys: 1,
        hold: (ms(100), s(1)),
        time_limit: s(60),
        nemesis_interval: s(5),
        nemeses: "none,partition,kill,pause,client-pause",
        repeat: 3,
    },
    Profile {
        name: "quick",
        description: "a first look: 20 s runs, 5 clients on one lock held 5–50 ms with a 5 s TTL, no faults and \
                      kills, a fault every 4 s, one run each",
        ttl: s(5),
        concurrency: 5,
        keys: 1,
        hold: (ms(5), ms(50)),
        time_limit: s(20),
        nemesis_interval: s(4),
        nemeses: "none,kill",
        repeat: 1,
    },
];

/// A profile name that is not one of [`PROFILES`].
#[derive(Debug, thiserror::Error)]
#[error("--profile: no profile named `{0}`; the profiles: {list}", list = names())]
pub struct UnknownProfile(pub String);

fn names() -> String {
    PROFILES.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

pub fn by_name(name: &str) -> Result<&'static Profile, UnknownProfile> {
    PROFILES.iter().find(|p| p.name == name).ok_or_else(|| UnknownProfile(name.to_string()))
}

/// `suite --help`'s words for `--profile`.
pub fn help() -> String {
    let list: Vec<String> = PROFILES.iter().map(|p| format!("{} ({})", p.name, p.description)).collect();
    format!(
        "A named comparison profile: the same TTL, clients, keys, holds, time limit, fault length, fault mixes \
         and repeats for every system (none of those options may be given beside it). Profiles: {}",
        list.join("; ")
    )
}

impl Profile {
    /// Sets what the profile fixes in `opts`; returns its fault mixes.
    pub fn apply(&self, opts: &mut RunOpts) -> String {
        opts.ttl = self.ttl;
        opts.concurrency = self.concurrency;
        opts.keys = self.keys;
        opts.hold_min = self.hold.0;
        opts.hold_max = self.hold.1;
        opts.time_limit = self.time_limit;
        opts.faults.nemesis_interval = Some(self.nemesis_interval);
        self.nemeses.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_names_faults_that_parse_and_an_unknown_one_lists_them() {
        for p in PROFILES {
            for mix in p.nemeses.split(',') {
                nemesis::FaultSpec::parse_list(&mix.replace('+', ",")).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            }
            assert!(p.hold.0 <= p.hold.1 && p.repeat >= 1, "{}", p.name);
        }
        let e = by_name("standrad").unwrap_err().to_string();
        assert!(e.contains("`standrad`") && e.contains("standard, quick"), "{e}");
    }
}
