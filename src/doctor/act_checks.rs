//! Checks of act itself: the binary, whether it reaches the same daemon as docker and has a
//! platform mapping (so it never stops at its first-run image prompt), the compose file,
//! and — with `--deep` — a real workflow job.
//!
//! What goes wrong here: act missing or shadowed by another act on PATH, act picking a
//! different (or dead) socket than docker because it ignores contexts, no actrc mapping,
//! a compose file that does not validate, an edited file or binary since setup.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::Outcome;
use super::context::{ActBin, After, Inputs, configured_platform, locate_act};
use crate::docker::endpoint;
use crate::system::program::{Ran, first_version, run_program};

/// `act.binary`
pub async fn act_binary(inputs: Inputs<'_>) -> (Outcome, Option<ActBin>) {
    let bin_dir = inputs.bin_dir();
    let Some(path) = locate_act(inputs.ctx) else {
        return (
            Outcome::fail(
                format!("act not found in {} or on PATH", bin_dir.display()),
                vec![
                    "install it: actsim setup".into(),
                    format!(
                        "or point at where it is: actsim doctor --bin-dir DIR (looked in {})",
                        bin_dir.display()
                    ),
                ],
            ),
            None,
        );
    };
    let (sha, recorded, ran) = hash_and_version(&inputs, &path).await;
    let version = match version_of(&path, ran) {
        Ok(v) => v,
        Err(out) => return (out, None),
    };
    let sha256 = sha.unwrap_or_default();
    let mut out = Outcome::pass(format!("act {version} at {}", path.display()))
        .detail(format!("sha256 {sha256}"));
    if recorded {
        out = out.detail("the binary actsim installed, unchanged: version from the receipt");
    }
    out = placement(&inputs, &path, out).await;
    out = drift(&inputs, &path, &sha256, out);
    let bin = ActBin {
        path,
        version,
        sha256,
    };
    (out, Some(bin))
}

/// The binary's SHA-256, whether its version came from the receipt, and what
/// `act --version` said. The binary actsim installed, unchanged (same SHA-256): its version
/// is the recorded one, so act is not started again. Anything else runs `act --version`;
/// without a recorded binary, hashing and `act --version` run side by side.
async fn hash_and_version(
    inputs: &Inputs<'_>,
    path: &Path,
) -> (
    Result<String, crate::system::program::ReadError>,
    bool,
    Result<Ran, crate::system::program::ProgramError>,
) {
    let deadline = inputs.deadline;
    let hashes = &inputs.ctx.hashes;
    let ours = inputs.bin_dir().join("act");
    let drift = &inputs.opts.drift;
    let recorded = match (&drift.act_sha256, &drift.act_version) {
        (Some(rec), Some(version)) if path == ours => Some((rec, version)),
        _ => None,
    };
    let Some((rec, version)) = recorded else {
        let (ran, sha) = tokio::join!(
            run_program(path, &["--version"], &[], None, deadline),
            hashes.of_path_async(path)
        );
        return (sha, false, ran);
    };
    let state = Some(inputs.state_dir());
    let sha = match super::stamps::lookup(state, "act-sha256", path) {
        Some(known) => Ok(known),
        None => {
            let sha = hashes.of_path_async(path).await;
            if let Ok(h) = &sha {
                super::stamps::store(state, "act-sha256", path, h);
            }
            sha
        }
    };
    if sha.as_ref().is_ok_and(|now| now == rec) {
        let ran = Ok(Ran {
            code: Some(0),
            stdout: format!("act version {version}"),
            stderr: String::new(),
        });
        (sha, true, ran)
    } else {
        let ran = run_program(path, &["--version"], &[], None, deadline).await;
        (sha, false, ran)
    }
}

/// The version `act --version` printed, or the failure.
fn version_of(
    path: &Path,
    ran: Result<Ran, crate::system::program::ProgramError>,
) -> Result<String, Outcome> {
    match ran {
        Ok(r) if r.ok() && r.stdout.contains("act version") => {
            Ok(first_version(&r.stdout).unwrap_or_else(|| "unknown".into()))
        }
        Ok(r) => Err(Outcome::fail(
            format!("{} does not run: {}", path.display(), r.output()),
            vec![
                "reinstall it: actsim setup".into(),
                format!(
                    "check it is a binary for this machine: file {}",
                    path.display()
                ),
            ],
        )),
        Err(e) => Err(Outcome::fail(e, vec!["reinstall it: actsim setup".into()])),
    }
}

