//! Setup's last step (and `doctor --fix`'s check after fixing): doctor's checks on the
//! new state, for the user's next login.
//!
//! In-process, with the run's [`Context`], when the checks can run as this process is;
//! in a child `actsim doctor --format json` when they cannot: as root for another user
//! (the child drops to them), or when the group database lists the socket's group that
//! this login does not carry yet (setup just added it: the child runs under `sg GROUP`).
//!
//! What can go wrong: the child does not run or prints no JSON (no findings, with a note;
//! a `sg` child that fails falls back to the in-process check), Ctrl-C (containers the
//! checks created are removed; no findings, with a note).

use std::time::Duration;

use crate::context::Context;
use crate::doctor::{Finding, GroupView, Options, Report};

/// Doctor's options for a check of `timeout` (not deep, this login's groups, no drift):
/// who and where come from the [`Context`].
pub fn doctor_options(timeout: Duration) -> Options {
    Options::new(timeout)
}

/// The checks after setup changed things: the user's next login (a group added just now
/// counts), against the receipts just written.
pub fn after_setup(ctx: &Context, opts: &mut Options) {
    opts.group_view = GroupView::Database;
    opts.drift = crate::setup::records::drift(&ctx.process, &ctx.user, &ctx.bin_dir);
    opts.drift.lock = crate::act::lockfile::doctor_expectation(ctx.act_lock.as_deref());
}

/// Setup's final check, shown like `actsim doctor`: at most 60 s.
pub async fn final_check(ctx: &Context) -> Vec<Finding> {
    let mut opts = doctor_options(ctx.timeout.min(Duration::from_secs(60)));
    after_setup(ctx, &mut opts);
    ctx.ui.heading("Final check:");
    let (findings, note) = run(ctx, &opts).await;
    if let Some(note) = note {
        ctx.ui.info(&note);
    }
    crate::doctor::report::print(&ctx.ui, &findings);
    findings
}

