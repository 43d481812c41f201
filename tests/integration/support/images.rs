//! Docker images built locally for tests (no registry is reachable): a busybox "platform"
//! image that act can run `run:` steps in. Built once per test process with `docker
//! import` of a tar holding the static busybox, a symlink per applet in `/bin`, a `bash`
//! shim (act's default shell flags are stripped, the script runs under busybox `sh`), a
//! 1777 `/tmp` and minimal `/etc/passwd`.
//!
//! What can go wrong: the fixture or daemon is missing (skip or, under CI, fail), the
//! import fails (the test fails with docker's output).

use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::cmd::Cmd;

const BASH_SHIM: &str = "#!/bin/sh\n\
# act starts run steps with bash flags busybox sh does not know: drop them.\n\
while [ $# -gt 0 ]; do\n\
  case \"$1\" in --noprofile|--norc) shift ;; *) break ;; esac\n\
done\n\
exec /bin/sh \"$@\"\n";

/// The tag of the busybox platform image, importing it on first use. `None` (after
/// printing why) when the daemon or the busybox fixture is missing outside CI.
pub fn busybox_platform_image() -> Option<String> {
    static IMAGE: OnceLock<Option<String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            if !super::fixtures::require_daemon() {
                return None;
            }
            import_busybox_platform(None)
        })
        .clone()
}

/// The busybox platform image in the daemon at `docker_host` (`None`: the machine's), under
/// the same tag [`busybox_platform_image`] uses, imported when it is not there.
pub fn import_busybox_platform(docker_host: Option<&str>) -> Option<String> {
    let busybox = super::fixtures::require_busybox()?;
    let bytes = std::fs::read(&busybox).unwrap();
    let digest = hex::encode(Sha256::digest(&bytes));
    let tag = format!("actsim-test/busybox-platform:{}", &digest[..12]);
    let with_host = |cmd: Cmd| match docker_host {
        Some(h) => cmd.env("DOCKER_HOST", h),
        None => cmd,
    };
    let inspect = with_host(Cmd::new("docker"))
        .args(["image", "inspect", "--format", "{{.Id}}", &tag])
        .timeout(Duration::from_secs(30))
        .run();
    if inspect.code != Some(0) {
        import(&busybox, &bytes, &tag, docker_host);
    }
    Some(tag)
}

/// `docker import` the platform tar as `tag`.
/// `import --change … - TAG`: a platform image from a tar on stdin, with the system PATH
/// and `sh` as its command (`docker` and `podman` take the same words).
pub fn import_args(tag: &str) -> Vec<String> {
    vec![
        "import".into(),
        "--change".into(),
        format!("ENV PATH={}", super::SYSTEM_PATH),
        "--change".into(),
        "CMD [\"sh\"]".into(),
        "-".into(),
        tag.into(),
    ]
}

fn import(busybox: &std::path::Path, bytes: &[u8], tag: &str, docker_host: Option<&str>) {
    let applets = Cmd::new(busybox)
        .arg("--list")
        .timeout(Duration::from_secs(10))
        .run();
    applets.assert_success();
    let tar = platform_tar(bytes, applets.stdout.lines());
    let cmd = match docker_host {
        Some(h) => Cmd::new("docker").env("DOCKER_HOST", h),
        None => Cmd::new("docker"),
    };
    let out = cmd
        .args(import_args(tag))
        .stdin_bytes(tar)
        .timeout(Duration::from_secs(120))
        .run();
    out.assert_success();
}

/// The busybox platform image's root file system as a tar (for importing it into another
/// engine, e.g. Podman); `None` (after printing why) when the fixture is missing.
pub fn busybox_platform_tar() -> Option<Vec<u8>> {
    let busybox = super::fixtures::require_busybox()?;
    let bytes = std::fs::read(&busybox).unwrap();
    let applets = Cmd::new(&busybox)
        .arg("--list")
        .timeout(Duration::from_secs(10))
        .run();
    applets.assert_success();
    Some(platform_tar(&bytes, applets.stdout.lines()))
}

fn platform_tar<'a>(busybox: &[u8], applets: impl Iterator<Item = &'a str>) -> Vec<u8> {
    platform_tar_with(busybox, applets, true)
}

