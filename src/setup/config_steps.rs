//! Setup part 2: detect Docker, join the socket's group, build the simulator image, and
//! write `docker-compose.yml`, `.env` and act's `actrc` from the templates.
//!
//! Observe gathers facts; [`plan`] is pure; [`apply`] changes one thing per step. What can
//! go wrong: Docker is not installed (setup stops with the install command), the daemon is
//! down (steps that need it are skipped; the final check fails), the socket's group is root
//! (refused), joining needs root (exit 5 with the exact command), a destination is a
//! symlink (refused) or was edited by the user (kept; ours goes beside it with `--yes`).

use std::path::PathBuf;
use std::time::Duration;

use super::{Action, Settings, StepPlan, StepReport, StepStatus};
use crate::docker::detect::{self, DockerInstall};
use crate::error::{Error, Result};
use crate::groups::{self, Decision, Elevation};
use crate::receipt::{FileReceipt, Receipt};
use crate::render;
use crate::system::files;
use crate::system::process::Process;
use crate::ui::Ui;

/// What part 2 observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub docker: DockerFacts,
    pub group: Decision,
    pub group_command: Vec<String>,
    pub image: ImageFacts,
    /// The rendered files, or why they cannot be rendered.
    /// `docker-compose.yml` and `.env`, which need the socket (its path and group).
    pub files: std::result::Result<Vec<FileFacts>, String>,
    /// act's config, which needs nothing from Docker.
    pub actrc: FileFacts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DockerFacts {
    pub described: String,
    pub daemon_error: Option<String>,
    pub socket: Option<detect::SocketMeta>,
    /// As root for a user: the docker context the user's own config selects (read as the
    /// user), which their own docker commands would follow instead of this endpoint.
    pub user_context: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageFacts {
    pub name: String,
    /// The daemon answered.
    pub daemon: bool,
    /// The label of the existing image (`None`: no image).
    pub image_sha: Option<String>,
    /// SHA-256 of the act binary installed now (it may change in the act step).
    pub binary_sha: Option<String>,
    /// The binary hash `--act-lock` pins: root's own input, so it vouches for the binary
    /// like root's record does.
    pub locked_sha: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileFacts {
    pub id: &'static str,
    pub path: PathBuf,
    pub mode: u32,
    pub current: Option<Vec<u8>>,
    pub new: Vec<u8>,
    /// What actsim last wrote there (receipt).
    pub last_sha: Option<String>,
    /// For actrc: the user's file maps one of our labels to another image.
    pub user_mapping: bool,
    /// Why the destination cannot be written (a symbolic link or a directory there): this
    /// file's step fails, the other steps go on.
    pub refused: Option<String>,
}

/// A change part 2 will make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Join {
        group: String,
        gid: u32,
        command: Vec<String>,
    },
    /// Build the image if its label differs from the installed binary.
    Image {
        name: String,
        /// The lock's binary hash (`--act-lock`), trusted like root's record.
        locked_sha: Option<String>,
    },
    Write {
        path: PathBuf,
        bytes: Vec<u8>,
        mode: u32,
        /// The user edited it: ask (terminal) or write beside (`--yes`).
        edited: bool,
        diff: String,
    },
    /// A refusal reported as `failed` without stopping the run.
    Refuse(String),
}

pub const DOCKER: &str = "docker";
pub const GROUP: &str = "group";
pub const IMAGE: &str = "image";
pub const COMPOSE: &str = "compose";
pub const ENV: &str = "env";
pub const ACTRC: &str = "actrc";

/// Detect Docker; stop when it is not installed at all.
///
/// The endpoint is this process's own (its environment and docker config): as root for a
/// user, never the user's config, which would let them pick the socket whose group root
/// adds them to.
pub async fn observe_docker(process: &Process, s: &Settings) -> Result<DockerInstall> {
    let found = detect::detect(
        process,
        &s.docker_home,
        s.timeout.min(Duration::from_secs(15)),
    )
    .await;
    if found.missing() {
        return Err(Error::failed(
            "Docker is not installed: no docker CLI, no daemon socket, no daemon answering",
            Some(detect::install_hint()),
        ));
    }
    Ok(found)
}

