//! Client pauses: the nemesis's way to make a lock holder stall the way a
//! long GC pause or a swapped-out VM does, with the lock still "held" in the
//! client's mind while its lease or session runs out.
//!
//! Workers call [`Stall::point`] at the moments a real client would be hurt
//! most by a pause: while holding a lock (after the fenced counter's read,
//! before its write) and as a leader before each write. The nemesis arms the
//! stall for some clients and a duration; the next workers to reach a point
//! stop there for that duration, counted from when each arrives: a pause
//! counted from the arming would be shorter by however long the holder
//! took to get there, and a margin study would measure the wrong size.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
// tokio's clock, so tests can run with time paused.
use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct Stall {
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct State {
    armed: Option<Armed>,
    /// Process → the key it holds, for each client stalled right now.
    stalled: BTreeMap<u64, String>,
}

#[derive(Debug)]
struct Armed {
    /// How many more clients may still be caught.
    left: usize,
    /// Until when a client arriving is still caught.
    catching_until: Instant,
    /// How long each caught client stalls, from its arrival.
    duration: Duration,
}

impl Stall {
    /// The next `clients` workers to reach a point within `window` from
    /// now stall there for `duration` from their arrival, or until
    /// [`Stall::release`] (which the nemesis calls `duration` after the
    /// first arrival: a second client caught later is let go with it).
    pub fn arm(&self, clients: usize, window: Duration, duration: Duration) {
        let mut state = self.state();
        state.armed = Some(Armed { left: clients, catching_until: Instant::now() + window, duration });
    }

    /// Ends the stall: every stalled client resumes.
    pub fn release(&self) {
        self.state().armed = None;
        self.wake.notify_waiters();
    }

    /// The clients stalled right now, as (process, key).
    pub fn stalled(&self) -> Vec<(u64, String)> {
        let state = self.state();
        state.stalled.iter().map(|(p, k)| (*p, k.clone())).collect()
    }

    /// Whether `process` is stalled right now.
    pub fn is_stalled(&self, process: u64) -> bool {
        self.state().stalled.contains_key(&process)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update leaves the state whole, so a worker that panicked
        // while holding the lock left nothing half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by a worker holding `key`: returns at once unless the stall is
    /// armed and still has room, in which case it waits until it ends.
    pub async fn point(&self, process: u64, key: &str) {
        if let Some(until) = self.catch(process, key) {
            self.wait(process, until).await;
        }
    }

    /// The first half of [`Stall::point`]: whether `process`, holding
    /// `key`, is caught now, and until when. A caught process must then
    /// [`Stall::wait`].
    pub fn catch(&self, process: u64, key: &str) -> Option<Instant> {
        let mut state = self.state();
        match state.armed.as_mut() {
            Some(armed) if armed.left > 0 && armed.catching_until > Instant::now() => {
                armed.left -= 1;
                let until = Instant::now() + armed.duration;
                state.stalled.insert(process, key.to_string());
                Some(until)
            }
            _ => None,
        }
    }

    /// The second half: waits until `until` or the release, then lets
    /// `process` go.
    pub async fn wait(&self, process: u64, until: Instant) {
        loop {
            // Register interest before checking, so a release between the
            // check and the wait is not missed.
            let notified = self.wake.notified();
            let released = self.state().armed.is_none();
            if released || Instant::now() >= until {
                break;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
        self.state().stalled.remove(&process);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn catches_only_as_many_clients_as_armed_and_lets_them_go() {
        let stall = std::sync::Arc::new(Stall::default());
        // Unarmed: no wait.
        stall.point(9, "k0").await;
        stall.arm(1, Duration::from_secs(60), Duration::from_secs(60));
        let s = stall.clone();
        let first = tokio::spawn(async move { s.point(1, "k1").await });
        tokio::task::yield_now().await;
        assert_eq!(stall.stalled(), vec![(1, "k1".to_string())]);
        // The second client finds the stall full and passes.
        stall.point(2, "k2").await;
        stall.release();
        first.await.unwrap();
        assert!(stall.stalled().is_empty());
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_panic_while_holding_the_lock_does_not_disable_the_stall() {
        let stall = std::sync::Arc::new(Stall::default());
        let s = stall.clone();
        let panicked = std::thread::spawn(move || {
            let _held = s.state.lock().unwrap();
            panic!("a worker panics mid-update");
        })
        .join();
        assert!(panicked.is_err() && stall.state.is_poisoned());
        stall.arm(1, Duration::from_secs(60), Duration::from_secs(60));
        let s = stall.clone();
        let caught = tokio::spawn(async move { s.point(1, "k1").await });
        tokio::task::yield_now().await;
        assert!(stall.is_stalled(1));
        stall.release();
        caught.await.unwrap();
        assert!(stall.stalled().is_empty());
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_stall_ends_by_itself() {
        let stall = Stall::default();
        stall.arm(1, Duration::from_secs(3), Duration::from_secs(3));
        let t0 = tokio::time::Instant::now();
        stall.point(1, "k0").await;
        assert!(t0.elapsed() >= Duration::from_secs(3));
        assert!(stall.stalled().is_empty());
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_client_arriving_late_still_stalls_the_whole_duration() {
        let stall = Stall::default();
        stall.arm(1, Duration::from_secs(2), Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let arrived = tokio::time::Instant::now();
        stall.point(1, "k0").await;
        assert_eq!(arrived.elapsed(), Duration::from_secs(2));
        // Past the catching window, nobody is caught.
        stall.arm(1, Duration::from_secs(2), Duration::from_secs(2));
        tokio::time::sleep(Duration::from_secs(3)).await;
        let passed = tokio::time::Instant::now();
        stall.point(2, "k0").await;
        assert_eq!(passed.elapsed(), Duration::ZERO);
    }
}
