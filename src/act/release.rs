//! act's release layout, as pure functions: version strings, asset names per platform,
//! `checksums.txt` parsing, release URLs and the URL policy (https, or http to loopback
//! only unless `--allow-http`).
//!
//! What can go wrong: an unparsable version, a platform act publishes no asset for, a
//! checksums file without a line for the asset, a URL that is plain http to a remote host.
//! Each is an [`Error`] naming the value and the fix.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// Where act's releases live when `--act-base-url` is not given.
pub const DEFAULT_BASE_URL: &str = "https://github.com/nektos/act/releases/download";

/// The GitHub repository page; `{repo}/releases/latest` redirects to the newest tag.
pub const GITHUB_REPO_URL: &str = "https://github.com/nektos/act";

/// The largest `act` binary accepted from an archive.
pub const MAX_BINARY_BYTES: u64 = 256 * 1024 * 1024;
/// The largest local release archive read (`--act-archive`).
pub const MAX_ARCHIVE_BYTES: u64 = 512 * 1024 * 1024;

/// The requested version: a concrete one, or `latest` (resolved through the network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRequest {
    Exact(String),
    Latest,
}

/// Parse `--act-version`: `0.2.89`, `v0.2.89` or `latest`.
pub fn parse_version(raw: &str) -> Result<VersionRequest> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("latest") {
        return Ok(VersionRequest::Latest);
    }
    let v = raw.strip_prefix('v').unwrap_or(raw);
    if is_version(v) {
        Ok(VersionRequest::Exact(v.to_string()))
    } else {
        Err(Error::usage(
            format!("--act-version {raw:?} is not a version"),
            Some("pass a release version like 0.2.89, or \"latest\"".to_string()),
        ))
    }
}

/// `MAJOR.MINOR.PATCH`, each a number, optionally followed by `-prerelease` of
/// letters, digits and dots (safe to put into a URL path).
pub fn is_version(v: &str) -> bool {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        })
}

/// The release asset act publishes for `os`/`arch` as named by `std::env::consts`
/// (`arm` is split into `armv7`/`armv6` by the caller, see [`host_arch`]).
pub fn asset_name(os: &str, arch: &str) -> Option<String> {
    let os = match os {
        "linux" => "Linux",
        "macos" => "Darwin",
        _ => return None,
    };
    let arch = match (os, arch) {
        (_, "x86_64") => "x86_64",
        (_, "aarch64") => "arm64",
        ("Linux", "armv7") => "armv7",
        ("Linux", "armv6") => "armv6",
        ("Linux", "x86") => "i386",
        ("Linux", "riscv64") => "riscv64",
        _ => return None,
    };
    Some(format!("act_{os}_{arch}.tar.gz"))
}

/// `std::env::consts::ARCH`, with 32-bit ARM told apart by the ARMv7 target feature.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "arm" if cfg!(target_feature = "v7") => "armv7",
        "arm" => "armv6",
        other => other,
    }
}

/// The asset for the machine this runs on.
pub fn host_asset() -> Result<String> {
    asset_name(std::env::consts::OS, host_arch()).ok_or_else(|| {
        Error::failed(
            format!(
                "act publishes no release for {}/{}",
                std::env::consts::OS,
                host_arch()
            ),
            Some("build act yourself and pass --act-archive FILE with --act-sha256 HEX".into()),
        )
    })
}

/// A lower-case 64-digit hex SHA-256, or `None`.
pub fn normalize_sha256(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// The SHA-256 listed for `name` in a goreleaser `checksums.txt` (`<sha256>  <name>`,
/// also `<sha256> *<name>`), matched exactly. Lines that are not of that shape are ignored.
pub fn find_checksum(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (hash, rest) = line
            .trim_end_matches('\r')
            .split_once(char::is_whitespace)?;
        let file = rest.trim_start();
        let file = file.strip_prefix('*').unwrap_or(file);
        (file == name).then(|| normalize_sha256(hash)).flatten()
    })
}

/// `{base}/v{version}/{file}`, with the base's trailing slashes dropped.
pub fn release_url(base: &str, version: &str, file: &str) -> String {
    format!("{}/v{version}/{file}", base.trim_end_matches('/'))
}

