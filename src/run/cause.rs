//! Why a job failed: a small classifier over what act logged for the job (its error
//! messages, the failing step's exit code, annotations and last lines, the image it
//! started, the last image it pulled) that names the cause and a way out.
//!
//! The causes, first match wins: a remote action that cannot be fetched, no `bash` in the
//! image, out of disk, a step's `timeout-minutes`, an absent image (job, container or
//! service), an OCI runtime or daemon error, a step's own non-zero exit, a job cancelled
//! by actsim; anything else is `unknown` with act's last messages for the job. Pure
//! functions of the job's state: nothing here can fail.

use serde::Serialize;

use super::act::{JobState, JobStatus};

/// The cause of a job's failure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cause {
    /// `action_fetch`, `no_bash`, `out_of_disk`, `step_timeout`, `image_absent`, `daemon`,
    /// `step_exit`, `cancelled`, `unknown`.
    pub kind: &'static str,
    /// One line naming the cause.
    pub summary: String,
    /// The way out, when there is one.
    pub fix: Option<String>,
    /// act's lines that matter (for `unknown`: its last messages for the job).
    pub lines: Vec<String>,
}

fn cause(kind: &'static str, summary: String, fix: Option<&str>, lines: Vec<String>) -> Cause {
    Cause {
        kind,
        summary,
        fix: fix.map(str::to_string),
        lines,
    }
}

/// The action act failed to fetch: the step's `uses` when it names a remote action, else
/// the URL and ref of act's message (`Unable to clone https://github.com/o/r refs/heads/v4`).
fn action_named(step: &str, msg: &str) -> Option<String> {
    if super::workflow::parse_remote(step).is_some() {
        return Some(step.to_string());
    }
    let at = msg.find("https://").or_else(|| msg.find("http://"))?;
    let mut words = msg[at..].split(|c: char| c.is_whitespace() || c == '"');
    let url = words.next()?;
    let path = url.split_once("://")?.1.split_once('/')?.1;
    let git_ref = words
        .find(|w| !w.is_empty() && !w.starts_with("version"))
        .map(|w| {
            w.trim_start_matches("refs/heads/")
                .trim_start_matches("refs/tags/")
                .trim_end_matches(':')
        })
        .filter(|r| !r.is_empty() && !r.contains('/') && !r.contains(':'));
    Some(match git_ref {
        Some(r) => format!("{path}@{r}"),
        None => path.to_string(),
    })
}

