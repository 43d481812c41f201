//! Snapshots (insta) of what actsim shows: setup's human plan, doctor's human report, and
//! the JSON documents of setup, doctor and uninstall, from real runs on the real daemon
//! (`run`'s document: `run::run_jobs_that_succeed_exit_0_with_the_json_document`).
//! A change of wording or of a JSON key is then a reviewed diff of
//! `tests/integration/snapshots/` (`cargo insta review`, or `INSTA_UPDATE=always`).
//!
//! Normalised so the snapshots hold on any machine and run: the world's paths and mirror
//! URL become `[ROOT]`/`[MIRROR]`, hex digests `[HEX]`, every number `N`, and the `image`
//! step (a tag shared by every test on the daemon: built now, or already there) `[SHARED]`.

use serde_json::Value;

use crate::support::Cmd;
use crate::support::world::World;

/// `text` with this world's paths, URLs and image replaced, then digests and numbers.
fn world(w: &World, text: &str) -> String {
    let root = w.home().parent().unwrap().display().to_string();
    let mirror = w.mirror().base_url();
    normalise(
        text,
        &[
            (mirror.as_str(), "[MIRROR]"),
            (root.as_str(), "[ROOT]"),
            (w.image(), "[IMAGE]"),
        ],
    )
}

/// `text` with each `(from, to)` replaced in order, then the tests' temp dirs
/// (`actsim-test-[TMP]`), hex digests (`[HEX]`) and every number (`N`), so a snapshot holds
/// on any machine and run.
pub fn normalise(text: &str, replace: &[(&str, &str)]) -> String {
    let text = replace
        .iter()
        .fold(text.to_string(), |t, (from, to)| t.replace(from, to));
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // A temp dir of the tests (`temp::dir`): `actsim-test-` and six random characters.
        let prefix: Vec<char> = "actsim-test-".chars().collect();
        if chars[i..].starts_with(&prefix) && chars.len() >= i + prefix.len() + 6 {
            out.push_str("actsim-test-[TMP]");
            i += prefix.len() + 6;
            continue;
        }
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        let word_start = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if hex >= 7 && word_start && chars[i..i + hex].iter().any(|c| c.is_ascii_digit()) {
            out.push_str("[HEX]");
            i += hex;
        } else if chars[i].is_ascii_digit() {
            out.push('N');
            i += chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A JSON document, the `image` step's varying fields marked, pretty and normalised.
fn json(w: &World, doc: &Value) -> String {
    let mut doc = doc.clone();
    for step in doc["steps"].as_array_mut().into_iter().flatten() {
        if step["id"] == "image" {
            for key in ["changed", "status", "summary", "detail", "would_change"] {
                if step.get(key).is_some() {
                    step[key] = "[SHARED]".into();
                }
            }
        }
    }
    world(w, &serde_json::to_string_pretty(&doc).unwrap())
}

/// Human lines (stderr) without the `image` step's line (see the module).
fn human(w: &World, stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.split_whitespace().any(|word| word == "image"))
        .collect();
    world(w, &lines.join("\n"))
}

#[test]
fn snapshots_of_the_setup_plan_doctor_report_and_json_documents() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    let plan = w.setup().arg("--dry-run").env("NO_COLOR", "1").run();
    plan.assert_success();
    insta::assert_snapshot!("setup_plan_human", human(&w, &plan.stderr));

    let setup = w.setup_json().run();
    setup.assert_success();
    insta::assert_snapshot!("setup_json", json(&w, setup.json()));

    let doctor = w.doctor(60).run();
    doctor.assert_success();
    insta::assert_snapshot!("doctor_json", json(&w, doctor.json()));

    let report = w
        .within(Cmd::actsim().args(["doctor", "--timeout", "60", "--bin-dir"]))
        .arg(w.bin())
        .arg("--config-dir")
        .arg(w.config())
        .env("NO_COLOR", "1")
        .run();
    report.assert_success();
    insta::assert_snapshot!("doctor_human", human(&w, &report.stderr));

    let uninstall = w.uninstall().arg("--yes").run();
    uninstall.assert_success();
    insta::assert_snapshot!("uninstall_json", json(&w, uninstall.json()));
}
