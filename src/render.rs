//! The files setup generates: `docker-compose.yml` and `.env` for the actions simulator,
//! and the platform lines of act's own `actrc`.
//!
//! Templates live in `templates/` and are embedded at build time; they are rendered with
//! minijinja from a typed [`Context`], strict about undefined variables. The rendered YAML
//! is parsed back and checked (service, image, user, group) before anyone may write it.
//! `.env` values are written so that docker-compose v1 (python-dotenv) and compose v2
//! (compose-go) read them the same: bare when safe, single-quoted otherwise; a value
//! neither can hold (quote, backslash, `$`, control characters) is refused with a typed
//! error naming the key and the value. What can go wrong: a context value that cannot be
//! written safely (usage error, exit 2), or a template bug caught by the check (exit 1).

use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};

/// `templates/docker-compose.yml`.
pub const COMPOSE_TEMPLATE: &str = include_str!("../templates/docker-compose.yml");
/// `templates/env`, rendered to `.env`.
pub const ENV_TEMPLATE: &str = include_str!("../templates/env");

/// The compose service that runs act.
pub const SERVICE: &str = "actions-simulator";
/// The platform image act uses when `--platform-image` is not given.
pub const DEFAULT_PLATFORM_IMAGE: &str = "catthehacker/ubuntu:act-latest";
/// The runner labels setup maps to the platform image.
pub const PLATFORM_LABELS: [&str; 3] = ["ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04"];
/// The compose project name (networks and containers are named after it).
pub const DEFAULT_PROJECT: &str = "actsim";
/// Where the host's CA certificates are, mounted read-only into the container.
pub const DEFAULT_CA_CERTS_DIR: &str = "/etc/ssl/certs";
/// Memory limit of the act container (jobs run in their own containers).
pub const DEFAULT_MEM_LIMIT: &str = "2g";

/// The act cache volume of the compose service, one per user: `actsim-act-cache-<uid>`.
pub fn cache_volume_name(uid: u32) -> String {
    format!("actsim-act-cache-{uid}")
}

/// The repository of the simulator images actsim builds.
pub const IMAGE_REPO: &str = "actsim/act";

/// The simulator image for an act version: `actsim/act:<version>`.
pub fn image_for(act_version: &str) -> String {
    format!("{IMAGE_REPO}:{act_version}")
}

/// The CPU limit for a daemon with `ncpu` CPUs: 2, or fewer when the daemon has fewer
/// (Docker refuses a limit above the CPUs it has).
pub fn default_cpus(ncpu: usize) -> f64 {
    (ncpu.max(1) as f64).min(2.0)
}

/// Everything the templates need. Build it with [`Context::new`], adjust fields if needed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Context {
    /// act version, e.g. `0.2.89`.
    pub act_version: String,
    /// The simulator image, `actsim/act:<act_version>`.
    pub image: String,
    /// The target user's uid and primary gid: the container runs as them.
    pub host_uid: u32,
    pub host_gid: u32,
    /// The numeric group of the daemon socket (`stat`), added to the container's groups.
    pub docker_gid: u32,
    /// Host path of the daemon socket (absolute).
    pub docker_socket: String,
    /// Image act runs `ubuntu-*` jobs in.
    pub platform_image: String,
    /// Where the compose file and `.env` live (named in the file's usage comment).
    pub config_dir: String,
    /// Host CA certificate directory, mounted read-only at the same path.
    pub ca_certs_dir: String,
    /// Compose project name.
    pub project: String,
    /// Name of the volume holding act's cache (one per user).
    pub cache_volume: String,
    /// Memory limit, e.g. `2g`.
    pub mem_limit: String,
    /// CPU limit, e.g. `2.0`.
    pub cpus: f64,
}

impl Context {
    /// A context with the defaults: image from the version, `/etc/ssl/certs`, project
    /// `actsim`, cache volume `actsim-act-cache-<uid>`, 2 GiB and [`default_cpus`] of the
    /// CPUs this machine has.
    pub fn new(
        act_version: &str,
        host_uid: u32,
        host_gid: u32,
        docker_gid: u32,
        docker_socket: &Path,
        platform_image: &str,
        config_dir: &Path,
    ) -> Self {
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        Context {
            act_version: act_version.to_string(),
            image: image_for(act_version),
            host_uid,
            host_gid,
            docker_gid,
            docker_socket: docker_socket.to_string_lossy().into_owned(),
            platform_image: platform_image.to_string(),
            config_dir: config_dir.to_string_lossy().into_owned(),
            ca_certs_dir: DEFAULT_CA_CERTS_DIR.to_string(),
            project: DEFAULT_PROJECT.to_string(),
            cache_volume: cache_volume_name(host_uid),
            mem_limit: DEFAULT_MEM_LIMIT.to_string(),
            cpus: default_cpus(ncpu),
        }
    }

