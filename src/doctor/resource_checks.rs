//! `docker.resources`: room for act's images and jobs.
//!
//! Free space where the daemon keeps images (`DockerRootDir` from the engine's `/info`;
//! warn below 10 GiB, fail below 2 GiB), free space of act's cache on the host, the memory
//! the daemon reports (warn below 2 GiB), and the platform image: its size when present,
//! or a warning when it is absent, is one of the large images (~17 GB) and does not fit.
//! The data root is measured (`statvfs`) only when the daemon runs on this machine: a
//! `unix://` socket that is not a VM's (Docker Desktop, colima, Rancher, OrbStack).
//! What can go wrong: `/info` fails or hangs (the check fails within the deadline), the
//! data root is not visible from here (reported, not measured).

use std::path::{Path, PathBuf};

use bollard::Docker;

use super::Outcome;
use super::context::After;
use crate::docker::endpoint;
use crate::system::program::left;

const GIB: u64 = 1 << 30;
/// Free space in the data root below this warns.
pub const WARN_FREE: u64 = 10 * GIB;
/// Free space in the data root below this fails.
pub const FAIL_FREE: u64 = 2 * GIB;
/// Free space for act's cache below this warns.
pub const CACHE_WARN_FREE: u64 = 2 * GIB;
/// Daemon memory below this warns.
pub const LOW_MEMORY: u64 = 2 * GIB;
/// What a large platform image takes on disk, roughly (the issue's ~17 GB, and room).
pub const LARGE_IMAGE: u64 = 20 * GIB;

/// Socket flavours whose daemon runs in a VM: its data root is not this machine's.
const VM_FLAVOURS: [&str; 5] = [
    "Docker Desktop",
    "colima",
    "colima (legacy)",
    "Rancher Desktop",
    "OrbStack",
];

/// Free and total bytes of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub free: u64,
    pub total: u64,
}

/// The platform image, as far as the daemon knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Platform {
    /// No platform image is configured (act.docker reports that).
    Unknown,
    Present {
        image: String,
        size: u64,
    },
    Absent {
        image: String,
    },
}

/// What the check judges; gathered by [`observe`], judged purely by [`judge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub root_dir: String,
    /// The data root's space, or why it was not measured.
    pub root_space: Result<Space, Unmeasured>,
    pub mem_total: Option<u64>,
    pub cache: Option<(PathBuf, Space)>,
    pub platform: Platform,
}

/// Why the data root's space is not measured (the check then gives no verdict on it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unmeasured {
    /// The endpoint is no local socket: the daemon's host.
    #[error("the daemon is remote ({0}): its data root is not on this machine")]
    Remote(String),
    /// The socket's flavour runs the daemon in a VM.
    #[error("{0} runs the daemon in a VM: its data root is inside the VM")]
    InVm(&'static str),
    /// The data root the daemon names is no directory here.
    #[error("{0} is not a directory on this machine")]
    NotHere(String),
    #[error("cannot measure the free space of {0}")]
    NoStatfs(String),
}

/// `1.5 GiB`, `512 MiB`.
pub fn human_bytes(n: u64) -> String {
    if n >= GIB {
        format!("{:.1} GiB", n as f64 / GIB as f64)
    } else {
        format!("{} MiB", n >> 20)
    }
}

