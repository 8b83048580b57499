//! The store's filters (`runs`, `compare`, the web's lists) checked against
//! what fencepost knows and what the store holds, so that a typo is an
//! error and not an empty list.

use nemesis::FaultSpec;
use results::{Filter, RunRow};
use workloads::Workload;

use crate::run::fault_names;
use crate::Error;

/// What `import` can name a history's workload, beside `run`'s workloads.
const IMPORTED_WORKLOADS: [&str; 3] = ["register", "cas-register", "kv"];

fn known_systems() -> Vec<&'static str> {
    workloads::systems::names().into_iter().chain(["imported"]).collect()
}

fn known_workloads() -> Vec<&'static str> {
    Workload::names().iter().copied().chain(IMPORTED_WORKLOADS).collect()
}

/// Checks the filter's values against what fencepost knows and what the
/// store holds, so that a typo is an error and not an empty list. A value
/// some stored run has is always accepted (`import --system` names are
/// free); fault lists are put in the order runs store them.
pub fn checked(mut filter: Filter, stored: &[RunRow]) -> Result<Filter, Error> {
    let check = |flag: &str, what: &str, value: &Option<String>, known: &[&str], have: fn(&RunRow) -> &str| match value
    {
        Some(v) if !known.contains(&v.as_str()) && !stored.iter().any(|r| have(r) == v) => {
            let renamed = workloads::systems::renamed(v).filter(|_| flag == "system");
            Err(Error::Options(format!(
                "--{flag}: `{v}` is not a {what} fencepost knows{} (known: {}), and no stored run has it",
                renamed.map(|now| format!("; did you mean `{now}`?")).unwrap_or_default(),
                known.join(", ")
            )))
        }
        _ => Ok(()),
    };
    check("system", "system", &filter.system, &known_systems(), |r| &r.system)?;
    check("workload", "workload", &filter.workload, &known_workloads(), |r| &r.workload)?;
    let library = results::scenario::Library::builtin();
    let scenarios: Vec<&str> = library.scenarios.iter().map(|s| s.name.as_str()).collect();
    check("scenario", "scenario", &filter.scenario, &scenarios, |r| r.scenario.as_ref().map_or("", |s| &s.name))?;
    if let Some(v) = &filter.nemesis {
        if !stored.iter().any(|r| &r.nemesis == v) {
            let specs = FaultSpec::parse_list(v).map_err(|e| Error::Options(format!("--nemesis: {e}")))?;
            filter.nemesis = Some(fault_names(&specs));
        }
    }
    Ok(filter)
}
