//! All terminal output goes through here.
//!
//! Human text goes to stderr; `--format json` puts exactly one JSON document on stdout and
//! nothing else there. Colour is used only on a terminal and never with `NO_COLOR`; progress
//! bars only on a terminal, a plain line per stage otherwise.
//!
//! Every line is escaped on its way out ([`escape`]): a control character, an escape
//! sequence or a bidi override that reached a line (a path from a receipt, a job name, a
//! program's output) is shown visibly (`\x1b`), never interpreted by the terminal. The
//! only styling that reaches the terminal is ui's own, applied after escaping ([`Piece`]).
//! A single-line field from outside (a path, a name) goes through [`escape`] where it is
//! formatted, so a newline in it cannot fake a line of its own.
//!
//! What can go wrong: a closed stdout or stderr; writes are best effort and never panic.

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use console::Style;
use serde::Serialize;

use crate::error::Error;
use crate::system::process::Process;

pub mod log;

/// `"schema"` of every JSON document actsim prints (setup, doctor, uninstall, run). Raised
/// only when a field changes meaning or goes away; new fields do not raise it.
pub const JSON_SCHEMA: u32 = 1;

/// `--format`: who reads the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Readable lines on stderr.
    #[default]
    Human,
    /// One JSON document on stdout, nothing else there.
    Json,
}

/// A check's or a job's verdict, as its mark shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Pass,
    Warn,
    Fail,
    Skip,
}

/// A piece of a human line: plain text, or text in one of ui's styles. Every piece is
/// escaped before ui styles it ([`Ui::line_pieces`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Dim(String),
    Cyan(String),
    Mark(Mark),
}

fn mark_style(mark: Mark) -> (&'static str, Style) {
    match mark {
        Mark::Pass => ("✓", Style::new().green()),
        Mark::Warn => ("!", Style::new().yellow().bold()),
        Mark::Fail => ("✗", Style::new().red().bold()),
        Mark::Skip => ("-", Style::new().dim()),
    }
}

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls, DEL, and the
/// invisible direction marks and overrides (bidi) that reorder what a line shows.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write as _;
    let _ = match c {
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

fn escape_with(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// THE escaping function for text that did not come from actsim (paths, names from
/// workflows, file contents, program and daemon output): every control character
/// (newlines included), escape sequence and bidi override is shown visibly (`\x1b`,
/// `\n`, `\u{202e}`). Use it on a single-line field where it is formatted.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_with(text, |_| false)
}

/// [`escape`] for multi-line text: newlines and tabs kept, everything else escaped. Every
/// line ui writes goes through it.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| c == '\n' || c == '\t')
}

/// Whether a stream that is (`tty`) or is not a terminal gets colour, as anstream decides:
/// `NO_COLOR` (any non-empty value) turns it off; else `CLICOLOR_FORCE` (not `0`) turns it
/// on; else `CLICOLOR=0` or `TERM=dumb` turn it off; else colour only on a terminal
/// (<https://no-color.org>, <https://bixense.com/clicolors>).
pub fn colour_for(process: &Process, tty: bool) -> bool {
    if process.var_nonempty("NO_COLOR").is_some() {
        return false;
    }
    if process
        .var_nonempty("CLICOLOR_FORCE")
        .is_some_and(|v| v != "0")
    {
        return true;
    }
    if process.var("CLICOLOR") == Some("0") || process.var("TERM") == Some("dumb") {
        return false;
    }
    tty
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub format: Format,
    pub color: bool,
    pub verbose: bool,
    pub quiet: bool,
    /// Progress bars allowed (stderr is a terminal and human output).
    pub bars: bool,
}

impl Ui {
    pub fn new(process: &Process, format: Format, verbose: bool, quiet: bool) -> Self {
        // Human output goes to stderr: its colour is decided by stderr alone.
        let color = colour_for(process, process.stderr_tty);
        Ui {
            format,
            color,
            verbose,
            quiet,
            bars: process.stderr_tty && format == Format::Human && !quiet,
        }
    }