/// Observe everything part 2 needs, after the act step's facts are known.
pub async fn observe(
    process: &Process,
    s: &Settings,
    docker: &DockerInstall,
    act: &super::act_step::Facts,
    args: &crate::cli::SetupArgs,
    receipt: &Receipt,
) -> Result<Facts> {
    let platform_image = args.common.platform_image.as_deref();
    let group_override = args.docker_group.as_deref();
    let act_args = &args.act_arg;
    let socket = docker.socket.clone();
    let group_override = match group_override {
        Some(name) => Some(
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .map(|g| (g.name, g.gid.as_raw()))
                .ok_or_else(|| {
                    Error::usage(
                        format!("--docker-group {name}: no such group"),
                        Some(
                            "name an existing group, or leave it out to use the socket's group"
                                .into(),
                        ),
                    )
                })?,
        ),
        None => None,
    };
    let db = s.user.database_gids();
    let group = groups::decide(
        socket.as_ref(),
        &s.user,
        &db,
        group_override.as_ref().map(|(n, g)| (n.as_str(), *g)),
        crate::system::identity::group_name,
    );
    let group_command = match &group {
        Decision::Join { group, .. } => {
            groups::join_command(&s.user.name, group, |t| groups::have_tool(process, t))
        }
        _ => Vec::new(),
    };

    let act_version = act.wanted.version.as_str();
    // Named so that the engine at the endpoint finds it again (`localhost/…` on Podman).
    let image_name = docker
        .engine_kind
        .local_image(&render::image_for(act_version));
    // The act step already hashed the installed binary; detection already connected.
    let binary_sha = act.installed.as_ref().map(|i| i.sha256.clone());
    let (daemon, image_sha) = match &docker.client {
        Some(d) => match crate::docker::image::image_sha(d, &image_name).await {
            Ok(sha) => (true, sha),
            Err(_) => (false, None),
        },
        None => (false, None),
    };

    let platform = platform_image.unwrap_or(render::DEFAULT_PLATFORM_IMAGE);
    render::check_platform_image(platform)?;
    let last = |id: &str| receipt.files.get(id).map(|f| f.sha256.clone());
    let actrc_path = s.user.actrc_path(process);
    let (actrc_current, actrc_refused) = existing(&s.fs, &actrc_path);
    let actrc_text = actrc_current
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    render::check_act_args(act_args)?;
    // Job containers get the socket's group too (not for a socket owned by group root).
    let job_gid = socket.as_ref().map(|m| m.gid).filter(|g| *g != 0);
    let actrc_new = render::add_actrc_args(
        render::merge_actrc_bytes_with_group(actrc_current.as_deref(), platform, job_gid),
        act_args,
    );
    let user_mapping = actrc_text.as_deref().is_some_and(|t| {
        render::PLATFORM_LABELS
            .iter()
            .any(|l| render::actrc_platform(t, l).is_some_and(|i| i != platform))
    });
    let actrc = FileFacts {
        id: ACTRC,
        path: actrc_path,
        mode: 0o644,
        current: actrc_current,
        new: actrc_new,
        last_sha: last(ACTRC),
        user_mapping,
        refused: actrc_refused,
    };
    let files = match &socket {
        None => Err(match &docker.endpoint {
            Ok(e) => format!(
                "{} is not a local socket, so there is nothing to mount",
                e.host
            ),
            Err(e) => e.clone(),
        }),
        Some(sock) => {
            let mut ctx = render::Context::new(
                act_version,
                s.user.uid,
                s.user.gid,
                sock.gid,
                &sock.path,
                platform,
                &s.config_dir,
            );
            ctx.image = image_name.clone();
            let compose = render::render_compose(&ctx)?;
            let env = render::render_env(&ctx)?;
            let compose_path = s.config_dir.join("docker-compose.yml");
            let env_path = s.config_dir.join(".env");
            let (compose_current, compose_refused) = existing(&s.fs, &compose_path);
            let (env_current, env_refused) = existing(&s.fs, &env_path);
            Ok(vec![
                FileFacts {
                    id: COMPOSE,
                    current: compose_current,
                    path: compose_path,
                    mode: 0o644,
                    new: compose.into_bytes(),
                    last_sha: last(COMPOSE),
                    user_mapping: false,
                    refused: compose_refused,
                },
                FileFacts {
                    id: ENV,
                    current: env_current,
                    path: env_path,
                    mode: 0o600,
                    new: env.into_bytes(),
                    last_sha: last(ENV),
                    user_mapping: false,
                    refused: env_refused,
                },
            ])
        }
    };

    Ok(Facts {
        docker: DockerFacts {
            described: docker.describe(),
            daemon_error: docker.daemon_error.clone(),
            socket,
            user_context: if s.fs.is_separated() {
                user_docker_context(&s.fs, &s.user.home)
            } else {
                None
            },
        },
        group,
        group_command,
        actrc,
        image: ImageFacts {
            name: image_name,
            daemon,
            image_sha,
            binary_sha,
            locked_sha: act.wanted.pin.as_ref().map(|p| p.binary_sha256.clone()),
        },
        files,
    })
}