    /// Refuse values the files cannot hold safely, naming the value and the fix.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, value: &str, why: &str, hint: &str| {
            Err(Error::usage(
                format!("{what} {value:?} cannot be used: {why}"),
                Some(hint.to_string()),
            ))
        };
        if !is_version(&self.act_version) {
            return bad(
                "act version",
                &self.act_version,
                "expected digits and dots like 0.2.89",
                "pass --act-version with a released version",
            );
        }
        if !is_image_ref(&self.image) {
            return bad(
                "image",
                &self.image,
                "not an image reference",
                "use a name like actsim/act:0.2.89",
            );
        }
        check_platform_image(&self.platform_image)?;
        for (what, value, flag) in [
            ("docker socket", &self.docker_socket, "DOCKER_HOST"),
            ("config dir", &self.config_dir, "--config-dir"),
            ("CA certificate dir", &self.ca_certs_dir, "the context"),
        ] {
            if !value.starts_with('/') {
                return bad(
                    what,
                    value,
                    "not an absolute path",
                    &format!("set {flag} to an absolute path"),
                );
            }
            if value.chars().any(|c| c.is_control()) {
                return bad(
                    what,
                    value,
                    "it contains a control character",
                    &format!("set {flag} to a path without control characters"),
                );
            }
        }
        if self.ca_certs_dir.contains(':') {
            return bad(
                "CA certificate dir",
                &self.ca_certs_dir,
                "a ':' cannot appear in a compose volume",
                "use a directory without ':'",
            );
        }
        for (what, value) in [
            ("compose project", &self.project),
            ("cache volume", &self.cache_volume),
        ] {
            let ok = value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c));
            if !ok {
                return bad(
                    what,
                    value,
                    "use lowercase letters, digits, '-' and '_'",
                    "pick a simple name",
                );
            }
        }
        let mem_ok = {
            let digits = self.mem_limit.trim_end_matches(['b', 'k', 'm', 'g']);
            !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit())
                && self.mem_limit.len() - digits.len() <= 1
        };
        if !mem_ok {
            return bad(
                "memory limit",
                &self.mem_limit,
                "expected a number with an optional b, k, m or g",
                "use a value like 2g",
            );
        }
        if !(self.cpus.is_finite() && self.cpus >= 0.01) {
            return bad(
                "CPU limit",
                &self.cpus.to_string(),
                "expected a number of CPUs of at least 0.01",
                "use a value like 2",
            );
        }
        Ok(())
    }

    /// The `.env` variables, in file order, unquoted.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("COMPOSE_PROJECT_NAME", self.project.clone()),
            ("ACT_VERSION", self.act_version.clone()),
            ("HOST_UID", self.host_uid.to_string()),
            ("HOST_GID", self.host_gid.to_string()),
            ("DOCKER_GID", self.docker_gid.to_string()),
            ("DOCKER_SOCKET", self.docker_socket.clone()),
            ("PLATFORM_IMAGE", self.platform_image.clone()),
        ]
    }
}

fn is_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.chars().next().is_some_and(|c| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
}

/// A docker image reference: `[registry/]name[:tag][@digest]`, conservatively.
fn is_image_ref(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 255
        && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
}

/// The platform image must be a plain image reference (act expands `$` in actrc lines and
/// splits them at whitespace), or act's `-self-hosted`.
pub fn check_platform_image(image: &str) -> Result<()> {
    if image == "-self-hosted" || is_image_ref(image) {
        return Ok(());
    }
    Err(Error::usage(
        format!(
            "platform image {image:?} is not an image reference (letters, digits and ._-/:@ only)"
        ),
        Some(format!(
            "pass --platform-image like {DEFAULT_PLATFORM_IMAGE}, or -self-hosted"
        )),
    ))
}

/// Quote a `.env` value for compose v1 and v2 alike, or refuse it.
///
/// Bare when every character is in `[A-Za-z0-9_./:@%+,=-]` (neither parser treats any of
/// them specially, and `#` comments need a space first). Single quotes otherwise: both keep
/// spaces, `#` and `"` inside them literally. Refused: `'` (cannot be inside single quotes
/// the same way: python-dotenv unescapes `\'`, compose-go keeps the backslash), `\` (python-
/// dotenv turns `\\` into `\` inside single quotes, compose-go does not), `$` (python-dotenv
/// interpolates `${X}` even in single quotes, compose-go does not), and control characters
/// (newlines end the value in one parser and not the other).
pub fn dotenv_value(key: &str, value: &str) -> Result<String> {
    let refuse = |why: &str| {
        Err(Error::usage(
            format!("cannot write {key}={value:?} to .env: {why}"),
            Some(format!(
                "choose a {key} without quotes, backslashes, '$' or control characters"
            )),
        ))
    };
    if value.contains('\'') {
        return refuse("a single quote reads differently in compose v1 and v2");
    }
    if value.contains('\\') {
        return refuse("a backslash reads differently in compose v1 and v2");
    }
    if value.contains('$') {
        return refuse("'$' is interpolated by compose v1 even inside quotes");
    }
    if value.chars().any(char::is_control) {
        return refuse("control characters (newlines, tabs) cannot be held by both parsers");
    }
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c));
    Ok(if bare {
        value.to_string()
    } else {
        format!("'{value}'")
    })
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_keep_trailing_newline(true);
    // A YAML double-quoted scalar (JSON string syntax) with `$` escaped for compose.
    env.add_filter("q", |value: String| -> String {
        serde_json::to_string(&value)
            .expect("a string serializes")
            .replace('$', "$$")
    });
    env.add_template("docker-compose.yml", COMPOSE_TEMPLATE)
        .expect("templates/docker-compose.yml is valid minijinja");
    env.add_template("env", ENV_TEMPLATE)
        .expect("templates/env is valid minijinja");
    env
}

fn template_error(name: &str, e: minijinja::Error) -> Error {
    Error::failed(
        crate::error::chain_from(
            format!("rendering templates/{name} failed: {e}"),
            std::error::Error::source(&e),
        ),
        Some("this is a bug in actsim; please report it".into()),
    )
}