    /// A plain UI for tests and internal use: human, no colour, no bars.
    pub fn plain() -> Self {
        Ui {
            format: Format::Human,
            color: false,
            verbose: false,
            quiet: false,
            bars: false,
        }
    }

    fn human(&self) -> bool {
        self.format == Format::Human
    }

    fn style(&self, s: Style) -> Style {
        if self.color {
            // console would decide by stdout being a terminal; the decision is ours.
            s.force_styling(true)
        } else {
            Style::new().force_styling(false)
        }
    }

    /// Write `text` (escaped, newlines and tabs kept) as one or more lines.
    fn eprint(&self, text: &str) {
        self.emit(&escape_lines(text));
    }

    /// Write text that is already escaped and styled by ui itself.
    fn emit(&self, safe: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{safe}");
    }

    /// Pieces escaped, then styled: ui's own styling is the only one that reaches the
    /// terminal.
    fn render(&self, pieces: &[Piece]) -> String {
        let mut out = String::new();
        for piece in pieces {
            let (text, style) = match piece {
                Piece::Text(t) => (escape_lines(t), None),
                Piece::Dim(t) => (escape_lines(t), Some(Style::new().dim())),
                Piece::Cyan(t) => (escape_lines(t), Some(Style::new().cyan())),
                Piece::Mark(m) => {
                    let (text, style) = mark_style(*m);
                    (Cow::Borrowed(text), Some(style))
                }
            };
            match style {
                Some(st) => out.push_str(&self.style(st).apply_to(text).to_string()),
                None => out.push_str(&text),
            }
        }
        out
    }

    /// A line of pieces (human format only), like [`Ui::line`].
    pub fn line_pieces(&self, pieces: &[Piece]) {
        if self.human() {
            self.emit(&self.render(pieces));
        }
    }

    /// A line of pieces printed even with `-q`, like [`Ui::always`].
    pub fn always_pieces(&self, pieces: &[Piece]) {
        if self.human() {
            self.emit(&self.render(pieces));
        }
    }

    /// An informational line (human format, not `-q`).
    pub fn info(&self, text: &str) {
        if self.human() && !self.quiet {
            self.eprint(text);
        }
    }

    /// A line printed in human format even with `-q` (status and summary lines).
    pub fn always(&self, text: &str) {
        if self.human() {
            self.eprint(text);
        }
    }

    /// A heading line, bold on a terminal.
    pub fn heading(&self, text: &str) {
        if self.human() && !self.quiet {
            let text = escape_lines(text);
            self.emit(&self.style(Style::new().bold()).apply_to(text).to_string());
        }
    }

    /// A warning: on stderr in every format (JSON owns only stdout), even with `-q`.
    pub fn warn(&self, text: &str) {
        let tag = self
            .style(Style::new().yellow().bold())
            .apply_to("warning:");
        self.emit(&format!("{tag} {}", escape_lines(text)));
    }

    /// A fatal error with its hint. Always printed to stderr, in every format, so a script
    /// reading JSON from stdout still sees why.
    pub fn error(&self, err: &Error) {
        let tag = self.style(Style::new().red().bold()).apply_to("error:");
        self.emit(&format!("{tag} {}", escape_lines(&err.to_string())));
        if let Some(hint) = err.hint() {
            let tag = self.style(Style::new().cyan()).apply_to("hint:");
            self.emit(&format!("{tag} {}", escape_lines(&hint)));
        }
    }

    /// Write one JSON document to stdout.
    pub fn json<T: Serialize>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut out, value);
        let _ = writeln!(out);
        let _ = out.flush();
    }

    /// Whether human lines are printed (human format).
    pub fn is_human(&self) -> bool {
        self.human()
    }

    /// A raw line on stderr (human format only), for renderers of other modules.
    pub fn line(&self, text: &str) {
        if self.human() {
            self.eprint(text);
        }
    }

    /// A setup step line: `changed  act  installed act 0.2.89 …`.
    pub fn step(&self, status: &str, id: &str, summary: &str) {
        if !self.human() {
            return;
        }
        let style = match status {
            "ok" => Style::new().green(),
            "changed" => Style::new().cyan().bold(),
            "skipped" => Style::new().dim(),
            _ => Style::new().red().bold(),
        };
        if self.quiet && status != "failed" {
            return;
        }
        let tag = self.style(style).apply_to(format!("{status:>7}"));
        self.emit(&format!(
            "{tag}  {:<9} {}",
            escape(id),
            escape_lines(summary)
        ));
    }

    /// A progress reporter for a download or other long stage.
    pub fn progress(&self, label: &str, total: Option<u64>) -> Progress {
        if self.bars {
            let bar = match total {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
            } else {
                "{spinner} {msg} {bytes} {bytes_per_sec}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(escape(label).into_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            Progress { bar: Some(bar) }
        } else {
            self.info(&format!("{label} ..."));
            Progress { bar: None }
        }
    }
}

