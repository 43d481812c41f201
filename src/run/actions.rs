//! Actions first: before act starts, every remote action and reusable workflow of the
//! selected jobs must be within act's reach, so a run never fails minutes in because
//! `uses: owner/repo@ref` cannot be cloned.
//!
//! An action is ready when `--local-repository OWNER/REPO@REF=PATH` gives act a local copy,
//! when act's action cache holds it (`<--action-cache-path>/<owner-repo-path@ref>`) and
//! `--action-offline-mode` tells act not to fetch it again, or when the GitHub host
//! (`--github-instance`, default github.com) answers on port 443 within a few seconds.
//! What can go wrong: none of these (the run stops before act, naming each action, the
//! jobs that use it and the ways out).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::halt::Halt;
use super::workflow::{self, RemoteAction};
use crate::error::Error;

/// How long the GitHub host has to answer.
const REACH_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `--local-repository` names a local copy.
    Local,
    /// In act's cache, used as it is (`--action-offline-mode`).
    Cached,
    /// The GitHub host answers: act fetches it.
    Reachable,
    Missing,
}

/// One entry of the JSON `actions` list.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    pub uses: String,
    pub status: Status,
    pub jobs: Vec<String>,
    /// Why it is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// act's cache directory name of `uses` (act's `safeFilename`).
pub fn cache_name(uses: &str) -> String {
    uses.chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' => '-',
            c => c,
        })
        .collect()
}

/// Whether a `--local-repository` value (`[https://host/]owner/repo@ref=path`) covers
/// `action`.
fn local_covers(value: &str, action: &RemoteAction) -> bool {
    let Some((target, _path)) = value.split_once('=') else {
        return false;
    };
    let Some((repo, git_ref)) = target.rsplit_once('@') else {
        return false;
    };
    let repo = repo
        .strip_prefix("https://")
        .or_else(|| repo.strip_prefix("http://"))
        .and_then(|r| r.split_once('/').map(|(_, rest)| rest))
        .unwrap_or(repo);
    repo.eq_ignore_ascii_case(&action.repo) && git_ref == action.git_ref
}

/// What act will do for each action, without the network: local, cached (and used as
/// it is), or to be fetched (`None`).
pub fn offline_status(
    actions: &[RemoteAction],
    words: &[String],
    cache_dir: &Path,
) -> Vec<(RemoteAction, Option<Status>, bool)> {
    let locals = workflow::values(words, "--local-repository");
    let offline = workflow::flag(words, "--action-offline-mode");
    actions
        .iter()
        .map(|a| {
            let cached = cache_dir.join(cache_name(&a.uses)).is_dir();
            let status = if locals.iter().any(|l| local_covers(l, a)) {
                Some(Status::Local)
            } else if cached && offline {
                Some(Status::Cached)
            } else {
                None
            };
            (a.clone(), status, cached)
        })
        .collect()
}

/// The action cache act uses: `--action-cache-path` among `words`, else `default`.
pub fn cache_dir(words: &[String], default: PathBuf) -> PathBuf {
    workflow::values(words, "--action-cache-path")
        .pop()
        .map(PathBuf::from)
        .unwrap_or(default)
}

/// Whether `host` answers on port 443 within [`REACH_TIMEOUT`].
async fn reachable(host: &str) -> std::result::Result<(), String> {
    let connect = tokio::net::TcpStream::connect((host, 443));
    match tokio::time::timeout(REACH_TIMEOUT, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{host}:443: {e}")),
        Err(_) => Err(format!(
            "{host}:443 did not answer within {}s",
            REACH_TIMEOUT.as_secs()
        )),
    }
}

