//! Reading and asserting on the JSON reports of `actsim setup`, `doctor` and `uninstall`
//! (`steps`, `checks`), and on the group database, shared by every test that reads them.
//!
//! What can go wrong: a report lacks what is asked for (the helper panics naming it, with
//! the whole run).

use serde_json::Value;

use super::consts;
use super::{Cmd, Outcome};

/// `(id, status)` of every step of a setup or uninstall JSON report, in order.
#[track_caller]
pub fn steps(out: &Outcome) -> Vec<(String, String)> {
    pairs(out, &out.json()["steps"], "steps")
}

/// `(id, status)` of every `fix.steps` entry of a `doctor --fix` JSON report, in order.
#[track_caller]
pub fn fix_steps(out: &Outcome) -> Vec<(String, String)> {
    pairs(out, &out.json()["fix"]["steps"], "fix.steps")
}

#[track_caller]
fn pairs(out: &Outcome, list: &Value, what: &str) -> Vec<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("no {what} array\n{out}"))
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or("").to_string(),
                s["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The step with this id in setup's JSON report.
#[track_caller]
pub fn step<'a>(out: &'a Outcome, id: &str) -> &'a Value {
    out.json()["steps"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id:?}\n{out}"))
}

/// `summary` of a setup step or doctor check as text.
pub fn summary(v: &Value) -> String {
    v["summary"].as_str().unwrap_or("").to_string()
}

/// Every setup step id is reported once, in order, and each status is one of those
/// allowed.
#[track_caller]
pub fn assert_steps(out: &Outcome, allowed: &[(&str, &[&str])]) {
    let got = steps(out);
    let ids: Vec<&str> = got.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(ids, consts::step_ids(), "step ids and their order\n{out}");
    for (id, statuses) in allowed {
        let status = step(out, id)["status"].as_str().unwrap_or("");
        assert!(
            statuses.contains(&status),
            "step {id} is {status:?}, expected one of {statuses:?}\n{out}"
        );
    }
}

/// The report has doctor findings and none of them failed.
#[track_caller]
pub fn assert_no_failed_check(out: &Outcome) {
    let checks = out.json()["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks array\n{out}"));
    let failed: Vec<&Value> = checks.iter().filter(|c| c["status"] == "fail").collect();
    assert!(failed.is_empty(), "failed checks: {failed:?}\n{out}");
}

/// Members of a group as the database lists them (`getent group NAME`).
#[track_caller]
pub fn group_members(name: &str) -> Vec<String> {
    let out = Cmd::new("getent").args(["group", name]).run();
    out.assert_success();
    out.stdout
        .trim()
        .rsplit(':')
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The raw `getent group NAME` line (empty when there is no such group).
pub fn group_line(name: &str) -> String {
    Cmd::new("getent").args(["group", name]).run().stdout
}
