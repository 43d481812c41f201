//! `actsim setup`: observe the machine, compute a plan (pure), show it, confirm, apply.
//!
//! Each step reports `ok` (already as wanted), `changed`, `skipped` or `failed` with a
//! one-line summary. To add a step: give it facts in [`Facts`] (observed in [`observe`]),
//! a pure `plan` returning a [`StepPlan`] with its own [`Action`] variant, and an arm in
//! [`apply_step`]. Confirmation is asked only when a terminal can answer (stdin and stderr
//! are terminals) and something would change; without a terminal and without `--yes`
//! setup exits 3 before changing anything. Changes happen under the state dir lock, after
//! re-observing, so two concurrent runs never interleave.
//!
//! What can go wrong: usage errors (exit 2), declined or unanswerable prompt (3), act
//! download or verification (4), a step needing privileges (5), anything else (1).

pub mod act_step;
pub mod config_steps;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::cli::{Format, SetupArgs};
use crate::doctor::Finding;
use crate::error::{Error, Result};
use crate::receipt::{self, Loaded, Receipt};
use crate::system::identity::TargetUser;
use crate::system::privsep::Fs;
use crate::system::process::Process;
use crate::ui::Ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    #[default]
    Ok,
    Changed,
    Skipped,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Changed => "changed",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
        }
    }
}

/// One step's outcome, as reported in the output and the JSON:
/// `{"id","status","changed","summary"}`, plus `"would_change": true` for a step a dry run
/// would change and `"diff"` (unified) for a file step that wrote, would write or kept a
/// file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepReport {
    pub id: &'static str,
    pub status: StepStatus,
    pub summary: String,
    /// The file diff of this step (written, or what a dry run would write).
    pub diff: Option<String>,
    /// Dry run: this step would change something.
    pub would_change: bool,
}

impl Serialize for StepReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("StepReport", 6)?;
        m.serialize_field("id", self.id)?;
        m.serialize_field("status", &self.status)?;
        m.serialize_field("changed", &(self.status == StepStatus::Changed))?;
        m.serialize_field("summary", &self.summary)?;
        if self.would_change {
            m.serialize_field("would_change", &true)?;
        } else {
            m.skip_field("would_change")?;
        }
        match &self.diff {
            Some(d) if !d.is_empty() => m.serialize_field("diff", d)?,
            _ => m.skip_field("diff")?,
        }
        m.end()
    }
}

/// `setup --format json`: `{"schema","ok","changed","steps","checks"}`, `"would_change"` in a dry
/// run, and `"reason"` (what failed, with its fix) when `ok` is false.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub ok: bool,
    pub changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_change: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub steps: Vec<StepReport>,
    pub checks: Vec<Finding>,
}

impl Report {
    pub fn new(steps: Vec<StepReport>, checks: Vec<Finding>) -> Self {
        Report {
            schema: crate::ui::JSON_SCHEMA,
            would_change: None,
            reason: None,
            ok: !steps.iter().any(|s| s.status == StepStatus::Failed)
                && !checks
                    .iter()
                    .any(|c| c.status == crate::doctor::Status::Fail),
            changed: steps.iter().any(|s| s.status == StepStatus::Changed),
            steps,
            checks,
        }
    }
}

/// What one step intends to do; computed purely from [`Facts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlan {
    pub id: &'static str,
    /// One line: what will be done, or why nothing needs doing.
    pub summary: String,
    /// What is downloaded from where, where it goes, what is replaced.
    pub details: Vec<String>,
    pub warnings: Vec<String>,
    pub action: Action,
}

/// The change a step will make. Part 2's steps add variants here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already as wanted: reported `ok`.
    Keep,
    /// Not applicable here: reported `skipped`.
    Skip,
    /// Install act.
    Act(Box<act_step::Install>),
    /// Part 2: group, image, files.
    Config(config_steps::Change),
}

impl StepPlan {
    pub fn changes(&self) -> bool {
        !matches!(self.action, Action::Keep | Action::Skip)
    }
}