/// `currentContext` of the user's `~/.docker/config.json` (read as the user, bounded),
/// unless it is the default.
fn user_docker_context(fs: &crate::system::privsep::Fs, home: &std::path::Path) -> Option<String> {
    let bytes = fs
        .read(&home.join(".docker/config.json"), files::MAX_READ)
        .ok()??;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json.get("currentContext")
        .and_then(|v| v.as_str())
        .filter(|c| !c.is_empty() && *c != "default")
        .map(str::to_string)
}

/// The current bytes of a destination, or why it cannot be written (a link or a directory
/// there, with the way out).
fn existing(
    fs: &crate::system::privsep::Fs,
    path: &std::path::Path,
) -> (Option<Vec<u8>>, Option<String>) {
    match fs.read(path, files::MAX_READ) {
        Ok(current) => (current, None),
        Err(e) => (
            None,
            Some(match e.hint() {
                Some(hint) => format!("{e}; {hint}"),
                None => e.to_string(),
            }),
        ),
    }
}

fn step(id: &'static str, summary: impl Into<String>, action: Action) -> StepPlan {
    StepPlan {
        id,
        summary: summary.into(),
        details: Vec::new(),
        warnings: Vec::new(),
        action,
    }
}

/// The `docker` step: detection is reported, never changed.
pub fn plan_docker(f: &Facts) -> StepPlan {
    let mut p = plan_docker_daemon(f);
    if let Some(ctx) = &f.docker.user_context {
        p.warnings.push(format!(
            "the user's docker config selects context {ctx}: their own docker commands may reach another daemon than the one set up here (run `docker context use default` as them)"
        ));
    }
    p
}

fn plan_docker_daemon(f: &Facts) -> StepPlan {
    match &f.docker.daemon_error {
        None => step(DOCKER, f.docker.described.clone(), Action::Keep),
        // The socket is there but this login may not open it: the group step fixes exactly
        // that, so it is no failure of the install.
        Some(_) if login_denied(f) => step(
            DOCKER,
            format!(
                "{}; this login cannot open the socket yet (the group step fixes that)",
                f.docker.described
            ),
            Action::Keep,
        ),
        Some(e) => {
            let mut p = step(
                DOCKER,
                format!("{}; continuing without the daemon", f.docker.described),
                Action::Config(Change::Refuse(format!(
                    "the daemon is not answering ({e}); steps that need it are skipped and the final check will fail"
                ))),
            );
            p.warnings
                .push(format!("the Docker daemon is not answering: {e}"));
            p
        }
    }
}

