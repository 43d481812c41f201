//! The layering of `src/` (ARCHITECTURE.md): every `crate::` path a module names must point
//! at its own layer or one below, and no files import each other in a circle. Read from the
//! sources, so it fails the moment an upward import or a cycle is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may name modules of its own rank or lower; modules of
/// one rank must not form a cycle. Keep in step with ARCHITECTURE.md.
const RANKS: &[(&str, u32)] = &[
    ("error", 0),
    ("system", 1),
    ("ui", 2),
    ("docker", 3),
    ("render", 3),
    ("receipt", 3),
    ("act", 4),
    ("context", 5),
    ("doctor", 6),
    ("setup", 7),
    ("run", 8),
    ("uninstall", 8),
    ("manual", 9),
    ("commands", 9),
    ("cli", 9),
    ("lib", 10),
    ("main", 10),
];

fn rank(top: &str) -> u32 {
    RANKS
        .iter()
        .find(|(m, _)| *m == top)
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("src/{top}: not in RANKS (tests/integration/layers.rs)"))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/doctor/runner.rs` → `["doctor", "runner"]`; `src/doctor/mod.rs` → `["doctor"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The text of a file without comments and string literals (so docs naming a path do not
/// count), and without `#[cfg(test)]` modules at the end (tests may reach anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The modules (as path segments from the crate root) `code` of module `me` names.
fn references(code: &str, me: &[String], known: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut refs = BTreeSet::new();
    let ident = |s: &str| {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    // The longest known module a path names: `crate::doctor::fix::steps_for` → doctor::fix.
    let resolve = |mut path: Vec<String>| -> Option<Vec<String>> {
        while !path.is_empty() {
            if known.contains(&path) {
                return Some(path);
            }
            path.pop();
        }
        None
    };
    let parse_path = |rest: &str| -> Vec<Vec<String>> {
        // rest starts right after `crate::` or `super::`: `a::b::{c, d::e}` or `a::b`.
        let mut base = Vec::new();
        let mut s = rest;
        loop {
            if let Some(inner) = s.strip_prefix('{') {
                let end = inner.find('}').unwrap_or(inner.len());
                return inner[..end]
                    .split(',')
                    .map(|item| {
                        let mut p = base.clone();
                        p.extend(item.trim().split("::").map(ident).filter(|x| !x.is_empty()));
                        p
                    })
                    .collect();
            }
            let id = ident(s);
            if id.is_empty() {
                return vec![base];
            }
            s = &s[id.len()..];
            base.push(id);
            match s.strip_prefix("::") {
                Some(r) => s = r,
                None => return vec![base],
            }
        }
    };
    for (prefix, parent) in [("crate::", 0usize), ("super::", 1usize)] {
        let mut at = 0;
        while let Some(i) = code[at..].find(prefix) {
            let start = at + i;
            at = start + prefix.len();
            // `xcrate::` or `self::super::` are not ours to resolve.
            if code[..start]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            for path in parse_path(&code[at..]) {
                let full = if parent == 0 {
                    path
                } else {
                    // `super::` from a file module is its parent module.
                    let mut p = me[..me.len().saturating_sub(1)].to_vec();
                    p.extend(path);
                    p
                };
                if let Some(m) = resolve(full) {
                    refs.insert(m);
                }
            }
        }
    }
    refs
}

struct Graph {
    /// module → the modules it names (itself and its ancestors left out).
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let known: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let me = module_of(&src, file);
        if me.is_empty() {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let refs = references(&code, &me, &known)
            .into_iter()
            .filter(|r| !r.is_empty() && !me.starts_with(r) && !r.starts_with(&me))
            .collect();
        edges.insert(me, refs);
    }
    Graph { edges }
}

fn name(m: &[String]) -> String {
    m.join("::")
}

/// Whether `to` can be reached from `from` along `edges`.
fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(n) = todo.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n.clone()) {
            todo.extend(edges.get(&n).into_iter().flatten().cloned());
        }
    }
    false
}