/// Where things go and for whom, resolved from the arguments and the target user.
#[derive(Debug, Clone)]
pub struct Settings {
    pub user: TargetUser,
    pub bin_dir: PathBuf,
    pub config_dir: PathBuf,
    /// The user's state dir: their receipt, lock and (for a bin dir of theirs) backups.
    pub state_dir: PathBuf,
    /// Root's own state dir (`/var/lib/actsim`, or `ACTSIM_SYSTEM_STATE_DIR`): records of
    /// acts in root-owned bin dirs and the hashes root verified. Used only as root.
    pub system_state_dir: PathBuf,
    /// Where act's record and backups go (see [`Records`]). As root for another user,
    /// an act in a root-owned bin dir is recorded in root's state dir, never the user's.
    pub records: Records,
    /// The home whose docker config (context) decides the endpoint: this process's own,
    /// never the target user's when root acts for them.
    pub docker_home: PathBuf,
    /// Every file operation goes through here (privilege separation).
    pub fs: Fs,
    /// `--timeout`, the deadline of each waiting step.
    pub timeout: Duration,
}

/// Which receipt records the installed act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// The user's receipt (their own bin dir, or actsim runs as them).
    User,
    /// Root's receipt in the system state dir (root acting for another user, with a
    /// root-owned bin dir).
    System,
}

impl Settings {
    pub fn resolve(args: &SetupArgs, process: &Process) -> Result<Self> {
        let user = TargetUser::resolve(args.common.user.as_deref(), process)?;
        let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        let bin_dir = args
            .common
            .bin_dir
            .as_ref()
            .map(abs)
            .unwrap_or_else(|| user.default_bin_dir());
        let config_dir = args
            .common
            .config_dir
            .as_ref()
            .map(abs)
            .unwrap_or_else(|| user.config_dir(process));
        let state_dir = user.state_dir(process);
        let system_state_dir = system_state_dir(process);
        let fs = Fs::for_user(&user);
        let records =
            if fs.is_separated() && fs.side(&bin_dir) == crate::system::privsep::Side::Root {
                Records::System
            } else {
                Records::User
            };
        Ok(Settings {
            bin_dir,
            config_dir,
            state_dir,
            system_state_dir,
            records,
            docker_home: own_home(process),
            fs,
            timeout: Duration::from_secs(args.timeout),
            user,
        })
    }

    /// The state dir holding act's record and backups.
    pub fn records_dir(&self) -> &std::path::Path {
        match self.records {
            Records::User => &self.state_dir,
            Records::System => &self.system_state_dir,
        }
    }
}

pub use crate::context::{SYSTEM_STATE_DIR, own_home, system_state_dir};

/// The receipts a run reads and writes.
#[derive(Debug, Clone, Default)]
pub struct Receipts {
    /// The user's: their files, and their act when it is in their bin dir.
    pub user: Receipt,
    /// Root's (only when root acts for another user): acts in root-owned bin dirs, and
    /// the hashes root verified.
    pub system: Option<Receipt>,
}

impl Receipts {
    /// Read both (root's only when root acts for another user); unusable ones count as
    /// absent, with a warning.
    pub fn load(s: &Settings, ui: &Ui) -> Receipts {
        let system =
            s.fs.is_separated()
                .then(|| load_receipt(&Fs::local(), &s.system_state_dir, ui));
        Receipts {
            user: load_receipt(&s.fs, &s.state_dir, ui),
            system,
        }
    }

    /// The receipt that records act (see [`Records`]).
    pub fn records_mut(&mut self, s: &Settings) -> &mut Receipt {
        match s.records {
            Records::User => &mut self.user,
            Records::System => self.system.get_or_insert_with(Receipt::default),
        }
    }

    /// The act record root may trust: root's own, or — as the user — the user's.
    pub fn trusted_act(&self, s: &Settings) -> Option<receipt::ActReceipt> {
        match (s.records, s.fs.is_separated()) {
            (Records::System, _) => self.system.as_ref().and_then(|r| r.act.clone()),
            (Records::User, false) => self.user.act.clone(),
            // Root for a user's own bin dir: only hashes root verified itself count.
            (Records::User, true) => None,
        }
    }

    /// Save the user's receipt.
    pub fn save_user(&self, s: &Settings) -> Result<()> {
        self.user.save(&s.fs, &s.state_dir)
    }

