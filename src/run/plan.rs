//! Workflows and images: the workflow files act will read (act's `-W` rules, `--no-recurse`
//! from the command line or an actrc), the jobs the event (or `--job`) selects, the actrc
//! files act will read, the platform image each `runs-on` label maps to, and so the images
//! act will need (the simulator image first with `--in-container`; job containers and
//! `services:`; the jobs of local reusable workflows), and the remote actions.
//!
//! What can go wrong: no workflow path (exit 1); a file actsim cannot read as a workflow (a
//! warning: act decides); nothing to run (no workflow, no job for the event, an unknown
//! `-j`: exit 1 before act, listing what exists); `--in-container` without its compose
//! file or tool.

use std::path::{Path, PathBuf};

use super::Options;
use super::compose::Compose;
use super::halt::Halt;
use super::yaml::Unread;
use super::{userio, workflow};
use crate::context::Context;
use crate::ui::Ui;

/// One selected job: its workflow's name, its display name and its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub workflow: String,
    pub job: String,
    pub job_id: String,
    /// It calls a reusable workflow (`uses:` at the job level).
    pub calls: bool,
}

/// What the run will ask act to do.
pub struct Plan {
    pub jobs: Vec<Selected>,
    /// act's container name prefixes of the selected jobs (by display name and by id).
    pub prefixes: Vec<String>,
    /// The selected jobs' `runs-on` labels, each once, in order.
    pub labels: Vec<String>,
    /// The actrc files act reads (user's config, `~/.actrc`, the repository's).
    pub actrc_texts: Vec<String>,
    /// The images act will need.
    pub needs: Vec<workflow::Need>,
    /// `--in-container`: the compose service act runs in.
    pub compose: Option<Compose>,
    /// The names of every workflow read (to split act's job names).
    pub workflow_names: Vec<String>,
    /// The remote actions and reusable workflows of the selected jobs.
    pub actions: Vec<workflow::RemoteAction>,
    /// act's words: the actrc files' then the command line's after `--`.
    pub words: Vec<String>,
    /// Nothing to run: why, and what exists instead (one line per workflow).
    pub nothing: Option<(String, Vec<String>)>,
}

/// Read the workflows under `cwd`, select the jobs and work out their images.
pub async fn plan(ctx: &Context, args: &Options, cwd: &Path) -> Result<Plan, Halt> {
    let wf_path = args
        .workflows
        .clone()
        .unwrap_or_else(|| PathBuf::from(".github/workflows"));
    let actrc_texts = actrc_texts(ctx, cwd);
    let mut words = workflow::actrc_words(&actrc_texts);
    words.extend(args.act_args.iter().cloned());
    let (workflows, unread) =
        read_workflows(&cwd.join(&wf_path), workflow::no_recurse(&words), &ctx.ui)?;
    let selected = workflow::select(&workflows, &args.event, args.job.as_deref());
    let nothing =
        (selected.is_empty() && unread == 0).then(|| nothing_to_run(args, &wf_path, &workflows));
    // The jobs of local reusable workflows the selected jobs call: their images too.
    let called = called_workflows(&selected, cwd, &ctx.ui);
    let mut for_images = selected.clone();
    for w in &called {
        for_images.extend(w.jobs.iter().map(|j| (w, j)));
    }
    let mut labels: Vec<String> = Vec::new();
    for l in for_images.iter().flat_map(|(_, j)| &j.runs_on) {
        if !labels.contains(l) {
            labels.push(l.clone());
        }
    }
    let platforms = workflow::Platforms::new(
        &actrc_texts,
        args.platform_image.as_deref(),
        &labels,
        &args.act_args,
    );
    let (mut needs, notes) = workflow::needs(&for_images, &platforms);
    for n in notes {
        ctx.ui.warn(&n);
    }
    let actions =
        workflow::remote_actions(&for_images, workflow::flag(&words, "--no-skip-checkout"));
    let compose = if args.in_container {
        let c = Compose::find(&ctx.process, &ctx.config_dir)
            .await
            .map_err(Halt::failed)?;
        needs.insert(
            0,
            workflow::Need {
                image: c.image.clone(),
                label: "--in-container".into(),
                jobs: vec!["the actions-simulator service".into()],
            },
        );
        Some(c)
    } else {
        None
    };
    let mut workflow_names: Vec<String> = workflows.iter().map(|w| w.name.clone()).collect();
    workflow_names.extend(called.iter().map(|w| w.name.clone()));
    Ok(Plan {
        jobs: selected
            .iter()
            .map(|(w, j)| Selected {
                workflow: w.name.clone(),
                job: j.display().to_string(),
                job_id: j.id.clone(),
                calls: j.uses.is_some(),
            })
            .collect(),
        prefixes: prefixes(&for_images),
        labels,
        actrc_texts,
        needs,
        compose,
        workflow_names,
        actions,
        words,
        nothing,
    })
}