/// The actions stage: each action's status; stops the run before act when one is missing.
pub async fn check(
    actions: &[RemoteAction],
    words: &[String],
    cache_dir: &Path,
) -> Result<Vec<ActionReport>, Halt> {
    let states = offline_status(actions, words, cache_dir);
    let mut reach: Option<std::result::Result<(), String>> = None;
    let mut out = Vec::new();
    for (a, status, cached) in states {
        let (status, reason) = match status {
            Some(s) => (s, None),
            None => {
                if reach.is_none() {
                    let host = workflow::values(words, "--github-instance")
                        .pop()
                        .unwrap_or_else(|| "github.com".into());
                    reach = Some(reachable(&host).await);
                }
                match reach.as_ref().expect("just set") {
                    Ok(()) => (Status::Reachable, None),
                    Err(e) => (
                        Status::Missing,
                        Some(if cached {
                            format!(
                                "in act's cache ({}), but act fetches it again without --action-offline-mode, and {e}",
                                cache_dir.join(cache_name(&a.uses)).display()
                            )
                        } else {
                            format!(
                                "not in act's cache ({}), no --local-repository for it, and {e}",
                                cache_dir.display()
                            )
                        }),
                    ),
                }
            }
        };
        out.push(ActionReport {
            uses: a.uses.clone(),
            status,
            jobs: a.jobs.clone(),
            reason,
        });
    }
    Ok(out)
}

/// Stop the run when an action is missing, naming each one and the ways out.
pub fn judge(reports: &[ActionReport]) -> Result<(), Halt> {
    let missing: Vec<&ActionReport> = reports
        .iter()
        .filter(|r| r.status == Status::Missing)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing
        .iter()
        .map(|m| {
            format!(
                "{} (used by {}): {}",
                crate::ui::escape(&m.uses),
                m.jobs
                    .iter()
                    .map(|j| crate::ui::escape(j).into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
                m.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    let example = &missing[0].uses;
    let (repo, git_ref) = workflow::parse_remote(example).unwrap_or_default();
    let with_cache = missing.iter().any(|m| {
        m.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("in act's cache"))
    });
    let mut ways = Vec::new();
    if with_cache {
        ways.push("act's cache has it: actsim run -- --action-offline-mode".to_string());
    }
    ways.push(format!(
        "a local copy: actsim run -- --local-repository {repo}@{git_ref}=PATH"
    ));
    ways.push(
        "or run once with network (act caches the action), then -- --action-offline-mode"
            .to_string(),
    );
    Err(Halt::failed(Error::failed(
        format!(
            "remote action{} not available; act was not started: {}",
            if missing.len() == 1 { "" } else { "s" },
            list.join("; ")
        ),
        Some(ways.join("; ")),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(uses: &str) -> RemoteAction {
        let (repo, git_ref) = workflow::parse_remote(uses).unwrap();
        RemoteAction {
            uses: uses.into(),
            repo,
            git_ref,
            jobs: vec!["W/j".into()],
        }
    }

    #[test]
    fn local_repository_cache_and_offline_mode_follow_acts_rules() {
        let dir = tempfile::tempdir().unwrap();
        let a = action("actions/setup-node@v4");
        let b = action("owner/repo/sub/dir@v1");
        std::fs::create_dir(dir.path().join(cache_name(&b.uses))).unwrap();
        assert_eq!(cache_name(&b.uses), "owner-repo-sub-dir@v1");
        let words: Vec<String> = vec![
            "--local-repository".into(),
            "https://github.com/Actions/Setup-Node@v4=/src/sn".into(),
        ];
        let s = offline_status(&[a.clone(), b.clone()], &words, dir.path());
        assert_eq!(s[0].1, Some(Status::Local));
        assert_eq!(
            (s[1].1, s[1].2),
            (None, true),
            "cached, but act would fetch"
        );
        let mut offline = words.clone();
        offline.push("--action-offline-mode".into());
        let s = offline_status(&[a, b], &offline, dir.path());
        assert_eq!(s[1].1, Some(Status::Cached));
    }

    #[test]
    fn a_missing_action_stops_naming_it_and_the_ways_out() {
        let r = ActionReport {
            uses: "actions/setup-node@v4".into(),
            status: Status::Missing,
            jobs: vec!["Real/build".into()],
            reason: Some("not in act's cache (/c), no --local-repository for it".into()),
        };
        let e = judge(&[r]).unwrap_err().error;
        let text = format!("{e} {}", e.hint().unwrap_or_default());
        assert!(
            text.contains("actions/setup-node@v4 (used by Real/build)"),
            "{text}"
        );
        assert!(
            text.contains("--local-repository actions/setup-node@v4=PATH"),
            "{text}"
        );
        assert!(text.contains("--action-offline-mode"), "{text}");
    }
}