    /// Save the receipt that records act (and root's, when there is one).
    pub fn save_records(&self, s: &Settings) -> Result<()> {
        if let Some(system) = &self.system {
            system.save(&Fs::local(), &s.system_state_dir)?;
        }
        if s.records == Records::User {
            self.save_user(s)?;
        }
        Ok(())
    }
}

/// Everything observed about the machine that the plan depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub act: act_step::Facts,
    pub config: config_steps::Facts,
}

/// The plan: one entry per step, in order. Pure.
pub fn plan(facts: &Facts) -> Vec<StepPlan> {
    let act = act_step::plan(&facts.act);
    let act_changes = act.changes();
    let mut steps = vec![config_steps::plan_docker(&facts.config), act];
    steps.extend(config_steps::plan(&facts.config, act_changes));
    steps
}

/// Validated requests of every step (usage errors surface here, before anything else).
#[derive(Debug, Clone)]
pub struct Requests {
    pub act: act_step::Request,
}

/// Everything a run needs, passed to observe and apply.
pub struct Run<'a> {
    pub args: &'a SetupArgs,
    pub process: &'a Process,
    pub ui: &'a Ui,
    pub settings: Settings,
    pub requests: Requests,
    /// The Docker install, detected once (the second observe under the lock reuses it).
    pub docker: tokio::sync::OnceCell<crate::docker::detect::DockerInstall>,
}

/// Read a receipt, warning when it is unusable (it is then treated as absent).
pub fn load_receipt(fs: &Fs, state_dir: &std::path::Path, ui: &Ui) -> Receipt {
    match Receipt::load(fs, state_dir) {
        Loaded::Found(r) => r,
        Loaded::Missing => Receipt::default(),
        Loaded::Corrupt(why) => {
            ui.warn(&format!("{why}; it will be rewritten"));
            Receipt::default()
        }
    }
}

/// Observe every step's facts.
pub async fn observe(run: &Run<'_>, receipts: &Receipts) -> Result<Facts> {
    // Detecting Docker and observing act are independent: do both at once.
    let (docker, act) = tokio::join!(
        run.docker
            .get_or_try_init(|| config_steps::observe_docker(run.process, &run.settings)),
        act_step::observe(
            &run.requests.act,
            &run.settings,
            receipts,
            run.process,
            run.ui,
        )
    );
    let (docker, act) = (docker?, act?);
    let config = config_steps::observe(
        run.process,
        &run.settings,
        docker,
        &act,
        run.args,
        &receipts.user,
    )
    .await?;
    Ok(Facts { act, config })
}

async fn apply_step(run: &Run<'_>, step: &StepPlan, receipts: &mut Receipts) -> Result<StepReport> {
    match &step.action {
        Action::Keep => Ok(StepReport {
            id: step.id,
            status: StepStatus::Ok,
            summary: step.summary.clone(),
            ..Default::default()
        }),
        Action::Skip => Ok(StepReport {
            id: step.id,
            status: StepStatus::Skipped,
            summary: step.summary.clone(),
            ..Default::default()
        }),
        Action::Act(inst) => {
            act_step::apply(
                inst,
                &run.settings,
                &run.requests.act,
                receipts,
                run.process,
                run.ui,
            )
            .await
        }
        Action::Config(change) => {
            let report = config_steps::apply(
                step.id,
                change,
                &run.settings,
                run.process,
                run.args,
                &mut receipts.user,
                run.ui,
            )
            .await?;
            if report.status == StepStatus::Changed {
                receipts.save_user(&run.settings)?;
            }
            Ok(report)
        }
    }
}

