//! The scenario library against real clusters: every scenario once, each
//! run judged against its expectation (a published failure must be found,
//! a control must stay valid), then the table as `scenarios run` prints it,
//! `runs --scenario`, and the Scenarios page and API over the same store.
//! Also the command's refusals, which need no containers.

mod common;

use common::{fencepost, temp_store, Server};

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = fencepost().args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[test]
fn wrong_requests_are_refused_naming_what_is_wrong() {
    let parent = temp_store("scenario-refusals");
    let store = parent.join("store");
    let store = store.to_str().unwrap();
    let (code, out) = run(&["scenarios", "run", "no-such-scenario", "--store", store]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("no scenario \"no-such-scenario\""), "{out}");
    let (code, out) = run(&["scenarios", "run", "--all", "control-redis", "--store", store]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("names or --all, not both"), "{out}");
    let (code, out) = run(&["scenarios", "run", "--store", store]);
    assert_eq!(code, Some(3), "{out}");
    let (code, out) = run(&["scenarios", "run", "control-redis", "--repeat", "0", "--store", store]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("--repeat"), "{out}");

    // A user's own file: a typo is named with its file and line.
    let file = std::env::temp_dir().join(format!("fencepost-scenarios-{}.toml", std::process::id()));
    let text = "[[scenario]]\nname = \"mine\"\ntitle = \"t\"\nsystem = \"redis\"\nworkload = \"lock\"\nsource = \"me\"\nexpect = { lease-saftey = \"invalid\" }\n";
    std::fs::write(&file, text).unwrap();
    let (code, out) = run(&["scenarios", "--file", file.to_str().unwrap()]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains(file.to_str().unwrap()) && out.contains("line 7") && out.contains("lease-saftey"), "{out}");
    // A scenario that is not a valid run is refused before anything starts.
    std::fs::write(&file, text.replace("lease-saftey", "lease-safety").replace("\"redis\"", "\"redis:nope\"")).unwrap();
    let (code, out) = run(&["scenarios", "--file", file.to_str().unwrap(), "run", "mine", "--store", store]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("redis:nope"), "{out}");
    std::fs::remove_file(&file).unwrap();
    // Listing does not make a store.
    let (code, out) = run(&["scenarios", "--store", store]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("etcd-lease-pause") && out.contains("source: "), "{out}");
    assert!(!std::path::Path::new(store).exists(), "listing created {store}");
    std::fs::remove_dir_all(&parent).unwrap();
}

#[test]
fn every_scenario_matches_its_expectation_once() {
    let _progress = common::progress::Progress::test();
    let store = temp_store("scenarios");
    // Each scenario's start and judgement show while the others run.
    let shown = |l: &str| l.starts_with("=== scenario ") || (l.starts_with("scenario ") && l.contains(": "));
    let (code, out) = common::progress::output_showing(
        fencepost().args(["scenarios", "run", "--all", "--store", store.to_str().unwrap()]),
        shown,
    );
    // The table is the last lines: on a mismatch, it says which and why.
    let table = out.lines().skip_while(|l| !l.starts_with("scenario ") || !l.contains("matched")).collect::<Vec<_>>();
    assert_eq!(code, Some(0), "a scenario did not match:\n{}", table.join("\n"));
    let library: Vec<serde_json::Value> = serde_json::from_str(
        &String::from_utf8(fencepost().args(["scenarios", "--json"]).output().unwrap().stdout).unwrap(),
    )
    .unwrap();
    for s in &library {
        let name = s["name"].as_str().unwrap();
        assert!(
            table.iter().any(|l| l.starts_with(name) && l.contains(" 1/1 ")),
            "{name} not 1/1:\n{}",
            table.join("\n")
        );
    }

    let (code, listed) = run(&["runs", "--scenario", "etcd-lease-pause", "--store", store.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{listed}");
    assert!(listed.contains("etcd-lease-pause (matched)"), "{listed}");

    let server = Server::start(&store);
    let (status, page) = server.get("/scenarios");
    assert_eq!(status, 200);
    let (status, api) = server.get("/api/v1/scenarios");
    assert_eq!(status, 200);
    let api: Vec<serde_json::Value> = serde_json::from_str(&api).unwrap();
    for s in &library {
        let name = s["name"].as_str().unwrap();
        assert!(page.contains(&format!("id=\"{name}\"")), "{name} has no row");
        let entry = api.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} not in the API"));
        assert_eq!((entry["summary"]["runs"].as_u64(), entry["summary"]["matched"].as_u64()), (Some(1), Some(1)));
        let run = entry["summary"]["run_list"][0]["id"].as_str().unwrap();
        assert!(page.contains(&format!("href=\"/runs/{run}\"")), "{name}'s run is not linked");
        let (_, report) = server.get(&format!("/runs/{run}"));
        assert!(report.contains(&format!(
            "Scenario <a href=\"/scenarios#{name}\">{name}</a>: <span class=\"verdict valid\">matched"
        )));
    }
    std::fs::remove_dir_all(&store).unwrap();
}