/// Whether a shell finds this act: another act first on PATH, or the bin dir not on it.
async fn placement(inputs: &Inputs<'_>, path: &Path, mut out: Outcome) -> Outcome {
    use crate::system::process::{export_path, same_path, sh_quote};
    let bin_dir = inputs.bin_dir();
    let ours = bin_dir.join("act");
    if path != ours {
        return out.detail(format!(
            "not in {}; found on PATH (not installed by actsim)",
            bin_dir.display()
        ));
    }
    match inputs.process().which_all("act").first() {
        Some(first) if !same_path(first, &ours) => {
            let other_version =
                match run_program(first, &["--version"], &[], None, inputs.deadline).await {
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
                    sh_quote(&first.display().to_string()),
                    bin_dir.display(),
                    export_path(bin_dir)
                )],
            );
        }
        None => {
            out = out.warn_also(
                &format!(
                    "{} is not on PATH, so a shell will not find act",
                    bin_dir.display()
                ),
                vec![format!(
                    "add it to PATH (e.g. in ~/.profile): {}",
                    export_path(bin_dir)
                )],
            );
        }
        _ => {}
    }
    out
}

/// The binary against what setup recorded and what `--act-lock` pins.
fn drift(inputs: &Inputs<'_>, path: &Path, sha256: &str, mut out: Outcome) -> Outcome {
    let drift = &inputs.opts.drift;
    if let Some(recorded) = &drift.act_sha256
        && !sha256.is_empty()
        && recorded != sha256
        && path == inputs.bin_dir().join("act")
    {
        out = out
            .warn_also(
                "it changed since actsim installed it",
                vec!["reinstall the verified act: actsim setup".into()],
            )
            .detail(format!("recorded sha256 {recorded}"));
    }
    let Some((lock, expected)) = &drift.lock else {
        return out;
    };
    let fix = format!(
        "install the locked act: actsim setup --act-lock {}",
        lock.display()
    );
    match expected {
        Ok((version, locked)) if !sha256.is_empty() && locked != sha256 => out
            .warn_also(
                &format!(
                    "it is not the act the lock {} pins (act {version}, binary sha256 {}…)",
                    lock.display(),
                    &locked[..12]
                ),
                vec![fix],
            )
            .detail(format!("locked sha256 {locked}")),
        Ok(_) => out.detail(format!("matches the lock {}", lock.display())),
        Err(why) => out.warn_also(
            &format!("cannot compare it with the lock: {why}"),
            vec!["write the lock again: actsim lock -o FILE".into()],
        ),
    }
}

/// What `act.docker` found wrong, and how to fix it.
#[derive(Default)]
struct Problems {
    problems: Vec<String>,
    fixes: Vec<String>,
    fail: bool,
}

/// `act.docker`
pub fn act_docker(inputs: &Inputs<'_>) -> Outcome {
    let mut found = Problems::default();
    let reach = reach(inputs, &mut found);
    let mapping = mapping(inputs, &mut found);
    if found.problems.is_empty() {
        return Outcome::pass(format!("{reach}; {mapping}"));
    }
    let summary = found.problems.join("; ");
    let detail: Vec<String> = [reach, mapping]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if found.fail {
        Outcome::fail(summary, found.fixes).details(detail)
    } else {
        Outcome::warn(summary, found.fixes).details(detail)
    }
}

/// Which daemon act reaches, compared with docker's; empty when that is a problem.
fn reach(inputs: &Inputs<'_>, found: &mut Problems) -> String {
    let act = endpoint::act_endpoint(inputs.process(), inputs.home());
    let docker_host = inputs.endpoint().as_ref().ok().map(|e| e.host.clone());
    let reach = match (&act.host, &docker_host) {
        (None, _) => {
            found.fail = true;
            found
                .problems
                .push(format!("act would find no daemon ({})", act.why));
            found.fixes.push(match &docker_host {
                Some(h) => format!("export DOCKER_HOST={h}"),
                None => "start Docker, then rerun actsim doctor".into(),
            });
            String::new()
        }
        (Some(a), _) if a.is_empty() => {
            found
                .problems
                .push("act takes DOCKER_HOST even when it is empty".into());
            found
                .fixes
                .push("unset DOCKER_HOST, or set it to the daemon's address".into());
            String::new()
        }
        (Some(a), Some(d)) if endpoint::same_host(a, d) => {
            format!("act reaches {a} like docker ({})", act.why)
        }
        (Some(a), Some(d)) => {
            found.problems.push(format!(
                "act would use {a} ({}) but docker uses {d}; act ignores docker contexts",
                act.why
            ));
            found.fixes.push(format!(
                "export DOCKER_HOST={d} (e.g. in ~/.profile) so act uses the same daemon"
            ));
            String::new()
        }
        (Some(a), None) => format!("act would use {a} ({})", act.why),
    };
    if let Some(path) = endpoint::unix_path(act.host.as_deref().unwrap_or(""))
        && let endpoint::SocketState::Dangling(target) = endpoint::socket_state(&path)
    {
        found.fail = true;
        found.problems.push(format!(
            "act would pick {} which is a dangling symlink to {}",
            path.display(),
            target.display()
        ));
        found.fixes.push(format!(
            "rm {}",
            crate::system::process::sh_quote(&path.display().to_string())
        ));
    }
    reach
}