/// Render `docker-compose.yml` and check it (see [`check_compose`]).
pub fn render_compose(ctx: &Context) -> Result<String> {
    ctx.validate()?;
    let text = environment()
        .get_template("docker-compose.yml")
        .and_then(|t| t.render(ctx))
        .map_err(|e| template_error("docker-compose.yml", e))?;
    check_compose(&text, ctx)?;
    Ok(text)
}

/// Parse rendered compose YAML and check what the simulator depends on: the service, its
/// image, the user, the socket group, the socket mount and the cache volume.
pub fn check_compose(text: &str, ctx: &Context) -> Result<()> {
    let fail = |what: String| {
        Err(Error::failed(
            format!("the rendered docker-compose.yml is wrong: {what}"),
            Some("this is a bug in actsim; please report it".into()),
        ))
    };
    let docs = match YamlLoader::load_from_str(text) {
        Ok(d) => d,
        Err(e) => return fail(format!("not valid YAML: {e}")),
    };
    let [doc] = docs.as_slice() else {
        return fail(format!("expected one YAML document, found {}", docs.len()));
    };
    let service = &doc["services"][SERVICE];
    if service.is_badvalue() {
        return fail(format!("no service {SERVICE}"));
    }
    if service["image"].as_str() != Some(ctx.image.as_str()) {
        return fail(format!(
            "image is {:?}, expected {:?}",
            service["image"], ctx.image
        ));
    }
    if service["user"].as_str() != Some("${HOST_UID}:${HOST_GID}") {
        return fail(format!("user is {:?}", service["user"]));
    }
    let groups = service["group_add"].as_vec().map(Vec::as_slice);
    if groups != Some(&[Yaml::String("${DOCKER_GID}".into())][..]) {
        return fail(format!("group_add is {:?}", service["group_add"]));
    }
    let entrypoint: Vec<&str> = service["entrypoint"]
        .as_vec()
        .map(|v| v.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default();
    if entrypoint.first() != Some(&"act")
        || !entrypoint
            .windows(2)
            .any(|w| w == ["--container-daemon-socket", "${DOCKER_SOCKET}"])
    {
        return fail(format!("entrypoint is {entrypoint:?}"));
    }
    let mounts_socket = service["volumes"].as_vec().is_some_and(|v| {
        v.iter().any(|m| {
            m["source"].as_str() == Some("${DOCKER_SOCKET}")
                && m["target"].as_str() == Some("/var/run/docker.sock")
        })
    });
    if !mounts_socket {
        return fail("the daemon socket is not mounted at /var/run/docker.sock".into());
    }
    if doc["volumes"]["act-cache"]["name"].as_str() != Some(ctx.cache_volume.as_str()) {
        return fail(format!("cache volume is not named {}", ctx.cache_volume));
    }
    Ok(())
}

/// Render `.env`: every value quoted by [`dotenv_value`] (refusals name key and value).
pub fn render_env(ctx: &Context) -> Result<String> {
    ctx.validate()?;
    let mut env = std::collections::BTreeMap::new();
    for (key, value) in ctx.env_vars() {
        env.insert(key, dotenv_value(key, &value)?);
    }
    environment()
        .get_template("env")
        .and_then(|t| t.render(minijinja::context! { env }))
        .map_err(|e| template_error("env", e))
}

/// The `.env` keys actsim owns: set to the machine's truth on every setup. Every other
/// line of `.env` is the user's and is kept byte for byte ([`merge_env`]).
pub const ENV_OWNED: [&str; 6] = [
    "ACT_VERSION",
    "HOST_UID",
    "HOST_GID",
    "DOCKER_GID",
    "DOCKER_SOCKET",
    "PLATFORM_IMAGE",
];

/// The key and the unquoted value of one `.env` line (`KEY=v`, `KEY='v'`, `KEY="v"`,
/// `export KEY=v`); `None` for comments, blank lines and anything else.
pub fn env_entry(line: &str) -> Option<(&str, &str)> {
    let l = line.trim();
    if l.starts_with('#') {
        return None;
    }
    let l = l.strip_prefix("export ").map(str::trim_start).unwrap_or(l);
    let (k, v) = l.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let v = v.trim();
    let v = v
        .strip_prefix('\'')
        .and_then(|x| x.strip_suffix('\''))
        .or_else(|| v.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
        .unwrap_or(v);
    Some((k, v))
}

/// `KEY=value` lines of a compose `.env` (quotes removed; the last of a key wins).
pub fn parse_env(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(env_entry)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One owned `.env` key [`merge_env`] changes: its value in the file (`None`: missing) and
/// the machine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvChange {
    pub key: &'static str,
    pub was: Option<String>,
    pub now: String,
}

/// `.env` merged by key: each line of an [`ENV_OWNED`] key whose value is not the
/// machine's gets the machine's (`KEY=value`, quoted by [`dotenv_value`], the line's own
/// end); an owned key the file lacks is appended; every other line (the user's keys,
/// comments, blank lines, CRLF, bytes that are not UTF-8) stays byte for byte.
/// Idempotent. Returns the merged bytes and the keys changed.
pub fn merge_env(existing: &[u8], ctx: &Context) -> Result<(Vec<u8>, Vec<EnvChange>)> {
    ctx.validate()?;
    let mut truth = Vec::new();
    for (key, value) in ctx.env_vars() {
        if let Some(owned) = ENV_OWNED.iter().find(|k| **k == key) {
            let quoted = dotenv_value(key, &value)?;
            truth.push((*owned, value, quoted));
        }
    }
    let lines: Vec<&[u8]> = existing.split_inclusive(|b| *b == b'\n').collect();
    let eol: &[u8] = match lines.first() {
        Some(l) if l.ends_with(b"\r\n") => b"\r\n",
        _ => b"\n",
    };
    let mut out = Vec::with_capacity(existing.len() + 64);
    let mut seen = Vec::new();
    let mut changes = Vec::new();
    for line in &lines {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let (body, end): (&[u8], &[u8]) = match body.strip_suffix(b"\r") {
            Some(b) => (b, b"\r\n"),
            None if line.ends_with(b"\n") => (body, b"\n"),
            None => (body, b""),
        };
        let entry = std::str::from_utf8(body).ok().and_then(env_entry);
        let owned = entry.and_then(|(k, v)| {
            truth
                .iter()
                .find(|(key, ..)| *key == k)
                .map(|t| (t, v.to_string()))
        });
        let Some(((key, value, quoted), current)) = owned else {
            out.extend_from_slice(line);
            continue;
        };
        seen.push(*key);
        if current == *value {
            out.extend_from_slice(line);
            continue;
        }
        out.extend_from_slice(format!("{key}={quoted}").as_bytes());
        out.extend_from_slice(if end.is_empty() { eol } else { end });
        changes.push(EnvChange {
            key,
            was: Some(current),
            now: value.clone(),
        });
    }
    for (key, value, quoted) in &truth {
        if seen.contains(key) {
            continue;
        }
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(format!("{key}={quoted}").as_bytes());
        out.extend_from_slice(eol);
        changes.push(EnvChange {
            key,
            was: None,
            now: value.clone(),
        });
    }
    Ok((out, changes))
}

/// The platform mapping on an actrc line (`-P L=I`, `-P=L=I`, `-PL=I`, `--platform L=I`,
/// `--platform=L=I`), as `(label, image)`.
fn actrc_mapping(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    let value = if let Some(rest) = line.strip_prefix("--platform") {
        rest.strip_prefix('=')
            .or_else(|| rest.strip_prefix(char::is_whitespace))?
    } else {
        let rest = line.strip_prefix("-P")?;
        rest.strip_prefix('=')
            .or_else(|| rest.strip_prefix(char::is_whitespace))
            .unwrap_or(rest)
    };
    value.trim().split_once('=')
}

/// The image act uses for `label` according to actrc text: the last mapping wins, as in
/// act. `None` when the label is not mapped (or mapped to nothing: `-P label=`).
pub fn actrc_platform(text: &str, label: &str) -> Option<String> {
    text.lines()
        .filter_map(actrc_mapping)
        .rfind(|(l, _)| l.trim() == label)
        .map(|(_, image)| image.trim().to_string())
        .filter(|image| !image.is_empty())
}

/// The actrc line that gives job containers the socket's group, so a step can use the
/// mounted socket as a non-root user (nektos/act #1798).
pub fn actrc_group_add(docker_gid: u32) -> String {
    format!("--container-options --group-add {docker_gid}")
}

/// Whether `line` is a line [`actrc_group_add`] wrote (any gid).
fn is_our_group_add(line: &str) -> bool {
    line.trim()
        .strip_prefix("--container-options --group-add ")
        .is_some_and(|g| !g.is_empty() && g.chars().all(|c| c.is_ascii_digit()))
}

/// Whether actrc text sets `--container-options` (act takes one value: the last).
pub fn actrc_has_container_options(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l == "--container-options"
            || l.starts_with("--container-options ")
            || l.starts_with("--container-options=")
    })
}

