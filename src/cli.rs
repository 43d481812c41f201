//! Command-line types. Their doc comments are the `--help` text.
//!
//! Every option of `setup` (and the shared ones of `doctor`) can also come from an
//! `ACTSIM_*` environment variable, so provisioning tools can set them once. Switches
//! read `1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off` there (`ACTSIM_YES=1`).
//! What can go wrong: a bad flag or value, which clap reports and `main` maps to exit 2.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Install and check nektos/act on Docker, so GitHub Actions workflows run locally.
#[derive(Debug, Parser)]
#[command(name = "actsim", version = crate::VERSION, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that Docker and act work together; print a fix for every problem found.
    ///
    /// Exit codes: 0 no check failed (warnings allowed), 1 a check failed, 2 usage error.
    Doctor(DoctorArgs),
    /// Set up this machine: install a verified act, the Docker group, the compose and act
    /// configuration, then run the doctor checks.
    ///
    /// Exit codes: 0 done, 1 a step or the final check failed, 2 usage error, 3 aborted
    /// (declined, or no terminal without --yes), 4 act download or verification failed,
    /// 5 a step needs privileges this run does not have.
    Setup(SetupArgs),
    /// Run workflows through act: a preflight, the images first (pulled with progress),
    /// act's log followed per job and step, a watchdog, cleanup, and a job summary.
    ///
    /// Exit codes: 0 every job succeeded, 1 a job failed, the preflight failed or an image
    /// is missing, 2 usage error, 124 --timeout hit, 130 Ctrl-C, 143 SIGTERM.
    Run(RunArgs),
    /// Undo what setup did, from its receipt: remove act (restoring the one it replaced),
    /// the actsim/act images, the act cache volume, the unedited compose file and .env,
    /// actsim's lines in the actrc, and the state dir. Edited files are kept and listed.
    ///
    /// Exit codes as for setup: 0 done, 1 a step failed, 2 usage error, 3 aborted
    /// (declined, or no terminal without --yes), 5 a step needs privileges.
    Uninstall(UninstallArgs),
    /// Print a shell completion script (bash, zsh or fish) to stdout.
    ///
    /// bash: `source <(actsim completions bash)`; zsh: `actsim completions zsh >
    /// "${fpath[1]}/_actsim"`; fish: `actsim completions fish >
    /// ~/.config/fish/completions/actsim.fish`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout, or write one page per command into --dir.
    ///
    /// `actsim man | man -l -`
    Man(ManArgs),
    /// Write a lock file of verified act release hashes (archive and binary, per platform)
    /// for `setup --act-lock` on many machines.
    ///
    /// Exit codes: 0 written, 2 usage error, 4 a download or checksum failed (nothing written).
    Lock(LockArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UninstallArgs {
    /// Do not ask; apply the plan.
    #[arg(short = 'y', long, env = "ACTSIM_YES", value_parser = BoolishValueParser::new())]
    pub yes: bool,

    /// Show the plan and change nothing.
    #[arg(long, env = "ACTSIM_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,

    /// The user whose setup to undo [default: SUDO_USER under sudo, else the current user].
    #[arg(long, value_name = "NAME", env = "ACTSIM_USER")]
    pub user: Option<String>,

    /// Keep the installed act (and do not restore the one setup replaced).
    #[arg(long)]
    pub keep_act: bool,

    /// Also remove the user from the docker group, when setup added them to it.
    #[arg(long)]
    pub remove_group: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, env = "ACTSIM_FORMAT")]
    pub format: Format,

    /// Deadline for waiting on the daemon and the state-dir lock, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Print only problems and the summary.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write actsim.1 and one page per command (actsim-setup.1, ...) into this directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub use crate::ui::Format;

