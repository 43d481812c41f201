//! Checks of act itself: the binary, whether it reaches the same daemon as docker and has a
//! platform mapping (so it never stops at its first-run image prompt), the compose file,
//! and — with `--deep` — a real workflow job.
//!
//! What goes wrong here: act missing or shadowed by another act on PATH, act picking a
//! different (or dead) socket than docker because it ignores contexts, no actrc mapping,
//! a compose file that does not validate, an edited file or binary since setup.

use std::path::{Path, PathBuf};

use tokio::time::Instant;

use super::container_checks::Ctx;
use super::{Options, Outcome};
use crate::docker::endpoint::{self, Endpoint};
use crate::system::process::Process;
use crate::system::program::{first_version, run_program, sha256_file};

/// The act binary doctor found.
#[derive(Debug, Clone)]
pub struct ActBin {
    pub path: PathBuf,
    pub version: String,
    pub sha256: String,
}

/// The act doctor checks: the one in the bin dir, else the first on `PATH`.
pub fn locate_act(process: &Process, opts: &Options) -> Option<PathBuf> {
    let ours = opts.bin_dir.join("act");
    if crate::system::process::is_executable(&ours) {
        Some(ours)
    } else {
        process.which("act")
    }
}

/// `act.binary`
pub async fn act_binary(
    process: &Process,
    opts: &Options,
    deadline: Instant,
) -> (Outcome, Option<ActBin>) {
    let ours = opts.bin_dir.join("act");
    let on_path = process.which_all("act");
    let path = if let Some(found) = locate_act(process, opts) {
        found
    } else {
        return (
            Outcome::fail(
                format!("act not found in {} or on PATH", opts.bin_dir.display()),
                vec![
                    "install it: actsim setup".into(),
                    format!(
                        "or point at where it is: actsim doctor --bin-dir DIR (looked in {})",
                        opts.bin_dir.display()
                    ),
                ],
            ),
            None,
        );
    };
    // The binary actsim installed, unchanged (same SHA-256): its version is the recorded one,
    // so act is not started again. Anything else runs `act --version`.
    // Without a recorded binary, hashing and `act --version` run side by side.
    let (sha, recorded, ran) = match (&opts.drift.act_sha256, &opts.drift.act_version) {
        (Some(rec), Some(version)) if path == ours => {
            let state = opts.state_dir.as_deref();
            let sha = match super::stamps::lookup(state, "act-sha256", &path) {
                Some(known) => Ok(known),
                None => {
                    let sha = sha256_file(&path).await;
                    if let Ok(h) = &sha {
                        super::stamps::store(state, "act-sha256", &path, h);
                    }
                    sha
                }
            };
            if sha.as_ref().is_ok_and(|now| now == rec) {
                let ran = Ok(crate::system::program::Ran {
                    code: Some(0),
                    stdout: format!("act version {version}"),
                    stderr: String::new(),
                });
                (sha, Some(version.clone()), ran)
            } else {
                let ran = run_program(&path, &["--version"], &[], None, deadline).await;
                (sha, None, ran)
            }
        }
        _ => {
            let (ran, sha) = tokio::join!(
                run_program(&path, &["--version"], &[], None, deadline),
                sha256_file(&path)
            );
            (sha, None, ran)
        }
    };
    let version = match ran {
        Ok(r) if r.ok() && r.stdout.contains("act version") => {
            first_version(&r.stdout).unwrap_or_else(|| "unknown".into())
        }
        Ok(r) => {
            return (
                Outcome::fail(
                    format!("{} does not run: {}", path.display(), r.output()),
                    vec![
                        "reinstall it: actsim setup".into(),
                        format!(
                            "check it is a binary for this machine: file {}",
                            path.display()
                        ),
                    ],
                ),
                None,
            );
        }
        Err(e) => {
            return (
                Outcome::fail(e, vec!["reinstall it: actsim setup".into()]),
                None,
            );
        }
    };
    let sha256 = sha.unwrap_or_default();
    let mut out = Outcome::pass(format!("act {version} at {}", path.display()))
        .detail(format!("sha256 {sha256}"));
    if recorded.is_some() {
        out = out.detail("the binary actsim installed, unchanged: version from the receipt");
    }
    if path == ours {
        let first = on_path.first();
        match first {
            Some(first) if !crate::system::process::same_path(first, &ours) => {
                let other_version = match run_program(first, &["--version"], &[], None, deadline)
                    .await
                {
                    Ok(r) => first_version(&r.stdout).unwrap_or_else(|| "unknown version".into()),
                    Err(_) => "unknown version".into(),
                };
                out = out.warn_also(
                    &format!(
                        "another act ({other_version}) at {} comes first on PATH and shadows it",
                        first.display()
                    ),
                    vec![format!(
                        "remove the other one (rm {}), or put {} first: {}",
                        crate::system::process::sh_quote(&first.display().to_string()),
                        opts.bin_dir.display(),
                        crate::system::process::export_path(&opts.bin_dir)
                    )],
                );
            }
            None => {
                out = out.warn_also(
                    &format!(
                        "{} is not on PATH, so a shell will not find act",
                        opts.bin_dir.display()
                    ),
                    vec![format!(
                        "add it to PATH (e.g. in ~/.profile): {}",
                        crate::system::process::export_path(&opts.bin_dir)
                    )],
                );
            }
            _ => {}
        }
    } else {
        out = out.detail(format!(
            "not in {}; found on PATH (not installed by actsim)",
            opts.bin_dir.display()
        ));
    }
    if let Some(recorded) = &opts.drift.act_sha256
        && !sha256.is_empty()
        && *recorded != sha256
        && path == ours
    {
        out = out
            .warn_also(
                "it changed since actsim installed it",
                vec!["reinstall the verified act: actsim setup".into()],
            )
            .detail(format!("recorded sha256 {recorded}"));
    }
    if let Some((lock, expected)) = &opts.drift.lock {
        let fix = format!(
            "install the locked act: actsim setup --act-lock {}",
            lock.display()
        );
        match expected {
            Ok((version, locked)) if !sha256.is_empty() && *locked != sha256 => {
                out = out
                    .warn_also(
                        &format!(
                            "it is not the act the lock {} pins (act {version}, binary sha256 {}…)",
                            lock.display(),
                            &locked[..12]
                        ),
                        vec![fix],
                    )
                    .detail(format!("locked sha256 {locked}"));
            }
            Ok(_) => out = out.detail(format!("matches the lock {}", lock.display())),
            Err(why) => {
                out = out.warn_also(
                    &format!("cannot compare it with the lock: {why}"),
                    vec!["write the lock again: actsim lock -o FILE".into()],
                );
            }
        }
    }
    (
        out,
        Some(ActBin {
            path,
            version,
            sha256,
        }),
    )
}