/// The `releases/latest` page that redirects to the newest tag, derived from a base in
/// GitHub's layout (`…/OWNER/REPO/releases/download`), else `None`.
pub fn latest_url(base: &str) -> Option<String> {
    let repo = base
        .trim_end_matches('/')
        .strip_suffix("/releases/download")?;
    Some(format!("{repo}/releases/latest"))
}

/// [`latest_url`], or the usage error (exit 2) saying `base` is not in GitHub's layout.
pub fn latest_url_or_usage(base: &str) -> crate::error::Result<String> {
    latest_url(base).ok_or_else(|| {
        crate::error::Error::usage(
            format!(
                "cannot resolve \"latest\" from {base}: not in GitHub's …/releases/download layout"
            ),
            Some("pass a concrete --act-version".to_string()),
        )
    })
}

/// The version in a `…/releases/tag/v0.2.89` location.
pub fn version_from_tag_url(location: &str) -> Option<String> {
    let tag = location
        .trim_end_matches('/')
        .rsplit_once("/releases/tag/")?
        .1;
    let v = tag.strip_prefix('v').unwrap_or(tag);
    is_version(v).then(|| v.to_string())
}

/// Whether an http(s) URL may be used: https always; http to loopback (`localhost`,
/// `127.0.0.0/8`, `::1`), or anywhere with `allow_http`.
pub fn check_url(url: &reqwest::Url, allow_http: bool) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(Error::usage(
            format!("refusing plain http:// download from {url}"),
            Some("use an https:// mirror, or pass --allow-http if this network is trusted".into()),
        )),
        other => Err(Error::usage(
            format!("unsupported URL scheme {other:?} in {url}"),
            Some("use an https:// URL".into()),
        )),
    }
}

pub fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A `GITHUB_TOKEN` may be sent to this URL: github.com and its API host only, never a
/// mirror.
pub fn is_github_host(url: &reqwest::Url) -> bool {
    url.scheme() == "https" && matches!(url.host_str(), Some("github.com") | Some("api.github.com"))
}

/// A path inside an archive that could land outside the directory it is unpacked in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafePath {
    #[error("{} goes up with ..", .0.display())]
    GoesUp(std::path::PathBuf),
    #[error("{} is an absolute path", .0.display())]
    Absolute(std::path::PathBuf),
}

