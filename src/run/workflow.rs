//! The workflows act will see and what their selected jobs need, read before act runs,
//! following act's own rules (its `model.NewWorkflowPlanner` and `PlanEvent`/`PlanJob`):
//!
//! - `-W PATH`: a file is read when it ends in `.yml`/`.yaml`; a directory is walked
//!   recursively (every `.yml`/`.yaml` file, whatever it holds: a composite action's
//!   `action.yml` is read as a workflow without events), only its own entries with
//!   `--no-recurse`.
//! - The event selects every job of the workflows whose `on:` lists it; `-j JOB` selects
//!   that job and what it `needs` in every workflow that has it, whatever the event.
//! - A job's image is its `container:` image, else the image its `runs-on` labels map to:
//!   act's own default table first (`ubuntu-latest`, `-22.04`, `-20.04`, `-18.04`), then the
//!   actrc files, then `--platform-image`, then `-P` after `--` (the last mapping wins,
//!   labels compare case-insensitively, a mapping with more than one `=` is ignored, as in
//!   act). `services:` images are needed too.
//! - The remote actions of the selected jobs (`uses: owner/repo[/path]@ref` steps, reusable
//!   workflows) are listed; act skips `actions/checkout` of the repository itself.
//!
//! What can go wrong: a file actsim cannot read as a workflow (the caller warns and lets
//! act decide), a label nothing maps (act skips that job; a note), a `runs-on` expression
//! that cannot be resolved without running the workflow (a note too).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use yaml_rust2::Yaml;

use crate::error::{Error, Result};

/// act's default platform table (`cmd/platforms.go`), used for a label no `-P` maps.
pub const ACT_DEFAULT_PLATFORMS: [(&str, &str); 4] = [
    ("ubuntu-latest", "node:16-buster-slim"),
    ("ubuntu-22.04", "node:16-bullseye-slim"),
    ("ubuntu-20.04", "node:16-buster-slim"),
    ("ubuntu-18.04", "node:16-buster-slim"),
];

/// At most this many workflow files are read, and directories this deep walked.
const MAX_FILES: usize = 2000;
const MAX_DEPTH: usize = 32;

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
    /// `uses:` of a job that calls a reusable workflow.
    pub uses: Option<String>,
    /// The `uses:` of its steps, with the step's `with: repository` when it has one.
    pub step_uses: Vec<(String, Option<String>)>,
    /// `services:` images.
    pub services: Vec<String>,
}

