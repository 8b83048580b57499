//! `fencepost margin`: `harness::margin`'s study, its probes as they run
//! (on stderr with `--json`) and its margins.

use std::time::Duration;

use harness::margin::{margin, MarginArgs, MarginEvent};
use harness::options::RunOpts;
use harness::run::{show, Event};
use results::study::Study;

/// `margin`'s own options (beside `run`'s).
pub struct MarginCmd {
    pub system: String,
    pub fault: String,
    pub from: Option<Duration>,
    pub to: Option<Duration>,
    pub runs: usize,
    pub budget: Duration,
    pub json: bool,
}

pub async fn margin_command(cmd: MarginCmd, opts: &RunOpts) -> anyhow::Result<()> {
    if opts.faults.nemesis != "none" {
        anyhow::bail!("--nemesis: `margin` searches the one fault of --fault; give it there");
    }
    let template = opts.args(cmd.system)?;
    let mut specs = nemesis::FaultSpec::parse_list(&cmd.fault).map_err(|e| anyhow::anyhow!("--fault: {e}"))?;
    let fault = match (specs.pop(), specs.is_empty()) {
        (Some(f), true) => f,
        _ => anyhow::bail!("--fault {}: one fault, KIND[:TARGET]", cmd.fault),
    };
    let ttl = template.options.ttl;
    let args = MarginArgs {
        template,
        fault,
        from: cmd.from.unwrap_or(ttl / 4),
        to: cmd.to.unwrap_or(ttl * 2),
        runs: cmd.runs,
        budget: cmd.budget,
    };
    let json = cmd.json;
    // With --json, stdout is the study alone.
    let say = move |line: String| if json { eprintln!("{line}") } else { out!("{line}") };
    say(format!(
        "margin: {} ({}), {} by {} from {} to {}, {} per size, --ttl {}, holds {}–{}",
        args.template.system,
        args.template.workload.name(),
        args.fault,
        args.fault.kind.magnitude().flag(),
        show(args.from),
        show(args.to),
        checker::analysis::counted(args.runs, "run", "runs"),
        show(ttl),
        show(args.template.options.hold.0),
        show(args.template.options.hold.1)
    ));
    // Every probe's run says the same notes: once is enough.
    let said = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let once = |line: String| {
        if said.lock().map(|mut s| s.insert(line.clone())).unwrap_or(true) {
            say(line);
        }
    };
    let on_event = |e: MarginEvent| match e {
        MarginEvent::Running { .. } => {}
        MarginEvent::Ran { size, run } => say(format!(
            "  {:>7}  clients {:<7}  service {:<7}  run {}",
            show(size),
            run.clients.as_str(),
            run.service.as_str(),
            run.run
        )),
        MarginEvent::Run(Event::BlindSpot(why)) => once(format!("  blind spot: {why}")),
        MarginEvent::Run(Event::Note(note)) => once(format!("  note: {note}")),
        MarginEvent::Run(Event::Warning(w)) => say(format!("  warning: {w}")),
        MarginEvent::Run(_) => {}
    };
    let (stop, ctrl_c) = crate::cancel_on_ctrl_c();
    let study = margin(args, stop, &on_event).await;
    ctrl_c.abort();
    let study = study?;
    if json {
        out!("{}", serde_json::to_string_pretty(&study)?);
    } else {
        print_study(&study);
    }
    Ok(())
}

fn print_study(s: &Study) {
    out!();
    for m in &s.margins {
        let view = m.view.name();
        let checker = m.checker.map_or(String::new(), |c| format!(" ({c})"));
        out!("{view}{checker}: {}", m.words);
    }
    out!(
        "{} in {:.0} s; study {} (each probe is a stored run tagged with it)",
        checker::analysis::counted(s.runs_spent, "run", "runs"),
        s.wall_ms as f64 / 1000.0,
        s.study
    );
}

/// `fencepost margins`: every stored study, a row per study and view.
pub fn margins_command(store: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let studies = results::studies(store)?;
    if json {
        out!("{}", serde_json::to_string_pretty(&studies)?);
        return Ok(());
    }
    if studies.is_empty() {
        out!("no margin studies in {} (run one with `fencepost margin SYSTEM --fault KIND`)", store.display());
        return Ok(());
    }
    use crate::store_cmds::{table, Align::Left, Align::Right};
    let head = [
        ("system", Left),
        ("workload", Left),
        ("fault (size)", Left),
        ("ttl", Right),
        ("holds", Right),
        ("view", Left),
        ("margin", Left),
        ("study runs", Right),
    ];
    let at = |ms: u64| show(Duration::from_millis(ms));
    let rows = studies
        .iter()
        .flat_map(|s| {
            s.margins.iter().map(|m| {
                vec![
                    s.system.clone(),
                    s.workload.clone(),
                    format!("{} ({})", s.fault, s.flag.trim_start_matches("--")),
                    at(s.ttl_ms),
                    format!("{}–{}", at(s.hold_ms.0), at(s.hold_ms.1)),
                    m.view.name().to_string(),
                    m.words.clone(),
                    s.runs_spent.to_string(),
                ]
            })
        })
        .collect();
    for line in table(&head, rows) {
        out!("{line}");
    }
    Ok(())
}
