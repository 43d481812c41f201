//! The conformance corpus (issue 18): `tests/corpus/<case>/` holds a repository (its
//! `.github/...` files, `@NAME@` and `@IMAGE@` replaced) and `expected.json` (the event,
//! act arguments, the exit code and each job's verdict, keyed by job id and matrix values:
//! status, failing step, exit code). Each case runs through `actsim run --format json` and
//! bare act on a Debian image with bash and node; the test asserts actsim's verdict, its job
//! list and failing steps, and that act agrees on success or failure. Cases run three at a
//! time; each leaves nothing behind.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use serde_json::Value;

use crate::run_verdicts::{Repo, jobs};
use crate::support::fixtures::repo_root;
use crate::support::images::bash_node_image;

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

/// `job_id` and, for a matrix leg, ` (k=v, …)`: the corpus's key of a job.
fn key(job: &Value) -> String {
    let id = job["job_id"].as_str().unwrap_or("").to_string();
    match job["matrix"].as_object() {
        Some(m) if !m.is_empty() => {
            let mut kv: Vec<String> = m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect();
            kv.sort();
            format!("{id} ({})", kv.join(", "))
        }
        _ => id,
    }
}

/// One case: every mismatch, described.
fn run_case(case: &Path, image: &str) -> Vec<String> {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
            .unwrap();
    let texts: Vec<(String, String)> = files(case)
        .into_iter()
        .filter(|f| f != Path::new("expected.json"))
        .map(|f| {
            let text = std::fs::read_to_string(case.join(&f)).unwrap();
            (f.to_string_lossy().to_string(), text)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = texts
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let Some(repo) = Repo::with_image(&borrowed, Some(image.to_string())) else {
        return Vec::new();
    };
    let event = expected["event"].as_str().unwrap_or("push");
    let act_args: Vec<&str> = expected["args"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut args = vec![event, "--format", "json", "--"];
    args.extend(&act_args);
    let out = repo.run(&args).run();
    let mut problems = Vec::new();
    let want_exit = expected["exit"].as_i64().unwrap() as i32;
    if out.code != Some(want_exit) {
        problems.push(format!(
            "actsim exited {:?}, expected {want_exit}",
            out.code
        ));
    }
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    if json.is_null() {
        problems.push("no JSON document".into());
    } else {
        let got: Vec<String> = jobs(&json).iter().map(key).collect();
        let want: Vec<String> = expected["jobs"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut sorted = got.clone();
        sorted.sort();
        if sorted != want {
            problems.push(format!("jobs {got:?}, expected {want:?}"));
        }
        for (k, w) in expected["jobs"].as_object().unwrap() {
            let Some(j) = jobs(&json).iter().find(|j| key(j) == *k) else {
                continue;
            };
            if j["status"] != w["status"] {
                problems.push(format!(
                    "{k}: status {}, expected {}",
                    j["status"], w["status"]
                ));
            }
            if let Some(step) = w.get("failed_step")
                && j["failed_step"]["name"] != *step
            {
                problems.push(format!(
                    "{k}: failed step {}, expected {step}",
                    j["failed_step"]["name"]
                ));
            }
            if let Some(code) = w.get("exit_code")
                && j["failed_step"]["exit_code"] != *code
            {
                problems.push(format!(
                    "{k}: exit code {}, expected {code}",
                    j["failed_step"]["exit_code"]
                ));
            }
            if j["status"] == "failure" && j["cause"].is_null() {
                problems.push(format!("{k}: a failure without a cause"));
            }
        }
        if want_exit != 0 && !json["reason"].is_string() {
            problems.push("a non-zero exit without a reason".into());
        }
    }
    let left = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        repo.assert_nothing_left(&out)
    }));
    if left.is_err() {
        problems.push("actsim left containers, volumes or networks behind".into());
    }
    let bare = repo.act(event, &act_args);
    repo.remove_leftovers();
    if bare.code != Some(want_exit) {
        problems.push(format!(
            "bare act exited {:?}, expected {want_exit}: act and the corpus disagree",
            bare.code
        ));
    }
    if problems.is_empty() {
        Vec::new()
    } else {
        vec![format!("case {name}:\n  {}\n{out}", problems.join("\n  "))]
    }
}

#[test]
fn run_conformance_corpus_matches_act_job_by_job() {
    let Some(image) = bash_node_image() else {
        return;
    };
    let corpus = repo_root().join("tests/corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{cases:?}");
    // Three cases at a time: a slot is taken before a case starts and given back after.
    let slots = Arc::new((Mutex::new(3usize), Condvar::new()));
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| {
                let slots = slots.clone();
                let image = image.clone();
                s.spawn(move || {
                    let (lock, cv) = &*slots;
                    let mut free = cv.wait_while(lock.lock().unwrap(), |n| *n == 0).unwrap();
                    *free -= 1;
                    drop(free);
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_case(case, &image)
                    }))
                    .unwrap_or_else(|_| vec![format!("case {} panicked", case.display())]);
                    *lock.lock().unwrap() += 1;
                    cv.notify_one();
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
