//! `actsim run`: run a repository's workflows through act, the way a person would want to.
//!
//! preflight (doctor's fast checks, cached) → the images the selected jobs need, pulled with
//! progress when missing → act with `--json --pull=false`, stdin closed, its log followed
//! per job and step and teed to a log file → a watchdog (idle diagnosis, `--timeout`) →
//! cleanup of what act created during the run → a summary (human or one JSON document).
//! SIGINT and SIGTERM end the run like a timeout does (act interrupted, then killed after a
//! grace period), clean up the same way, and exit 130 and 143.
//!
//! Each stage is one function, in the order `run` calls them: [`preflight::check`] and
//! [`preflight::judge`], [`plan::plan`] (workflows and the images their jobs need),
//! [`plan::judge`] (nothing to run), [`actions::check`] and [`actions::judge`] (remote
//! actions first), [`daemon::connect`] (the context's endpoint and connection), [`images::stage`] and
//! [`images::judge`], [`command::command`], [`follow::follow`] (act, the watchdog and the
//! timeout), [`cleanup::after_run`], then [`verdict::jobs`] and [`verdict::judge`]. A stage
//! that ends the run returns a [`halt::Halt`] (its exit code and error).
//!
//! What can go wrong: the preflight fails, there is nothing to run, a remote action or an
//! image is missing (exit 1 before act starts, with the fix), a job fails (exit 1, its
//! cause named: the step, its exit code, annotations and last lines, or act's error), the
//! run outlives `--timeout` (124). Every non-zero exit carries its `reason` in the JSON.

pub mod act;
pub mod actions;
pub mod cause;
pub mod cleanup;
pub mod command;
pub mod compose;
pub mod daemon;
pub mod follow;
pub mod halt;
pub mod images;
pub mod plan;
pub mod preflight;
pub mod summary;
pub mod userio;
pub mod verdict;
pub mod watchdog;
pub mod workflow;
pub mod yaml;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::context::{Context, Request};
use crate::error::{Error, exit};
use crate::ui::Format;
use act::Tracker;
use halt::{Halt, Signals};
use summary::Document;

/// How many run logs are kept.
pub const KEEP_LOGS: usize = 20;
/// The preflight's own deadline.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// `actsim run`'s options as given (the command layer fills them from the command line;
/// format, verbosity and the target user are the [`Context`]'s).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub event: String,
    pub workflows: Option<PathBuf>,
    pub job: Option<String>,
    pub platform_image: Option<String>,
    pub in_container: bool,
    pub no_pull: bool,
    /// `--idle-timeout`, seconds.
    pub idle_timeout: u64,
    /// `--timeout`, seconds.
    pub timeout: Option<u64>,
    pub log_dir: Option<PathBuf>,
    pub no_preflight: bool,
    pub act_args: Vec<String>,
}

/// What the context of a run asks for: doctor's fast checks have their own deadline.
pub fn request(opts: &Options, format: Format, verbose: bool, quiet: bool) -> Request {
    Request {
        format,
        verbose,
        quiet,
        platform_image: opts.platform_image.clone(),
        timeout: PREFLIGHT_TIMEOUT,
        from_receipt: true,
        ..Request::default()
    }
}

/// Everything of a run; fills `doc` as it goes (its exit code last) and returns the error to
/// print, if any.
pub async fn run(ctx: &Context, args: &Options, doc: &mut Document) -> Option<Error> {
    match stages(ctx, args, doc).await {
        Ok(()) => {
            doc.exit_code = exit::OK;
            doc.ok = true;
            None
        }
        Err(halt) => {
            doc.exit_code = halt.code;
            Some(halt.error)
        }
    }
}

/// The stages in order; the first that ends the run says how.
async fn stages(ctx: &Context, args: &Options, doc: &mut Document) -> Result<(), Halt> {
    let ui = &ctx.ui;
    let mut timing = Timing::start(args.timeout);
    let mut sigs = Signals::new()?;
    let cwd = std::env::current_dir()
        .map_err(|e| Halt::message(format!("no current directory: {e}"), None))?;
    let Ready {
        plan,
        endpoint,
        docker,
    } = ready(ctx, args, &cwd, &mut timing, &mut sigs, doc).await?;
    // 4. act, the watchdog and the timeout.
    let run_name = timing.run_name();
    let identity = cleanup::Identity::new(
        plan.jobs
            .iter()
            .map(|s| (s.workflow.clone(), s.job.clone()))
            .collect(),
    );
    let cmd = command::command(ctx, args, &plan, &endpoint, &run_name, &cwd, &identity)?;
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| ctx.state_dir.join("logs"));
    let log = follow::open_log(&log_dir, &cmd, ui).map(|(f, p)| {
        doc.log = Some(p.to_string_lossy().into_owned());
        f
    });
    ui.info(&format!("running {}", cmd.line()));
    timing.act_started();
    let watch = follow::Watch {
        docker: &docker,
        since: timing.since,
        prefixes: &plan.prefixes,
        idle: Duration::from_secs(args.idle_timeout),
        deadline: timing.deadline,
        timeout_secs: args.timeout.unwrap_or(0),
    };
    let known = plan.workflow_names.clone();
    let followed =
        follow::follow(&cmd, &cwd, log, Tracker::new(known), &watch, ui, &mut sigs).await?;
    timing.act_done();
    // 5. Cleanup, on every way out of act.
    let exact = if plan.compose.is_some() {
        vec![run_name]
    } else {
        Vec::new()
    };
    let stopped = followed.stopped.is_some();
    let removed = cleanup::after_run(&docker, timing.since, &identity, &exact, stopped, ui).await;
    doc.removed_kinds = removed.iter().map(|(k, _)| *k).collect();
    doc.removed = removed.into_iter().map(|(_, n)| n).collect();
    timing.show(ui);
    // 6. The jobs, the verdict.
    doc.jobs = verdict::jobs(&followed, &plan.jobs);
    verdict::judge(&followed, &doc.jobs, args.timeout, doc.log.as_deref())
}

