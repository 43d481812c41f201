//! Workflow YAML read with bounds: at most [`MAX_BYTES`] of UTF-8, at most [`MAX_DEPTH`]
//! levels of nesting, at most [`MAX_NODES`] nodes and [`MAX_SCALAR_BYTES`] of scalar text
//! once every alias is expanded (and every anchor kept for later aliases counted too), and
//! parsed before a deadline. The documents come out as yaml-rust2's `Yaml`, as
//! `YamlLoader::load_from_str` would give them.
//!
//! What can go wrong (each an error naming the file and the limit): a file over the size
//! limit or not UTF-8, nesting too deep, an alias bomb (a few hundred bytes of nested
//! aliases expanding to billions of nodes stop at the node or text limit), the deadline
//! passed, a YAML syntax error (the parser's message, with line and column).

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use yaml_rust2::Yaml;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;
use yaml_rust2::yaml::Hash;

use crate::error::Error;

/// The largest workflow file read.
pub const MAX_BYTES: usize = 1 << 20;
/// The deepest nesting of sequences and mappings.
pub const MAX_DEPTH: usize = 64;
/// The most nodes, aliases expanded.
pub const MAX_NODES: u64 = 200_000;
/// The most scalar text, aliases expanded.
pub const MAX_SCALAR_BYTES: u64 = 16 << 20;
/// What parsing may take when the caller has no deadline of its own.
pub const BUDGET: Duration = Duration::from_secs(10);
/// Events between two looks at the clock.
const CLOCK_EVERY: u32 = 256;

/// The error for a file that is not a workflow act can read (`why`), naming it.
pub fn not_a_workflow(path: &Path, why: &str) -> Error {
    Error::failed(
        format!("{} is not a workflow act can read: {why}", path.display()),
        Some("fix the file (act --validate shows act's own view of it)".to_string()),
    )
}

/// Why a workflow file was not read: over a safety bound (the run stops), or not YAML
/// actsim can read (act decides).
#[derive(Debug)]
pub enum Unread {
    /// Over a bound (size, depth, nodes, aliases, the deadline): the run stops.
    Refused(Error),
    /// Not a workflow actsim can read: a warning, act decides.
    Invalid(Error),
}

impl Unread {
    pub fn error(&self) -> &Error {
        match self {
            Unread::Refused(e) | Unread::Invalid(e) => e,
        }
    }
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error().fmt(f)
    }
}