/// Options shared by `doctor` and `setup`.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, env = "ACTSIM_FORMAT")]
    pub format: Format,

    /// Where act is installed [default: /usr/local/bin as root, else ~/.local/bin].
    #[arg(long, value_name = "DIR", env = "ACTSIM_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,

    /// Where docker-compose.yml and .env live [default: $XDG_CONFIG_HOME/actsim].
    #[arg(long, value_name = "DIR", env = "ACTSIM_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,

    /// The user to set up or check [default: SUDO_USER under sudo, else the current user].
    #[arg(long, value_name = "NAME", env = "ACTSIM_USER")]
    pub user: Option<String>,

    /// Image act runs jobs in for ubuntu-latest, ubuntu-24.04 and ubuntu-22.04.
    #[arg(long, value_name = "IMAGE", env = "ACTSIM_PLATFORM_IMAGE")]
    pub platform_image: Option<String>,

    /// The daemon to use, like DOCKER_HOST (e.g. unix:///var/run/docker.sock); as root for
    /// another user it is root's choice, never the user's docker config.
    #[arg(long, value_name = "URL", env = "ACTSIM_DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// A lock file written by `actsim lock`: setup installs only the archive and binary it
    /// names (checksums.txt is not fetched); doctor warns when the installed act differs.
    #[arg(long, value_name = "FILE", env = "ACTSIM_ACT_LOCK")]
    pub act_lock: Option<PathBuf>,

    /// Show details under every check.
    #[arg(short, long)]
    pub verbose: bool,

    /// Print only problems and the summary.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub common: Common,

    /// Deadline for the whole run, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Also run a real workflow job through act (check act.run).
    #[arg(long)]
    pub deep: bool,

    /// Image for the container checks [default: built locally from the installed act].
    #[arg(long, value_name = "IMAGE")]
    pub probe_image: Option<String>,

    /// Also write a support bundle (.tar.gz) for a bug report: the findings, versions,
    /// endpoint, receipt, act and compose configuration with secret values replaced by ***,
    /// act --bug-report, the last run log. See the README for its full contents.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,

    /// Run the setup steps that fix failing or warning checks (missing or changed act,
    /// missing actrc mapping, stale DOCKER_GID, missing image, group not joined): shown
    /// first, confirmed unless --yes; then check again. Exit codes as for setup.
    #[arg(long)]
    pub fix: bool,

    /// With --fix: do not ask, apply the fix.
    #[arg(short = 'y', long, requires = "fix")]
    pub yes: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub common: Common,

    /// Do not ask; apply the plan (for scripts and provisioning).
    #[arg(short = 'y', long, env = "ACTSIM_YES", value_parser = BoolishValueParser::new())]
    pub yes: bool,

    /// Show the plan and change nothing.
    #[arg(long, env = "ACTSIM_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,

    /// act version to install: a version like 0.2.89, or "latest" [default: the lock's
    /// version with --act-lock, else 0.2.89].
    #[arg(long, value_name = "VER", env = "ACTSIM_ACT_VERSION")]
    pub act_version: Option<String>,

    /// Release download base; files are fetched from {base}/v{VER}/{asset}.
    #[arg(long, value_name = "URL", env = "ACTSIM_ACT_BASE_URL")]
    pub act_base_url: Option<String>,

    /// Install from this local release archive instead of downloading (needs
    /// --act-checksums, --act-sha256 or --act-lock).
    #[arg(long, value_name = "FILE", env = "ACTSIM_ACT_ARCHIVE")]
    pub act_archive: Option<PathBuf>,

    /// Local checksums.txt to verify the archive against.
    #[arg(long, value_name = "FILE", env = "ACTSIM_ACT_CHECKSUMS")]
    pub act_checksums: Option<PathBuf>,

    /// Expected SHA-256 of the archive (checked in addition to checksums.txt).
    #[arg(long, value_name = "HEX", env = "ACTSIM_ACT_SHA256")]
    pub act_sha256: Option<String>,

    /// Group to join for socket access [default: the group owning the daemon socket].
    #[arg(long, value_name = "NAME", env = "ACTSIM_DOCKER_GROUP")]
    pub docker_group: Option<String>,

    /// Skip the final doctor check.
    #[arg(long, env = "ACTSIM_NO_CHECK", value_parser = BoolishValueParser::new())]
    pub no_check: bool,

    /// Deadline for each waiting step (download, lock, image build), in seconds; the final
    /// check gets the same, at most 60.
    #[arg(long, value_name = "SECS", default_value_t = 300, env = "ACTSIM_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,

    /// Extra trusted CA certificate (PEM) for a mirror [env: SSL_CERT_FILE also read].
    #[arg(long, value_name = "FILE", env = "ACTSIM_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Allow plain http:// downloads from hosts other than loopback.
    #[arg(long, env = "ACTSIM_ALLOW_HTTP", value_parser = BoolishValueParser::new())]
    pub allow_http: bool,

    /// An extra line for act's actrc, e.g. --act-arg=--no-cache-server on a host without
    /// a network (repeatable; the variable takes a comma-separated list).
    #[arg(
        long,
        value_name = "ARG",
        env = "ACTSIM_ACT_ARGS",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub act_arg: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// act version to lock: a version like 0.2.89, or "latest".
    #[arg(long, value_name = "VER", default_value = crate::act::DEFAULT_VERSION)]
    pub act_version: String,

    /// Release download base; files are fetched from {base}/v{VER}/{asset}.
    #[arg(
        long,
        value_name = "URL",
        env = "ACTSIM_ACT_BASE_URL",
        conflicts_with = "act_archive"
    )]
    pub act_base_url: Option<String>,

    /// Lock these local release archives (named as released, e.g. act_Linux_arm64.tar.gz)
    /// instead of downloading.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub act_archive: Vec<PathBuf>,

    /// The release's checksums.txt for --act-archive [default: checksums.txt beside the
    /// first archive].
    #[arg(long, value_name = "FILE")]
    pub act_checksums: Option<PathBuf>,

    /// A platform to lock, OS/ARCH (repeatable) [default: linux/x86_64 and linux/arm64,
    /// those of them the mirror has; with --act-archive: the archives'].
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Vec<String>,

    /// Record the --act-base-url mirror's URLs in the lock instead of the release's own
    /// (GitHub) URLs.
    #[arg(long)]
    pub record_mirror_url: bool,

    /// Where to write the lock.
    #[arg(short = 'o', long, value_name = "FILE", default_value = crate::act::lockfile::DEFAULT_PATH)]
    pub output: PathBuf,

    /// Deadline for all downloads, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,

    /// Extra trusted CA certificate (PEM) for a mirror [env: SSL_CERT_FILE also read].
    #[arg(long, value_name = "FILE", env = "ACTSIM_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Allow plain http:// downloads from hosts other than loopback.
    #[arg(long, env = "ACTSIM_ALLOW_HTTP", value_parser = BoolishValueParser::new())]
    pub allow_http: bool,
}