/// Whether a path inside the archive is safe (relative, no `..`), and whether it is the
/// `act` binary at the archive's top level (`act` or `./act`).
pub fn classify_entry(path: &std::path::Path) -> std::result::Result<bool, UnsafePath> {
    use std::path::Component;
    let mut normal = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => normal.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err(UnsafePath::GoesUp(path.to_path_buf())),
            Component::RootDir | Component::Prefix(_) => {
                return Err(UnsafePath::Absolute(path.to_path_buf()));
            }
        }
    }
    Ok(normal.len() == 1 && normal[0] == "act")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("0.2.89").unwrap(),
            VersionRequest::Exact("0.2.89".into())
        );
        assert_eq!(
            parse_version("v0.2.89").unwrap(),
            VersionRequest::Exact("0.2.89".into())
        );
        assert_eq!(parse_version("latest").unwrap(), VersionRequest::Latest);
        assert!(is_version("1.0.0-rc.1"));
        for bad in [
            "",
            "0.2",
            "0.2.x",
            "../../x",
            "0.2.89/../",
            "1.2.3-",
            "1.2.3-a/b",
        ] {
            let err = parse_version(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn assets_as_act_publishes_them() {
        let cases = [
            ("linux", "x86_64", "act_Linux_x86_64.tar.gz"),
            ("linux", "aarch64", "act_Linux_arm64.tar.gz"),
            ("linux", "armv7", "act_Linux_armv7.tar.gz"),
            ("linux", "armv6", "act_Linux_armv6.tar.gz"),
            ("linux", "x86", "act_Linux_i386.tar.gz"),
            ("linux", "riscv64", "act_Linux_riscv64.tar.gz"),
            ("macos", "x86_64", "act_Darwin_x86_64.tar.gz"),
            ("macos", "aarch64", "act_Darwin_arm64.tar.gz"),
        ];
        for (os, arch, want) in cases {
            assert_eq!(asset_name(os, arch).as_deref(), Some(want));
        }
        assert_eq!(asset_name("windows", "x86_64"), None);
        assert_eq!(asset_name("macos", "riscv64"), None);
        assert_eq!(asset_name("freebsd", "x86_64"), None);
        assert!(host_asset().is_ok());
    }

    #[test]
    fn checksums_match_the_exact_name() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let text = format!(
            "{a}  act_Linux_x86_64.tar.gz.sbom\n{b}  act_Linux_x86_64.tar.gz\r\nnot a line\n{}  act_Linux_arm64.tar.gz\n{} *act_Darwin_arm64.tar.gz\nxyz  act_Linux_i386.tar.gz\n",
            "c".repeat(64),
            "d".repeat(64)
        );
        assert_eq!(
            find_checksum(&text, "act_Linux_x86_64.tar.gz"),
            Some("b".repeat(64))
        );
        assert_eq!(
            find_checksum(&text, "act_Linux_arm64.tar.gz"),
            Some("c".repeat(64))
        );
        assert_eq!(
            find_checksum(&text, "act_Darwin_arm64.tar.gz"),
            Some("d".repeat(64))
        );
        assert_eq!(find_checksum(&text, "act_Linux_i386.tar.gz"), None);
        assert_eq!(find_checksum(&text, "act_Linux_x86_64"), None);
        assert_eq!(normalize_sha256(" ABC "), None);
    }

    #[test]
    fn urls() {
        assert_eq!(
            release_url(DEFAULT_BASE_URL, "0.2.89", "checksums.txt"),
            "https://github.com/nektos/act/releases/download/v0.2.89/checksums.txt"
        );
        assert_eq!(
            release_url("http://127.0.0.1:9/m/", "1.0.0", "a"),
            "http://127.0.0.1:9/m/v1.0.0/a"
        );
        assert_eq!(
            latest_url(DEFAULT_BASE_URL).as_deref(),
            Some("https://github.com/nektos/act/releases/latest")
        );
        assert_eq!(latest_url("https://mirror.example/act"), None);
        assert_eq!(
            version_from_tag_url("https://github.com/nektos/act/releases/tag/v0.2.89"),
            Some("0.2.89".into())
        );
        assert_eq!(
            version_from_tag_url("/nektos/act/releases/tag/v0.3.0/"),
            Some("0.3.0".into())
        );
        assert_eq!(
            version_from_tag_url("https://github.com/nektos/act/releases"),
            None
        );
    }

    #[test]
    fn url_policy() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(check_url(&u("https://example.com/x"), false).is_ok());
        assert!(check_url(&u("http://127.0.0.1:8080/x"), false).is_ok());
        assert!(check_url(&u("http://127.9.9.9/x"), false).is_ok());
        assert!(check_url(&u("http://localhost/x"), false).is_ok());
        assert!(check_url(&u("http://[::1]:80/x"), false).is_ok());
        let err = check_url(&u("http://mirror.example/x"), false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.hint().unwrap().contains("--allow-http"));
        assert!(check_url(&u("http://mirror.example/x"), true).is_ok());
        assert!(check_url(&u("http://10.0.0.1/x"), false).is_err());
        assert!(check_url(&u("ftp://example.com/x"), true).is_err());
        assert!(is_github_host(&u("https://github.com/nektos/act")));
        assert!(!is_github_host(&u("https://github.com.evil.example/")));
        assert!(!is_github_host(&u("http://127.0.0.1/nektos/act")));
    }

    #[test]
    fn archive_paths() {
        assert_eq!(classify_entry(Path::new("act")), Ok(true));
        assert_eq!(classify_entry(Path::new("./act")), Ok(true));
        assert_eq!(classify_entry(Path::new("LICENSE")), Ok(false));
        assert_eq!(classify_entry(Path::new("bin/act")), Ok(false));
        assert!(classify_entry(Path::new("/act")).is_err());
        assert!(classify_entry(Path::new("../act")).is_err());
        assert!(classify_entry(Path::new("x/../../act")).is_err());
    }
}