/// Every edge `a -> b` that lies on a cycle (b leads back to a).
fn cycle_edges(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (a, bs) in edges {
        for b in bs {
            if reaches(edges, b, a) {
                out.insert(format!("{a} -> {b}"));
            }
        }
    }
    out
}

/// Fails naming each of `found` (`a -> b`) under `what`, with the `rule` they break.
#[track_caller]
fn assert_none(what: &str, rule: &str, found: BTreeSet<String>) {
    assert!(
        found.is_empty(),
        "{} {what}; {rule} (ARCHITECTURE.md):\n{}",
        found.len(),
        found.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// Every `a -> b` where module `a` names a module of a higher layer.
fn upward_imports() -> BTreeSet<String> {
    let g = graph();
    let mut upward = BTreeSet::new();
    for (me, refs) in &g.edges {
        for r in refs {
            if r[0] != me[0] && rank(&r[0]) > rank(&me[0]) {
                upward.insert(format!("{} -> {}", name(me), name(r)));
            }
        }
    }
    upward
}

#[test]
fn imports_point_down_the_layers() {
    assert_none(
        "upward import(s)",
        "a module names only its own layer or lower ones (RANKS)",
        upward_imports(),
    );
}

/// The import graph between top-level modules, and between the files of each module (a
/// parent's mod.rs left out: its children use its types and it re-exports theirs).
fn cycles() -> BTreeSet<String> {
    let g = graph();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (me, refs) in &g.edges {
        let entry = top.entry(me[0].clone()).or_default();
        for r in refs.iter().filter(|r| r[0] != me[0]) {
            entry.insert(r[0].clone());
        }
        let entry = files.entry(name(me)).or_default();
        for r in refs.iter().filter(|r| r.len() > 1 && !me.starts_with(r)) {
            entry.insert(name(r));
        }
    }
    let mut all = cycle_edges(&top);
    all.extend(cycle_edges(&files));
    all
}

#[test]
fn no_module_cycles() {
    assert_none(
        "import edge(s) on a cycle",
        "modules, and the files of a module, must not import each other in a circle",
        cycles(),
    );
}

#[test]
fn ranks_name_exactly_the_modules_that_exist() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let existing: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(&src, f)[0].clone())
        .collect();
    let ranked: BTreeSet<String> = RANKS.iter().map(|(m, _)| m.to_string()).collect();
    let missing: BTreeSet<String> = existing.difference(&ranked).cloned().collect();
    let extra: BTreeSet<String> = ranked.difference(&existing).cloned().collect();
    assert_none(
        "module(s) missing from RANKS",
        "rank every module of src/",
        missing,
    );
    assert_none(
        "module(s) in RANKS that do not exist",
        "rank only modules of src/",
        extra,
    );
}

#[test]
fn the_checker_sees_an_upward_import_and_a_cycle() {
    let known: BTreeSet<Vec<String>> = [
        vec!["doctor".to_string()],
        vec!["doctor".into(), "fix".into()],
        vec!["setup".into()],
        vec!["system".into(), "files".into()],
    ]
    .into_iter()
    .collect();
    let me = vec!["doctor".to_string(), "fix".to_string()];
    let refs = references(
        "use crate::setup::{StepId, plan};\nlet x = crate::system::files::read(p);\n// crate::ui::x\n",
        &me,
        &known,
    );
    assert!(refs.contains(&vec!["setup".to_string()]), "{refs:?}");
    assert!(refs.contains(&vec!["system".to_string(), "files".to_string()]));
    assert_eq!(refs.len(), 2, "comments do not count: {refs:?}");
    assert!(rank("setup") > rank("doctor"));
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.insert("a".into(), ["b".to_string()].into());
    edges.insert("b".into(), ["a".to_string()].into());
    assert_eq!(cycle_edges(&edges).len(), 2);
    edges.insert("b".into(), BTreeSet::new());
    assert!(cycle_edges(&edges).is_empty());
}
