//! Finding and removing what runs leave behind.
//!
//! A run's containers and network carry `fencepost.run` and
//! `fencepost.owner = <pid>:<start time>`. A run is orphaned when no process
//! with that pid and that start time exists: the start time (from
//! `/proc/<pid>/stat`) keeps a recycled pid from passing for the owner.

use std::collections::{BTreeSet, HashMap};

use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, RemoveContainerOptions};

use crate::engine::Engine;
use crate::error::{Context, Result};
use crate::labels;

/// The owner label of this process.
pub(crate) fn owner_label() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", start_time(pid).unwrap_or(0))
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks
/// since boot. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from its closing parenthesis.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn owner_alive(owner: &str) -> bool {
    let Some((pid, start)) = owner.split_once(':') else { return false };
    match (pid.parse::<u32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => start_time(pid) == Some(start),
        _ => false,
    }
}

fn label_filter(filter: &str) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([("label".to_string(), vec![filter.to_string()])]))
}

/// What the engine holds for one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunResources {
    /// Container names.
    pub containers: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
}

impl RunResources {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty()
    }
}

/// Lists the containers (running or not) and networks of `run_id`.
pub async fn run_resources(engine: &Engine, run_id: &str) -> Result<RunResources> {
    let filter = format!("{}={run_id}", labels::RUN);
    let containers = engine
        .docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: label_filter(&filter),
            ..Default::default()
        }))
        .await
        .context(|| format!("listing the containers of run {run_id}"))?;
    let networks = engine
        .docker
        .list_networks(Some(ListNetworksOptions { filters: label_filter(&filter) }))
        .await
        .context(|| format!("listing the networks of run {run_id}"))?;
    Ok(RunResources {
        containers: containers
            .into_iter()
            .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
            .map(|n| n.trim_start_matches('/').to_string())
            .collect(),
        networks: networks.into_iter().filter_map(|n| n.name).collect(),
    })
}

/// Removes every container (forcibly, with its anonymous volumes) and then
/// the network of `run_id`.
pub async fn remove_run(engine: &Engine, run_id: &str) -> Result<()> {
    let resources = run_resources(engine, run_id).await?;
    for container in &resources.containers {
        let removed = engine
            .docker
            .remove_container(container, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() }))
            .await;
        match removed {
            // 409: another process (a second run reaping the same orphan)
            // is removing it already.
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404 | 409, .. }) => {}
            Err(e) => return Err(crate::Error::with(format!("removing container {container}"), e)),
        }
    }
    for network in &resources.networks {
        match engine.docker.remove_network(network).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => return Err(crate::Error::with(format!("removing network {network}"), e)),
        }
    }
    Ok(())
}

/// Removes the runs whose owning process is gone; returns their ids.
pub async fn reap_leftovers(engine: &Engine) -> Result<Vec<String>> {
    let any_run = labels::RUN.to_string();
    let containers = engine
        .docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: label_filter(&any_run),
            ..Default::default()
        }))
        .await
        .context(|| "listing fencepost containers")?;
    let networks = engine
        .docker
        .list_networks(Some(ListNetworksOptions { filters: label_filter(&any_run) }))
        .await
        .context(|| "listing fencepost networks")?;
    let mut orphaned = BTreeSet::new();
    let labelled = containers.into_iter().filter_map(|c| c.labels).chain(networks.into_iter().filter_map(|n| n.labels));
    for labels in labelled {
        let (Some(run), owner) = (labels.get(labels::RUN), labels.get(labels::OWNER)) else { continue };
        if !owner.is_some_and(|o| owner_alive(o)) {
            orphaned.insert(run.clone());
        }
    }
    for run in &orphaned {
        remove_run(engine, run).await?;
    }
    Ok(orphaned.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_not() {
        assert!(owner_alive(&owner_label()));
        let pid = std::process::id();
        assert!(!owner_alive(&format!("{pid}:1")), "same pid, other start time = recycled pid");
        assert!(!owner_alive("4294967295:5"));
        assert!(!owner_alive("garbage"));
    }
}