/// Entry point of `actsim setup`: runs, prints the outcome, returns the exit code.
pub fn run(args: SetupArgs, process: &Process) -> ExitCode {
    let with_host = process.with_docker_host(args.common.docker_host.as_deref());
    let process = &with_host;
    let ui = Ui::new(
        process,
        args.common.format,
        args.common.verbose,
        args.common.quiet,
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            ui.error(&Error::failed(
                format!("starting the async runtime: {e}"),
                None,
            ));
            return ExitCode::from(crate::error::exit::FAILED);
        }
    };
    let mut steps = Vec::new();
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = setup(&args, process, &ui, &mut steps) => r,
            stop = crate::system::signals::stopped() => Err(Error::Interrupted(stop)),
        }
    });
    // A prompt thread may still wait for a key after Ctrl-C; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    let code = match &outcome {
        Ok(()) => {
            if steps.iter().any(|s| s.status == StepStatus::Failed) {
                crate::error::exit::FAILED
            } else {
                crate::error::exit::OK
            }
        }
        Err(e) => {
            if !matches!(e, Error::Aborted { .. } | Error::Usage { .. }) {
                steps.push(StepReport {
                    id: steps_failed_id(&steps),
                    status: StepStatus::Failed,
                    summary: e.to_string(),
                    ..Default::default()
                });
                ui.step(
                    "failed",
                    steps.last().map_or("setup", |s| s.id),
                    &e.to_string(),
                );
            }
            ui.error(e);
            e.exit_code()
        }
    };
    let mut checks = Vec::new();
    if outcome.is_ok() && !args.dry_run && !args.no_check {
        checks = final_check(&args, process, &ui);
    }
    let code = if code == crate::error::exit::OK
        && checks
            .iter()
            .any(|c| c.status == crate::doctor::Status::Fail)
    {
        crate::error::exit::FAILED
    } else {
        code
    };
    let mut report = Report::new(steps, checks);
    // Aborted or usage errors report no failed step, but the run did not succeed.
    report.ok &= outcome.is_ok();
    if args.dry_run && outcome.is_ok() {
        report.would_change = Some(report.steps.iter().any(|s| s.would_change));
    }
    if !report.ok {
        report.reason = Some(failure_reason(outcome.as_ref().err(), &report));
    }
    if args.common.format == Format::Json {
        ui.json(&report);
    } else if outcome.is_ok() && !args.dry_run {
        ui.info(&summary_line("setup", report.ok, &report.steps));
    }
    ExitCode::from(code)
}

/// Setup's steps named in `only` that fix something, on their own runtime (Ctrl-C ends
/// the run with [`Error::Interrupted`]): what `doctor --fix` runs. The reports of the
/// steps applied, and how the run ended.
pub fn run_steps(
    args: &SetupArgs,
    process: &Process,
    ui: &Ui,
    only: &[&'static str],
) -> (Vec<StepReport>, Result<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return (
                Vec::new(),
                Err(Error::failed(
                    format!("starting the async runtime: {e}"),
                    None,
                )),
            );
        }
    };
    let mut steps = Vec::new();
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = engine(args, process, ui, &mut steps, Some(only)) => r,
            stop = crate::system::signals::stopped() => Err(Error::Interrupted(stop)),
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    (steps, outcome)
}

/// One line saying why a setup did not succeed, with the fix: the error that ended it, else
/// the first failed step, else the first failed check.
pub fn failure_reason(error: Option<&Error>, report: &Report) -> String {
    if let Some(e) = error {
        return match e.hint() {
            Some(h) => format!("{e} (exit {}); fix: {h}", e.exit_code()),
            None => format!("{e} (exit {})", e.exit_code()),
        };
    }
    if let Some(s) = report.steps.iter().find(|s| s.status == StepStatus::Failed) {
        return format!("step {} failed: {}", s.id, s.summary);
    }
    if let Some(c) = report
        .checks
        .iter()
        .find(|c| c.status == crate::doctor::Status::Fail)
    {
        return match c.fix.first() {
            Some(fix) => format!("check {} failed: {}; fix: {fix}", c.id, c.summary),
            None => format!("check {} failed: {}", c.id, c.summary),
        };
    }
    "setup did not finish".into()
}

/// Doctor's checks on the new state (setup's last step), shown like `actsim doctor`.
fn final_check(args: &SetupArgs, process: &Process, ui: &Ui) -> Vec<Finding> {
    let timeout = Duration::from_secs(args.timeout.min(60));
    let ctx = match crate::doctor::command::context(process, &args.common, timeout) {
        Ok(c) => c,
        Err(e) => {
            ui.error(&e);
            return Vec::new();
        }
    };
    let mut opts = crate::doctor::Options::new(timeout);
    // The user's next login: a group added just now counts.
    opts.group_view = crate::doctor::GroupView::Database;
    opts.drift = crate::receipt_drift(process, &ctx.user, &ctx.bin_dir);
    opts.drift.lock = crate::act::lockfile::doctor_expectation(args.common.act_lock.as_deref());
    ui.heading("Final check:");
    let (findings, note) = crate::doctor::command::final_check(&ctx, &opts);
    if let Some(note) = note {
        ui.info(&note);
    }
    crate::doctor::report::print(ui, &findings);
    findings
}