/// Whether `image` is one of the large act platform images (~17 GB).
pub fn is_large_image(image: &str) -> bool {
    let (repo, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
    (repo.ends_with("catthehacker/ubuntu") && tag.starts_with("full-"))
        || repo.ends_with("nektos/act-environments-ubuntu")
}

/// `statvfs` of `path`, or of its nearest existing ancestor.
// The block counts are u64 here, narrower on some 32-bit targets: keep the casts.
#[allow(clippy::unnecessary_cast)]
pub fn space_of(path: &Path) -> Option<(PathBuf, Space)> {
    let mut p = path;
    loop {
        if let Ok(st) = nix::sys::statvfs::statvfs(p) {
            let frag = st.fragment_size() as u64;
            return Some((
                p.to_path_buf(),
                Space {
                    free: st.blocks_available() as u64 * frag,
                    total: st.blocks() as u64 * frag,
                },
            ));
        }
        p = p.parent()?;
    }
}

/// The verdict lines being gathered: summary parts, detail, failures, warnings, fixes.
#[derive(Default)]
struct Verdict {
    parts: Vec<String>,
    detail: Vec<String>,
    fail: Vec<String>,
    warn: Vec<String>,
    fixes: Vec<String>,
}

impl Verdict {
    fn outcome(self) -> Outcome {
        let summary = self.parts.join("; ");
        let out = if !self.fail.is_empty() {
            let mut all = self.fail;
            all.extend(self.warn);
            Outcome::fail(format!("{}; {summary}", all.join("; ")), self.fixes)
        } else if !self.warn.is_empty() {
            Outcome::warn(format!("{}; {summary}", self.warn.join("; ")), self.fixes)
        } else {
            Outcome::pass(summary)
        };
        out.details(self.detail)
    }

    /// Free space where the daemon keeps images.
    fn root(&mut self, f: &Facts) {
        let space = match &f.root_space {
            Ok(space) => space,
            Err(why) => {
                self.parts
                    .push(format!("data root {} not measured", f.root_dir));
                self.detail.push(why.to_string());
                return;
            }
        };
        self.parts.push(format!(
            "{} free of {} in {}",
            human_bytes(space.free),
            human_bytes(space.total),
            f.root_dir
        ));
        if space.free >= WARN_FREE {
            return;
        }
        let line = format!(
            "only {} free where the daemon keeps images ({}); act's platform images need several GiB (the large ones ~17 GB)",
            human_bytes(space.free),
            f.root_dir
        );
        if space.free < FAIL_FREE {
            self.fail.push(line);
        } else {
            self.warn.push(line);
        }
        self.fixes.push(
            "free space: docker system prune (stopped containers, unused networks, dangling images, build cache)".to_string(),
        );
        self.fixes
            .push("remove unused images too: docker image prune -a".to_string());
        self.fixes.push(format!(
            "or give the daemon a larger data root: \"data-root\" in /etc/docker/daemon.json (now {})",
            f.root_dir
        ));
    }

    /// Free space for act's cache, and the daemon's memory.
    fn cache_and_memory(&mut self, f: &Facts) {
        if let Some((dir, space)) = &f.cache {
            self.detail.push(format!(
                "act cache {}: {} free of {}",
                dir.display(),
                human_bytes(space.free),
                human_bytes(space.total)
            ));
            if space.free < CACHE_WARN_FREE {
                self.warn.push(format!(
                    "only {} free for act's cache ({})",
                    human_bytes(space.free),
                    dir.display()
                ));
                self.fixes.push(format!(
                    "free space on the file system of {}",
                    dir.display()
                ));
            }
        }
        if let Some(mem) = f.mem_total {
            self.parts
                .push(format!("daemon memory {}", human_bytes(mem)));
            if mem < LOW_MEMORY {
                self.warn.push(format!(
                    "the daemon reports only {} of memory; act jobs in the ubuntu images need about 2 GiB",
                    human_bytes(mem)
                ));
                self.fixes.push(
                    "give the daemon (or its VM: Docker Desktop, colima) at least 2 GiB of memory"
                        .to_string(),
                );
            }
        }
    }

    /// The platform image: its size, or whether the first job's pull fits.
    fn platform(&mut self, f: &Facts) {
        match &f.platform {
            Platform::Unknown => {}
            Platform::Present { image, size } => {
                self.parts
                    .push(format!("platform image {image} is {}", human_bytes(*size)));
            }
            Platform::Absent { image } => {
                let large = is_large_image(image);
                self.parts.push(format!(
                    "platform image {image} not present{}",
                    if large {
                        " (one of the large images, ~17 GB)"
                    } else {
                        ""
                    }
                ));
                self.detail.push(format!("the first job pulls {image}"));
                if large
                    && let Ok(space) = &f.root_space
                    && space.free < LARGE_IMAGE
                {
                    self.warn.push(format!(
                        "the mapped platform image {image} is one of the large ones (~17 GB) and {} is free",
                        human_bytes(space.free)
                    ));
                    self.fixes.push(
                        "map a smaller image: actsim setup --platform-image catthehacker/ubuntu:act-latest"
                            .to_string(),
                    );
                }
            }
        }
    }
}

/// The verdict. Pure.
pub fn judge(f: &Facts) -> Outcome {
    let mut v = Verdict {
        detail: vec![format!("DockerRootDir {}", f.root_dir)],
        ..Default::default()
    };
    v.root(f);
    v.cache_and_memory(f);
    v.platform(f);
    v.outcome()
}

/// Why the daemon's facts could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("the daemon's /info failed: {0}")]
    Info(String),
    #[error("the daemon did not answer /info before the deadline")]
    InfoTimeout,
}

/// `docker.resources`
pub async fn resources(ctx: &After<'_>) -> Outcome {
    let Some(docker) = ctx.docker() else {
        return Outcome::skip("no daemon (see docker.daemon)");
    };
    match observe(ctx, docker).await {
        Ok(facts) => judge(&facts),
        Err(why) => Outcome::fail(
            why.to_string(),
            vec!["see docker.daemon; then look at the daemon's log: journalctl -u docker --since -10min".into()],
        ),
    }
}