impl Job {
    /// The name act shows for the job (`name:` or the id).
    pub fn display(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// The workflow files act reads at `path`: a `.yml`/`.yaml` file, or those in a directory
/// (recursively unless `no_recurse`; links to directories are not followed, as in act's
/// `filepath.Walk`).
pub fn files(path: &Path, no_recurse: bool) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::failed(
            format!("no workflows at {}: {e}", path.display()),
            Some("run actsim run from the repository's top directory, or pass -W PATH".to_string()),
        )
    })?;
    let is_yaml = |p: &Path| p.extension().is_some_and(|e| e == "yml" || e == "yaml");
    if !meta.is_dir() {
        return Ok(if is_yaml(path) {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        });
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
            if ft.is_dir() {
                if !no_recurse && depth < MAX_DEPTH {
                    stack.push((p, depth + 1));
                }
            } else if is_yaml(&p) && out.len() < MAX_FILES {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `--no-recurse` among act's words (the command line after `--`, an actrc).
pub fn no_recurse(words: &[String]) -> bool {
    flag(words, "--no-recurse")
}

/// A boolean flag of act's among `words` (`--flag`, `--flag=true`).
pub fn flag(words: &[String], name: &str) -> bool {
    let mut on = false;
    for w in words {
        if w == name || *w == format!("{name}=true") {
            on = true;
        } else if *w == format!("{name}=false") {
            on = false;
        }
    }
    on
}

/// Every value of act's option `name` among `words` (`--name V`, `--name=V`).
pub fn values(words: &[String], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if words[i] == name {
            if let Some(v) = words.get(i + 1) {
                out.push(v.clone());
            }
            i += 1;
        } else if let Some(v) = words[i].strip_prefix(&format!("{name}=")) {
            out.push(v.to_string());
        }
        i += 1;
    }
    out
}

/// The words of actrc texts (comments dropped), as act reads them: one option per line,
/// split at the first space.
pub fn actrc_words(texts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for text in texts {
        for l in text.lines() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            match l.split_once(char::is_whitespace) {
                Some((k, v)) => {
                    out.push(k.to_string());
                    out.push(v.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
                }
                None => out.push(l.to_string()),
            }
        }
    }
    out
}

/// Parse one workflow file's text.
pub fn parse(text: &str, file: &Path) -> std::result::Result<Workflow, super::yaml::Unread> {
    let bad = |why: String| super::yaml::Unread::Invalid(super::yaml::not_a_workflow(file, &why));
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
    match &doc["jobs"] {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let Some(id) = k.as_str() else { continue };
                jobs.push(parse_job(id, v));
            }
        }
        // act reads a file without jobs (a composite action's `action.yml`) as a workflow
        // with none.
        Yaml::BadValue | Yaml::Null => {}
        _ => return Err(bad("`jobs` is not a mapping".into())),
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
    let mut services = Vec::new();
    if let Yaml::Hash(h) = &v["services"] {
        for s in h.values() {
            let image = match s {
                Yaml::String(i) => Some(i.as_str()),
                _ => s["image"].as_str(),
            };
            if let Some(i) = image.filter(|i| !i.contains("${{") && !i.is_empty()) {
                services.push(i.to_string());
            }
        }
    }
    let mut step_uses = Vec::new();
    if let Yaml::Array(steps) = &v["steps"] {
        for st in steps {
            if let Some(u) = st["uses"].as_str() {
                step_uses.push((
                    u.trim().to_string(),
                    st["with"]["repository"].as_str().map(str::to_string),
                ));
            }
        }
    }
    Job {
        id: id.to_string(),
        name,
        runs_on,
        container,
        needs: strings(&v["needs"]),
        unresolved,
        uses: v["uses"].as_str().map(|u| u.trim().to_string()),
        step_uses,
        services,
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

/// A remote action (or reusable workflow) the selected jobs use.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteAction {
    /// `owner/repo[/path]@ref`, as written.
    pub uses: String,
    /// `owner/repo`.
    pub repo: String,
    pub git_ref: String,
    /// `workflow/job` of the jobs that use it.
    pub jobs: Vec<String>,
}

/// `owner/repo[/path]@ref` (act's `newRemoteAction`) -> (`owner/repo`, `ref`).
pub fn parse_remote(uses: &str) -> Option<(String, String)> {
    if uses.starts_with("./") || uses.starts_with("docker://") || uses.contains("${{") {
        return None;
    }
    let (path, git_ref) = uses.split_once('@')?;
    if git_ref.is_empty() || git_ref.contains('@') {
        return None;
    }
    let mut parts = path.splitn(3, '/');
    let owner = parts.next().filter(|o| !o.is_empty())?;
    let repo = parts.next().filter(|r| !r.is_empty())?;
    Some((format!("{owner}/{repo}"), git_ref.to_string()))
}

/// The remote actions and reusable workflows of `jobs`, each once; `actions/checkout` of
/// the repository itself is left out unless `no_skip_checkout` (act skips it: the
/// workdir is already copied).
pub fn remote_actions(jobs: &[(&Workflow, &Job)], no_skip_checkout: bool) -> Vec<RemoteAction> {
    let mut out: Vec<RemoteAction> = Vec::new();
    for (wf, job) in jobs {
        let who = format!("{}/{}", wf.name, job.display());
        let uses = job
            .uses
            .iter()
            .map(|u| (u.clone(), None))
            .chain(job.step_uses.iter().cloned());
        for (u, repository) in uses {
            let Some((repo, git_ref)) = parse_remote(&u) else {
                continue;
            };
            if repo.eq_ignore_ascii_case("actions/checkout")
                && repository.is_none()
                && !no_skip_checkout
            {
                continue;
            }
            match out.iter_mut().find(|a| a.uses == u) {
                Some(a) if !a.jobs.contains(&who) => a.jobs.push(who.clone()),
                Some(_) => {}
                None => out.push(RemoteAction {
                    uses: u.clone(),
                    repo,
                    git_ref,
                    jobs: vec![who.clone()],
                }),
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
        let mut map: BTreeMap<String, String> = ACT_DEFAULT_PLATFORMS
            .iter()
            .map(|(l, i)| (l.to_string(), i.to_string()))
            .collect();
        for (l, i) in platform_args(&actrc_words(actrc_texts)) {
            map.insert(l, i);
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

    /// Whether `label` maps to the image of act's own default table (no `-P` named it).
    pub fn is_default(&self, label: &str) -> bool {
        let l = label.to_lowercase();
        ACT_DEFAULT_PLATFORMS
            .iter()
            .any(|(dl, di)| *dl == l && self.0.get(&l).is_some_and(|i| i == di))
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
        // act: `strings.Split(p, "=")` with exactly two parts, else ignored.
        if let Some(v) = value
            && let [l, img] = v.split('=').collect::<Vec<_>>()[..]
        {
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
        for image in &job.services {
            add(image, "services:", who.clone());
        }
        if job.uses.is_some() {
            // A reusable workflow's caller: its called jobs bring their own images.
            continue;
        }
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
            Some((label, image)) => {
                if platforms.is_default(label) {
                    notes.push(format!(
                        "{who}: runs-on {label} has no -P mapping; act maps it to its own default image {image}"
                    ));
                }
                add(image, label, who)
            }
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