/// The daemon refused this login (permission denied) and the group step joins, or has
/// joined, the socket's group.
fn login_denied(f: &Facts) -> bool {
    f.docker
        .daemon_error
        .as_deref()
        .is_some_and(|e| e.to_lowercase().contains("permission denied"))
        && matches!(f.group, Decision::Join { .. } | Decision::Member { .. })
}

/// Plan part 2's steps after `docker` and `act`. Pure.
pub fn plan(f: &Facts, act_will_change: bool) -> Vec<StepPlan> {
    let mut out = Vec::new();
    out.push(match &f.group {
        Decision::Skip(why) => step(GROUP, why.clone(), Action::Skip),
        Decision::Member { group, gid } => step(
            GROUP,
            format!("already in group {group} (gid {gid}), which owns the socket"),
            Action::Keep,
        ),
        Decision::Join { group, gid } => {
            let mut p = step(
                GROUP,
                format!("add the user to group {group} (gid {gid}), which owns the socket"),
                Action::Config(Change::Join {
                    group: group.clone(),
                    gid: *gid,
                    command: f.group_command.clone(),
                }),
            );
            p.details.push(format!(
                "runs: {}",
                crate::system::process::sh_join(&f.group_command)
            ));
            p.details.push(format!(
                "the current login gains the group after logging in again, or: newgrp {group}"
            ));
            p
        }
        Decision::Refuse {
            reason,
            alternatives,
        } => {
            let mut p = step(
                GROUP,
                reason.clone(),
                Action::Config(Change::Refuse(format!(
                    "{reason}. Instead: {}",
                    alternatives.join("; ")
                ))),
            );
            p.details.extend(alternatives.iter().cloned());
            p
        }
    });

    let img = &f.image;
    out.push(if !img.daemon && login_denied(f) {
        step(
            IMAGE,
            format!(
                "{}: this login cannot reach the daemon yet; the final check builds it through the new group (or rerun setup after newgrp)",
                img.name
            ),
            Action::Skip,
        )
    } else if !img.daemon {
        step(
            IMAGE,
            format!("{}: the daemon is not answering", img.name),
            Action::Skip,
        )
    } else if !act_will_change && img.image_sha.is_some() && img.image_sha == img.binary_sha {
        step(
            IMAGE,
            format!("{} holds the installed act", img.name),
            Action::Keep,
        )
    } else {
        let mut p = step(
            IMAGE,
            format!("build {} locally (docker import of act and /tmp)", img.name),
            Action::Config(Change::Image {
                name: img.name.clone(),
                locked_sha: img.locked_sha.clone(),
            }),
        );
        p.details.push("no registry is used".into());
        p
    });

    match &f.files {
        Err(why) => {
            for id in [COMPOSE, ENV] {
                out.push(step(id, why.clone(), Action::Skip));
            }
        }
        Ok(list) => {
            for file in list {
                out.push(plan_file(file));
            }
        }
    }
    out.push(plan_file(&f.actrc));
    out
}

fn plan_file(file: &FileFacts) -> StepPlan {
    if let Some(why) = &file.refused {
        return step(
            file.id,
            why.clone(),
            Action::Config(Change::Refuse(why.clone())),
        );
    }
    let shown = file.path.display().to_string();
    let decision = files::decide(
        &file.path,
        file.current.as_deref(),
        &file.new,
        file.last_sha.as_deref(),
    );
    // actrc: a merge that only adds our mappings to the user's own file is no edit of theirs.
    let action = match decision.action {
        files::Action::UserEdited if file.id == ACTRC && !file.user_mapping => {
            files::Action::Update
        }
        a => a,
    };
    let write = |edited: bool| {
        Action::Config(Change::Write {
            path: file.path.clone(),
            bytes: file.new.clone(),
            mode: file.mode,
            edited,
            diff: decision.diff.clone(),
        })
    };
    let mut p = match action {
        files::Action::Unchanged => {
            return step(file.id, format!("{shown} is up to date"), Action::Keep);
        }
        files::Action::Create => step(file.id, format!("write {shown}"), write(false)),
        files::Action::Update => step(file.id, format!("update {shown}"), write(false)),
        files::Action::UserEdited => {
            let mut p = step(
                file.id,
                format!(
                    "{shown} was edited by you: keep it (ours goes to {})",
                    files::beside_path(&file.path).display()
                ),
                write(true),
            );
            p.warnings.push(format!(
                "{shown} differs from what actsim last wrote; it is kept unless you agree to replace it"
            ));
            p
        }
    };
    if action == files::Action::Create {
        p.details.push(format!("new file, mode {:04o}", file.mode));
    } else {
        p.details.extend(decision.diff.lines().map(str::to_string));
    }
    p
}

