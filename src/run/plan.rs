//! Workflows and images: the workflow files read and parsed, the jobs the event (or `--job`)
//! selects, the actrc files act will read, the platform image each `runs-on` label maps to,
//! and so the images act will need (the simulator image first with `--in-container`).
//!
//! What can go wrong: no workflow directory, a file that is not a regular file or over
//! 1 MiB, a file that is not YAML (each exit 1 naming the file); nothing selected (a
//! warning: act will run nothing); `--in-container` without its compose file or tool.

use std::path::{Path, PathBuf};

use super::Options;
use super::compose::Compose;
use super::halt::Halt;
use super::{userio, workflow};
use crate::context::Context;
use crate::ui::Ui;

/// One selected job: its workflow's name and its display name.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub workflow: String,
    pub job: String,
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
}

/// Read the workflows under `cwd`, select the jobs and work out their images.
pub async fn plan(ctx: &Context, args: &Options, cwd: &Path) -> Result<Plan, Halt> {
    let wf_path = args
        .workflows
        .clone()
        .unwrap_or_else(|| PathBuf::from(".github/workflows"));
    let workflows = read_workflows(&cwd.join(&wf_path))?;
    let selected = workflow::select(&workflows, &args.event, args.job.as_deref());
    if selected.is_empty() {
        warn_nothing_selected(&ctx.ui, args, &wf_path);
    }
    let mut labels: Vec<String> = Vec::new();
    for l in selected.iter().flat_map(|(_, j)| &j.runs_on) {
        if !labels.contains(l) {
            labels.push(l.clone());
        }
    }
    let actrc_texts = actrc_texts(ctx, cwd);
    let platforms = workflow::Platforms::new(
        &actrc_texts,
        args.platform_image.as_deref(),
        &labels,
        &args.act_args,
    );
    let (mut needs, notes) = workflow::needs(&selected, &platforms);
    for n in notes {
        ctx.ui.warn(&n);
    }
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
    Ok(Plan {
        jobs: selected
            .iter()
            .map(|(w, j)| Selected {
                workflow: w.name.clone(),
                job: j.display().to_string(),
            })
            .collect(),
        prefixes: prefixes(&selected),
        labels,
        actrc_texts,
        needs,
        compose,
    })
}

/// Every workflow file under `dir`, parsed.
fn read_workflows(dir: &Path) -> Result<Vec<workflow::Workflow>, Halt> {
    let mut workflows = Vec::new();
    for f in workflow::files(dir).map_err(Halt::failed)? {
        let Some(text) = userio::read_text(&f) else {
            return Err(Halt::message(
                format!(
                    "cannot read {} (not a regular file, or over 1 MiB)",
                    f.display()
                ),
                None,
            ));
        };
        workflows.push(workflow::parse(&text, &f).map_err(Halt::failed)?);
    }
    Ok(workflows)
}

fn warn_nothing_selected(ui: &Ui, args: &Options, wf_path: &Path) {
    ui.warn(&match &args.job {
        Some(j) => format!("no workflow in {} has a job {j:?}", wf_path.display()),
        None => format!(
            "no workflow in {} runs on {:?}; act will run nothing",
            wf_path.display(),
            args.event
        ),
    });
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
