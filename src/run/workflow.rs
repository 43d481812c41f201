//! Which images the selected jobs need, worked out from the workflow files before act runs.
//!
//! A workflow's `on:` decides whether the event runs it (`-j JOB` selects the job and what it
//! `needs`, whatever the event, as act does). A job's image is its `container:` image, else
//! the image its `runs-on` labels map to: `-P` after `--` first, then `--platform-image`,
//! then the actrc files (the last mapping wins, labels compare case-insensitively, as in
//! act). What can go wrong: a file that is not YAML (named, with the parser's message), a
//! label nothing maps (act skips that job; reported as a note), a `runs-on` expression that
//! cannot be resolved without running the workflow (a note too).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use yaml_rust2::Yaml;

use crate::error::{Error, Result};

/// One workflow file, as far as images and names go.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub file: PathBuf,
    /// `name:`, else the file name (what act shows and names containers after).
    pub name: String,
    pub events: Vec<String>,
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    /// `name:` when it is plain text.
    pub name: Option<String>,
    /// `runs-on` labels (matrix references resolved where the matrix lists them).
    pub runs_on: Vec<String>,
    /// `container:` image.
    pub container: Option<String>,
    pub needs: Vec<String>,
    /// A `runs-on` value that could not be worked out (an expression).
    pub unresolved: Option<String>,
}

