//! Limits end a run with a verdict, never a hang.

use kafkasim::explore::{run_scenario, RunOptions};
use kafkasim::scenario::Scenario;

fn scenario(run: &str) -> Scenario {
    let text = format!(
        r#"expect = "pass"
[cluster]
brokers = 1
[[topics]]
name = "t"
[[producers]]
name = "p1"
topic = "t"
messages = 1000
rate = 10
[run]
{run}
"#
    );
    Scenario::parse("limits.toml", &text).unwrap()
}

#[test]
fn the_step_limit_is_a_verdict() {
    let r = run_scenario(&scenario("max_steps = 500"), 1, RunOptions::default());
    assert_eq!(r.verdict, "step-limit");
    assert!(!r.matched);
    assert_eq!(r.stats.steps, 500);
}

#[test]
fn the_time_limit_is_a_verdict() {
    let r = run_scenario(&scenario("max_time = \"5s\""), 1, RunOptions::default());
    assert_eq!(r.verdict, "time-limit");
    assert!(r.stats.virtual_time_s <= 5.0 + 1e-9, "{}", r.stats.virtual_time_s);
    assert!(r.stats.records_acked > 10, "{:?}", r.stats);
}