/// The step that was running when an error ended the run.
fn steps_failed_id(done: &[StepReport]) -> &'static str {
    // Steps run in plan order; the first one not reported is the one that failed.
    const ORDER: [&str; 8] = [
        config_steps::DOCKER,
        act_step::ID,
        config_steps::GROUP,
        config_steps::IMAGE,
        config_steps::COMPOSE,
        config_steps::ENV,
        config_steps::ACTRC,
        "check",
    ];
    ORDER
        .iter()
        .find(|id| !done.iter().any(|s| s.id == **id))
        .copied()
        .unwrap_or("setup")
}

fn show_plan(ui: &Ui, settings: &Settings, plan: &[StepPlan]) {
    ui.heading(&format!(
        "actsim setup for {} (uid {}): bin dir {}, state dir {}",
        settings.user.name,
        settings.user.uid,
        settings.bin_dir.display(),
        settings.state_dir.display()
    ));
    for step in plan {
        let mark = if step.changes() {
            "will"
        } else if step.action == Action::Skip {
            "skip"
        } else {
            "ok"
        };
        ui.info(&format!("  {:<5} {:<9} {}", mark, step.id, step.summary));
        if step.changes() {
            for d in &step.details {
                ui.info(&format!("                  - {d}"));
            }
        }
    }
    for step in plan {
        for w in &step.warnings {
            ui.warn(w);
        }
    }
}

/// The last human line of setup and uninstall: `setup done: 4 changed, 2 ok, 1 skipped,
/// 0 failed`.
pub fn summary_line(command: &str, ok: bool, steps: &[StepReport]) -> String {
    let count = |s: StepStatus| steps.iter().filter(|r| r.status == s).count();
    format!(
        "{command} {}: {} changed, {} ok, {} skipped, {} failed",
        if ok { "done" } else { "failed" },
        count(StepStatus::Changed),
        count(StepStatus::Ok),
        count(StepStatus::Skipped),
        count(StepStatus::Failed)
    )
}

/// How a dry run reports a planned step: `skipped` with "dry run: would …" when it would
/// change something, else `ok` when it is already as wanted (`kept`) or `skipped`.
pub fn dry_run_status(changes: bool, kept: bool, summary: &str) -> (StepStatus, String) {
    if changes {
        (StepStatus::Skipped, format!("dry run: would {summary}"))
    } else if kept {
        (StepStatus::Ok, summary.to_string())
    } else {
        (StepStatus::Skipped, summary.to_string())
    }
}

/// A plan that changes something, without `--yes`: asked on the terminal, or — without
/// one — aborted (exit 3) before anything changed. Setup and uninstall both use it.
pub async fn confirm_plan(process: &Process, ui: &Ui) -> Result<()> {
    if !(process.stdin_tty && process.stderr_tty) {
        return Err(Error::Aborted {
            reason: "no terminal to confirm the plan on; nothing was changed".into(),
            hint: Some("pass --yes (or set ACTSIM_YES=1) to apply it unattended".into()),
        });
    }
    if !confirm(ui).await? {
        return Err(Error::Aborted {
            reason: "the plan was declined; nothing was changed".into(),
            hint: None,
        });
    }
    Ok(())
}

