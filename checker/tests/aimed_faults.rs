//! Faults aimed at a target (`kill:holder`): their words in anomaly texts
//! name the rule, and a skipped one opens no window.

use checker::analysis::fault_windows;
use checker::formats::jsonl;

fn windows(text: &str) -> Vec<checker::analysis::FaultWindow> {
    fault_windows(&jsonl::read("h.jsonl", text).unwrap())
}

#[test]
fn aimed_faults_are_told_by_their_rule_and_skips_open_no_window() {
    let h = r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"kill-skip","value":{"kind":"kill","target":"holder","targets":[],"skipped":"nobody held a lock"}}
{"index":1,"time":2,"process":"nemesis","type":"invoke","f":"clock-start","value":{"kind":"jump","target":"holder","targets":["n1","n2","n4"],"processes":[3],"keys":["k0"],"offset_ms":60000}}
{"index":2,"time":3,"process":"nemesis","type":"info","f":"clock-start","value":{"kind":"jump","target":"holder","targets":["n1","n2","n4"],"processes":[3],"keys":["k0"],"offset_ms":60000}}
{"index":3,"time":4,"process":"nemesis","type":"info","f":"clock-stop","value":{"kind":"jump","target":"holder","targets":["n1","n2","n4"]}}
{"index":4,"time":5,"process":"nemesis","type":"info","f":"kill-start","value":{"kind":"kill","target":"holder","targets":["n1"]}}
{"index":5,"time":6,"process":"nemesis","type":"info","f":"kill-stop","value":{"kind":"kill","target":"holder","targets":["n1"]}}
{"index":6,"time":7,"process":"nemesis","type":"info","f":"partition-start","value":{"kind":"holder","target":"holder","targets":["n1","n2","n3"],"grudge":{"n1":["n3"],"n2":["n3"],"n3":["n1","n2"]}}}
{"index":7,"time":8,"process":"nemesis","type":"info","f":"partition-stop","value":{"kind":"holder","target":"holder"}}
{"index":8,"time":9,"process":"nemesis","type":"info","f":"pause-start","value":{"kind":"pause","target":"majority","targets":["n2","n3"]}}
{"index":9,"time":10,"process":"nemesis","type":"info","f":"kill-start","value":{"kind":"kill","target":"random","targets":["n2"]}}
{"index":10,"time":11,"process":"nemesis","type":"info","f":"kill-start","value":{"kind":"kill","targets":["n3"]}}
"#;
    let words: Vec<String> = windows(h).iter().map(|w| w.words()).collect();
    assert_eq!(
        words,
        [
            "a clock jump on n1,n2,n4 (the holder's nodes)",
            "kill on n1 (the holder's node)",
            "a partition of the holder's nodes (n1,n2 | n3)",
            "pause on n2,n3 (a majority)",
            "kill on n2",
            "kill on n3",
        ]
    );
}