/// What act needs, checked and present: the plan, the endpoint and the run's client.
struct Ready {
    plan: plan::Plan,
    endpoint: crate::docker::endpoint::Endpoint,
    docker: bollard::Docker,
}

/// Stages 1 to 3: the preflight, the workflows and their images, the images first.
async fn ready(
    ctx: &Context,
    args: &Options,
    cwd: &std::path::Path,
    timing: &mut Timing,
    sigs: &mut Signals,
    doc: &mut Document,
) -> Result<Ready, Halt> {
    let ui = &ctx.ui;
    if let Some(image) = &args.platform_image {
        crate::render::check_platform_image(image).map_err(|error| Halt {
            code: exit::USAGE,
            error,
        })?;
    }
    // 1. Preflight.
    if !args.no_preflight {
        let cli_mapping =
            args.platform_image.is_some() || !workflow::platform_args(&args.act_args).is_empty();
        let (findings, cached) = preflight::check(ctx, &ctx.state_dir, cli_mapping, sigs).await?;
        doc.preflight = findings;
        doc.preflight_cached = cached;
        preflight::judge(ui, &doc.preflight, cached)?;
    }
    timing.preflight_done();
    // 2. Workflows, the images their jobs need, their remote actions.
    let plan = plan::plan(ctx, args, cwd).await?;
    if let Some((_, list)) = &plan.nothing {
        doc.available = list.clone();
    }
    plan::judge(&plan)?;
    let cache = actions::cache_dir(&plan.words, ctx.user.act_cache_dir(&ctx.process));
    doc.actions = sigs
        .or_stop(actions::check(&plan.actions, &plan.words, &cache))
        .await??;
    actions::judge(&doc.actions)?;
    // 3. The daemon, and the images first.
    let (endpoint, docker) = daemon::connect(ctx, sigs).await?;
    doc.images = images::stage(
        &docker,
        &plan.needs,
        args.no_pull,
        timing.deadline,
        ui,
        sigs,
    )
    .await?;
    images::judge(&doc.images, timing.deadline, args.timeout, ui)?;
    Ok(Ready {
        plan,
        endpoint,
        docker,
    })
}

/// When the run and its stages started, and `--timeout`'s deadline.
struct Timing {
    since: SystemTime,
    started: Instant,
    deadline: Option<Instant>,
    preflight: Duration,
    act_start: Duration,
    act_end: Duration,
}

impl Timing {
    fn start(timeout: Option<u64>) -> Timing {
        let started = Instant::now();
        Timing {
            since: SystemTime::now(),
            started,
            deadline: timeout.map(|s| started + Duration::from_secs(s)),
            preflight: Duration::ZERO,
            act_start: Duration::ZERO,
            act_end: Duration::ZERO,
        }
    }

    fn preflight_done(&mut self) {
        self.preflight = self.started.elapsed();
    }

    fn act_started(&mut self) {
        self.act_start = self.started.elapsed();
    }

    fn act_done(&mut self) {
        self.act_end = self.started.elapsed();
    }

    /// This run's own name (the compose container of `--in-container`).
    fn run_name(&self) -> String {
        let ms = self
            .since
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        format!("actsim-run-{}-{ms}", std::process::id())
    }

    /// With `-v`: how long each stage took.
    fn show(&self, ui: &crate::ui::Ui) {
        if !ui.verbose {
            return;
        }
        let ms = |d: Duration| d.as_millis();
        ui.info(&format!(
            "timing: preflight {} ms, workflows and images {} ms, act {} ms, cleanup {} ms",
            ms(self.preflight),
            ms(self.act_start.saturating_sub(self.preflight)),
            ms(self.act_end.saturating_sub(self.act_start)),
            ms(self.started.elapsed().saturating_sub(self.act_end))
        ));
    }
}