/// Doctor's checks on the new state, and a note on how they ran.
pub async fn run(ctx: &Context, opts: &Options) -> (Vec<Finding>, Option<String>) {
    let user = &ctx.user;
    if crate::system::halves::needs_separation(user) {
        // Root for another user: the user half runs doctor as them.
        return match as_user(ctx, opts, None) {
            Ok((findings, _)) => (
                findings,
                Some(format!(
                    "checked as {} (uid {}) with the groups of their next login",
                    user.name, user.uid
                )),
            ),
            Err(e) => (
                Vec::new(),
                Some(format!("the check as {} did not run: {e}", user.name)),
            ),
        };
    }
    if let Some((group, gid)) = pending_group(ctx)
        && let Some(findings) = child(ctx, opts, Some(&group)).await
    {
        return (
            findings,
            Some(format!(
                "checked as {} with group {group} (gid {gid}) through sg: this login gains it after logging in again or `newgrp {group}`",
                user.name
            )),
        );
    }
    // In this process, with the run's Context: its endpoint, connection and hashes.
    match crate::doctor::run_until_stopped(ctx, opts).await {
        Ok(f) => (f, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

/// The socket group the user's next login has and this process lacks.
fn pending_group(ctx: &Context) -> Option<(String, u32)> {
    let user = &ctx.user;
    if !user.is_current || user.uid == 0 {
        return None;
    }
    let endpoint = ctx.endpoint().as_ref().ok()?;
    let meta = crate::docker::detect::socket_meta(&endpoint.socket_path()?)?;
    let now = crate::system::identity::process_gids();
    (user.database_gids().contains(&meta.gid) && !now.contains(&meta.gid))
        .then(|| (crate::system::identity::group_name(meta.gid), meta.gid))
}

/// `actsim doctor --format json …` in a child under `sg GROUP` (a group this login lacks).
async fn child(ctx: &Context, opts: &Options, sg: Option<&str>) -> Option<Vec<Finding>> {
    let exe = std::env::current_exe().ok()?;
    let mut words = vec![
        exe.to_string_lossy().to_string(),
        "doctor".into(),
        "--format".into(),
        "json".into(),
        "--timeout".into(),
        opts.timeout.as_secs().max(1).to_string(),
        "--bin-dir".into(),
        ctx.bin_dir.to_string_lossy().to_string(),
        "--config-dir".into(),
        ctx.config_dir.to_string_lossy().to_string(),
    ];
    if let Some(p) = &ctx.platform_image {
        words.extend(["--platform-image".into(), p.clone()]);
    }
    if let Some(lock) = &ctx.act_lock {
        words.extend(["--act-lock".into(), lock.to_string_lossy().to_string()]);
    }
    let group = sg?;
    let mut cmd = tokio::process::Command::new("sg");
    cmd.args([group, "-c", &crate::system::process::sh_join(&words)]);
    let out = cmd
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    parse_findings(&out.stdout)
}

/// Doctor as the user half: `actsim __user doctor --format json` as the context's user
/// (their uid, groups, environment; root's endpoint passed as `--docker-host`), under the
/// options' deadline. Its report is parsed into findings (untrusted data: shown only
/// through `ui`); its stderr lines are relayed, capped, through `ui`. `bundle`: the user
/// half also writes the support bundle there, as the user.
pub fn as_user(
    ctx: &Context,
    opts: &Options,
    bundle: Option<&std::path::Path>,
) -> crate::error::Result<(Vec<Finding>, Option<i32>)> {
    let timeout = opts.timeout.as_secs().max(1);
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let mut args: Vec<String> = vec![
        "doctor".into(),
        "--format".into(),
        "json".into(),
        "--timeout".into(),
        timeout.to_string(),
        "--bin-dir".into(),
        path(&ctx.bin_dir),
        "--config-dir".into(),
        path(&ctx.config_dir),
    ];
    // Root's endpoint, resolved from root's own docker config: never the user's context.
    if let Ok(e) = ctx.endpoint() {
        args.extend(["--docker-host".into(), e.host.clone()]);
    }
    if let Some(p) = &ctx.platform_image {
        args.extend(["--platform-image".into(), p.clone()]);
    }
    if let Some(lock) = &ctx.act_lock {
        args.extend(["--act-lock".into(), path(lock)]);
    }
    if opts.deep {
        args.push("--deep".into());
    }
    if let Some(p) = &opts.probe_image {
        args.extend(["--probe-image".into(), p.clone()]);
    }
    if let Some(b) = bundle {
        args.extend([
            "--bundle".into(),
            path(&std::path::absolute(b).unwrap_or(b.into())),
        ]);
    }
    // The child's own deadline plus a margin to report; then it is killed.
    let deadline = std::time::Instant::now() + opts.timeout + Duration::from_secs(10);
    let out = crate::system::halves::run_as(&ctx.user, &ctx.process, &args, &[], deadline)?;
    relay_stderr(ctx, &out);
    if out.timed_out {
        return Err(crate::error::Error::failed(
            format!(
                "doctor as {} did not finish within --timeout",
                ctx.user.name
            ),
            Some("raise --timeout".into()),
        ));
    }
    let findings = parse_findings(&out.stdout).ok_or_else(|| {
        crate::error::Error::failed(
            format!(
                "doctor as {} gave no report (exit {})",
                ctx.user.name,
                out.code
                    .map_or("by a signal".to_string(), |c| c.to_string())
            ),
            None,
        )
    })?;
    Ok((findings, out.code))
}

/// The user half's stderr, line by line, through `ui` (escaped), at most 200 lines.
pub fn relay_stderr(ctx: &Context, out: &crate::system::halves::Output) {
    let text = out.stderr_text();
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(200) {
        ctx.ui.info(&format!("{}: {line}", ctx.user.name));
    }
}

/// The findings of doctor's JSON (`None` when it does not parse: the child did not run
/// as it should).
fn parse_findings(json: &[u8]) -> Option<Vec<Finding>> {
    match serde_json::from_slice::<Report>(json) {
        Ok(report) => Some(report.checks),
        Err(e) => {
            log::debug!("the child doctor's report does not parse: {e}");
            None
        }
    }
}