/// Drives a progress bar on a terminal; silent otherwise (the stage line was printed).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A reporter that shows nothing.
    pub fn hidden() -> Self {
        Progress { bar: None }
    }

    pub fn set_total(&self, total: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Restart from zero (a retry).
    pub fn reset(&self) {
        if let Some(b) = &self.bar {
            b.reset();
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl crate::system::progress::Meter for Progress {
    fn inc(&self, n: u64) {
        Progress::inc(self, n)
    }
    fn finish(&self) {
        Progress::finish(self)
    }
}

/// The lower layers' notices ([`crate::system::progress`]) shown like any other line.
impl crate::system::progress::Progress for Ui {
    fn info(&self, text: &str) {
        Ui::info(self, text)
    }
    fn warn(&self, text: &str) {
        Ui::warn(self, text)
    }
    fn meter(&self, label: &str, total: Option<u64>) -> Box<dyn crate::system::progress::Meter> {
        Box::new(self.progress(label, total))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_controls_escapes_and_bidi_visibly() {
        assert_eq!(escape("plain /home/u/x é"), "plain /home/u/x é");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("a\x1b]0;pwned\x07b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(escape("x\ny\rz\t"), "x\\ny\\rz\\t");
        assert_eq!(escape("\u{9b}2J\u{7f}"), "\\x9b2J\\x7f");
        assert_eq!(escape("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        assert_eq!(escape("\u{2066}\u{200f}"), "\\u{2066}\\u{200f}");
        assert_eq!(escape_lines("one\ntwo\tx\x1b[2K"), "one\ntwo\tx\\x1b[2K");
    }

    #[test]
    fn pieces_are_escaped_before_ui_styles_them() {
        let ui = Ui {
            color: true,
            ..Ui::plain()
        };
        let line = ui.render(&[
            Piece::Mark(Mark::Pass),
            Piece::Text(" job\x1b[2K".into()),
            Piece::Dim("\x1b]0;t\x07".into()),
        ]);
        assert!(line.contains("job\\x1b[2K"), "{line:?}");
        assert!(line.contains("\\x1b]0;t\\x07"), "{line:?}");
        // ui's own styling is there: exactly the escape sequences console emits.
        assert!(line.starts_with("\x1b[32m"), "{line:?}");
        let plain = Ui::plain().render(&[Piece::Mark(Mark::Fail), Piece::Cyan(" →".into())]);
        assert_eq!(plain, "✗ →");
    }

    #[test]
    fn colour_follows_no_color_then_clicolor_force_then_clicolor_then_the_terminal() {
        let p = |vars: &[(&str, &str)]| Process::with_vars(vars.iter().copied());
        assert!(colour_for(&p(&[]), true));
        assert!(!colour_for(&p(&[]), false));
        assert!(!colour_for(&p(&[("NO_COLOR", "1")]), true));
        assert!(
            colour_for(&p(&[("NO_COLOR", "")]), true),
            "an empty NO_COLOR is unset"
        );
        assert!(colour_for(&p(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!colour_for(&p(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!colour_for(
            &p(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
            false
        ));
        assert!(!colour_for(&p(&[("CLICOLOR", "0")]), true));
        assert!(colour_for(
            &p(&[("CLICOLOR", "0"), ("CLICOLOR_FORCE", "1")]),
            false
        ));
        assert!(!colour_for(&p(&[("TERM", "dumb")]), true));
    }
}