async fn observe(ctx: &After<'_>, docker: &Docker) -> Result<Facts, ObserveError> {
    let deadline = ctx.deadline();
    let info = match tokio::time::timeout(left(deadline), docker.info()).await {
        Ok(Ok(info)) => info,
        Ok(Err(e)) => return Err(ObserveError::Info(crate::docker::client::describe(&e))),
        Err(_) => return Err(ObserveError::InfoTimeout),
    };
    let root_dir = info
        .docker_root_dir
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "(not reported)".into());
    let root_space = root_space(ctx, &root_dir);
    let cache = space_of(&ctx.inputs.user().act_cache_dir(ctx.inputs.process()));
    let platform = match ctx.inputs.platform_image() {
        None => Platform::Unknown,
        Some(image) => match tokio::time::timeout(left(deadline), docker.inspect_image(&image))
            .await
        {
            Ok(Ok(i)) => Platform::Present {
                image,
                size: i.size.unwrap_or(0).max(0) as u64,
            },
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            })) => Platform::Absent { image },
            _ => Platform::Unknown,
        },
    };
    Ok(Facts {
        root_dir,
        root_space,
        mem_total: info.mem_total.filter(|m| *m > 0).map(|m| m as u64),
        cache,
        platform,
    })
}

/// The data root's space when it is on this machine, else why it is not measured.
fn root_space(ctx: &After<'_>, root_dir: &str) -> Result<Space, Unmeasured> {
    let Some(path) = ctx.endpoint().and_then(|e| e.socket_path()) else {
        return Err(Unmeasured::Remote(
            ctx.endpoint()
                .map(|e| e.host.clone())
                .unwrap_or_else(|| "?".into()),
        ));
    };
    let flavour = endpoint::flavour(&path, ctx.inputs.process(), ctx.inputs.home());
    if VM_FLAVOURS.contains(&flavour) {
        Err(Unmeasured::InVm(flavour))
    } else if !root_dir.starts_with('/') || !Path::new(root_dir).is_dir() {
        Err(Unmeasured::NotHere(root_dir.to_string()))
    } else {
        space_of(Path::new(root_dir))
            .map(|(_, s)| s)
            .ok_or_else(|| Unmeasured::NoStatfs(root_dir.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn facts(free: u64) -> Facts {
        Facts {
            root_dir: "/var/lib/docker".into(),
            root_space: Ok(Space {
                free,
                total: 100 * GIB,
            }),
            mem_total: Some(8 * GIB),
            cache: Some((
                PathBuf::from("/home/a/.cache"),
                Space {
                    free: 50 * GIB,
                    total: 100 * GIB,
                },
            )),
            platform: Platform::Present {
                image: "catthehacker/ubuntu:act-latest".into(),
                size: 600 << 20,
            },
        }
    }

    #[test]
    fn thresholds_warn_below_10_gib_fail_below_2_gib() {
        assert_eq!(judge(&facts(50 * GIB)).status, Status::Pass);
        assert_eq!(judge(&facts(10 * GIB)).status, Status::Pass);
        assert_eq!(judge(&facts(10 * GIB - 1)).status, Status::Warn);
        assert_eq!(judge(&facts(2 * GIB)).status, Status::Warn);
        let fail = judge(&facts(2 * GIB - 1));
        assert_eq!(fail.status, Status::Fail);
        assert!(fail.summary.contains("/var/lib/docker"), "{}", fail.summary);
        assert!(fail.fix.iter().any(|f| f.contains("docker system prune")));
        let pass = judge(&facts(50 * GIB));
        assert!(
            pass.summary
                .contains("platform image catthehacker/ubuntu:act-latest is 600 MiB"),
            "{}",
            pass.summary
        );
        assert!(
            pass.summary.contains("daemon memory 8.0 GiB"),
            "{}",
            pass.summary
        );
    }

    #[test]
    fn memory_cache_and_the_large_image() {
        let mut f = facts(50 * GIB);
        f.mem_total = Some(GIB);
        assert_eq!(judge(&f).status, Status::Warn);
        let mut f = facts(15 * GIB);
        f.platform = Platform::Absent {
            image: "catthehacker/ubuntu:full-latest".into(),
        };
        let out = judge(&f);
        assert_eq!(out.status, Status::Warn, "{}", out.summary);
        assert!(out.summary.contains("large"), "{}", out.summary);
        let mut f = facts(50 * GIB);
        f.platform = Platform::Absent {
            image: "catthehacker/ubuntu:full-latest".into(),
        };
        assert_eq!(judge(&f).status, Status::Pass);
        let mut f = facts(50 * GIB);
        f.cache.as_mut().unwrap().1.free = GIB;
        assert_eq!(judge(&f).status, Status::Warn);
        // Not measured (a VM's data root): no verdict on the space.
        let mut f = facts(0);
        f.root_space = Err(Unmeasured::InVm("Docker Desktop"));
        assert_eq!(judge(&f).status, Status::Pass);
        assert!(is_large_image("ghcr.io/catthehacker/ubuntu:full-22.04"));
        assert!(!is_large_image("catthehacker/ubuntu:act-latest"));
    }
}
