//! `actsim run`: run a repository's workflows through act, the way a person would want to.
//!
//! preflight (doctor's fast checks, cached) → the images the selected jobs need, pulled with
//! progress when missing → act with `--json --pull=false`, stdin closed, its log followed
//! per job and step and teed to a log file → a watchdog (idle diagnosis, `--timeout`) →
//! cleanup of what act created during the run → a summary (human or one JSON document).
//! SIGINT and SIGTERM end the run like a timeout does (act interrupted, then killed after a
//! grace period), clean up the same way, and exit 130 and 143.
//!
//! What can go wrong: the preflight fails or an image is missing (exit 1 before act
//! starts, with the fix), a workflow file is not YAML (exit 1 naming it), a job fails (exit
//! 1, the step, its exit code and last lines named), the run outlives `--timeout` (124).

pub mod act;
pub mod cleanup;
pub mod images;
pub mod preflight;
pub mod summary;
pub mod userio;
pub mod watchdog;
pub mod workflow;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::context::{Context, Request};
use crate::doctor::Status;
use crate::error::{Error, exit};
use crate::system::process::Process;
use crate::system::signals::Stop;
use crate::ui::{Format, Ui};
use act::{JobStatus, Show, Tracker};
use summary::{Document, JobReport};

/// How many run logs are kept.
pub const KEEP_LOGS: usize = 20;
/// The preflight's own deadline.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);
/// What cleanup may spend.
const CLEANUP_BUDGET: Duration = Duration::from_secs(30);

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
        ..Request::default()
    }
}

/// The preflight's doctor options: the run's user and dirs, the fast checks only.
fn preflight_options(ctx: &Context) -> crate::doctor::Options {
    crate::doctor::Options {
        timeout: ctx.timeout,
        deep: false,
        config_dir: ctx.config_dir.clone(),
        bin_dir: ctx.bin_dir.clone(),
        user: ctx.user.clone(),
        probe_image: None,
        platform_image: ctx.platform_image.clone(),
        group_view: crate::doctor::GroupView::Process,
        drift: crate::doctor::Drift::default(),
        state_dir: Some(ctx.state_dir.clone()),
    }
}

/// SIGINT, SIGTERM and SIGHUP, listened to for the whole run.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) -> Stop {
        tokio::select! {
            _ = self.int.recv() => Stop::Interrupt,
            _ = self.term.recv() => Stop::Terminate,
            _ = self.hup.recv() => Stop::Hangup,
        }
    }
}

/// Run `fut` unless a signal comes first (then the signal's exit code).
async fn or_signal<T>(
    fut: impl std::future::Future<Output = T>,
    sigs: &mut Signals,
) -> Result<T, u8> {
    tokio::select! {
        v = fut => Ok(v),
        stop = sigs.recv() => Err(stop.exit_code()),
    }
}

fn signal_error(code: u8) -> Error {
    Error::Interrupted(match code {
        exit::TERMINATED => Stop::Terminate,
        exit::HANGUP => Stop::Hangup,
        _ => Stop::Interrupt,
    })
}

