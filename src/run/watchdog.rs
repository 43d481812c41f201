//! The watchdog's diagnosis when act has printed nothing for `--idle-timeout` seconds: does
//! the daemon answer a ping, which of this run's job containers exist and in what state,
//! with their last log lines, whether a pull is in progress, and what act said last. act
//! is not stopped. (`--timeout` — interrupt, grace, kill — lives in the run loop.)
//!
//! What can go wrong: the daemon does not answer (that is the diagnosis), listing or
//! reading logs fails (said so); every call has a short deadline.

use std::time::{Duration, SystemTime};

use bollard::Docker;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;
use tokio::time::Instant;

use super::act::Tracker;

/// Lines of the diagnosis.
pub async fn diagnose(
    docker: Option<&Docker>,
    since: SystemTime,
    prefixes: &[String],
    tracker: &Tracker,
    idle: Duration,
) -> Vec<String> {
    let mut out = vec![format!(
        "act has printed nothing for {}s; act keeps running. Diagnosis:",
        idle.as_secs()
    )];
    let Some(docker) = docker else {
        out.push("  daemon: no connection".into());
        return out;
    };
    let t = Instant::now();
    match tokio::time::timeout(Duration::from_secs(5), docker.ping()).await {
        Ok(Ok(_)) => out.push(format!(
            "  daemon: answers a ping ({} ms)",
            t.elapsed().as_millis()
        )),
        Ok(Err(e)) => out.push(format!(
            "  daemon: ping failed: {}",
            crate::docker::client::describe(&e)
        )),
        Err(_) => out.push(
            "  daemon: does not answer a ping within 5 s (restart it; journalctl -u docker)".into(),
        ),
    }
    match tokio::time::timeout(
        Duration::from_secs(5),
        super::cleanup::containers(docker, since, prefixes),
    )
    .await
    {
        Ok(Ok(list)) if list.is_empty() => out.push("  job containers: none yet".into()),
        Ok(Ok(list)) => {
            for (name, state, status) in list {
                out.push(format!("  container {name}: {state} ({status})"));
                for line in last_log_lines(docker, &name, 5).await {
                    out.push(format!("    | {line}"));
                }
            }
        }
        Ok(Err(e)) => out.push(format!("  job containers: cannot list: {e}")),
        Err(_) => out.push("  job containers: the daemon did not list them within 5 s".into()),
    }
    let mut pulling = false;
    for job in tracker.jobs.iter().filter(|j| j.status.is_none()) {
        if job.last_msg.contains("docker pull") || job.last_msg.contains("docker build") {
            pulling = true;
            out.push(format!(
                "  pull: {} is waiting for: {}",
                job.key,
                job.last_msg.trim()
            ));
        }
        let step = job
            .current
            .as_ref()
            .map(|(s, t)| format!("step {s} (running for {}s)", t.elapsed().as_secs()))
            .unwrap_or_else(|| "between steps".into());
        out.push(format!(
            "  job {}: {step}; act's last line: {}",
            job.key,
            job.last_msg.trim()
        ));
    }
    if !pulling {
        out.push("  pull: none in progress (act runs with --pull=false)".into());
    }
    out
}

async fn last_log_lines(docker: &Docker, name: &str, n: usize) -> Vec<String> {
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&n.to_string())
        .build();
    let mut logs = docker.logs(name, Some(opts));
    let mut text = String::new();
    let read = async {
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&chunk.to_string());
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), read).await;
    text.lines().map(str::to_string).collect()
}