/// Apply one part-2 change.
pub async fn apply(
    id: &'static str,
    change: &Change,
    s: &Settings,
    process: &Process,
    args: &crate::cli::SetupArgs,
    receipt: &mut Receipt,
    ui: &Ui,
) -> Result<StepReport> {
    let report = |status, summary: String| StepReport {
        id,
        status,
        summary,
        ..Default::default()
    };
    match change {
        Change::Refuse(why) => Ok(report(StepStatus::Failed, why.clone())),
        Change::Join {
            group,
            gid,
            command,
        } => {
            let elevation = if nix::unistd::Uid::effective().is_root() {
                Elevation::Root
            } else if !args.yes && process.stdin_tty && process.stderr_tty {
                Elevation::SudoInteractive
            } else {
                Elevation::SudoNonInteractive
            };
            groups::run_join(process, command, elevation)?;
            let section = receipt.docker.get_or_insert_with(Default::default);
            section.group = Some(group.clone());
            section.group_added = true;
            Ok(report(
                StepStatus::Changed,
                format!(
                    "added {} to group {group} (gid {gid}); this login gains it after logging in again, or: newgrp {group}",
                    s.user.name
                ),
            ))
        }
        Change::Image { name, locked_sha } => {
            let binary = s.bin_dir.join("act");
            let host = crate::docker::endpoint::resolve(process, &s.docker_home)
                .map_err(|e| Error::failed(e, None))?
                .host;
            let deadline = tokio::time::Instant::now() + s.timeout;
            let work = async {
                let file =
                    s.fs.open(&binary, crate::act::release::MAX_BINARY_BYTES)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("{} is missing", binary.display()))?;
                let sha = {
                    let f = file.try_clone().map_err(|e| e.to_string())?;
                    tokio::task::spawn_blocking(move || files::sha256_reader(f))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| format!("reading {}: {e}", binary.display()))?
                };
                // As root for a user, only a binary root verified goes into the image its
                // containers run with the socket mounted.
                if s.fs.is_separated()
                    && locked_sha.as_deref() != Some(sha.as_str())
                    && receipt_trusts(s, &sha).is_none()
                {
                    return Err(format!(
                        "{} is not the act this setup verified (sha256 {}…); not building an image from it",
                        binary.display(),
                        &sha[..12.min(sha.len())]
                    ));
                }
                let docker = crate::docker::client::connect(&host, s.timeout).await?;
                if crate::docker::image::image_sha(&docker, name)
                    .await?
                    .as_deref()
                    == Some(sha.as_str())
                {
                    return Ok((false, sha));
                }
                let engine = crate::docker::engine::Engine::of_local_image(name);
                crate::docker::image::import_act_image(&docker, engine, file, &binary, &sha, name)
                    .await?;
                Ok::<(bool, String), String>((true, sha))
            };
            let (built, sha) = tokio::time::timeout_at(deadline, work)
                .await
                .map_err(|_| {
                    Error::failed(
                        format!("building {name} did not finish within --timeout"),
                        None,
                    )
                })?
                .map_err(|e| {
                    Error::failed(
                        format!("building {name}: {e}"),
                        Some("check the daemon: actsim doctor".into()),
                    )
                })?;
            let section = receipt.docker.get_or_insert_with(Default::default);
            section.image = Some(name.clone());
            section.image_sha256 = Some(sha.clone());
            Ok(if built {
                report(
                    StepStatus::Changed,
                    format!("built {name} from {}", binary.display()),
                )
            } else {
                report(StepStatus::Ok, format!("{name} holds the installed act"))
            })
        }
        Change::Write {
            path,
            bytes,
            mode,
            edited,
            diff,
        } => {
            if let Some(dir) = path.parent() {
                s.fs.ensure_user_dir(dir)?;
            }
            let replace = if *edited {
                if !args.yes && process.stdin_tty && process.stderr_tty {
                    ui.info(diff);
                    ask(&format!("Replace your edited {}?", path.display())).await?
                } else {
                    false
                }
            } else {
                true
            };
            if !replace {
                let beside = s.fs.write_beside(path, bytes, *mode)?;
                ui.warn(&format!(
                    "kept your edited {}; actsim's version is in {}",
                    path.display(),
                    beside.display()
                ));
                return Ok(StepReport {
                    diff: Some(diff.clone()),
                    ..report(
                        StepStatus::Skipped,
                        format!(
                            "kept your edited {}; ours is in {}",
                            path.display(),
                            beside.display()
                        ),
                    )
                });
            }
            s.fs.write_atomic(path, bytes, *mode)?;
            receipt.files.insert(
                id.to_string(),
                FileReceipt {
                    path: path.clone(),
                    sha256: files::sha256_hex(bytes),
                },
            );
            if id == ENV
                && let Some(gid) = env_value(bytes, "DOCKER_GID").and_then(|v| v.parse().ok())
            {
                receipt
                    .docker
                    .get_or_insert_with(Default::default)
                    .docker_gid = Some(gid);
            }
            Ok(StepReport {
                diff: Some(diff.clone()),
                ..report(StepStatus::Changed, format!("wrote {}", path.display()))
            })
        }
    }
}