impl Job {
    /// The name act shows for the job (`name:` or the id).
    pub fn display(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// The workflow files under `path` (a file, or a directory searched recursively as act does).
pub fn files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::failed(
            format!("no workflows at {}: {e}", path.display()),
            Some("run actsim run from the repository's top directory, or pass -W PATH".to_string()),
        )
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![(path.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() && depth < 8 {
                stack.push((p, depth + 1));
            } else if ft.is_file() && p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Parse one workflow file's text.
pub fn parse(text: &str, file: &Path) -> Result<Workflow> {
    let bad = |why: String| {
        Error::failed(
            format!("{} is not a workflow act can read: {why}", file.display()),
            Some("fix the file (act --validate shows act's own view of it)".to_string()),
        )
    };
    let docs = super::yaml::load_bounded(file, text.as_bytes(), None)?;
    let doc = docs.into_iter().next().unwrap_or(Yaml::Null);
    let file_name = file
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = doc["name"]
        .as_str()
        .map(str::to_string)
        .unwrap_or(file_name);
    // YAML 1.1 reads a bare `on` key as true; yaml-rust2 keeps it as a string, but be safe.
    let on_true = doc
        .as_hash()
        .and_then(|h| h.get(&Yaml::Boolean(true)))
        .cloned()
        .unwrap_or(Yaml::BadValue);
    let on = match &doc["on"] {
        Yaml::BadValue => &on_true,
        v => v,
    };
    let events = match on {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Yaml::Hash(h) => h
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let mut jobs = Vec::new();
    if let Yaml::Hash(h) = &doc["jobs"] {
        for (k, v) in h {
            let Some(id) = k.as_str() else { continue };
            jobs.push(parse_job(id, v));
        }
    } else {
        return Err(bad("no jobs".into()));
    }
    Ok(Workflow {
        file: file.to_path_buf(),
        name,
        events,
        jobs,
    })
}

fn strings(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn parse_job(id: &str, v: &Yaml) -> Job {
    let name = v["name"]
        .as_str()
        .filter(|n| !n.contains("${{"))
        .map(str::to_string);
    let raw = match &v["runs-on"] {
        Yaml::Hash(_) => strings(&v["runs-on"]["labels"]),
        other => strings(other),
    };
    let mut runs_on = Vec::new();
    let mut unresolved = None;
    for label in raw {
        match matrix_key(&label) {
            Some(key) => {
                let values = matrix_values(&v["strategy"]["matrix"], &key);
                if values.is_empty() {
                    unresolved = Some(label.clone());
                }
                runs_on.extend(values);
            }
            None if label.contains("${{") => unresolved = Some(label.clone()),
            None => runs_on.push(label),
        }
    }
    let container = match &v["container"] {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Hash(_) => v["container"]["image"].as_str().map(str::to_string),
        _ => None,
    }
    .filter(|s| !s.contains("${{"));
    Job {
        id: id.to_string(),
        name,
        runs_on,
        container,
        needs: strings(&v["needs"]),
        unresolved,
    }
}

/// `${{ matrix.os }}` -> `os`.
fn matrix_key(label: &str) -> Option<String> {
    let inner = label.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim();
    let key = inner.strip_prefix("matrix.")?;
    key.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        .then(|| key.to_string())
}

fn matrix_values(matrix: &Yaml, key: &str) -> Vec<String> {
    let mut out: Vec<String> = strings(&matrix[key]);
    if let Yaml::Array(include) = &matrix["include"] {
        out.extend(
            include
                .iter()
                .filter_map(|i| i[key].as_str().map(str::to_string)),
        );
    }
    let mut seen = BTreeSet::new();
    out.retain(|v| seen.insert(v.clone()));
    out
}

/// The jobs act will run: with `job`, that job and what it needs in every workflow that has
/// it; without, every job of the workflows the event triggers.
pub fn select<'a>(
    workflows: &'a [Workflow],
    event: &str,
    job: Option<&str>,
) -> Vec<(&'a Workflow, &'a Job)> {
    let mut out = Vec::new();
    for wf in workflows {
        match job {
            None => {
                if wf.events.iter().any(|e| e == event) {
                    out.extend(wf.jobs.iter().map(|j| (wf, j)));
                }
            }
            Some(wanted) => {
                let mut want: BTreeSet<String> = BTreeSet::new();
                let mut todo = vec![wanted.to_string()];
                while let Some(id) = todo.pop() {
                    if let Some(j) = wf.jobs.iter().find(|j| j.id == id)
                        && want.insert(id)
                    {
                        todo.extend(j.needs.iter().cloned());
                    }
                }
                out.extend(
                    wf.jobs
                        .iter()
                        .filter(|j| want.contains(&j.id))
                        .map(|j| (wf, j)),
                );
            }
        }
    }
    out
}

/// Label (lowercase) -> image, as act will see it.
#[derive(Debug, Clone, Default)]
pub struct Platforms(BTreeMap<String, String>);

impl Platforms {
    /// Build from, lowest priority first: the actrc texts, `--platform-image` for `labels`,
    /// and the `-P` values of the act arguments.
    pub fn new(
        actrc_texts: &[String],
        platform_image: Option<&str>,
        labels: &[String],
        act_args: &[String],
    ) -> Self {
        let mut map = BTreeMap::new();
        for text in actrc_texts {
            let words: Vec<String> = text
                .lines()
                .flat_map(|l| {
                    let l = l.trim();
                    if l.starts_with('#') {
                        Vec::new()
                    } else {
                        l.split_whitespace().map(str::to_string).collect()
                    }
                })
                .collect();
            for (l, i) in platform_args(&words) {
                map.insert(l, i);
            }
        }
        if let Some(image) = platform_image {
            for l in labels {
                map.insert(l.to_lowercase(), image.to_string());
            }
        }
        for (l, i) in platform_args(act_args) {
            map.insert(l, i);
        }
        Platforms(map)
    }

    pub fn get(&self, label: &str) -> Option<&str> {
        self.0
            .get(&label.to_lowercase())
            .map(String::as_str)
            .filter(|i| !i.is_empty())
    }
}

/// `-P L=I`, `-PL=I`, `-P=L=I`, `--platform L=I`, `--platform=L=I` in a word list.
pub fn platform_args(words: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let value = if w == "-P" || w == "--platform" {
            i += 1;
            words.get(i).map(String::as_str)
        } else if let Some(v) = w.strip_prefix("--platform=") {
            Some(v)
        } else if let Some(v) = w.strip_prefix("-P") {
            Some(v.strip_prefix('=').unwrap_or(v))
        } else {
            None
        };
        if let Some((l, img)) = value.and_then(|v| v.split_once('=')) {
            out.push((l.trim().to_lowercase(), img.trim().to_string()));
        }
        i += 1;
    }
    out
}

/// An image the run needs, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub image: String,
    /// The `runs-on` label that maps to it, or `container:` for a job container.
    pub label: String,
    /// `workflow/job` of the jobs that need it.
    pub jobs: Vec<String>,
}

/// What the selected jobs need, and notes about jobs act will not give an image.
pub fn needs(jobs: &[(&Workflow, &Job)], platforms: &Platforms) -> (Vec<Need>, Vec<String>) {
    let mut out: Vec<Need> = Vec::new();
    let mut notes = Vec::new();
    let mut add = |image: &str, label: &str, who: String| {
        if let Some(n) = out.iter_mut().find(|n| n.image == image) {
            if !n.jobs.contains(&who) {
                n.jobs.push(who);
            }
        } else {
            out.push(Need {
                image: image.to_string(),
                label: label.to_string(),
                jobs: vec![who],
            });
        }
    };
    for (wf, job) in jobs {
        let who = format!("{}/{}", wf.name, job.display());
        if let Some(expr) = &job.unresolved {
            notes.push(format!(
                "{who}: runs-on {expr} is an expression actsim cannot resolve before the run; its image is not checked"
            ));
        }
        if let Some(image) = &job.container {
            add(image, "container:", who);
            continue;
        }
        match job.runs_on.iter().find_map(|l| platforms.get(l).map(|i| (l, i))) {
            Some((_, "-self-hosted")) => {}
            Some((label, image)) => add(image, label, who),
            None if job.runs_on.is_empty() => {}
            None => notes.push(format!(
                "{who}: no platform image for runs-on {}; act skips this job (map it: --platform-image IMAGE, or -- -P {}=IMAGE)",
                job.runs_on.join(", "),
                job.runs_on[0]
            )),
        }
    }
    (out, notes)
}

/// act's container name prefix for a job: `act-<workflow>-<job>` with every character that
/// is not a letter or digit turned into `-`, runs of `-` collapsed, at most 63 characters
/// (act appends `-<sha256>`; matrix jobs and service containers add more before it).
pub fn container_prefix(workflow: &str, job: &str) -> String {
    let raw = format!("act-{workflow}-{job}");
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    name.truncate(63);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(text: &str) -> Workflow {
        parse(text, Path::new("/r/.github/workflows/ci.yml")).unwrap()
    }

    #[test]
    fn events_jobs_and_images_are_read() {
        let w = wf(
            "name: CI\non: [push, pull_request]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps: []\n  box:\n    name: In a box\n    runs-on: [self-hosted, linux]\n    container:\n      image: alpine:3\n  grid:\n    strategy:\n      matrix:\n        os: [ubuntu-22.04]\n        include:\n          - os: ubuntu-24.04\n    runs-on: ${{ matrix.os }}\n    needs: build\n",
        );
        assert_eq!(w.name, "CI");
        assert_eq!(w.events, ["push", "pull_request"]);
        assert_eq!(w.jobs[1].container.as_deref(), Some("alpine:3"));
        assert_eq!(w.jobs[1].display(), "In a box");
        assert_eq!(w.jobs[2].runs_on, ["ubuntu-22.04", "ubuntu-24.04"]);
        assert_eq!(w.jobs[2].needs, ["build"]);
        let all = [w];
        assert_eq!(select(&all, "push", None).len(), 3);
        assert_eq!(select(&all, "workflow_dispatch", None).len(), 0);
        let picked: Vec<&str> = select(&all, "x", Some("grid"))
            .iter()
            .map(|(_, j)| j.id.as_str())
            .collect();
        assert_eq!(picked, ["build", "grid"]);
        let p = Platforms::new(
            &["-P ubuntu-latest=from-actrc\n-P ubuntu-22.04=old\n".into()],
            None,
            &[],
            &["-P".into(), "Ubuntu-22.04=cli:1".into()],
        );
        let selected = select(&all, "push", None);
        let (needs, notes) = needs(&selected, &p);
        assert_eq!(needs[0].image, "from-actrc");
        assert_eq!(needs[0].label, "ubuntu-latest");
        assert_eq!(needs[1].image, "alpine:3");
        assert_eq!(needs[1].label, "container:");
        assert_eq!(needs[2].image, "cli:1");
        assert_eq!(needs[2].jobs, ["CI/grid"]);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("ubuntu-24.04") || n.contains("grid"))
                || notes.is_empty()
        );
    }

    #[test]
    fn platform_image_maps_the_labels_but_a_cli_mapping_wins() {
        let labels = vec!["ubuntu-latest".to_string(), "mine".to_string()];
        let p = Platforms::new(&[], Some("img:1"), &labels, &["-Pmine=other".into()]);
        assert_eq!(p.get("UBUNTU-LATEST"), Some("img:1"));
        assert_eq!(p.get("mine"), Some("other"));
        assert_eq!(p.get("absent"), None);
        assert_eq!(
            platform_args(&["--platform=a=b".into(), "-P=c=d".into()]),
            [("a".to_string(), "b".to_string()), ("c".into(), "d".into())]
        );
    }

    #[test]
    fn unmapped_labels_and_expressions_are_noted() {
        let w = wf(
            "on: push\njobs:\n  a:\n    runs-on: windows-latest\n  b:\n    runs-on: ${{ inputs.os }}\n",
        );
        let all = [w];
        let (needs, notes) = needs(&select(&all, "push", None), &Platforms::default());
        assert!(needs.is_empty());
        assert!(notes[0].contains("act skips this job"), "{notes:?}");
        assert!(notes[1].contains("cannot resolve"), "{notes:?}");
    }

    #[test]
    fn container_prefixes_follow_acts_naming() {
        assert_eq!(container_prefix("expw", "okjob"), "act-expw-okjob");
        assert_eq!(container_prefix("My CI", "build x"), "act-My-CI-build-x");
        assert_eq!(container_prefix("ci.yml", "a__b"), "act-ci-yml-a-b");
        assert_eq!(container_prefix(&"w".repeat(80), "j").len(), 63);
    }

    #[test]
    fn a_file_that_is_not_yaml_is_named() {
        let e = parse("on: [push\n", Path::new("/r/bad.yml")).unwrap_err();
        assert!(e.to_string().contains("/r/bad.yml"));
    }
}
