//! Setup's steps, one file each, in plan order: [`docker`] (detect; never changes
//! anything), [`act`] (install a verified act), [`group`] (join the socket's group),
//! [`image`] (build the simulator image locally), [`compose`], [`env`] and [`actrc`] (write
//! the files from the templates; [`file`] holds what the three share).
//!
//! Each step file exports its facts (`Facts`), `observe` (reads the machine), a pure
//! `plan(&steps::Facts) -> StepPlan` and, when it changes something, `apply`. [`StepId`]
//! is the only list of steps; [`Action`] is the one flat list of changes, dispatched by the
//! one `match` in [`apply`].
//!
//! **Adding a step** `foo`: write `steps/foo.rs` (`Facts`, `observe`, `plan`, `apply`);
//! add `StepId::Foo` (to the enum, [`StepId::ALL`] at its place in the plan order, and
//! `as_str`), then the three lines that name it here: its field in [`Facts`], its call in
//! [`observe`], its arm in [`StepId::plan`]; a new kind of change adds its [`Action`]
//! variant and its arm in [`apply`].
//!
//! What can go wrong: see each step; an error from `observe` stops the run before anything
//! changed, an error from `apply` stops it after the steps already applied.

pub mod act;
pub mod actrc;
pub mod compose;
pub mod docker;
pub mod env;
pub mod file;
pub mod group;
pub mod image;

use crate::context::Context;
use crate::error::Result;
use crate::setup::Options;
use crate::setup::report::{StepReport, StepStatus};
use crate::setup::settings::{Receipts, Settings};

crate::named_enum! {
    /// A setup step. Its name ([`StepId::as_str`], its serde name) is the step id of the
    /// output and the JSON (a contract). `ALL` is every step, in plan (and apply) order.
    pub enum StepId {
        Docker = "docker",
        Act = "act",
        Group = "group",
        Image = "image",
        Compose = "compose",
        Env = "env",
        Actrc = "actrc",
    }
}

impl StepId {
    /// This step's plan. Pure.
    pub fn plan(self, f: &Facts) -> StepPlan {
        match self {
            StepId::Docker => docker::plan(f),
            StepId::Act => act::plan(&f.act),
            StepId::Group => group::plan(f),
            StepId::Image => image::plan(f),
            StepId::Compose => compose::plan(f),
            StepId::Env => env::plan(f),
            StepId::Actrc => actrc::plan(f),
        }
    }
}

/// What one step intends to do; computed purely from [`Facts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlan {
    pub id: StepId,
    /// One line: what will be done, or why nothing needs doing.
    pub summary: String,
    /// What is downloaded from where, where it goes, what is replaced.
    pub details: Vec<String>,
    pub warnings: Vec<String>,
    pub action: Action,
}

impl StepPlan {
    pub fn new(id: StepId, summary: impl Into<String>, action: Action) -> StepPlan {
        StepPlan {
            id,
            summary: summary.into(),
            details: Vec::new(),
            warnings: Vec::new(),
            action,
        }
    }

    pub fn changes(&self) -> bool {
        !matches!(self.action, Action::Keep | Action::Skip)
    }

    /// A change `doctor --fix` may make: keeping a user's edited file (ours beside it) and
    /// a refusal fix nothing.
    pub fn fixes(&self) -> bool {
        self.changes()
            && !matches!(
                self.action,
                Action::Write(file::Write { edited: true, .. }) | Action::Refuse(_)
            )
    }
}

/// The change a step will make: one flat list for every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already as wanted: reported `ok`.
    Keep,
    /// Not applicable here: reported `skipped`.
    Skip,
    /// Reported `failed` without stopping the run.
    Refuse(String),
    /// Install act.
    InstallAct(Box<act::Install>),
    /// Add the user to the socket's group.
    JoinGroup(group::Join),
    /// Build the simulator image if its label differs from the installed binary.
    BuildImage(image::Build),
    /// Write a file (compose, env, actrc).
    Write(file::Write),
}