/// act's config files for this user, in the order act reads them, with their text.
pub fn actrc_files(process: &Process, opts: &Options) -> Vec<(PathBuf, String)> {
    let candidates = [opts.user.actrc_path(process), opts.user.home.join(".actrc")];
    candidates
        .into_iter()
        .filter_map(|p| {
            let bytes =
                crate::system::files::read_bounded(&p, crate::system::files::MAX_READ).ok()??;
            Some((p, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .collect()
}

/// The platform image for `ubuntu-latest` from the user's actrc files, and which file.
pub fn configured_platform(process: &Process, opts: &Options) -> Option<(String, PathBuf)> {
    actrc_files(process, opts)
        .into_iter()
        .filter_map(|(p, t)| crate::render::actrc_platform(&t, "ubuntu-latest").map(|i| (i, p)))
        .next_back()
}

/// `act.docker`
pub fn act_docker(
    process: &Process,
    opts: &Options,
    resolved: &Result<Endpoint, String>,
    home: &Path,
) -> Outcome {
    let act = endpoint::act_endpoint(process, home);
    let docker_host = resolved.as_ref().ok().map(|e| e.host.clone());
    let mut fixes = Vec::new();
    let mut problems = Vec::new();
    let mut fail = false;
    let reach = match (&act.host, &docker_host) {
        (None, _) => {
            fail = true;
            problems.push(format!("act would find no daemon ({})", act.why));
            if let Some(h) = &docker_host {
                fixes.push(format!("export DOCKER_HOST={h}"));
            } else {
                fixes.push("start Docker, then rerun actsim doctor".into());
            }
            String::new()
        }
        (Some(a), _) if a.is_empty() => {
            problems.push("act takes DOCKER_HOST even when it is empty".into());
            fixes.push("unset DOCKER_HOST, or set it to the daemon's address".into());
            String::new()
        }
        (Some(a), Some(d)) if endpoint::same_host(a, d) => {
            format!("act reaches {a} like docker ({})", act.why)
        }
        (Some(a), Some(d)) => {
            problems.push(format!(
                "act would use {a} ({}) but docker uses {d}; act ignores docker contexts",
                act.why
            ));
            fixes.push(format!(
                "export DOCKER_HOST={d} (e.g. in ~/.profile) so act uses the same daemon"
            ));
            String::new()
        }
        (Some(a), None) => format!("act would use {a} ({})", act.why),
    };
    if let Some(path) = endpoint::unix_path(act.host.as_deref().unwrap_or(""))
        && let endpoint::SocketState::Dangling(target) = endpoint::socket_state(&path)
    {
        fail = true;
        problems.push(format!(
            "act would pick {} which is a dangling symlink to {}",
            path.display(),
            target.display()
        ));
        fixes.push(format!(
            "rm {}",
            crate::system::process::sh_quote(&path.display().to_string())
        ));
    }
    let platform = configured_platform(process, opts);
    let mapping = match &platform {
        Some((image, file)) => format!("ubuntu-latest runs in {image} ({})", file.display()),
        None => {
            fail = true;
            problems.push(
                "no platform mapping for ubuntu-latest in an actrc: act will stop at its first-run image prompt (and hang without a terminal)".into(),
            );
            fixes.push("write the mapping: actsim setup".into());
            let actrc = opts.user.actrc_path(process);
            fixes.push(format!(
                "or by hand: mkdir -p {} && echo '-P ubuntu-latest=catthehacker/ubuntu:act-latest' >> {}",
                crate::system::process::sh_quote(
                    &actrc.parent().unwrap_or(Path::new("/")).display().to_string()
                ),
                crate::system::process::sh_quote(&actrc.display().to_string())
            ));
            String::new()
        }
    };
    if problems.is_empty() {
        Outcome::pass(format!("{reach}; {mapping}"))
    } else {
        let summary = problems.join("; ");
        let detail: Vec<String> = [reach, mapping]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if fail {
            Outcome::fail(summary, fixes).details(detail)
        } else {
            Outcome::warn(summary, fixes).details(detail)
        }
    }
}

/// `compose.config`: validated with the compose tool once per change of the compose file,
/// its `.env` or the tool ([`super::compose_cache`]); between changes the last pass stands.
pub async fn compose_config(process: &Process, opts: &Options, deadline: Instant) -> Outcome {
    use super::compose_cache::{self, Entry, read_user_file};
    let file = opts.config_dir.join("docker-compose.yml");
    let compose = match read_user_file(&file) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Outcome::skip(format!(
                "no compose file at {} (actsim setup writes it)",
                file.display()
            ));
        }
        Err(e) => {
            return Outcome::fail(
                format!("cannot read {}: {e}", file.display()),
                vec!["rewrite it: actsim setup (your edits are kept beside it)".into()],
            );
        }
    };
    let compose_sha = crate::system::files::sha256_hex(&compose);
    let env_sha = match read_user_file(&opts.config_dir.join(".env")) {
        Ok(Some(bytes)) => crate::system::files::sha256_hex(&bytes),
        _ => "-".into(),
    };
    let key = crate::docker::detect::compose_fingerprint(process)
        .map(|f| compose_cache::key(&compose_sha, &env_sha, &opts.config_dir, &f));
    let cached = match (&key, &opts.state_dir) {
        (Some(k), Some(dir)) => compose_cache::lookup(dir, k),
        _ => None,
    };
    let (mut out, v1) = match cached {
        Some(entry) => (
            Outcome::pass(format!("{} is valid ({})", file.display(), entry.tool))
                .detail("validated by an earlier run; the file, its .env and the compose tool are unchanged since"),
            entry.v1,
        ),
        None => {
            let (out, v1, passed) = validate(process, opts, &file, deadline).await;
            if let (Some((tool, v1)), Some(k), Some(dir)) = (passed, &key, &opts.state_dir) {
                let entry = Entry {
                    key: k.clone(),
                    tool,
                    v1,
                };
                compose_cache::store(dir, &entry);
            }
            (out, v1)
        }
    };
    if v1 {
        out = out.warn_also(
            "compose v1 (docker-compose) is end of life",
            vec!["install compose v2: sudo apt-get install docker-compose-plugin (Docker's apt repository), or see https://docs.docker.com/compose/install/".into()],
        );
    }
    if let Some(recorded) = &opts.drift.compose_sha256
        && compose_sha != *recorded
    {
        out = out.warn_also(
            "edited since actsim wrote it",
            vec![
                "keep your edits, or restore actsim's version: actsim setup (shows the diff first)"
                    .into(),
            ],
        );
    }
    out
}

/// Run the compose tool's `config -q` on the file: the verdict, whether the tool is compose
/// v1, and on a pass the tool's name and v1 flag (for the cache).
async fn validate(
    process: &Process,
    opts: &Options,
    file: &Path,
    deadline: Instant,
) -> (Outcome, bool, Option<(String, bool)>) {
    let Some(found) = crate::docker::detect::compose_tool(process, deadline).await else {
        // act on the host needs no compose; only the simulator container does.
        return (
            Outcome::warn(
                format!(
                    "{} exists but no compose tool is installed (act on the host works without it; compose only runs the simulator container)",
                    file.display()
                ),
                vec![
                    "to run the simulator container, install compose v2: sudo apt-get install docker-compose-plugin (Docker's apt repository), or Debian's docker-compose; see https://docs.docker.com/compose/install/".into(),
                ],
            ),
            false,
            None,
        );
    };
    let name = found.name();
    let tool = found.program.clone();
    let file_arg = file.to_string_lossy().to_string();
    let mut args: Vec<&str> = found.prefix.clone();
    args.extend(["-f", file_arg.as_str(), "config", "-q"]);
    // The compose file mounts ${PWD}; validate it as if run from the config dir.
    let pwd = opts.config_dir.to_string_lossy().to_string();
    let ran = run_program(
        &tool,
        &args,
        &[("PWD", pwd.as_str())],
        Some(&opts.config_dir),
        deadline,
    )
    .await;
    let (out, passed) = match ran {
        Ok(r) if r.ok() => (
            Outcome::pass(format!("{} is valid ({name})", file.display())),
            Some((name.clone(), found.v1)),
        ),
        Ok(r) => (
            Outcome::fail(
                format!(
                    "{} does not validate with {name}: {}",
                    file.display(),
                    last_line(&r.output())
                ),
                vec![
                    format!(
                        "see the full error: {} {}",
                        crate::system::process::sh_quote(&tool.display().to_string()),
                        crate::system::process::sh_join(&args)
                    ),
                    "rewrite it: actsim setup (your edits are kept beside it)".into(),
                ],
            )
            .detail(r.output()),
            None,
        ),
        Err(e) => (
            Outcome::fail(
                e,
                vec![format!(
                    "run it by hand: {} {}",
                    crate::system::process::sh_quote(&tool.display().to_string()),
                    crate::system::process::sh_join(&args)
                )],
            ),
            None,
        ),
    };
    (out, found.v1, passed)
}

/// act's artifact cache server could not find an address to listen on: the host has no
/// network interface but loopback (act: "listen tcp: lookup <nil>: no such host").
pub fn no_network(output: &str) -> bool {
    output.contains("lookup <nil>")
        || (output.contains("cache")
            && output.contains("listen tcp")
            && output.contains("no such host"))
}

fn no_network_line(output: &str) -> String {
    output
        .lines()
        .find(|l| l.contains("lookup <nil>") || l.contains("listen tcp"))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// `act.run` (only with `--deep`): a real job through act on the platform image.
pub async fn act_run(ctx: &Ctx<'_>, home: &Path) -> Outcome {
    let opts = ctx.opts;
    if !opts.deep {
        return Outcome::skip("not run (use --deep to run a real workflow job through act)");
    }
    if ctx.docker.is_none() {
        return Outcome::skip("no daemon (see docker.daemon)");
    }
    let Some(act) = ctx.act else {
        return Outcome::skip("no act binary (see act.binary)");
    };
    let image = match opts
        .platform_image
        .clone()
        .or_else(|| configured_platform(ctx.process, opts).map(|(i, _)| i))
    {
        Some(i) => i,
        None => {
            return Outcome::fail(
                "no platform image: none given and no ubuntu-latest mapping in an actrc",
                vec!["pass --platform-image IMAGE, or write the mapping: actsim setup".into()],
            );
        }
    };
    let dir = std::env::temp_dir().join(format!("actsim-deep-{}-{}", std::process::id(), nanos()));
    let workflows = dir.join(".github/workflows");
    // With a local socket, a second step reaches the daemon through the socket act mounts
    // into the job, with the socket's group added (a copy of act is the client: it needs
    // nothing from the image).
    let socket_step = ctx.socket.path.is_some() && ctx.socket.is_socket;
    let mut workflow = String::from(
        "on: push\njobs:\n  probe:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"actsim-probe-$((6*7))\"\n        shell: sh\n",
    );
    if socket_step {
        workflow.push_str(
            "      - run: HOME=/tmp ./act --bug-report > /tmp/actsim-bug-report 2>&1 && echo \"actsim-socket-$((6*7))\" || { tail -3 /tmp/actsim-bug-report; exit 1; }\n        shell: sh\n",
        );
    }
    if let Err(e) = std::fs::create_dir_all(&workflows)
        .and_then(|_| std::fs::write(workflows.join("actsim-probe.yml"), &workflow))
        .and_then(|_| {
            if socket_step {
                std::fs::copy(&act.path, dir.join("act")).map(|_| ())
            } else {
                Ok(())
            }
        })
    {
        return Outcome::fail(
            format!("cannot write a probe workflow in {}: {e}", dir.display()),
            vec!["check that the temp directory is writable (TMPDIR)".into()],
        );
    }
    let host = ctx.endpoint.map(|e| e.host.clone()).unwrap_or_default();
    let platform = format!("ubuntu-latest={image}");
    let dir_s = dir.to_string_lossy().to_string();
    let group_add = format!("--group-add {}", ctx.socket.gid);
    let mut args = vec![
        "push",
        "-C",
        dir_s.as_str(),
        "-j",
        "probe",
        "-P",
        platform.as_str(),
        "--pull=false",
    ];
    if socket_step {
        args.extend(["--bind", "--container-options", group_add.as_str()]);
    } else {
        args.extend(["--container-daemon-socket", "-"]);
    }
    let home_s = home.to_string_lossy().to_string();
    let envs = [("DOCKER_HOST", host.as_str()), ("HOME", home_s.as_str())];
    let ran = run_program(&act.path, &args, &envs, Some(&dir), ctx.deadline).await;
    let _ = std::fs::remove_dir_all(&dir);
    let command = format!("act {}", args.join(" "));
    match ran {
        Ok(r) if r.ok() && r.output().contains("actsim-probe-42") && socket_step => {
            Outcome::pass(format!(
                "a workflow job ran through act in {image}, printed its output and reached the daemon through the mounted socket (with group {})",
                ctx.socket.gid
            ))
            .detail(command)
        }
        Ok(r) if r.ok() && r.output().contains("actsim-probe-42") => Outcome::pass(format!(
            "a workflow job ran through act in {image} and printed its output"
        ))
        .detail(command),
        Ok(r) if no_network(&r.output()) => Outcome::fail(
            format!(
                "act's cache server cannot start: this host has no network (\"{}\"), so act fails before the job runs",
                no_network_line(&r.output())
            ),
            vec![
                format!("run act without its cache server: act --no-cache-server …; to keep it in act's config: actsim setup --act-arg=--no-cache-server (writes it into {})", opts.user.actrc_path(ctx.process).display()),
                "or give the cache server an address that exists here: act --cache-server-addr 127.0.0.1 (actsim setup --act-arg=\"--cache-server-addr 127.0.0.1\")".into(),
            ],
        )
        .detail(r.output()),
        Ok(r) if socket_step && r.output().contains("actsim-probe-42") => Outcome::fail(
            format!(
                "a job step in {image} could not reach the daemon through the mounted socket: {}",
                last_line(&r.output())
            ),
            vec![
                format!("give job containers the socket's group: add `--container-options --group-add {}` to your actrc (actsim setup writes it)", ctx.socket.gid),
                format!("run the same by hand with -v for details: {command}"),
            ],
        )
        .detail(r.output()),
        Ok(r) => Outcome::fail(
            format!("the probe job failed in {image}: {}", last_line(&r.output())),
            vec![
                format!("check that {image} exists locally and has a shell: docker image inspect {image}"),
                format!("run the same by hand with -v for details: {command}"),
            ],
        )
        .detail(r.output()),
        Err(e) => Outcome::fail(
            e,
            vec![
                format!("a first run may pull {image}; pull it once by hand: docker pull {image}"),
                "or allow more time: actsim doctor --deep --timeout 120".into(),
            ],
        ),
    }
}

pub fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

#[cfg(test)]
mod no_network_tests {
    use super::*;

    #[test]
    fn act_cache_server_without_a_network_is_recognised() {
        // act 0.2.x on a host whose only interface is loopback.
        let out =
            "[probe/probe] ⭐ Run Set up job\nError: listen tcp: lookup <nil>: no such host\n";
        assert!(no_network(out));
        assert_eq!(
            no_network_line(out),
            "Error: listen tcp: lookup <nil>: no such host"
        );
        assert!(!no_network("Error: image not found"));
    }
}