/// The cause of `job`'s failure (`None` for a job that did not fail or was skipped).
pub fn classify(job: &JobState) -> Option<Cause> {
    match job.status {
        Some(JobStatus::Failure) => {}
        Some(JobStatus::Cancelled) => {
            let at = job
                .current
                .as_ref()
                .map(|(s, _)| format!(" at step {s:?}"))
                .unwrap_or_default();
            return Some(cause(
                "cancelled",
                format!("stopped by actsim (--timeout or a signal){at}"),
                None,
                Vec::new(),
            ));
        }
        _ => return None,
    }
    let errors: Vec<&str> = job.errors.iter().map(|(_, m)| m.as_str()).collect();
    let last: Vec<&str> = job
        .failed
        .iter()
        .flat_map(|f| f.last_lines.iter().map(String::as_str))
        .collect();
    let all = || errors.iter().chain(last.iter()).copied();
    let has = |needle: &str| all().any(|l| l.contains(needle));
    let lines_with = |needle: &str| -> Vec<String> {
        all()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .take(3)
            .collect()
    };
    // A remote action (or reusable workflow) act could not clone.
    if let Some((step, msg)) = job.errors.iter().find(|(_, m)| {
        m.contains("Unable to clone")
            || m.contains("failed to fetch")
            || m.contains("git-upload-pack")
            || m.contains("authentication required")
            || m.contains("Unable to resolve action")
    }) {
        let action = match action_named(step, msg) {
            Some(a) => format!("the remote action {a}"),
            None => "a remote action".to_string(),
        };
        return Some(cause(
            "action_fetch",
            format!("{action} cannot be fetched"),
            Some(
                "with network once, act caches it; offline then: -- --action-offline-mode; or use a local copy: -- --local-repository OWNER/REPO@REF=PATH",
            ),
            vec![msg.clone()],
        ));
    }
    if has("executable file not found") && (has("\"bash\"") || has("exec: bash")) {
        let image = job
            .image
            .as_deref()
            .map(|i| format!("the image {i}"))
            .unwrap_or_else(|| "the job's image".into());
        return Some(cause(
            "no_bash",
            format!("{image} has no bash, the default shell of run steps"),
            Some(
                "set `shell: sh` on the step (or `defaults: run: shell: sh`), or map runs-on to an image with bash (-- -P LABEL=IMAGE, or --platform-image IMAGE)",
            ),
            lines_with("executable file not found"),
        ));
    }
    if has("no space left on device") {
        return Some(cause(
            "out_of_disk",
            "the disk is full (no space left on device)".into(),
            Some(
                "free space: docker system df shows what uses it; docker system prune removes what is unused",
            ),
            lines_with("no space left on device"),
        ));
    }
    if has("context deadline exceeded") {
        let step = job
            .failed
            .as_ref()
            .map(|f| format!("step {:?}", f.name))
            .unwrap_or_else(|| "a step".into());
        return Some(cause(
            "step_timeout",
            format!("{step} reached its timeout-minutes"),
            Some("raise timeout-minutes, or find why the step hangs (its last lines are above)"),
            lines_with("context deadline exceeded"),
        ));
    }
    let setup_failed = job.failed.as_ref().is_some_and(|f| f.name == "Set up job");
    let image_words = [
        "No such image",
        "pull access denied",
        "manifest unknown",
        "not found: manifest",
        "/v2/",
        "repository does not exist",
    ];
    if setup_failed
        && let Some(msg) = errors
            .iter()
            .find(|m| image_words.iter().any(|w| m.contains(w)))
    {
        let image = job
            .last_pull
            .clone()
            .or_else(|| job.image.clone())
            .unwrap_or_else(|| "an image".into());
        return Some(cause(
            "image_absent",
            format!(
                "the image {image} (job, container or service) is not present and cannot be pulled"
            ),
            Some(
                "load it: docker load -i FILE (or docker pull it where a registry is reachable); actsim run checks runs-on, container and services images before act starts",
            ),
            vec![msg.to_string()],
        ));
    }
    if let Some(msg) = errors.iter().find(|m| {
        m.contains("Error response from daemon")
            || m.contains("OCI runtime")
            || m.contains("Cannot connect to the Docker daemon")
            || m.contains("failed to create")
            || m.contains("failed to start")
    }) {
        return Some(cause(
            "daemon",
            "the Docker daemon refused an operation of the job".into(),
            Some("actsim doctor checks the daemon; the daemon's message is below"),
            vec![msg.to_string()],
        ));
    }
    if let Some(f) = &job.failed
        && let Some(code) = f.exit_code
    {
        let mut lines: Vec<String> = f.errors.iter().map(|a| a.text()).collect();
        lines.extend(f.last_lines.iter().rev().take(5).rev().cloned());
        return Some(cause(
            "step_exit",
            format!("step {:?} exited with code {code}", f.name),
            None,
            lines,
        ));
    }
    let mut lines: Vec<String> = job.errors.iter().map(|(_, m)| m.clone()).collect();
    if lines.is_empty() {
        lines = job.recent.iter().cloned().collect();
    }
    Some(cause(
        "unknown",
        match &job.failed {
            Some(f) => format!("step {:?} failed", f.name),
            None => "act reported the job failed".into(),
        },
        Some("act's last lines for the job are below; the full log has the rest"),
        lines,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::act::Tracker;

    /// A job fed act's lines (real lines of act 0.2.89, shortened).
    fn job(lines: &str) -> JobState {
        let mut t = Tracker::new(vec!["W".into()]);
        let now = tokio::time::Instant::now();
        for l in lines.lines() {
            t.feed(l, now);
        }
        t.finish(false, false, now);
        t.jobs.remove(0)
    }

    #[test]
    fn a_remote_action_that_cannot_be_cloned_is_named() {
        let j = job(
            r#"{"job":"W/r","jobID":"r","level":"error","msg":"Unable to clone https://github.com/actions/setup-node refs/heads/v4: Get \"https://github.com/actions/setup-node/info/refs?service=git-upload-pack\": dial tcp: lookup github.com: no such host","stage":"Pre","step":"./.github/actions/wrap"}
{"job":"W/r","jobID":"r","jobResult":"failure","level":"info","msg":"🏁  Job failed"}"#,
        );
        let c = classify(&j).unwrap();
        assert_eq!(c.kind, "action_fetch");
        assert!(c.summary.contains("actions/setup-node@v4"), "{c:?}");
        assert!(c.fix.unwrap().contains("--action-offline-mode"));
    }

    #[test]
    fn no_bash_out_of_disk_timeout_image_and_daemon_are_told_apart() {
        let no_bash = job(
            r#"{"job":"W/n","jobID":"n","level":"info","msg":"🚀  Start image=img:1"}
{"job":"W/n","jobID":"n","level":"info","msg":"OCI runtime exec failed: exec failed: unable to start container process: exec: \"bash\": executable file not found in $PATH: unknown\r\n","raw_output":true,"stage":"Main","step":"echo hi"}
{"job":"W/n","jobID":"n","level":"info","msg":"  ❌  Failure - Main echo hi [1s]","stage":"Main","step":"echo hi","stepResult":"failure"}
{"job":"W/n","jobID":"n","level":"error","msg":"exitcode '126': failure","stage":"Main","step":"echo hi"}"#,
        );
        let c = classify(&no_bash).unwrap();
        assert_eq!(c.kind, "no_bash");
        assert!(c.summary.contains("img:1"), "{c:?}");
        let disk = job(
            r#"{"job":"W/d","jobID":"d","level":"error","msg":"write /var/lib/docker/x: no space left on device","step":"Set up job"}"#,
        );
        assert_eq!(classify(&disk).unwrap().kind, "out_of_disk");
        let slow = job(
            r#"{"job":"W/s","jobID":"s","level":"info","msg":"  ❌  Failure - Main hang [1m0s]","stage":"Main","step":"hang","stepResult":"failure"}
{"job":"W/s","jobID":"s","level":"error","msg":"context deadline exceeded","stage":"Main","step":"hang"}"#,
        );
        let c = classify(&slow).unwrap();
        assert_eq!(
            (c.kind, c.summary.as_str()),
            ("step_timeout", "step \"hang\" reached its timeout-minutes")
        );
        let svc = job(
            r#"{"job":"W/v","jobID":"v","level":"info","msg":"  🐳  docker pull image=absent/svc:9 platform= username= forcePull=false","step":"Set up job"}
{"job":"W/v","jobID":"v","level":"error","msg":"Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: no such host","step":"Set up job"}
{"job":"W/v","jobID":"v","level":"info","msg":"  ❌  Failure - Set up job","step":"Set up job","stepResult":"failure"}"#,
        );
        let c = classify(&svc).unwrap();
        assert_eq!(c.kind, "image_absent");
        assert!(c.summary.contains("absent/svc:9"), "{c:?}");
        let daemon = job(
            r#"{"job":"W/m","jobID":"m","level":"error","msg":"Error response from daemon: Minimum memory limit allowed is 6MB","step":"Set up job"}
{"job":"W/m","jobID":"m","level":"info","msg":"  ❌  Failure - Set up job","step":"Set up job","stepResult":"failure"}"#,
        );
        assert_eq!(classify(&daemon).unwrap().kind, "daemon");
        let unknown = job(
            r#"{"job":"W/u","jobID":"u","level":"info","msg":"something odd happened"}
{"job":"W/u","jobID":"u","jobResult":"failure","level":"info","msg":"🏁  Job failed"}"#,
        );
        let c = classify(&unknown).unwrap();
        assert_eq!(c.kind, "unknown");
        assert!(c.lines.iter().any(|l| l.contains("something odd")), "{c:?}");
    }
}