/// Every workflow file act reads at `path`, parsed; a file actsim cannot read is warned
/// about and left to act (their number is returned).
fn read_workflows(
    path: &Path,
    no_recurse: bool,
    ui: &Ui,
) -> Result<(Vec<workflow::Workflow>, usize), Halt> {
    let mut workflows = Vec::new();
    let mut unread = 0;
    for f in workflow::files(path, no_recurse).map_err(Halt::failed)? {
        // The safety bounds stop the run: a file that is not a regular file or over 1 MiB,
        // YAML over the loader's limits (`run::yaml`). Anything else is act's to judge.
        let Some(text) = userio::read_text(&f) else {
            return Err(Halt::message(
                format!(
                    "cannot read {} (not a regular file, or over 1 MiB)",
                    crate::ui::escape(&f.display().to_string())
                ),
                None,
            ));
        };
        match workflow::parse(&text, &f) {
            Ok(w) => workflows.push(w),
            Err(Unread::Refused(e)) => return Err(Halt::failed(e)),
            Err(Unread::Invalid(e)) => {
                unread += 1;
                ui.warn(&format!(
                    "{}; actsim does not check its jobs' images or actions, act decides",
                    crate::error::chain(&e)
                ));
            }
        }
    }
    Ok((workflows, unread))
}

/// The workflows of the local reusable workflows (`uses: ./…`) the selected jobs call.
fn called_workflows(
    selected: &[(&workflow::Workflow, &workflow::Job)],
    cwd: &Path,
    ui: &Ui,
) -> Vec<workflow::Workflow> {
    let mut out: Vec<workflow::Workflow> = Vec::new();
    for (_, j) in selected {
        let Some(u) = j.uses.as_deref().and_then(|u| u.strip_prefix("./")) else {
            continue;
        };
        let f = cwd.join(u);
        if out.iter().any(|w| w.file == f) {
            continue;
        }
        match userio::read_text(&f).map(|t| workflow::parse(&t, &f)) {
            Some(Ok(w)) => out.push(w),
            Some(Err(e)) => ui.warn(&crate::error::chain(e.error())),
            None => ui.warn(&format!(
                "cannot read the reusable workflow {}",
                f.display()
            )),
        }
    }
    out
}

/// Nothing to run: why, and what exists (one line per workflow: file, name, events, jobs).
fn nothing_to_run(
    args: &Options,
    wf_path: &Path,
    workflows: &[workflow::Workflow],
) -> (String, Vec<String>) {
    let why = match &args.job {
        Some(j) => format!(
            "no workflow in {} has a job {:?}",
            wf_path.display(),
            crate::ui::escape(j)
        ),
        None if workflows.iter().all(|w| w.jobs.is_empty()) => {
            format!("no workflow in {}", wf_path.display())
        }
        None => format!(
            "no workflow in {} runs on {:?}",
            wf_path.display(),
            crate::ui::escape(&args.event)
        ),
    };
    let list = workflows
        .iter()
        .filter(|w| !w.jobs.is_empty())
        .map(|w| {
            format!(
                "{} ({}): on {}; jobs {}",
                crate::ui::escape(&w.file.file_name().unwrap_or_default().to_string_lossy()),
                crate::ui::escape(&w.name),
                if w.events.is_empty() {
                    "nothing".to_string()
                } else {
                    w.events.join(", ")
                },
                w.jobs
                    .iter()
                    .map(|j| crate::ui::escape(&j.id).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    (why, list)
}

/// Stop before act when there is nothing to run, naming what exists.
pub fn judge(plan: &Plan) -> Result<(), Halt> {
    let Some((why, list)) = &plan.nothing else {
        return Ok(());
    };
    Err(Halt::message(
        format!("{why}; act was not started"),
        Some(if list.is_empty() {
            "add a workflow under .github/workflows (or pass -W PATH)".to_string()
        } else {
            format!(
                "what exists: {}; pick one with EVENT or -j JOB",
                list.join("; ")
            )
        }),
    ))
}

/// The actrc files act reads, lowest priority first: the user's config, `~/.actrc`, the
/// repository's.
fn actrc_texts(ctx: &Context, cwd: &Path) -> Vec<String> {
    [
        ctx.user.actrc_path(&ctx.process),
        ctx.user.home.join(".actrc"),
        cwd.join(".actrc"),
    ]
    .iter()
    .filter_map(|p| userio::read_text(p))
    .collect()
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
