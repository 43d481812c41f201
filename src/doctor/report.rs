//! How findings look to a person: one line per check with its mark (fits 80 columns), the
//! fixes under a warning or failure, details and timings with `-v`, then a summary line.
//! Printed through [`Ui`] (stderr, human format only); JSON is the findings themselves.

use super::{Finding, Status};
use crate::ui::{Mark, Piece, Ui};

/// The mark a status shows.
pub fn mark_of(status: Status) -> Mark {
    match status {
        Status::Pass => Mark::Pass,
        Status::Warn => Mark::Warn,
        Status::Fail => Mark::Fail,
        Status::Skip => Mark::Skip,
    }
}

/// One line per check, fixes under a warn or fail, details with `-v`, a summary line.
pub fn print(ui: &Ui, findings: &[Finding]) {
    if !ui.is_human() {
        return;
    }
    let width = findings
        .iter()
        .map(|f| f.id.as_str().len())
        .max()
        .unwrap_or(0);
    for f in findings {
        let problem = matches!(f.status, Status::Warn | Status::Fail);
        if ui.quiet && !problem {
            continue;
        }
        ui.line_pieces(&[
            Piece::Mark(mark_of(f.status)),
            Piece::Text(format!(" {:width$}  {}", f.id.as_str(), f.summary)),
        ]);
        if ui.verbose {
            ui.line_pieces(&[
                Piece::Text("      ".into()),
                Piece::Dim(format!("took {} ms", f.duration_ms)),
            ]);
            for line in f.detail.lines() {
                ui.line_pieces(&[Piece::Text("      ".into()), Piece::Dim(line.into())]);
            }
        }
        if problem {
            for fix in &f.fix {
                ui.line_pieces(&[
                    Piece::Text("    ".into()),
                    Piece::Cyan("→".into()),
                    Piece::Text(format!(" {fix}")),
                ]);
            }
        }
    }
    ui.line(&summary_line(findings));
}

/// `No problems found (5 passed, 1 warning, 2 skipped).` — or how many checks failed.
pub fn summary_line(findings: &[Finding]) -> String {
    let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
    let (pass, warn, fail, skip) = (
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip),
    );
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let tally = format!(
        "{pass} passed, {}, {fail} failed, {skip} skipped",
        plural(warn, "warning")
    );
    if fail == 0 {
        format!("No problems found ({tally}).")
    } else {
        format!("{} ({tally}).", plural(fail, "check") + " failed")
    }
}