/// The busybox platform image without the `bash` shim (`actsim-test/busybox-nobash:<sha>`),
/// imported on first use: a job whose run steps use the default shell fails in it the way
/// it does in an image without bash. `None` (after printing why) without the fixtures.
pub fn nobash_image() -> Option<String> {
    static IMAGE: OnceLock<Option<String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            if !super::fixtures::require_daemon() {
                return None;
            }
            let busybox = super::fixtures::require_busybox()?;
            let bytes = std::fs::read(&busybox).unwrap();
            let tag = format!(
                "actsim-test/busybox-nobash:{}",
                &hex::encode(Sha256::digest(&bytes))[..12]
            );
            if !present(&tag) {
                let applets = Cmd::new(&busybox)
                    .arg("--list")
                    .timeout(Duration::from_secs(10))
                    .run();
                applets.assert_success();
                let tar = platform_tar_with(&bytes, applets.stdout.lines(), false);
                Cmd::new("docker")
                    .args(import_args(&tag))
                    .stdin_bytes(tar)
                    .timeout(Duration::from_secs(120))
                    .run()
                    .assert_success();
            }
            Some(tag)
        })
        .clone()
}

fn present(tag: &str) -> bool {
    Cmd::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", tag])
        .timeout(Duration::from_secs(30))
        .run()
        .code
        == Some(0)
}

/// A Debian image with bash and the host's node (`actsim-test/bash-node:<rootfs sha>`), for
/// workflows that need a real bash, JavaScript actions and Docker actions: the fleet
/// rootfs tar (verified by scripts/fixtures.sh) imported, `/usr/bin/node` copied in. Built
/// once (the tag is stable); `None` (after printing why) when the tar or node is missing.
pub fn bash_node_image() -> Option<String> {
    static IMAGE: OnceLock<Option<String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            if !super::fixtures::require_daemon() {
                return None;
            }
            let cache = std::env::var_os("ACTSIM_TEST_CACHE")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::PathBuf::from("/var/cache/actsim-tests"));
            let rootfs = cache.join("fleet-rootfs.tar");
            let sums = std::fs::read_to_string(cache.join("fleet-rootfs.tar.sha256"));
            let node = std::path::Path::new("/usr/bin/node");
            let (Ok(sums), true, true) = (sums, rootfs.is_file(), node.is_file()) else {
                super::fixtures::skip(
                    "the fleet rootfs (scripts/fixtures.sh) or /usr/bin/node is missing",
                );
                return None;
            };
            let tag = format!("actsim-test/bash-node:{}", &sums[..12]);
            if present(&tag) {
                return Some(tag);
            }
            let base = format!("{tag}-base");
            if !present(&base) {
                Cmd::new("docker")
                    .args([
                        "import",
                        "--change",
                        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "--change",
                        "CMD [\"bash\"]",
                    ])
                    .arg(&rootfs)
                    .arg(&base)
                    .timeout(Duration::from_secs(600))
                    .run()
                    .assert_success();
            }
            let ctx = super::temp::dir();
            std::fs::copy(node, ctx.path().join("node")).unwrap();
            std::fs::write(
                ctx.path().join("Dockerfile"),
                format!("FROM {base}\nCOPY node /usr/local/bin/node\n"),
            )
            .unwrap();
            Cmd::new("docker")
                .args(["build", "-q", "-t", &tag])
                .arg(ctx.path())
                .env("DOCKER_BUILDKIT", "0")
                .timeout(Duration::from_secs(600))
                .run()
                .assert_success();
            Some(tag)
        })
        .clone()
}

fn platform_tar_with<'a>(
    busybox: &[u8],
    applets: impl Iterator<Item = &'a str>,
    bash: bool,
) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(0);
        b.append_data(&mut h, path, std::io::empty()).unwrap();
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        b.append_data(&mut h, path, data).unwrap();
    };
    let link = |b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(0);
        b.append_link(&mut h, path, target).unwrap();
    };
    for (d, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("var", 0o755),
        ("var/run", 0o755),
    ] {
        dir(&mut b, d, mode);
    }
    file(&mut b, "bin/busybox", 0o755, busybox);
    if bash {
        file(&mut b, "bin/bash", 0o755, BASH_SHIM.as_bytes());
    }
    file(
        &mut b,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    file(&mut b, "etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n");
    for applet in applets.map(str::trim).filter(|a| !a.is_empty()) {
        if applet != "busybox" && applet != "bash" && !applet.contains('/') {
            link(&mut b, &format!("bin/{applet}"), "busybox");
        }
    }
    link(&mut b, "usr/bin/env", "/bin/busybox");
    b.into_inner().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_busybox_platform_image_runs_a_shell() {
        let Some(image) = busybox_platform_image() else {
            return;
        };
        let out = Cmd::new("docker")
            .args([
                "run",
                "--rm",
                &image,
                "bash",
                "--noprofile",
                "--norc",
                "-e",
                "-c",
            ])
            .arg("echo hi from $(uname -s); test -d /tmp && tail -n1 /etc/passwd")
            .timeout(Duration::from_secs(60))
            .run();
        out.assert_success();
        assert!(out.stdout.contains("hi from Linux"), "{out}");
    }
}