/// The actrc's platform mapping for `ubuntu-latest`; empty when there is none.
fn mapping(inputs: &Inputs<'_>, found: &mut Problems) -> String {
    use crate::system::process::sh_quote;
    if let Some((image, file)) = configured_platform(inputs.ctx) {
        return format!("ubuntu-latest runs in {image} ({})", file.display());
    }
    found.fail = true;
    found.problems.push(
        "no platform mapping for ubuntu-latest in an actrc: act will stop at its first-run image prompt (and hang without a terminal)".into(),
    );
    found.fixes.push("write the mapping: actsim setup".into());
    let actrc = inputs.user().actrc_path(inputs.process());
    found.fixes.push(format!(
        "or by hand: mkdir -p {} && echo '-P ubuntu-latest=catthehacker/ubuntu:act-latest' >> {}",
        sh_quote(
            &actrc
                .parent()
                .unwrap_or(Path::new("/"))
                .display()
                .to_string()
        ),
        sh_quote(&actrc.display().to_string())
    ));
    String::new()
}

/// `compose.config`: validated with the compose tool once per change of the compose file,
/// its `.env` or the tool ([`super::compose_cache`]); between changes the last pass stands.
pub async fn compose_config(inputs: &Inputs<'_>) -> Outcome {
    use super::compose_cache::{self, Entry, read_user_file};
    let (process, opts) = (inputs.process(), inputs.opts);
    let config_dir = inputs.config_dir();
    let state_dir = Some(inputs.state_dir().to_path_buf());
    let file = config_dir.join("docker-compose.yml");
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
    let env_file = config_dir.join(".env");
    let env_sha = match read_user_file(&env_file) {
        Ok(Some(bytes)) => crate::system::files::sha256_hex(&bytes),
        Ok(None) => "-".into(),
        // Compose would read it (or hang on it): never "valid" from a cache that ignores it.
        Err(e) => {
            return Outcome::fail(
                format!("cannot read {}: {e}", env_file.display()),
                vec![format!(
                    "move it away and let setup write it again: mv {} {}.old && actsim setup --yes",
                    crate::system::process::sh_quote(&env_file.display().to_string()),
                    crate::system::process::sh_quote(&env_file.display().to_string())
                )],
            );
        }
    };
    let key = crate::docker::detect::compose_fingerprint(process)
        .map(|f| compose_cache::key(&compose_sha, &env_sha, config_dir, &f));
    let cached = match (&key, &state_dir) {
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
            let (out, v1, passed) = validate(inputs, &file).await;
            if let (Some((tool, v1)), Some(k), Some(dir)) = (passed, &key, &state_dir) {
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
async fn validate(inputs: &Inputs<'_>, file: &Path) -> (Outcome, bool, Option<(String, bool)>) {
    let (process, deadline, config_dir) = (inputs.process(), inputs.deadline, inputs.config_dir());
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
    let pwd = config_dir.to_string_lossy().to_string();
    let ran = run_program(
        &tool,
        &args,
        &[("PWD", pwd.as_str())],
        Some(config_dir),
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
pub async fn act_run(after: &After<'_>) -> Outcome {
    if !after.inputs.opts.deep {
        return Outcome::skip("not run (use --deep to run a real workflow job through act)");
    }
    if after.docker().is_none() {
        return Outcome::skip("no daemon (see docker.daemon)");
    }
    let Some(act) = after.act else {
        return Outcome::skip("no act binary (see act.binary)");
    };
    let Some(image) = after.inputs.platform_image() else {
        return Outcome::fail(
            "no platform image: none given and no ubuntu-latest mapping in an actrc",
            vec!["pass --platform-image IMAGE, or write the mapping: actsim setup".into()],
        );
    };
    // With a local socket, a second step reaches the daemon through the socket act mounts
    // into the job, with the socket's group added (a copy of act is the client: it needs
    // nothing from the image).
    let socket_step = after.socket.path.is_some() && after.socket.is_socket;
    // A fresh directory of an unguessable name, removed when dropped.
    let tmp = tempfile::Builder::new()
        .prefix("actsim-deep-")
        .permissions(std::fs::Permissions::from_mode(0o755))
        .tempdir();
    let dir = match tmp.and_then(|tmp| write_probe(tmp.path(), act, socket_step).map(|()| tmp)) {
        Ok(tmp) => tmp,
        Err(e) => {
            return Outcome::fail(
                format!(
                    "cannot write a probe workflow in {}: {e}",
                    std::env::temp_dir().display()
                ),
                vec!["check that the temp directory is writable (TMPDIR)".into()],
            );
        }
    };
    let host = after.endpoint().map(|e| e.host.clone()).unwrap_or_default();
    let platform = format!("ubuntu-latest={image}");
    let dir_s = dir.path().to_string_lossy().to_string();
    let group_add = format!("--group-add {}", after.socket.gid);
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
    let home_s = after.inputs.home().to_string_lossy().to_string();
    // act's caches (actions, the cache server) go into the probe's own dir, removed
    // below: a deep check leaves nothing in the user's cache.
    let cache_s = dir.path().join("cache").to_string_lossy().to_string();
    let envs = [
        ("DOCKER_HOST", host.as_str()),
        ("HOME", home_s.as_str()),
        ("XDG_CACHE_HOME", cache_s.as_str()),
    ];
    let ran = run_program(&act.path, &args, &envs, Some(dir.path()), after.deadline()).await;
    drop(dir);
    let probe = Probe {
        image: &image,
        command: format!("act {}", args.join(" ")),
        socket_step,
        gid: after.socket.gid,
    };
    probe.judge(after.inputs, ran)
}

/// The probe workflow (and, for the socket step, a copy of act) in `dir`.
fn write_probe(dir: &Path, act: &ActBin, socket_step: bool) -> std::io::Result<()> {
    let workflows = dir.join(".github/workflows");
    let mut workflow = String::from(
        "on: push\njobs:\n  probe:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"actsim-probe-$((6*7))\"\n        shell: sh\n",
    );
    if socket_step {
        workflow.push_str(
            "      - run: HOME=/tmp ./act --bug-report > /tmp/actsim-bug-report 2>&1 && echo \"actsim-socket-$((6*7))\" || { tail -3 /tmp/actsim-bug-report; exit 1; }\n        shell: sh\n",
        );
    }
    std::fs::create_dir_all(&workflows)?;
    std::fs::write(workflows.join("actsim-probe.yml"), &workflow)?;
    if socket_step {
        std::fs::copy(&act.path, dir.join("act"))?;
    }
    Ok(())
}

/// How the probe job ran, for its verdict.
struct Probe<'a> {
    image: &'a str,
    /// The act command line, for the fixes.
    command: String,
    socket_step: bool,
    /// The socket's group, added to the job's container.
    gid: u32,
}

impl Probe<'_> {
    fn judge(
        &self,
        inputs: Inputs<'_>,
        ran: Result<Ran, crate::system::program::ProgramError>,
    ) -> Outcome {
        let (image, command, gid) = (self.image, &self.command, self.gid);
        let r = match ran {
            Ok(r) => r,
            Err(e) => {
                return Outcome::fail(
                    e,
                    vec![
                        format!(
                            "a first run may pull {image}; pull it once by hand: docker pull {image}"
                        ),
                        "or allow more time: actsim doctor --deep --timeout 120".into(),
                    ],
                );
            }
        };
        let output = r.output();
        let printed = output.contains("actsim-probe-42");
        if r.ok() && printed && self.socket_step {
            return Outcome::pass(format!(
                "a workflow job ran through act in {image}, printed its output and reached the daemon through the mounted socket (with group {gid})"
            ))
            .detail(command.clone());
        }
        if r.ok() && printed {
            return Outcome::pass(format!(
                "a workflow job ran through act in {image} and printed its output"
            ))
            .detail(command.clone());
        }
        if no_network(&output) {
            let actrc = inputs.user().actrc_path(inputs.process());
            return Outcome::fail(
                format!(
                    "act's cache server cannot start: this host has no network (\"{}\"), so act fails before the job runs",
                    no_network_line(&output)
                ),
                vec![
                    format!("run act without its cache server: act --no-cache-server …; to keep it in act's config: actsim setup --act-arg=--no-cache-server (writes it into {})", actrc.display()),
                    "or give the cache server an address that exists here: act --cache-server-addr 127.0.0.1 (actsim setup --act-arg=\"--cache-server-addr 127.0.0.1\")".into(),
                ],
            )
            .detail(output);
        }
        if self.socket_step && printed {
            return Outcome::fail(
                format!(
                    "a job step in {image} could not reach the daemon through the mounted socket: {}",
                    last_line(&output)
                ),
                vec![
                    format!("give job containers the socket's group: add `--container-options --group-add {gid}` to your actrc (actsim setup writes it)"),
                    format!("run the same by hand with -v for details: {command}"),
                ],
            )
            .detail(output);
        }
        Outcome::fail(
            format!("the probe job failed in {image}: {}", last_line(&output)),
            vec![
                format!("check that {image} exists locally and has a shell: docker image inspect {image}"),
                format!("run the same by hand with -v for details: {command}"),
            ],
        )
        .detail(output)
    }
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