/// The YAML documents of `bytes`, read from `path` (named in every error), within the
/// bounds above and before `deadline` (or [`BUDGET`] from now).
pub fn load_bounded(
    path: &Path,
    bytes: &[u8],
    deadline: Option<Instant>,
) -> std::result::Result<Vec<Yaml>, Unread> {
    let bad = |why: String| Unread::Invalid(not_a_workflow(path, &why));
    let too_much = |why: String| {
        Unread::Refused(Error::failed(
            format!(
                "{} is refused: {why}",
                crate::ui::escape(&path.display().to_string())
            ),
            Some(
                "a workflow this large is almost certainly hostile (an alias bomb?); \
                 remove or fix the file"
                    .to_string(),
            ),
        ))
    };
    if bytes.len() > MAX_BYTES {
        return Err(too_much(format!(
            "{} bytes, over the limit of {MAX_BYTES}",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 ({e})")))?;
    let deadline = deadline.unwrap_or_else(|| Instant::now() + BUDGET);
    let mut loader = Loader::default();
    let mut parser = Parser::new_from_str(text);
    let mut ticks = 0u32;
    loop {
        ticks += 1;
        if ticks.is_multiple_of(CLOCK_EVERY) && Instant::now() >= deadline {
            return Err(too_much("not parsed before the deadline".into()));
        }
        let (event, mark) = parser.next_token().map_err(|e| bad(e.to_string()))?;
        if matches!(event, Event::StreamEnd) {
            break;
        }
        loader.event(event).map_err(|e| match e {
            Refusal::Syntax(why) => bad(format!(
                "{why} at line {} column {}",
                mark.line(),
                mark.col() + 1
            )),
            Refusal::Limit(why) => too_much(why),
        })?;
    }
    Ok(loader.docs)
}

/// Why the loader stopped.
enum Refusal {
    Syntax(String),
    Limit(String),
}

/// What a node costs: itself and everything under it, aliases expanded.
#[derive(Clone, Copy, Default)]
struct Cost {
    nodes: u64,
    text: u64,
}

/// yaml-rust2's loader, with every node counted.
#[derive(Default)]
struct Loader {
    docs: Vec<Yaml>,
    /// Open sequences and mappings: the node, its anchor, its cost so far.
    stack: Vec<(Yaml, usize, Cost)>,
    /// For each open mapping, the key waiting for its value.
    keys: Vec<Option<Yaml>>,
    anchors: HashMap<usize, (Yaml, Cost)>,
    /// Everything built so far, anchors' copies included.
    total: Cost,
}

impl Loader {
    fn event(&mut self, event: Event) -> std::result::Result<(), Refusal> {
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
            Event::DocumentEnd => match self.stack.pop() {
                None => self.docs.push(Yaml::BadValue),
                Some((node, _, _)) => self.docs.push(node),
            },
            Event::SequenceStart(anchor, _) => self.open(Yaml::Array(Vec::new()), anchor)?,
            Event::MappingStart(anchor, _) => {
                self.open(Yaml::Hash(Hash::new()), anchor)?;
                self.keys.push(None);
            }
            Event::SequenceEnd => self.close()?,
            Event::MappingEnd => {
                self.keys.pop();
                self.close()?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let cost = Cost {
                    nodes: 1,
                    text: value.len() as u64,
                };
                self.charge(cost)?;
                self.insert(scalar(value, style, tag), anchor, cost)?;
            }
            Event::Alias(id) => {
                let cost = self
                    .anchors
                    .get(&id)
                    .map_or(Cost { nodes: 1, text: 0 }, |(_, c)| *c);
                // Charged before the copy is made: a bomb stops here.
                self.charge(cost)?;
                let node = self
                    .anchors
                    .get(&id)
                    .map_or(Yaml::BadValue, |(n, _)| n.clone());
                self.insert(node, 0, cost)?;
            }
        }
        Ok(())
    }

    fn open(&mut self, node: Yaml, anchor: usize) -> std::result::Result<(), Refusal> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Refusal::Limit(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let one = Cost { nodes: 1, text: 0 };
        self.charge(one)?;
        self.stack.push((node, anchor, one));
        Ok(())
    }

    fn close(&mut self) -> std::result::Result<(), Refusal> {
        let (node, anchor, cost) = self
            .stack
            .pop()
            .ok_or_else(|| Refusal::Syntax("unbalanced collection".into()))?;
        self.insert(node, anchor, cost)
    }

    fn charge(&mut self, cost: Cost) -> std::result::Result<(), Refusal> {
        self.total.nodes = self.total.nodes.saturating_add(cost.nodes);
        self.total.text = self.total.text.saturating_add(cost.text);
        self.check()
    }

    fn check(&self) -> std::result::Result<(), Refusal> {
        if self.total.nodes > MAX_NODES {
            return Err(Refusal::Limit(format!(
                "more than {MAX_NODES} nodes once its aliases are expanded"
            )));
        }
        if self.total.text > MAX_SCALAR_BYTES {
            return Err(Refusal::Limit(format!(
                "more than {} MiB of text once its aliases are expanded",
                MAX_SCALAR_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// Put a finished node into its parent (or make it the document), keeping a copy
    /// under its anchor (charged too: it is memory as well).
    fn insert(
        &mut self,
        node: Yaml,
        anchor: usize,
        cost: Cost,
    ) -> std::result::Result<(), Refusal> {
        if anchor > 0 {
            self.charge(cost)?;
            self.anchors.insert(anchor, (node.clone(), cost));
        }
        let Some((parent, _, parent_cost)) = self.stack.last_mut() else {
            self.stack.push((node, 0, cost));
            return Ok(());
        };
        parent_cost.nodes = parent_cost.nodes.saturating_add(cost.nodes);
        parent_cost.text = parent_cost.text.saturating_add(cost.text);
        match parent {
            Yaml::Array(v) => v.push(node),
            Yaml::Hash(h) => {
                let key = self.keys.last_mut().expect("a mapping has a key slot");
                match key.take() {
                    None => *key = Some(node),
                    Some(k) => {
                        if h.contains_key(&k) {
                            return Err(Refusal::Syntax(format!(
                                "{}: duplicated key in mapping",
                                crate::ui::escape(&format!("{k:?}"))
                            )));
                        }
                        h.insert(k, node);
                    }
                }
            }
            _ => return Err(Refusal::Syntax("a scalar cannot hold a node".into())),
        }
        Ok(())
    }
}

/// A scalar as yaml-rust2's loader reads it (core schema, `!!` tags honoured).
fn scalar(value: String, style: TScalarStyle, tag: Option<Tag>) -> Yaml {
    if style != TScalarStyle::Plain {
        return Yaml::String(value);
    }
    match tag {
        Some(Tag { handle, suffix }) if handle == "tag:yaml.org,2002:" => match suffix.as_str() {
            "bool" => match value.as_str() {
                "true" | "True" | "TRUE" => Yaml::Boolean(true),
                "false" | "False" | "FALSE" => Yaml::Boolean(false),
                _ => Yaml::BadValue,
            },
            "int" => value.parse::<i64>().map_or(Yaml::BadValue, Yaml::Integer),
            "float" => match Yaml::from_str(&value) {
                Yaml::Real(_) | Yaml::Integer(_) => Yaml::Real(value),
                _ => Yaml::BadValue,
            },
            "null" => match value.as_str() {
                "~" | "null" => Yaml::Null,
                _ => Yaml::BadValue,
            },
            _ => Yaml::String(value),
        },
        Some(_) => Yaml::String(value),
        None => Yaml::from_str(&value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml_rust2::YamlLoader;

    /// Finding 7's bomb: nine levels of nine aliases each (9^9 nodes from 416 bytes).
    const BOMB: &str = include_str!("../../tests/hostile/alias-bomb.yml");

    fn load(text: &str) -> std::result::Result<Vec<Yaml>, Unread> {
        load_bounded(Path::new("w.yml"), text.as_bytes(), None)
    }

    #[test]
    fn ordinary_yaml_loads_as_yaml_rust2_loads_it() {
        let text = "name: CI\non: [push]\nx: &x {a: 1, b: !!str 2, c: 'q', d: ~, e: 1.5, f: true}\ny: *x\n---\n- 1\n";
        assert_eq!(
            load(text).unwrap(),
            YamlLoader::load_from_str(text).unwrap()
        );
        assert_eq!(load("").unwrap(), YamlLoader::load_from_str("").unwrap());
    }

    #[test]
    fn an_alias_bomb_is_refused_quickly_naming_the_file() {
        let text = BOMB;
        assert!(text.len() < 600, "{}", text.len());
        let start = Instant::now();
        let e = load(text).unwrap_err().to_string();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(e.contains("w.yml") && e.contains("aliases"), "{e}");
    }

    #[test]
    fn deep_nesting_too_large_files_and_duplicate_keys_are_refused() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(load(&deep).unwrap_err().to_string().contains("deeper"));
        let block: String = (0..100).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert!(load(&block).unwrap_err().to_string().contains("deeper"));
        let big = "#".repeat(MAX_BYTES + 1);
        assert!(
            load(&big)
                .unwrap_err()
                .to_string()
                .contains("over the limit")
        );
        assert!(
            load("a: 1\na: 2\n")
                .unwrap_err()
                .to_string()
                .contains("duplicated")
        );
        let e = load_bounded(Path::new("w.yml"), b"\xff", None).unwrap_err();
        assert!(e.to_string().contains("UTF-8"));
        // A long text aliased many times: the text limit.
        let long = format!(
            "a: &a '{}'\nb: [{}]\n",
            "x".repeat(500_000),
            vec!["*a"; 40].join(",")
        );
        assert!(load(&long).unwrap_err().to_string().contains("MiB of text"));
    }

    #[test]
    fn a_passed_deadline_stops_the_parse() {
        let text = format!("a: [{}]\n", vec!["1"; 5000].join(","));
        let e =
            load_bounded(Path::new("w.yml"), text.as_bytes(), Some(Instant::now())).unwrap_err();
        assert!(e.to_string().contains("deadline"), "{e}");
    }

    #[test]
    fn a_refusal_is_typed_apart_from_an_unreadable_file() {
        let huge = vec![b'a'; MAX_BYTES + 1];
        assert!(matches!(
            load_bounded(Path::new("w.yml"), &huge, None),
            Err(Unread::Refused(_))
        ));
        assert!(matches!(
            load_bounded(Path::new("w.yml"), b"\xff", None),
            Err(Unread::Invalid(_))
        ));
    }
}