/// `actsim run [EVENT] [-W PATH] [-j JOB] ... [-- ACT_ARGS...]`, from a repository.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The event to run the workflows of.
    #[arg(default_value = "push", value_name = "EVENT")]
    pub event: String,

    /// Workflow file or directory (passed to act) [default: .github/workflows].
    #[arg(short = 'W', long = "workflows", value_name = "PATH")]
    pub workflows: Option<PathBuf>,

    /// Run only this job (passed to act).
    #[arg(short = 'j', long = "job", value_name = "JOB")]
    pub job: Option<String>,

    /// Image for every `runs-on` label of the selected jobs (a `-P` after `--` still wins).
    #[arg(long, value_name = "IMAGE", env = "ACTSIM_PLATFORM_IMAGE")]
    pub platform_image: Option<String>,

    /// Run act in the compose service `actions-simulator` instead of on the host.
    #[arg(long)]
    pub in_container: bool,

    /// Never pull: a missing image stops the run (exit 1) before act starts.
    #[arg(long)]
    pub no_pull: bool,

    /// Print a diagnosis when act prints nothing for this long, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,

    /// Bound the whole run, in seconds: act is interrupted, then killed (exit 124).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=604800))]
    pub timeout: Option<u64>,

    /// Where the run logs go [default: <state dir>/logs]; the last 20 runs are kept.
    #[arg(long, value_name = "DIR", env = "ACTSIM_LOG_DIR")]
    pub log_dir: Option<PathBuf>,

    /// Skip the preflight checks.
    #[arg(long)]
    pub no_preflight: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, env = "ACTSIM_FORMAT")]
    pub format: Format,

    /// Show every line act prints.
    #[arg(short, long)]
    pub verbose: bool,

    /// Print only job status lines, problems and the summary.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Passed to act as they are (after `--`).
    #[arg(last = true, value_name = "ACT_ARGS")]
    pub act_args: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_accept_boolish_values() {
        // What clap does with the value of ACTSIM_YES and friends.
        let parse = |v: &str| {
            BoolishValueParser::new()
                .parse_ref(&Cli::command(), None, std::ffi::OsStr::new(v))
                .ok()
        };
        use clap::CommandFactory;
        use clap::builder::TypedValueParser;
        assert_eq!(parse("1"), Some(true));
        assert_eq!(parse("yes"), Some(true));
        assert_eq!(parse("0"), Some(false));
        assert_eq!(parse("false"), Some(false));
        assert_eq!(parse("maybe"), None);
        Cli::command().debug_assert();
    }
}