/// The act record that vouches for a binary with this hash: what setup just installed
/// or root verified before (the root-owned record), read again under the lock.
fn receipt_trusts(s: &Settings, sha: &str) -> Option<()> {
    let system =
        crate::receipt::Receipt::load(&crate::system::privsep::Fs::local(), &s.system_state_dir);
    let crate::receipt::Loaded::Found(r) = system else {
        return None;
    };
    let by_record = r.act.as_ref().is_some_and(|a| a.binary_sha256 == sha);
    let by_verified = r.verified.iter().any(|v| v.binary_sha256 == sha);
    (by_record || by_verified).then_some(())
}

fn env_value(bytes: &[u8], key: &str) -> Option<String> {
    crate::doctor::parse_env(&String::from_utf8_lossy(bytes)).remove(key)
}

async fn ask(prompt: &str) -> Result<bool> {
    let prompt = prompt.to_string();
    tokio::task::spawn_blocking(move || {
        dialoguer::Confirm::with_theme(&dialoguer::theme::SimpleTheme)
            .with_prompt(prompt)
            .default(false)
            .interact_on(&console::Term::stderr())
    })
    .await
    .map_err(|e| Error::failed(format!("prompt: {e}"), None))?
    .map_err(|e| Error::Aborted {
        reason: format!("could not ask: {e}"),
        hint: Some("pass --yes to keep your file and write ours beside it".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_destination_fails_its_own_step_only() {
        let file = |id, refused: Option<&str>| FileFacts {
            id,
            path: PathBuf::from(format!("/cfg/{id}")),
            mode: 0o600,
            current: None,
            new: b"X=1\n".to_vec(),
            last_sha: None,
            user_mapping: false,
            refused: refused.map(str::to_string),
        };
        let why = "refusing to write /cfg/env: it is a symbolic link (to /etc/passwd)";
        let refused = plan_file(&file(ENV, Some(why)));
        assert_eq!(refused.summary, why);
        assert_eq!(
            refused.action,
            Action::Config(Change::Refuse(why.to_string()))
        );
        let fine = plan_file(&file(COMPOSE, None));
        assert!(matches!(
            fine.action,
            Action::Config(Change::Write { edited: false, .. })
        ));
    }
}
