//! Asking on the terminal: whether to apply a plan ([`confirm_plan`], setup's and
//! uninstall's) and yes/no questions ([`ask`]), both on stderr.
//!
//! What can go wrong: no terminal (exit 3 before anything changed, with `--yes` as the
//! way out), the plan declined (exit 3), Ctrl-C at the prompt (exit 130).

use crate::error::{Error, Result};
use crate::system::process::Process;
use crate::ui::Ui;

/// A plan that changes something, without `--yes`: asked on the terminal, or — without
/// one — aborted (exit 3) before anything changed. Setup and uninstall both use it.
pub async fn confirm_plan(process: &Process, ui: &Ui) -> Result<()> {
    if !process.can_prompt() {
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
    ask(
        "Apply this plan?",
        "could not ask for confirmation",
        "pass --yes to apply without asking",
    )
    .await
}

/// Ask a yes/no question on the terminal (stderr), default no. Ctrl-C is
/// [`Error::Interrupted`]; a prompt that cannot be shown aborts (`failed: why`, `hint`).
pub async fn ask(prompt: &str, failed: &str, hint: &str) -> Result<bool> {
    let prompt = prompt.to_string();
    let answer = tokio::task::spawn_blocking(move || {
        dialoguer::Confirm::with_theme(&dialoguer::theme::SimpleTheme)
            .with_prompt(prompt)
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
            reason: format!("{failed}: {e}"),
            hint: Some(hint.into()),
        }),
    }
}
