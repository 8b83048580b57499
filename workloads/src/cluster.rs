//! Waiting until a cluster really serves: every member answers the
//! system's probe. Any backend (containers, SSH hosts); starting containers
//! is the harness's (`harness::cluster`), so this crate needs no Docker.

use std::time::{Duration, Instant};

use crate::systems::System;

/// Polls every member's probe until all pass in one round, or fails after
/// `timeout` naming each member that did not answer, with its last error and
/// the tail of its log. Any backend: containers or SSH hosts.
pub async fn wait_serving(system: &dyn System, nodes: &[node::Node], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut ready = vec![false; nodes.len()];
    let mut last_error = vec![String::new(); nodes.len()];
    loop {
        for (i, node) in nodes.iter().enumerate() {
            if ready[i] {
                continue;
            }
            match tokio::time::timeout(Duration::from_secs(5), system.probe(node)).await {
                Ok(Ok(())) => ready[i] = true,
                Ok(Err(e)) => last_error[i] = e.to_string(),
                Err(_) => last_error[i] = "probe timed out after 5 s".into(),
            }
        }
        if ready.iter().all(|&r| r) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut report = format!("{} cluster not ready after {timeout:?}:", system.layout().name);
            for (i, node) in nodes.iter().enumerate().filter(|(i, _)| !ready[*i]) {
                let log = node.logs().await.unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(8).collect();
                report.push_str(&format!("\n  {}: {}\n    log tail:", node.name(), last_error[i]));
                for line in tail.into_iter().rev() {
                    report.push_str(&format!("\n      {line}"));
                }
            }
            return Err(report);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
