//! Progress lines from long container tests, so `scripts/test.sh` never
//! sits silent for minutes. libtest captures `print!`/`eprint!` (and shows
//! them only for a failed test), but not writes through `std::io::stderr()`
//! itself: these lines reach the terminal (or the suite's log) as they
//! happen. Shared by the test crates that start clusters (`tests/`,
//! `workloads/tests/`, `nemesis/tests/`) through `#[path]`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How often a test still running says so: well under the minutes a
/// silent suite made people wonder whether it hung.
const HEARTBEAT: Duration = Duration::from_secs(60);

/// One line on the real stderr, tagged so it stands out from cargo's.
pub fn line(text: &str) {
    let _ = writeln!(std::io::stderr(), "  [progress] {text}");
}

/// The running test's name: libtest runs each test on a thread named after
/// it (tokio's `#[tokio::test]` blocks on that same thread).
fn test_name() -> String {
    std::thread::current().name().unwrap_or("test").to_string()
}

/// Says when a step starts, every minute while it runs, and when it ends
/// (passed, or failed when dropped by a panic) with how long it took.
pub struct Progress {
    what: String,
    started: Instant,
    stop: Option<Sender<()>>,
    failed: bool,
}

impl Progress {
    /// Progress of the running test, named after it.
    pub fn test() -> Progress {
        Progress::of(test_name())
    }

    /// Progress of one step of a test (a system, a scenario).
    pub fn of(what: impl Into<String>) -> Progress {
        let what = what.into();
        line(&format!("{what}: running"));
        let (stop, stopped) = mpsc::channel::<()>();
        let started = Instant::now();
        let name = what.clone();
        std::thread::spawn(move || loop {
            match stopped.recv_timeout(HEARTBEAT) {
                Err(RecvTimeoutError::Timeout) => {
                    line(&format!("{name}: still running ({} s)", started.elapsed().as_secs()))
                }
                _ => return,
            }
        });
        Progress { what, started, stop: Some(stop), failed: false }
    }

    /// Ends the step as failed, for a failure that did not panic here (a
    /// spawned task's).
    pub fn failed(mut self) {
        self.failed = true;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        let how = if self.failed || std::thread::panicking() { "FAILED" } else { "passed" };
        line(&format!("{}: {how} in {} s", self.what, self.started.elapsed().as_secs()));
    }
}

/// Runs `command` to its end like `Command::output`, and meanwhile copies
/// each line of its stdout and stderr that `shown` picks to the real
/// stderr: a command that runs for minutes (`scenarios run --all`) shows
/// where it is. Returns the exit code and stdout followed by stderr.
pub fn output_showing(command: &mut Command, shown: fn(&str) -> bool) -> (Option<i32>, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let echo = |stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            for l in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
                let l = String::from_utf8_lossy(&l);
                if shown(&l) {
                    line(l.trim());
                }
                text.push_str(&l);
                text.push('\n');
            }
            text
        })
    };
    let stdout = echo(Box::new(child.stdout.take().unwrap()));
    let stderr = echo(Box::new(child.stderr.take().unwrap()));
    let status = child.wait().unwrap();
    let text = stdout.join().unwrap() + &stderr.join().unwrap();
    (status.code(), text)
}