/// Everything of a run; fills `doc` as it goes and returns the error to print, if any.
pub async fn run(ctx: &Context, args: &Options, doc: &mut Document) -> Option<Error> {
    let process = &ctx.process;
    let ui = &ctx.ui;
    let since = SystemTime::now();
    let started = Instant::now();
    let deadline = args.timeout.map(|s| started + Duration::from_secs(s));
    let mut sigs = match Signals::new() {
        Ok(s) => s,
        Err(e) => return Some(Error::failed(format!("cannot handle signals: {e}"), None)),
    };
    macro_rules! stop {
        ($code:expr, $err:expr) => {{
            doc.exit_code = $code;
            return Some($err);
        }};
    }
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => stop!(
            exit::FAILED,
            Error::failed(format!("no current directory: {e}"), None)
        ),
    };
    let opts = preflight_options(ctx);
    if let Some(image) = &args.platform_image
        && let Err(e) = crate::render::check_platform_image(image)
    {
        stop!(exit::USAGE, e);
    }
    let state_dir = ctx.state_dir.clone();

    // 1. Preflight.
    let cli_mapping =
        args.platform_image.is_some() || !workflow::platform_args(&args.act_args).is_empty();
    if !args.no_preflight {
        let (findings, cached) = match or_signal(
            preflight::run(process, &opts, &state_dir, cli_mapping),
            &mut sigs,
        )
        .await
        {
            Ok(r) => r,
            Err(code) => stop!(code, signal_error(code)),
        };
        doc.preflight = findings;
        doc.preflight_cached = cached;
        let failed = doc.preflight.iter().any(|f| f.status == Status::Fail);
        if failed {
            crate::doctor::report::print(ui, &doc.preflight);
            let failures: Vec<&crate::doctor::Finding> = doc
                .preflight
                .iter()
                .filter(|f| f.status == Status::Fail)
                .collect();
            let what: Vec<String> = failures
                .iter()
                .map(|f| format!("{}: {}", f.id, f.summary))
                .collect();
            let fixes: Vec<String> = failures.iter().flat_map(|f| f.fix.clone()).collect();
            stop!(
                exit::FAILED,
                Error::failed(
                    format!(
                        "the preflight failed; act was not started ({})",
                        what.join("; ")
                    ),
                    Some(format!(
                        "{} (actsim doctor shows every check)",
                        fixes.join("; ")
                    ))
                )
            );
        }
        let warnings = doc
            .preflight
            .iter()
            .filter(|f| f.status == Status::Warn)
            .count();
        let plural = if warnings == 1 { "" } else { "s" };
        ui.info(&format!(
            "preflight: passed ({} checks, {warnings} warning{plural}{}){}",
            doc.preflight.len(),
            if cached { "; cached" } else { "" },
            if warnings > 0 {
                "; actsim doctor shows the warnings"
            } else {
                ""
            }
        ));
    }

    let t_preflight = started.elapsed();
    // 2. Workflows and the images their jobs need.
    let wf_path = args
        .workflows
        .clone()
        .unwrap_or_else(|| PathBuf::from(".github/workflows"));
    let wf_abs = if wf_path.is_absolute() {
        wf_path.clone()
    } else {
        cwd.join(&wf_path)
    };
    let mut workflows = Vec::new();
    let files = match workflow::files(&wf_abs) {
        Ok(f) => f,
        Err(e) => stop!(exit::FAILED, e),
    };
    for f in files {
        let Some(text) = userio::read_text(&f) else {
            stop!(
                exit::FAILED,
                Error::failed(
                    format!(
                        "cannot read {} (not a regular file, or over 1 MiB)",
                        f.display()
                    ),
                    None
                )
            );
        };
        match workflow::parse(&text, &f) {
            Ok(w) => workflows.push(w),
            Err(e) => stop!(exit::FAILED, e),
        }
    }
    let selected = workflow::select(&workflows, &args.event, args.job.as_deref());
    if selected.is_empty() {
        ui.warn(&match &args.job {
            Some(j) => format!("no workflow in {} has a job {j:?}", wf_path.display()),
            None => format!(
                "no workflow in {} runs on {:?}; act will run nothing",
                wf_path.display(),
                args.event
            ),
        });
    }
    let mut labels: Vec<String> = Vec::new();
    for (_, j) in &selected {
        for l in &j.runs_on {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
    }
    let actrc_texts: Vec<String> = [
        opts.user.actrc_path(process),
        opts.user.home.join(".actrc"),
        cwd.join(".actrc"),
    ]
    .iter()
    .filter_map(|p| userio::read_text(p))
    .collect();
    let platforms = workflow::Platforms::new(
        &actrc_texts,
        args.platform_image.as_deref(),
        &labels,
        &args.act_args,
    );
    let (mut needs, notes) = workflow::needs(&selected, &platforms);
    for n in notes {
        ui.warn(&n);
    }
    let compose = if args.in_container {
        match in_container_setup(process, &opts.config_dir).await {
            Ok(c) => {
                needs.insert(
                    0,
                    workflow::Need {
                        image: c.image.clone(),
                        label: "--in-container".into(),
                        jobs: vec!["the actions-simulator service".into()],
                    },
                );
                Some(c)
            }
            Err(e) => stop!(exit::FAILED, e),
        }
    } else {
        None
    };

    // 3. The daemon, and the images first.
    let endpoint = match ctx.endpoint() {
        Ok(e) => e,
        Err(e) => stop!(
            exit::FAILED,
            Error::failed(
                e.clone(),
                Some("actsim doctor shows what is wrong".to_string())
            )
        ),
    };
    let docker = match or_signal(
        crate::docker::client::connect(&endpoint.host, Duration::from_secs(10)),
        &mut sigs,
    )
    .await
    {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => stop!(
            exit::FAILED,
            Error::failed(
                format!("cannot reach the daemon at {}: {e}", endpoint.host),
                Some("actsim doctor shows what is wrong".to_string())
            )
        ),
        Err(code) => stop!(code, signal_error(code)),
    };
    let reports = match or_signal(
        images::ensure(&docker, &needs, args.no_pull, deadline, ui),
        &mut sigs,
    )
    .await
    {
        Ok(r) => r,
        Err(code) => stop!(code, signal_error(code)),
    };
    doc.images = reports;
    if let (Some(d), Some(secs)) = (deadline, args.timeout)
        && Instant::now() >= d
    {
        stop!(
            exit::TIMEOUT,
            Error::failed(
                format!(
                    "the run reached --timeout {secs}s before act started (preflight and images)"
                ),
                Some("allow more time with --timeout".to_string())
            )
        );
    }
    if let Some(missing) = doc
        .images
        .iter()
        .find(|i| i.status == images::Status::Missing)
    {
        let err = missing_image_error(missing);
        stop!(exit::FAILED, err);
    }
    for i in &doc.images {
        if ui.verbose {
            ui.info(&format!("image {} ({}): {:?}", i.image, i.label, i.status));
        }
    }

    // 4. act.
    let socket_gid = endpoint
        .socket_path()
        .and_then(|p| crate::docker::detect::socket_meta(&p))
        .map(|m| m.gid);
    let mut act_args = vec![args.event.clone(), "--json".into(), "--pull=false".into()];
    if let Some(w) = &args.workflows {
        act_args.extend(["-W".into(), w.to_string_lossy().into_owned()]);
    }
    if let Some(j) = &args.job {
        act_args.extend(["-j".into(), j.clone()]);
    }
    if let Some(image) = &args.platform_image {
        for l in &labels {
            act_args.extend(["-P".into(), format!("{l}={image}")]);
        }
    }
    let user_container_options = args
        .act_args
        .iter()
        .any(|a| a == "--container-options" || a.starts_with("--container-options="));
    // An actrc's --container-options (setup writes one with the group) is act's to apply:
    // act takes one value, so passing ours would replace the user's.
    let actrc_container_options = actrc_texts
        .iter()
        .any(|t| crate::render::actrc_has_container_options(t));
    if compose.is_none()
        && !user_container_options
        && !actrc_container_options
        && let Some(gid) = socket_gid
    {
        act_args.extend(["--container-options".into(), format!("--group-add {gid}")]);
    }
    act_args.extend(args.act_args.iter().cloned());
    let run_name = format!(
        "actsim-run-{}-{}",
        std::process::id(),
        since
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let (program, full_args, envs) = match &compose {
        None => {
            let Some(act) = crate::doctor::locate_act(process, &opts) else {
                stop!(
                    exit::FAILED,
                    Error::failed(
                        format!("act not found in {} or on PATH", opts.bin_dir.display()),
                        Some("install it: actsim setup".to_string())
                    )
                );
            };
            (act, act_args, Vec::new())
        }
        Some(c) => {
            let mut a: Vec<String> = c.tool.prefix.iter().map(|s| s.to_string()).collect();
            a.extend([
                "-f".into(),
                c.file.to_string_lossy().into_owned(),
                "run".into(),
                "--rm".into(),
                "-T".into(),
                "--name".into(),
                run_name.clone(),
                crate::render::SERVICE.into(),
            ]);
            a.extend(act_args);
            (
                c.tool.program.clone(),
                a,
                vec![("PWD".to_string(), cwd.to_string_lossy().into_owned())],
            )
        }
    };
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| state_dir.join("logs"));
    let mut log = match userio::create_log(&log_dir, KEEP_LOGS) {
        Ok((f, p)) => {
            doc.log = Some(p.to_string_lossy().into_owned());
            Some(f)
        }
        Err(e) => {
            ui.warn(&format!("no log file for this run: {e}"));
            None
        }
    };
    if let Some(f) = log.as_mut() {
        let _ = writeln!(
            f,
            "# actsim run: {} {}",
            program.display(),
            full_args.join(" ")
        );
    }
    ui.info(&format!(
        "running {} {}",
        program.display(),
        full_args.join(" ")
    ));
    let t_act_start = started.elapsed();
    let (mut child, mut rx) = match act::spawn(&program, &full_args, &envs, &cwd) {
        Ok(c) => c,
        Err(e) => stop!(
            exit::FAILED,
            Error::failed(format!("cannot start {}: {e}", program.display()), None)
        ),
    };
    let known: Vec<(String, String)> = selected
        .iter()
        .map(|(w, j)| (w.name.clone(), j.display().to_string()))
        .collect();
    let mut tracker = Tracker::new(known);
    let prefixes = prefixes(&selected);
    let idle = Duration::from_secs(args.idle_timeout);
    let mut idle_base = Instant::now();
    let mut stopped: Option<u8> = None;
    let mut kill_at: Option<Instant> = None;
    let far = started + Duration::from_secs(86400 * 365);
    let pid = child.pid;
    let signal_act = |s: Signal| {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), s);
    };
    let mut act_status = None;
    let mut streams_open = true;
    while streams_open || act_status.is_none() {
        tokio::select! {
            line = rx.recv(), if streams_open => match line {
                Some(line) => {
                    if let Some(f) = log.as_mut() {
                        let _ = f.write_all(line.as_bytes());
                        if !line.ends_with('\n') {
                            let _ = f.write_all(b"\n");
                        }
                    }
                    for show in tracker.feed(&line, Instant::now()) {
                        display(ui, &tracker, show);
                    }
                    idle_base = Instant::now();
                }
                None => streams_open = false,
            },
            status = child.child.wait(), if act_status.is_none() => {
                act_status = Some(status.ok().and_then(|s| s.code()));
                // Output still buffered is read for at most a moment more.
                if streams_open {
                    let drain = async {
                        while let Some(line) = rx.recv().await {
                            if let Some(f) = log.as_mut() {
                                let _ = f.write_all(line.as_bytes());
                            }
                            for show in tracker.feed(&line, Instant::now()) {
                                display(ui, &tracker, show);
                            }
                        }
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
                    streams_open = false;
                }
            },
            _ = tokio::time::sleep_until(idle_base + idle), if stopped.is_none() => {
                let lines = watchdog::diagnose(Some(&docker), since, &prefixes, &tracker, idle).await;
                for l in &lines {
                    ui.always(l);
                    if let Some(f) = log.as_mut() {
                        let _ = writeln!(f, "# watchdog: {l}");
                    }
                }
                idle_base = Instant::now();
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() && stopped.is_none() => {
                let running = tracker.running();
                ui.always(&format!(
                    "timeout: the run reached --timeout {}s{}; interrupting act (killed after {}s)",
                    args.timeout.unwrap_or(0),
                    if running.is_empty() { String::new() } else { format!(" while {} was running", running.join(", ")) },
                    act::GRACE.as_secs()
                ));
                stopped = Some(exit::TIMEOUT);
                signal_act(Signal::SIGINT);
                kill_at = Some(Instant::now() + act::GRACE);
            },
            stop = sigs.recv() => {
                if stopped.is_some() {
                    signal_act(Signal::SIGKILL);
                } else {
                    ui.always(&format!(
                        "{}: stopping act (killed after {}s), then cleaning up",
                        stop.name(),
                        act::GRACE.as_secs()
                    ));
                    stopped = Some(stop.exit_code());
                    signal_act(if stop == Stop::Terminate { Signal::SIGTERM } else { Signal::SIGINT });
                    kill_at = Some(Instant::now() + act::GRACE);
                }
            },
            _ = tokio::time::sleep_until(kill_at.unwrap_or(far)), if kill_at.is_some() => {
                signal_act(Signal::SIGKILL);
                kill_at = None;
            },
        }
    }
    let running_at_stop = tracker.running();
    tracker.finish(
        stopped.is_some(),
        act_status == Some(Some(0)),
        Instant::now(),
    );

    let t_act_end = started.elapsed();
    // 5. Cleanup, on every way out of act.
    let exact: Vec<String> = if compose.is_some() {
        vec![run_name]
    } else {
        Vec::new()
    };
    let cleanup = tokio::time::timeout(
        CLEANUP_BUDGET,
        cleanup::remove(&docker, since, &prefixes, &exact, stopped.is_some()),
    )
    .await;
    let (removed, failed_removals) = cleanup.unwrap_or_else(|_| {
        (
            Vec::new(),
            vec![format!(
                "cleanup did not finish within {}s",
                CLEANUP_BUDGET.as_secs()
            )],
        )
    });
    for f in &failed_removals {
        ui.warn(&format!("could not remove {f}"));
    }
    doc.removed_kinds = removed.iter().map(|(k, _)| *k).collect();
    doc.removed = removed.into_iter().map(|(_, n)| n).collect();

    if ui.verbose {
        let ms = |d: Duration| d.as_millis();
        ui.info(&format!(
            "timing: preflight {} ms, workflows and images {} ms, act {} ms, cleanup {} ms",
            ms(t_preflight),
            ms(t_act_start.saturating_sub(t_preflight)),
            ms(t_act_end.saturating_sub(t_act_start)),
            ms(started.elapsed().saturating_sub(t_act_end))
        ));
    }
    // 6. The jobs, the verdict.
    let now = Instant::now();
    doc.jobs = tracker
        .jobs
        .iter()
        .map(|j| JobReport {
            workflow: j.workflow.clone(),
            job: j.job.clone(),
            status: j.status.unwrap_or(JobStatus::Failure),
            duration_ms: j.duration_ms(now),
            steps: j.steps.clone(),
            failed_step: j.failed.clone(),
        })
        .collect();
    for (w, j) in &selected {
        let seen = doc.jobs.iter().any(|r| {
            r.workflow == w.name
                && (r.job == j.display() || r.job.starts_with(&format!("{}-", j.display())))
        });
        if !seen {
            doc.jobs.push(JobReport {
                workflow: w.name.clone(),
                job: j.display().to_string(),
                status: if stopped.is_some() {
                    JobStatus::Cancelled
                } else {
                    JobStatus::Skipped
                },
                duration_ms: 0,
                steps: Vec::new(),
                failed_step: None,
            });
        }
    }
    let any_failed = doc
        .jobs
        .iter()
        .any(|j| matches!(j.status, JobStatus::Failure | JobStatus::Cancelled));
    match stopped {
        Some(code) => {
            doc.exit_code = code;
            let what = if running_at_stop.is_empty() {
                String::new()
            } else {
                format!(" while {} was running", running_at_stop.join(", "))
            };
            let err = if code == exit::TIMEOUT {
                Error::failed(
                    format!(
                        "the run did not finish within --timeout {}s{what}",
                        args.timeout.unwrap_or(0)
                    ),
                    Some(
                        "a step that waits for ever needs timeout-minutes or a fix; or allow more time with --timeout"
                            .to_string(),
                    ),
                )
            } else {
                signal_error(code)
            };
            Some(err)
        }
        None => {
            let act_ok = act_status == Some(Some(0));
            if act_ok && !any_failed {
                doc.exit_code = exit::OK;
                doc.ok = true;
                None
            } else {
                doc.exit_code = exit::FAILED;
                let failed: Vec<String> = doc
                    .jobs
                    .iter()
                    .filter(|j| j.status == JobStatus::Failure)
                    .map(|j| format!("{}/{}", j.workflow, j.job))
                    .collect();
                Some(if failed.is_empty() {
                    Error::failed(
                        format!(
                            "act exited with {}",
                            act_status
                                .flatten()
                                .map(|c| format!("code {c}"))
                                .unwrap_or_else(|| "a signal".into())
                        ),
                        doc.log
                            .as_ref()
                            .map(|l| format!("act's own messages are in {l}")),
                    )
                } else {
                    Error::failed(
                        format!("job failed: {}", failed.join(", ")),
                        doc.log.as_ref().map(|l| format!("the full log is {l}")),
                    )
                })
            }
        }
    }
}

/// Print one thing act said.
fn display(ui: &Ui, tracker: &Tracker, show: Show) {
    match show {
        Show::Job { job, text } => ui.info(&format!("[{job}] {text}")),
        Show::Verbose(text) => {
            if ui.verbose {
                ui.info(&text);
            }
        }
        // act's own lines that are not JSON: its errors are shown, the rest only with -v.
        Show::Plain(text) => {
            if ui.verbose || text.starts_with("Error") {
                ui.info(&format!("act: {text}"));
            }
        }
        Show::Status { job } => {
            if let Some(j) = tracker.jobs.iter().find(|j| j.key == job) {
                let report = JobReport {
                    workflow: j.workflow.clone(),
                    job: j.job.clone(),
                    status: j.status.unwrap_or(JobStatus::Failure),
                    duration_ms: j.duration_ms(Instant::now()),
                    steps: Vec::new(),
                    failed_step: j.failed.clone(),
                };
                ui.always(&summary::status_line(ui, &report));
            }
        }
    }
}

/// act's container name prefixes of the selected jobs (by display name and by id).
fn prefixes(selected: &[(&workflow::Workflow, &workflow::Job)]) -> Vec<String> {
    let mut out = Vec::new();
    for (w, j) in selected {
        for name in [j.display(), j.id.as_str()] {
            let p = workflow::container_prefix(&w.name, name);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn missing_image_error(missing: &images::ImageReport) -> Error {
    let image = &missing.image;
    let why = missing.reason.clone().unwrap_or_default();
    if missing.label == "--in-container" {
        return Error::failed(
            format!(
                "the simulator image {image} is not present locally ({why}); act was not started"
            ),
            Some(
                "build it: actsim setup (it builds the image locally, no registry needed)"
                    .to_string(),
            ),
        );
    }
    let needed_by = if missing.label == "container:" {
        format!("the job container of {}", missing.jobs.join(", "))
    } else {
        format!(
            "runs-on label {} of {}",
            missing.label,
            missing.jobs.join(", ")
        )
    };
    Error::failed(
        format!(
            "image {image} (for {needed_by}) is not present locally: {why}; act was not started"
        ),
        Some(format!(
            "pull it: docker pull {image}; or load a saved copy: docker load -i FILE; or run the jobs in an image you have: actsim run --platform-image IMAGE"
        )),
    )
}

/// What `--in-container` needs: the compose tool, the file and the simulator image.
struct Compose {
    tool: crate::docker::detect::ComposeTool,
    file: PathBuf,
    image: String,
}

async fn in_container_setup(process: &Process, config_dir: &Path) -> Result<Compose, Error> {
    let file = config_dir.join("docker-compose.yml");
    if userio::read_capped(&file).is_none() {
        return Err(Error::failed(
            format!(
                "--in-container needs {}, which does not exist",
                file.display()
            ),
            Some("write it: actsim setup".to_string()),
        ));
    }
    let env = userio::read_text(&config_dir.join(".env"))
        .map(|t| crate::doctor::parse_env(&t))
        .unwrap_or_default();
    let version = env
        .get("ACT_VERSION")
        .cloned()
        .unwrap_or_else(|| crate::act::DEFAULT_VERSION.to_string());
    let tool = crate::docker::detect::compose_tool(process, Instant::now() + Duration::from_secs(10))
        .await
        .ok_or_else(|| {
            Error::failed(
                "--in-container needs docker compose (v2) or docker-compose (v1), and neither is installed",
                Some("install compose v2: sudo apt-get install docker-compose-plugin".to_string()),
            )
        })?;
    Ok(Compose {
        tool,
        file,
        image: crate::render::image_for(&version),
    })
}