/// [`merge_actrc`], plus the [`actrc_group_add`] line for `docker_gid`.
pub fn merge_actrc_with_group(
    existing: Option<&str>,
    platform_image: &str,
    docker_gid: Option<u32>,
) -> String {
    String::from_utf8(merge_actrc_bytes_with_group(
        existing.map(str::as_bytes),
        platform_image,
        docker_gid,
    ))
    .expect("UTF-8 in, UTF-8 out")
}

/// [`merge_actrc_bytes`], plus the [`actrc_group_add`] line for `docker_gid`: an earlier
/// line of ours (any gid) is replaced in place; none is added when the user set
/// `--container-options` themselves (act takes one value). Other lines stay byte for byte.
pub fn merge_actrc_bytes_with_group(
    existing: Option<&[u8]>,
    platform_image: &str,
    docker_gid: Option<u32>,
) -> Vec<u8> {
    let merged = merge_actrc_bytes(existing, platform_image);
    let Some(gid) = docker_gid else {
        return merged;
    };
    let lines: Vec<&[u8]> = merged.split_inclusive(|b| *b == b'\n').collect();
    let eol: &[u8] = match lines.first() {
        Some(l) if l.ends_with(b"\r\n") => b"\r\n",
        _ => b"\n",
    };
    let mut ours = actrc_group_add(gid).into_bytes();
    ours.extend_from_slice(eol);
    let mut out: Vec<u8> = Vec::with_capacity(merged.len() + ours.len());
    let mut placed = false;
    let mut theirs = false;
    for line in lines {
        let text = std::str::from_utf8(line).unwrap_or("");
        if is_our_group_add(text) {
            if !placed {
                out.extend_from_slice(&ours);
                placed = true;
            }
            continue;
        }
        theirs |= actrc_has_container_options(text);
        out.extend_from_slice(line);
    }
    if !placed && !theirs {
        out.extend_from_slice(&ours);
    }
    out
}