/// Ask on the terminal (stderr) whether to apply the plan.
async fn confirm(ui: &Ui) -> Result<bool> {
    let _ = ui;
    let answer = tokio::task::spawn_blocking(move || {
        dialoguer::Confirm::with_theme(&dialoguer::theme::SimpleTheme)
            .with_prompt("Apply this plan?")
            .default(false)
            .interact_on(&console::Term::stderr())
    })
    .await
    .map_err(|e| Error::failed(format!("prompt: {e}"), None))?;
    match answer {
        Ok(yes) => Ok(yes),
        Err(dialoguer::Error::IO(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
            Err(Error::Interrupted(crate::system::signals::Stop::Interrupt))
        }
        Err(e) => Err(Error::Aborted {
            reason: format!("could not ask for confirmation: {e}"),
            hint: Some("pass --yes to apply without asking".into()),
        }),
    }
}

async fn setup(
    args: &SetupArgs,
    process: &Process,
    ui: &Ui,
    steps: &mut Vec<StepReport>,
) -> Result<()> {
    engine(args, process, ui, steps, None).await
}

/// The steps of `plan` that `only` names and that fix something (`None`: every step).
/// Keeping a user's edited file (ours beside it) and a refusal fix nothing, so a partial
/// run leaves them to their printed fix.
pub fn select(plan: Vec<StepPlan>, only: Option<&[&str]>) -> Vec<StepPlan> {
    let Some(ids) = only else { return plan };
    plan.into_iter()
        .filter(|s| {
            ids.contains(&s.id)
                && s.changes()
                && !matches!(
                    s.action,
                    Action::Config(config_steps::Change::Write { edited: true, .. })
                        | Action::Config(config_steps::Change::Refuse(_))
                )
        })
        .collect()
}

/// Run setup's engine (observe → plan → show → confirm → apply under the lock) for every
/// step, or only for the steps `only` names that fix something (`doctor --fix`).
async fn engine(
    args: &SetupArgs,
    process: &Process,
    ui: &Ui,
    steps: &mut Vec<StepReport>,
    only: Option<&[&'static str]>,
) -> Result<()> {
    let settings = Settings::resolve(args, process)?;
    let requests = Requests {
        act: act_step::request(args, process, &settings.fs)?,
    };
    let run = Run {
        args,
        process,
        ui,
        settings,
        requests,
        docker: tokio::sync::OnceCell::new(),
    };
    check_state_dirs(&run.settings)?;
    let receipts = Receipts::load(&run.settings, ui);
    let facts = observe(&run, &receipts).await?;
    let planned = select(plan(&facts), only);
    if only.is_some() && planned.is_empty() {
        ui.info("no setup step can fix what the checks found");
        return Ok(());
    }
    show_plan(ui, &run.settings, &planned);
    let changes = planned.iter().any(StepPlan::changes);
    // Under the lock the plan is computed again; a partial run keeps to these steps.
    let chosen: Vec<&'static str> = planned.iter().map(|s| s.id).collect();
    let only = only.map(|_| chosen.as_slice());

    if args.dry_run {
        for step in &planned {
            let (status, summary) =
                dry_run_status(step.changes(), step.action == Action::Keep, &step.summary);
            ui.step(status.as_str(), step.id, &summary);
            steps.push(StepReport {
                id: step.id,
                status,
                summary,
                would_change: step.changes(),
                diff: match &step.action {
                    Action::Config(config_steps::Change::Write { diff, .. }) => Some(diff.clone()),
                    _ => None,
                },
            });
        }
        ui.info("dry run: nothing was changed");
        return Ok(());
    }

    if changes && !args.yes {
        confirm_plan(process, ui).await?;
    }

    if !changes {
        for step in &planned {
            let report = apply_step(&run, step, &mut receipts.clone()).await?;
            ui.step(report.status.as_str(), report.id, &report.summary);
            steps.push(report);
        }
        return Ok(());
    }

    // Under the lock, look again: another run may have done (part of) the work meanwhile.
    let s = &run.settings;
    let deadline = Instant::now() + s.timeout;
    let _lock = crate::system::lock::acquire(&s.fs, &s.state_dir, deadline, ui).await?;
    let _system_lock = match s.records {
        Records::System => Some(
            crate::system::lock::acquire(&Fs::local(), &s.system_state_dir, deadline, ui).await?,
        ),
        Records::User => None,
    };
    let mut receipts = Receipts::load(s, ui);
    let facts = observe(&run, &receipts).await?;
    for step in &select(plan(&facts), only) {
        let report = apply_step(&run, step, &mut receipts).await?;
        ui.step(report.status.as_str(), report.id, &report.summary);
        steps.push(report);
    }
    Ok(())
}

/// Refuse, before anything is written, a state dir that is a link or someone else's: the
/// user's must be a directory of theirs, root's a root-owned one nobody else can write.
fn check_state_dirs(s: &Settings) -> Result<()> {
    let refuse = |dir: &std::path::Path, why: String| {
        Error::failed(
            format!("refusing the state dir {}: {why}", dir.display()),
            Some(format!(
                "move it away (mv {} {}.old) and run setup again",
                crate::system::process::sh_quote(&dir.display().to_string()),
                crate::system::process::sh_quote(&dir.display().to_string())
            )),
        )
    };
    if let Some(m) = s.fs.stat(&s.state_dir)? {
        if m.kind == crate::system::privsep::Kind::Link {
            return Err(refuse(&s.state_dir, "it is a symbolic link".into()));
        }
        if m.kind != crate::system::privsep::Kind::Dir {
            return Err(refuse(&s.state_dir, "it is not a directory".into()));
        }
        if m.uid != s.user.uid {
            return Err(refuse(
                &s.state_dir,
                format!(
                    "it belongs to {} (uid {}), not {}",
                    crate::system::identity::user_name(m.uid),
                    m.uid,
                    s.user.name
                ),
            ));
        }
    }
    if s.fs.is_separated() {
        match std::fs::symlink_metadata(&s.system_state_dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(&s.system_state_dir, "it is a symbolic link".into()));
            }
            Ok(m) if !m.is_dir() => {
                return Err(refuse(&s.system_state_dir, "it is not a directory".into()));
            }
            Ok(m)
                if {
                    use std::os::unix::fs::MetadataExt;
                    m.uid() != 0 || (m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0)
                } =>
            {
                return Err(refuse(
                    &s.system_state_dir,
                    "it must be owned by root and writable by nobody else".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ok_and_changed() {
        let r = Report::new(
            vec![
                StepReport {
                    id: "act",
                    status: StepStatus::Changed,
                    summary: "x".into(),
                    ..Default::default()
                },
                StepReport {
                    id: "group",
                    status: StepStatus::Skipped,
                    summary: "y".into(),
                    ..Default::default()
                },
            ],
            vec![],
        );
        assert!(r.ok && r.changed);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["schema"], 1);
        assert_eq!(json["steps"][0]["status"], "changed");
        assert_eq!(json["checks"], serde_json::json!([]));
        let r = Report::new(
            vec![StepReport {
                id: "act",
                status: StepStatus::Failed,
                summary: "x".into(),
                ..Default::default()
            }],
            vec![],
        );
        assert!(!r.ok && !r.changed);
    }

    #[test]
    fn step_json_carries_changed_diff_and_would_change() {
        let written = StepReport {
            id: "env",
            status: StepStatus::Changed,
            summary: "wrote /c/.env".into(),
            diff: Some("--- /dev/null\n+++ /c/.env\n+DOCKER_GID=5\n".into()),
            would_change: false,
        };
        let j = serde_json::to_value(&written).unwrap();
        assert_eq!(j["changed"], true);
        assert!(j["diff"].as_str().unwrap().contains("+DOCKER_GID=5"));
        assert!(j.get("would_change").is_none());
        let dry = StepReport {
            id: "actrc",
            status: StepStatus::Skipped,
            summary: "dry run: would write".into(),
            diff: Some(String::new()),
            would_change: true,
        };
        let j = serde_json::to_value(&dry).unwrap();
        assert_eq!(j["changed"], false);
        assert_eq!(j["would_change"], true);
        assert!(j.get("diff").is_none(), "an empty diff is left out");

        let mut r = Report::new(vec![written, dry], vec![]);
        let e = Error::ChecksumMismatch {
            what: "a.tar.gz".into(),
            expected: "aa".into(),
            actual: "bb".into(),
        };
        r.reason = Some(failure_reason(Some(&e), &r));
        let reason = r.reason.clone().unwrap();
        assert!(
            reason.starts_with("checksum mismatch for a.tar.gz"),
            "{reason}"
        );
        assert!(reason.contains("(exit 4); fix: "), "{reason}");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["reason"], reason.as_str());
        assert!(j.get("would_change").is_none());
    }
}