/// Everything observed about the machine that the plan depends on. Two observations that
/// compare equal give the same plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub docker: docker::Facts,
    pub act: act::Facts,
    pub group: group::Facts,
    pub image: image::Facts,
    pub compose: file::Observed,
    pub env: file::Observed,
    pub actrc: file::Facts,
}

/// Validated requests of the steps (usage errors surface here, before anything else).
#[derive(Debug, Clone)]
pub struct Requests {
    pub act: act::Request,
}

/// Everything observe and apply need.
pub struct Run<'a> {
    pub ctx: &'a Context,
    pub opts: &'a Options,
    pub settings: Settings,
    pub requests: Requests,
    /// The Docker install, detected once (the observation under the lock reuses it).
    pub docker: tokio::sync::OnceCell<crate::docker::detect::DockerInstall>,
}

/// Observe every step's facts.
pub async fn observe(run: &Run<'_>, receipts: &Receipts) -> Result<Facts> {
    // Detecting Docker and observing act are independent: do both at once.
    let (detected, act) = tokio::join!(
        run.docker.get_or_try_init(|| docker::detect(run)),
        act::observe(run, receipts)
    );
    let (detected, act) = (detected?, act?);
    let group = group::observe(run, detected)?;
    let image = image::observe(detected, &act).await;
    let platform = file::platform_image(run.ctx, run.opts)?;
    let render = compose::render_context(run, detected, &act, &image.name, platform);
    Ok(Facts {
        docker: docker::observe(run, detected),
        actrc: actrc::observe(run, detected, platform, &receipts.user)?,
        compose: compose::observe(run, &render, &receipts.user)?,
        env: env::observe(run, &render, &receipts.user)?,
        act,
        group,
        image,
    })
}

/// The plan: one entry per step, in [`StepId::ALL`]'s order. Pure.
pub fn plan(facts: &Facts) -> Vec<StepPlan> {
    let down = docker::daemon_down(facts);
    StepId::ALL
        .iter()
        .map(|id| {
            let p = id.plan(facts);
            if down && docker::NEEDS_DAEMON.contains(id) {
                docker::hold(p)
            } else {
                p
            }
        })
        .collect()
}

/// Apply one step's plan.
pub async fn apply(run: &Run<'_>, step: &StepPlan, receipts: &mut Receipts) -> Result<StepReport> {
    let report = |status| StepReport {
        id: step.id.as_str(),
        status,
        summary: step.summary.clone(),
        ..Default::default()
    };
    let done = match &step.action {
        Action::Keep => return Ok(report(StepStatus::Ok)),
        Action::Skip => return Ok(report(StepStatus::Skipped)),
        Action::Refuse(why) => {
            return Ok(StepReport {
                summary: why.clone(),
                ..report(StepStatus::Failed)
            });
        }
        // act saves its own records (the user's or root's receipt).
        Action::InstallAct(install) => return act::apply(run, install, receipts).await,
        Action::JoinGroup(join) => {
            let done = group::apply(run, join, &mut receipts.user)?;
            // Root for another user: root's own record is what uninstall trusts.
            if run.settings.fs.is_separated() {
                let uid = run.settings.user.uid;
                let system = receipts.system.get_or_insert_with(Default::default);
                system.groups_added.retain(|g| g.uid != uid);
                system.groups_added.push(crate::receipt::GroupAdded {
                    uid,
                    group: join.group.clone(),
                });
                receipts.save_records(&run.settings)?;
            }
            done
        }
        Action::BuildImage(build) => image::apply(run, build, &mut receipts.user).await?,
        Action::Write(write) => {
            let done = file::apply(run, step.id, write, &mut receipts.user).await?;
            if done.status == StepStatus::Changed {
                match step.id {
                    StepId::Env => env::record(&write.bytes, &mut receipts.user),
                    StepId::Actrc => actrc::record(&run.opts.act_args, &mut receipts.user),
                    _ => {}
                }
            }
            done
        }
    };
    if done.status == StepStatus::Changed {
        receipts.save_user(&run.settings)?;
    }
    Ok(done)
}