/// act's config with `-P <label>=<platform_image>` for each of [`PLATFORM_LABELS`].
///
/// Earlier mappings of exactly those labels (any form) are replaced, in place of the first
/// one; every other line and comment is kept as it was. Idempotent. See
/// [`merge_actrc_bytes`] for files that are not UTF-8 or end lines with CRLF.
pub fn merge_actrc(existing: Option<&str>, platform_image: &str) -> String {
    String::from_utf8(merge_actrc_bytes(
        existing.map(str::as_bytes),
        platform_image,
    ))
    .expect("UTF-8 in, UTF-8 out")
}

/// [`merge_actrc`] on bytes, losslessly: every line actsim does not own stays byte for
/// byte (encoding, CRLF, trailing whitespace); only actsim's own `-P` lines change, and
/// they end lines the way the file's first line does.
pub fn merge_actrc_bytes(existing: Option<&[u8]>, platform_image: &str) -> Vec<u8> {
    let existing = existing.unwrap_or(b"");
    let lines: Vec<&[u8]> = existing.split_inclusive(|b| *b == b'\n').collect();
    let eol: &[u8] = match lines.first() {
        Some(l) if l.ends_with(b"\r\n") => b"\r\n",
        _ => b"\n",
    };
    let ours: Vec<u8> = PLATFORM_LABELS
        .iter()
        .flat_map(|l| {
            let mut line = format!("-P {l}={platform_image}").into_bytes();
            line.extend_from_slice(eol);
            line
        })
        .collect();
    let mut out: Vec<u8> = Vec::with_capacity(existing.len() + ours.len());
    let mut placed = false;
    for line in lines {
        let content = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        let owned = std::str::from_utf8(content)
            .ok()
            .and_then(actrc_mapping)
            .is_some_and(|(l, _)| PLATFORM_LABELS.contains(&l.trim()));
        if owned {
            if !placed {
                out.extend_from_slice(&ours);
                placed = true;
            }
            continue;
        }
        out.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            // A last line without an end gets one, so ours start on a line of their own.
            out.extend_from_slice(eol);
        }
    }
    if !placed {
        out.extend_from_slice(&ours);
    }
    out
}

/// Append act options (`setup --act-arg`, one per line, e.g. `--no-cache-server`) to an
/// actrc that lacks them; a line already there is not added again. Lines end the way the
/// file's first line does.
pub fn add_actrc_args(text: Vec<u8>, args: &[String]) -> Vec<u8> {
    let mut out = text;
    let eol: &[u8] = match out.split_inclusive(|b| *b == b'\n').next() {
        Some(l) if l.ends_with(b"\r\n") => b"\r\n",
        _ => b"\n",
    };
    for arg in args {
        let arg = arg.trim();
        let present = out
            .split(|b| *b == b'\n')
            .any(|l| l.trim_ascii() == arg.as_bytes());
        if arg.is_empty() || present {
            continue;
        }
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(eol);
    }
    out
}

/// The inverse of setup's actrc merge, on bytes: every line actsim writes goes (its `-P`
/// mappings of [`PLATFORM_LABELS`] in any form, to `platform` only when given, i.e. when
/// the user may have mapped a label themselves; its `--group-add` line; the `--act-arg`
/// lines `act_args` names) and every other line stays byte for byte. Empty when nothing
/// but blank lines would be left.
pub fn strip_actrc_bytes(existing: &[u8], platform: Option<&str>, act_args: &[String]) -> Vec<u8> {
    strip_lines(existing, |text| {
        let mapped = actrc_mapping(text).is_some_and(|(l, image)| {
            PLATFORM_LABELS.contains(&l.trim()) && platform.is_none_or(|p| image.trim() == p)
        });
        mapped || is_our_group_add(text) || act_args.iter().any(|a| a.trim() == text.trim())
    })
}

/// The inverse of setup's `.env`: the lines of the keys actsim owns ([`ENV_OWNED`]) and
/// the template's own lines (its comments, `COMPOSE_PROJECT_NAME`) go; every other line
/// stays byte for byte. Empty when nothing but blank lines would be left.
pub fn strip_env(existing: &[u8]) -> Vec<u8> {
    let template: Vec<&str> = ENV_TEMPLATE
        .lines()
        .filter(|l| l.starts_with('#'))
        .collect();
    let project = format!("COMPOSE_PROJECT_NAME={DEFAULT_PROJECT}");
    strip_lines(existing, |text| {
        env_entry(text).is_some_and(|(k, _)| ENV_OWNED.contains(&k))
            || template.contains(&text.trim_end())
            || text.trim() == project
    })
}

/// `existing` without the lines `ours` says are actsim's (given without their line end;
/// lines that are not UTF-8 are never ours). Empty when only blank lines are left.
fn strip_lines(existing: &[u8], ours: impl Fn(&str) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(existing.len());
    for line in existing.split_inclusive(|b| *b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if std::str::from_utf8(body).is_ok_and(&ours) {
            continue;
        }
        out.extend_from_slice(line);
    }
    if out.iter().all(u8::is_ascii_whitespace) {
        out.clear();
    }
    out
}

/// `--act-arg` values: each one line, an option (starting with `-`).
pub fn check_act_args(args: &[String]) -> Result<()> {
    for arg in args {
        let a = arg.trim();
        if !a.starts_with('-') || a.contains(['\n', '\r']) {
            return Err(Error::usage(
                format!("--act-arg {arg:?} is not one act option"),
                Some("pass one option per --act-arg, e.g. --act-arg=--no-cache-server".into()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merge_sets_owned_keys_and_keeps_every_other_byte() {
        let c = ctx();
        let user: &[u8] = b"# mine\r\nTOKEN='s e c'\r\nDOCKER_GID=4242\r\nexport HOST_UID=1000\r\n\r\ncaf\xe9=1\r\nCOMPOSE_PROJECT_NAME=other";
        let (merged, changes) = merge_env(user, &c).unwrap();
        let want: &[u8] = b"# mine\r\nTOKEN='s e c'\r\nDOCKER_GID=999\r\nexport HOST_UID=1000\r\n\r\ncaf\xe9=1\r\nCOMPOSE_PROJECT_NAME=other\r\nACT_VERSION=0.2.89\r\nHOST_GID=1000\r\nDOCKER_SOCKET=/var/run/docker.sock\r\nPLATFORM_IMAGE=catthehacker/ubuntu:act-latest\r\n";
        assert_eq!(
            String::from_utf8_lossy(&merged),
            String::from_utf8_lossy(want)
        );
        let keys: Vec<_> = changes.iter().map(|c| (c.key, c.was.as_deref())).collect();
        assert_eq!(
            keys,
            [
                ("DOCKER_GID", Some("4242")),
                ("ACT_VERSION", None),
                ("HOST_GID", None),
                ("DOCKER_SOCKET", None),
                ("PLATFORM_IMAGE", None)
            ]
        );
        let (again, none) = merge_env(&merged, &c).unwrap();
        assert_eq!(again, merged, "idempotent");
        assert!(none.is_empty());
        // The rendered file is already merged.
        let rendered = render_env(&c).unwrap();
        assert_eq!(
            merge_env(rendered.as_bytes(), &c).unwrap().0,
            rendered.as_bytes()
        );
    }

    #[test]
    fn stripping_is_the_inverse_of_the_merges() {
        let c = ctx();
        let user: &[u8] = b"# mine\r\nGH_TOKEN=x\r\ncaf\xe9\n";
        let (merged, _) = merge_env(user, &c).unwrap();
        assert_eq!(strip_env(&merged), user);
        assert!(strip_env(render_env(&c).unwrap().as_bytes()).is_empty());
        let mut edited = render_env(&c).unwrap().into_bytes();
        edited.extend_from_slice(b"MINE=1\n");
        assert_eq!(strip_env(&edited), b"MINE=1\n");

        let actrc: &[u8] =
            b"# my act\r\n--container-architecture linux/amd64\r\n-P ubuntu-20.04=mine:1\n";
        let args = vec!["--no-cache-server".to_string()];
        let merged = add_actrc_args(
            merge_actrc_bytes_with_group(Some(actrc), "img:1", Some(999)),
            &args,
        );
        assert_eq!(strip_actrc_bytes(&merged, None, &args), actrc);
        assert_eq!(strip_actrc_bytes(&merged, Some("img:1"), &args), actrc);
        // Edited: a mapping of the user's to another image stays.
        let theirs = b"-P ubuntu-latest=theirs:2\n";
        assert_eq!(strip_actrc_bytes(theirs, Some("img:1"), &[]), theirs);
        let ours_only = merge_actrc_bytes_with_group(None, "img:1", Some(999));
        assert!(strip_actrc_bytes(&ours_only, None, &[]).is_empty());
    }

    #[test]
    fn act_args_are_added_once() {
        let base = merge_actrc(None, "img:1").into_bytes();
        let args = vec![
            "--no-cache-server".to_string(),
            "--cache-server-addr 127.0.0.1".to_string(),
        ];
        let once = add_actrc_args(base.clone(), &args);
        assert!(
            once.ends_with(b"--no-cache-server\n--cache-server-addr 127.0.0.1\n"),
            "{once:?}"
        );
        let crlf = add_actrc_args(b"-P a=b\r\n".to_vec(), &args[..1]);
        assert_eq!(crlf, b"-P a=b\r\n--no-cache-server\r\n");
        assert_eq!(add_actrc_args(once.clone(), &args), once);
        assert_eq!(add_actrc_args(base.clone(), &[]), base);
        assert!(check_act_args(&args).is_ok());
        assert_eq!(check_act_args(&["x".into()]).unwrap_err().exit_code(), 2);
        assert!(check_act_args(&["-a\n-b".into()]).is_err());
    }

    #[test]
    fn actrc_merge_keeps_foreign_bytes_and_crlf() {
        let user: &[u8] = b"--container-architecture linux/amd64  \r\n# caf\xe9 latin-1\r\n-P ubuntu-latest=old:1\r\n--env A=b";
        let merged = merge_actrc_bytes(Some(user), "img:1");
        let want: &[u8] = b"--container-architecture linux/amd64  \r\n# caf\xe9 latin-1\r\n-P ubuntu-latest=img:1\r\n-P ubuntu-24.04=img:1\r\n-P ubuntu-22.04=img:1\r\n--env A=b\r\n";
        assert_eq!(merged, want);
        assert_eq!(
            merge_actrc_bytes(Some(&merged), "img:1"),
            merged,
            "idempotent"
        );
    }

    fn ctx() -> Context {
        let mut c = Context::new(
            "0.2.89",
            1000,
            1000,
            999,
            Path::new("/var/run/docker.sock"),
            DEFAULT_PLATFORM_IMAGE,
            Path::new("/home/alice/.config/actsim"),
        );
        c.cpus = 2.0;
        c
    }

    #[test]
    fn compose_snapshot() {
        insta::assert_snapshot!("docker-compose.yml", render_compose(&ctx()).unwrap());
    }

    #[test]
    fn env_snapshot() {
        insta::assert_snapshot!("env", render_env(&ctx()).unwrap());
    }

    #[test]
    fn actrc_with_group_snapshot() {
        let user = "# my settings\n-P ubuntu-22.04=old:img\n--container-options --group-add 12\n";
        let merged = merge_actrc_with_group(Some(user), DEFAULT_PLATFORM_IMAGE, Some(999));
        insta::assert_snapshot!("actrc-group", merged);
        assert_eq!(
            merge_actrc_with_group(Some(&merged), DEFAULT_PLATFORM_IMAGE, Some(999)),
            merged,
            "idempotent"
        );
        let theirs = "--container-options --privileged\n";
        let kept = merge_actrc_with_group(Some(theirs), "img", Some(999));
        assert!(!kept.contains("--group-add"), "{kept}");
        assert!(kept.contains("--container-options --privileged"));
        assert!(actrc_has_container_options(&kept));
    }

    #[test]
    fn actrc_snapshot_of_a_user_file() {
        let user = "# my settings\n--container-architecture linux/amd64\n-P ubuntu-22.04=old:img\n\n-P macos-latest=-self-hosted\n--platform=ubuntu-latest=x:y\n";
        insta::assert_snapshot!("actrc", merge_actrc(Some(user), DEFAULT_PLATFORM_IMAGE));
    }

    #[test]
    fn rendered_compose_has_the_contract() {
        let text = render_compose(&ctx()).unwrap();
        let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
        let s = &doc["services"][SERVICE];
        assert_eq!(s["image"].as_str(), Some("actsim/act:0.2.89"));
        assert!(s["working_dir"].as_str().unwrap().starts_with("${PWD:?"));
        assert_eq!(s["environment"]["HOME"].as_str(), Some("/tmp"));
        assert_eq!(
            s["environment"]["DOCKER_HOST"].as_str(),
            Some("unix:///var/run/docker.sock")
        );
        assert_eq!(s["cap_drop"][0].as_str(), Some("ALL"));
        assert_eq!(
            s["security_opt"][0].as_str(),
            Some("no-new-privileges:true")
        );
        assert_eq!(s["mem_limit"].as_str(), Some("2g"));
        assert_eq!(s["cpus"].as_f64(), Some(2.0));
        let vols: Vec<String> = s["volumes"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        assert!(vols.contains(&"/etc/ssl/certs:/etc/ssl/certs:ro".to_string()));
        assert!(vols.contains(&"act-cache:/tmp".to_string()));
        let entry: Vec<&str> = s["entrypoint"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        for label in PLATFORM_LABELS {
            assert!(entry.contains(&format!("{label}=${{PLATFORM_IMAGE}}").as_str()));
        }
    }

    #[test]
    fn the_check_catches_a_wrong_file() {
        let c = ctx();
        let good = render_compose(&c).unwrap();
        check_compose(&good, &c).unwrap();
        let wrong_image = good.replace("actsim/act:0.2.89", "other:1");
        assert!(check_compose(&wrong_image, &c).is_err());
        let no_group = good.replace("\"${DOCKER_GID}\"", "\"0\"");
        assert!(check_compose(&no_group, &c).is_err());
        let renamed = good.replace("actions-simulator:", "simulator:");
        let err = check_compose(&renamed, &c).unwrap_err();
        assert!(
            err.to_string().contains("no service actions-simulator"),
            "{err}"
        );
        assert!(check_compose("services: [", &c).is_err());
    }

    #[test]
    fn strict_templates_refuse_an_undefined_variable() {
        let env = environment();
        let err = env
            .get_template("docker-compose.yml")
            .unwrap()
            .render(minijinja::context! { act_version => "0.2.89" })
            .unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError);
    }

    #[test]
    fn rendered_strings_escape_dollar_and_quotes() {
        let mut c = ctx();
        c.config_dir = "/home/a b/cfg".into();
        c.ca_certs_dir = "/etc/my \"certs\"".into();
        let text = render_compose(&c).unwrap();
        assert!(text.contains(r#""/etc/my \"certs\":/etc/my \"certs\":ro""#));
    }

    #[test]
    fn bad_context_values_are_usage_errors_naming_the_value() {
        type Change = fn(&mut Context);
        let cases: Vec<(Change, &str)> = vec![
            (|c| c.act_version = "0.2.89\nx".into(), "act version"),
            (
                |c| c.platform_image = "img with space".into(),
                "platform image",
            ),
            (|c| c.platform_image = "img:${X}".into(), "platform image"),
            (
                |c| c.docker_socket = "relative.sock".into(),
                "docker socket",
            ),
            (|c| c.config_dir = "/a\nb".into(), "config dir"),
            (|c| c.mem_limit = "2gb".into(), "memory limit"),
            (|c| c.cpus = 0.0, "CPU limit"),
            (|c| c.cache_volume = "Bad Name".into(), "cache volume"),
        ];
        for (change, what) in cases {
            let mut c = ctx();
            change(&mut c);
            let err = render_compose(&c).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{what}");
            assert!(err.to_string().contains(what), "{what}: {err}");
            assert!(err.hint().is_some());
            assert!(render_env(&c).is_err());
        }
    }

    #[test]
    fn dotenv_quoting_table() {
        let ok = [
            ("1000", "1000"),
            ("", ""),
            ("/var/run/docker.sock", "/var/run/docker.sock"),
            (
                "catthehacker/ubuntu:act-latest",
                "catthehacker/ubuntu:act-latest",
            ),
            (
                "reg.example:5000/a/b@sha256:00ff",
                "reg.example:5000/a/b@sha256:00ff",
            ),
            ("-self-hosted", "-self-hosted"),
            ("a=b,c+d%e", "a=b,c+d%e"),
            (
                "/home/John Doe/.docker/run/docker.sock",
                "'/home/John Doe/.docker/run/docker.sock'",
            ),
            ("a #b", "'a #b'"),
            ("#x", "'#x'"),
            (" lead", "' lead'"),
            ("say \"hi\"", "'say \"hi\"'"),
            ("ünïcode", "'ünïcode'"),
            ("a;b&c|d", "'a;b&c|d'"),
        ];
        for (value, written) in ok {
            assert_eq!(dotenv_value("K", value).unwrap(), written, "{value:?}");
        }
        let refused = [
            "it's", "a\\b", "$HOME", "${X}", "a\nb", "a\rb", "a\tb", "nul\0",
        ];
        for value in refused {
            let err = dotenv_value("DOCKER_SOCKET", value).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let msg = err.to_string();
            assert!(msg.contains("DOCKER_SOCKET"), "{msg}");
            assert!(msg.contains(&format!("{value:?}")), "{msg}");
        }
    }

    #[test]
    fn env_refuses_a_socket_path_with_a_quote() {
        let mut c = ctx();
        c.docker_socket = "/run/it's/docker.sock".into();
        let err = render_env(&c).unwrap_err();
        assert!(err.to_string().contains("DOCKER_SOCKET"), "{err}");
    }

    #[test]
    fn env_has_every_key_the_compose_file_uses() {
        let c = ctx();
        let env = render_env(&c).unwrap();
        let compose = render_compose(&c).unwrap();
        for key in [
            "HOST_UID",
            "HOST_GID",
            "DOCKER_GID",
            "DOCKER_SOCKET",
            "PLATFORM_IMAGE",
        ] {
            assert!(compose.contains(&format!("${{{key}}}")), "{key}");
            assert!(env.contains(&format!("\n{key}=")), "{key}");
        }
        assert!(env.contains("\nACT_VERSION=0.2.89\n"));
        assert!(env.contains("\nDOCKER_GID=999\n"));
    }

    #[test]
    fn actrc_merge_into_nothing_writes_the_three_labels() {
        let text = merge_actrc(None, "img:1");
        assert_eq!(
            text,
            "-P ubuntu-latest=img:1\n-P ubuntu-24.04=img:1\n-P ubuntu-22.04=img:1\n"
        );
        assert_eq!(merge_actrc(Some(""), "img:1"), text);
    }

    #[test]
    fn actrc_merge_replaces_every_form_and_keeps_user_lines() {
        let user = "# comment\n-P ubuntu-latest=a\n--container-architecture linux/amd64\n-P=ubuntu-24.04=b\n--platform ubuntu-22.04=c\n--platform=ubuntu-latest=d\n-Pubuntu-24.04=e\n-P ubuntu-20.04=keep\n  -P   ubuntu-22.04=f  \n--secret-file my.secrets";
        let merged = merge_actrc(Some(user), "img:2");
        assert_eq!(
            merged,
            "# comment\n-P ubuntu-latest=img:2\n-P ubuntu-24.04=img:2\n-P ubuntu-22.04=img:2\n--container-architecture linux/amd64\n-P ubuntu-20.04=keep\n--secret-file my.secrets\n"
        );
        assert_eq!(merge_actrc(Some(&merged), "img:2"), merged, "idempotent");
        let other = merge_actrc(Some(&merged), "img:3");
        assert_eq!(other, merged.replace("img:2", "img:3"));
        for label in PLATFORM_LABELS {
            assert_eq!(actrc_platform(&merged, label).as_deref(), Some("img:2"));
        }
        assert_eq!(
            actrc_platform(&merged, "ubuntu-20.04").as_deref(),
            Some("keep")
        );
    }

    #[test]
    fn actrc_does_not_touch_look_alike_lines() {
        let user = "-P ubuntu-latest-arm=x\n--pull=false\n-Pfoo\n# -P ubuntu-latest=commented\n--platforms ubuntu-latest=z\n";
        let merged = merge_actrc(Some(user), "img");
        assert!(merged.starts_with(user), "{merged}");
        assert_eq!(actrc_platform(user, "ubuntu-latest"), None);
        assert_eq!(actrc_platform("-P ubuntu-latest=", "ubuntu-latest"), None);
        let forms = "# mine\n-P ubuntu-latest=a\n--platform ubuntu-22.04=b\n-P=ubuntu-latest=c\n";
        assert_eq!(actrc_platform(forms, "ubuntu-latest").as_deref(), Some("c"));
        assert_eq!(actrc_platform(forms, "ubuntu-22.04").as_deref(), Some("b"));
        assert_eq!(actrc_platform(forms, "ubuntu-24.04"), None);
    }

    #[test]
    fn actrc_platform_last_mapping_wins() {
        let text = "-P ubuntu-latest=a\n--platform ubuntu-latest=b\n";
        assert_eq!(actrc_platform(text, "ubuntu-latest").as_deref(), Some("b"));
        assert_eq!(actrc_platform(text, "ubuntu-22.04"), None);
    }

    #[test]
    fn default_cpus_never_exceeds_the_machine() {
        assert_eq!(default_cpus(0), 1.0);
        assert_eq!(default_cpus(1), 1.0);
        assert_eq!(default_cpus(64), 2.0);
    }
}
