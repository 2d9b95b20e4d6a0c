//! Fails on any import cycle between modules: between the crate's top-level modules (issue 8:
//! arrows point one way, cli -> app -> (device, engine) -> backend -> proto / sys, with
//! `hosts` between app and engine: app -> hosts -> engine, and the engine reaches the hosts
//! only through the barrier hook it defines), and between the modules inside each folder
//! (issue 22: `compare/{csv, render, judge}` was one circle).
//!
//! Reads `src/**/*.rs` at test time. Every path a file names is resolved from the crate root:
//! `crate::x::y` (in `use`, in code, in `pub(in crate::x)`), each leaf of a `use crate::{x, y::z}`
//! tree, `super::` chains, `self::` and the relative paths of `use` (`use worker::Tally` in
//! `engine/mod.rs`). A name a module imports or re-exports (`pub use result::Point;`) stands for
//! what it imports, so `super::Point` from a sibling of `result` is a reference to `result`.
//! Comments and string literals are skipped.
//!
//! In each folder, the nodes are its direct children (a file, or a folder with everything in
//! it), and `a -> b` when any file in `a` names a path inside `b`. A folder's own `mod.rs` is not
//! a node of it: it declares and re-exports its children, and they may use its items.
//!
//! Test code counts: a `#[cfg(test)]` module that imports a module above it ties the two
//! together as much as the code does (the tests cannot move with their module), and a test
//! that needs something from above usually shows a seam missing below.

mod common;

use common::source::{module_path, rust_files, src_dir, src_files, strip, tokens};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// One reference from a file to a top-level module, by a path that reaches the crate root.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    module: String,
    line: usize,
}

/// One path a file names, resolved from the crate root (`crate::engine::worker::Tally` is
/// [engine, worker, Tally]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named {
    path: Vec<String>,
    line: usize,
    /// Written from the crate root: `crate::`, or `super::` chains that climb to it.
    from_root: bool,
    /// A `use` path that starts with a plain name, a child of the module or another crate:
    /// how many segments of `path` are the module's.
    relative: Option<usize>,
    /// The name a file-level `use` binds in the module (its last segment, or its `as` name).
    binds: Option<String>,
}

/// Where one edge was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Site {
    file: String,
    line: usize,
    text: String,
}

/// Every path in `text` (the file at module path `here`) that names a module of this crate
/// or an item in one, resolved from the crate root.
fn paths(here: &[String], text: &str) -> Vec<Named> {
    let toks = tokens(&strip(text));
    let t = |i: usize| toks.get(i).map_or("", |(s, _)| s.as_str());
    let mut out = Vec::new();
    // Inline modules (`mod tests { ... }`) open at a brace depth; `super` counts from them.
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let mut module: Vec<String> = here.to_vec();
        module.extend(inline.iter().map(|(_, m)| m.clone()));
        match t(i) {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
            }
            "mod" if t(i + 2) == "{" => inline.push((depth, t(i + 1).to_owned())),
            "use" => {
                let start = if t(i + 1) == "::" { i + 2 } else { i + 1 };
                let mut leaves = Vec::new();
                i = use_tree(&toks, start, Vec::new(), &mut leaves);
                let file_level = depth == 0;
                for (raw, name, line) in leaves {
                    if let Some(mut n) = resolve_written(&module, &raw, line, true) {
                        n.binds = name.filter(|_| file_level);
                        out.push(n);
                    }
                }
                continue;
            }
            "crate" | "super" if (i == 0 || t(i - 1) != "::") && t(i + 1) == "::" => {
                let mut raw = vec![t(i).to_owned()];
                let mut j = i + 1;
                while t(j) == "::" && is_ident(t(j + 1)) {
                    raw.push(t(j + 1).to_owned());
                    j += 2;
                }
                out.extend(resolve_written(&module, &raw, toks[i].1, false));
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The leaves of the `use` tree at token `i`, each as its written segments after `prefix`, the
/// name it binds (None for a glob) and its line; returns the index after the tree.
fn use_tree(
    toks: &[(String, usize)],
    mut i: usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>, usize)>,
) -> usize {
    let t = |i: usize| toks.get(i).map_or("", |(s, _)| s.as_str());
    let mut raw = prefix;
    loop {
        match t(i) {
            "{" => {
                i += 1;
                while i < toks.len() && t(i) != "}" {
                    i = use_tree(toks, i, raw.clone(), out);
                    if t(i) == "," {
                        i += 1;
                    }
                }
                return i + 1;
            }
            "*" => return i + 1,
            s if is_ident(s) => {
                let line = toks[i].1;
                raw.push(s.to_owned());
                i += 1;
                if t(i) == "::" {
                    i += 1;
                    continue;
                }
                let mut name =
                    if s == "self" { raw.len().checked_sub(2).map(|k| raw[k].clone()) } else { Some(s.to_owned()) };
                if t(i) == "as" {
                    name = Some(t(i + 1).to_owned()).filter(|n| n != "_");
                    i += 2;
                }
                out.push((raw, name, line));
                return i;
            }
            // A token no path has (a stray `;`): the tree ends here.
            _ => return i,
        }
    }
}

/// A path as written (`super::super::backend::Op`, `crate::x`, `self::y`, `result::Point`) in
/// module `here`, resolved from the crate root. None for paths that name nothing of this crate
/// below the root (`crate::{self}`).
fn resolve_written(here: &[String], raw: &[String], line: usize, in_use: bool) -> Option<Named> {
    let mut path: Vec<String> = Vec::new();
    let (mut from_root, mut relative) = (false, None);
    let mut k = 0;
    match raw.first().map(String::as_str) {
        Some("crate") => {
            from_root = true;
            k = 1;
        }
        Some("super") => {
            path = here.to_vec();
            while raw.get(k).map(String::as_str) == Some("super") {
                path.pop()?;
                k += 1;
            }
            from_root = path.is_empty();
        }
        Some("self") => {
            path = here.to_vec();
            k = 1;
        }
        Some(_) if in_use => {
            path = here.to_vec();
            relative = Some(here.len());
        }
        _ => return None,
    }
    path.extend(raw[k..].iter().filter(|s| *s != "self").cloned());
    (!path.is_empty()).then_some(Named { path, line, from_root, relative, binds: None })
}

/// Every reference in `text` (the file at module path `path`) that reaches the crate root,
/// named by the top-level module it names (or the root item, which callers filter out); one
/// per item of a `use` group.
fn references(path: &[String], text: &str) -> Vec<Reference> {
    let mut refs: Vec<Reference> = Vec::new();
    for n in paths(path, text).into_iter().filter(|n| n.from_root) {
        let r = Reference { module: n.path[0].clone(), line: n.line };
        if refs.last() != Some(&r) {
            refs.push(r);
        }
    }
    refs
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// One file: where it is, its module, its lines, and the paths it names.
struct File {
    rel: String,
    module: Vec<String>,
    lines: Vec<String>,
    named: Vec<Named>,
}

/// The crate's files, its modules, and the names each module imports.
#[derive(Default)]
struct Crate {
    /// Every module with a file, and every folder a file is in.
    modules: BTreeSet<Vec<String>>,
    /// (module, name) -> the path the name stands for, from the module's file-level `use`s.
    aliases: BTreeMap<(Vec<String>, String), Vec<String>>,
    files: Vec<File>,
}

impl Crate {
    /// Add one file (its path relative to `src`, e.g. `engine/mod.rs`).
    fn add_file(&mut self, rel: &str, text: &str) {
        let Some(module) = module_path(Path::new(rel)) else { return };
        for k in 1..=module.len() {
            self.modules.insert(module[..k].to_vec());
        }
        let named = paths(&module, text);
        let lines = text.lines().map(|l| l.trim().to_owned()).collect();
        self.files.push(File { rel: format!("src/{rel}"), module, lines, named });
    }

    /// Record the names of the modules' `use`s, once every module is known (a relative `use`
    /// names a child module or another crate).
    fn finish(&mut self) {
        let mut aliases = BTreeMap::new();
        for f in &self.files {
            for n in &f.named {
                if let Some(name) = &n.binds {
                    if self.ours(n) {
                        aliases.insert((f.module.clone(), name.clone()), n.path.clone());
                    }
                }
            }
        }
        self.aliases = aliases;
    }

    /// A relative `use` path is ours when it starts with a child of its module.
    fn ours(&self, n: &Named) -> bool {
        n.relative.is_none_or(|k| n.path.len() > k && self.modules.contains(&n.path[..=k]))
    }

    /// The path with every imported name replaced by what it stands for.
    fn resolve(&self, path: &[String]) -> Vec<String> {
        let mut path = path.to_vec();
        // A bound on the chain of re-exports (a cycle of `use`s would not compile anyway).
        for _ in 0..16 {
            let Some(m) = (1..path.len()).rev().map(|k| &path[..k]).find(|m| self.modules.contains(*m)) else {
                break;
            };
            let key = (m.to_vec(), path[m.len()].clone());
            match self.aliases.get(&key) {
                Some(target) if !target.starts_with(&path[..=m.len()]) => {
                    let mut next = target.clone();
                    next.extend_from_slice(&path[m.len() + 1..]);
                    path = next;
                }
                _ => break,
            }
        }
        path
    }

    /// Every folder (a module with children), the crate root first.
    fn folders(&self) -> Vec<Vec<String>> {
        let mut out: BTreeSet<Vec<String>> = self.modules.iter().map(|m| m[..m.len() - 1].to_vec()).collect();
        out.insert(Vec::new());
        out.into_iter().collect()
    }

    /// The graph of the children of `folder` (`[]` for the top-level modules).
    fn graph(&self, folder: &[String]) -> Graph {
        let d = folder.len();
        let child = |m: &[String]| (m.len() > d && m.starts_with(folder)).then(|| m[d].clone());
        let mut g = Graph { folder: folder.to_vec(), ..Graph::default() };
        g.modules = self.modules.iter().filter_map(|m| child(m)).collect();
        for f in &self.files {
            let Some(from) = child(&f.module) else { continue };
            for n in f.named.iter().filter(|n| self.ours(n)) {
                let Some(to) = child(&self.resolve(&n.path)) else { continue };
                if to != from && g.modules.contains(&to) {
                    let site = Site { file: f.rel.clone(), line: n.line, text: f.lines[n.line - 1].clone() };
                    g.edges.entry((from.clone(), to)).or_insert(site);
                }
            }
        }
        g
    }
}

/// The modules of one folder and one site of each edge between them.
#[derive(Default)]
struct Graph {
    folder: Vec<String>,
    modules: BTreeSet<String>,
    edges: BTreeMap<(String, String), Site>,
}

impl Graph {
    fn successors(&self, from: &str) -> Vec<&str> {
        self.edges.keys().filter(|(f, _)| f == from).map(|(_, t)| t.as_str()).collect()
    }

    /// Strongly connected components with more than one module (Tarjan).
    fn tangles(&self) -> Vec<Vec<String>> {
        struct Tarjan<'a> {
            g: &'a Graph,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on_stack: BTreeSet<&'a str>,
            out: Vec<Vec<String>>,
        }
        impl<'a> Tarjan<'a> {
            fn visit(&mut self, v: &'a str) {
                let n = self.index.len();
                self.index.insert(v, n);
                self.low.insert(v, n);
                self.stack.push(v);
                self.on_stack.insert(v);
                for w in self.g.successors(v) {
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v, low);
                    } else if self.on_stack.contains(w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v, low);
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack.remove(w);
                        scc.push(w.to_owned());
                        if w == v {
                            break;
                        }
                    }
                    if scc.len() > 1 {
                        scc.sort();
                        self.out.push(scc);
                    }
                }
            }
        }
        let mut t = Tarjan {
            g: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            out: Vec::new(),
        };
        for m in &self.modules {
            if !t.index.contains_key(m.as_str()) {
                t.visit(m);
            }
        }
        t.out.sort();
        t.out
    }

    /// Every elementary cycle, each listed once from its alphabetically first module.
    fn cycles(&self) -> Vec<Vec<String>> {
        let mut all = Vec::new();
        for scc in self.tangles() {
            for start in &scc {
                let mut path = vec![start.as_str()];
                self.walk(start, &scc, &mut path, &mut all);
            }
        }
        all
    }

    fn walk<'a>(&'a self, start: &str, scc: &[String], path: &mut Vec<&'a str>, out: &mut Vec<Vec<String>>) {
        let last = *path.last().expect("the path holds its start");
        for w in self.successors(last) {
            if w == start {
                out.push(path.iter().map(|s| s.to_string()).collect());
            } else if w > start && scc.iter().any(|m| m == w) && !path.contains(&w) {
                path.push(w);
                self.walk(start, scc, path, out);
                path.pop();
            }
        }
    }

    /// The cycles, each as `a -> b -> a` with one site per edge.
    fn report(&self, cycles: &[Vec<String>]) -> String {
        let place = match self.folder.as_slice() {
            [] => "top-level modules".to_owned(),
            f => format!("modules of src/{}/", f.join("/")),
        };
        let mut s = format!("{} import cycle(s) between the {place}:\n", cycles.len());
        for c in cycles {
            let _ = writeln!(s, "\n  {} -> {}", c.join(" -> "), c[0]);
            for (k, from) in c.iter().enumerate() {
                let to = &c[(k + 1) % c.len()];
                let site = &self.edges[&(from.clone(), to.clone())];
                let _ = writeln!(s, "    {from} -> {to}: {}:{}: {}", site.file, site.line, site.text);
            }
        }
        s
    }
}

/// The crate as it is in `src/`.
fn this_crate() -> Crate {
    let mut c = Crate::default();
    for (rel, text) in src_files() {
        c.add_file(&rel, &text);
    }
    c.finish();
    c
}

#[test]
fn the_top_level_modules_have_no_import_cycles() {
    let g = this_crate().graph(&[]);
    assert!(g.modules.len() > 5, "found only {:?} under src", g.modules);
    let cycles = g.cycles();
    assert!(cycles.is_empty(), "{}", g.report(&cycles));
}

/// Issue 22: multi-host lives in `hosts`, between app and the engine. The engine defines the
/// barrier hook that `hosts` implements and never names `hosts`; only app does.
#[test]
fn hosts_sits_between_app_and_the_engine() {
    let g = this_crate().graph(&[]);
    assert!(g.edges.contains_key(&edge("app", "hosts")), "app does not call hosts");
    assert!(g.edges.contains_key(&edge("hosts", "engine")), "hosts does not implement the engine's hook");
    let up: Vec<&(String, String)> = g.edges.keys().filter(|(from, to)| to == "hosts" && from != "app").collect();
    assert!(up.is_empty(), "{up:?}: only app may depend on hosts");
}

#[test]
fn the_modules_inside_each_folder_have_no_import_cycles() {
    let c = this_crate();
    let folders = c.folders();
    assert!(folders.len() > 10, "found only {folders:?} under src");
    let report: String = folders
        .iter()
        .map(|f| c.graph(f))
        .filter_map(|g| Some(g.cycles()).filter(|c| !c.is_empty()).map(|c| g.report(&c)))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(report.is_empty(), "{report}");
}

/// A crate from (file, text) pairs.
fn krate(files: &[(&str, &str)]) -> Crate {
    let mut c = Crate::default();
    for (rel, text) in files {
        c.add_file(rel, text);
    }
    c.finish();
    c
}

/// The top-level graph of a crate from (file, text) pairs.
fn graph(files: &[(&str, &str)]) -> Graph {
    krate(files).graph(&[])
}

fn edge(from: &str, to: &str) -> (String, String) {
    (from.to_owned(), to.to_owned())
}

fn heads(path: &[&str], text: &str) -> Vec<String> {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    references(&path, text).into_iter().map(|r| r.module).collect()
}

#[test]
fn a_cycle_is_found_and_reported_with_its_sites() {
    let g = graph(&[
        ("engine/mod.rs", "mod worker;\nuse crate::backend::Backend;\n"),
        ("engine/worker.rs", "use super::Engine;\n"),
        ("backend/nvme.rs", "fn f() {\n    crate::engine::run_point();\n}\n"),
        ("backend/mod.rs", "pub mod nvme;\n"),
        ("proto.rs", "pub fn encode() {}\n"),
    ]);
    let cycles = g.cycles();
    assert_eq!(cycles, [["backend", "engine"]]);
    let report = g.report(&cycles);
    assert!(report.contains("  backend -> engine -> backend\n"), "{report}");
    assert!(report.contains("backend -> engine: src/backend/nvme.rs:2: crate::engine::run_point();"), "{report}");
    assert!(report.contains("engine -> backend: src/engine/mod.rs:2: use crate::backend::Backend;"), "{report}");
}

#[test]
fn a_cycle_inside_a_folder_is_found_and_named() {
    let c = krate(&[
        ("compare/mod.rs", "mod csv;\nmod judge;\nmod render;\npub use judge::Metric;\n"),
        ("compare/csv.rs", "use super::render::short_test;\n"),
        ("compare/render.rs", "use super::Metric;\nfn f() {\n    super::csv::render();\n}\n"),
        ("compare/judge.rs", "pub struct Metric;\n"),
        ("report.rs", "use crate::compare::Metric;\n"),
    ]);
    assert!(c.graph(&[]).cycles().is_empty(), "the top level is a line");
    let g = c.graph(&["compare".to_owned()]);
    assert_eq!(g.modules.iter().collect::<Vec<_>>(), ["csv", "judge", "render"]);
    // `super::Metric` is the re-export of judge's Metric: an edge to judge, not to mod.rs.
    assert_eq!(
        g.edges.keys().cloned().collect::<Vec<_>>(),
        [edge("csv", "render"), edge("render", "csv"), edge("render", "judge")]
    );
    let cycles = g.cycles();
    assert_eq!(cycles, [["csv", "render"]]);
    let report = g.report(&cycles);
    assert!(report.starts_with("1 import cycle(s) between the modules of src/compare/:"), "{report}");
    assert!(report.contains("  csv -> render -> csv\n"), "{report}");
    assert!(report.contains("render -> csv: src/compare/render.rs:3: super::csv::render();"), "{report}");
}

#[test]
fn a_folder_inside_a_folder_is_one_node_and_its_mod_rs_is_none() {
    let c = krate(&[
        ("engine/mod.rs", "mod result;\nmod worker;\nuse worker::Worker;\npub struct PointSpec;\n"),
        ("engine/result.rs", "use super::worker::{Counters, Tally};\nuse super::PointSpec;\n"),
        ("engine/worker/mod.rs", "mod tally;\npub use tally::Counters;\npub use self::tally::Tally;\n"),
        ("engine/worker/tally.rs", "pub struct Tally;\nfn f() {\n    crate::engine::result::finish();\n}\n"),
    ]);
    // The children may use their folder's items and it theirs: no cycle with mod.rs.
    let g = c.graph(&["engine".to_owned()]);
    assert_eq!(g.edges.keys().cloned().collect::<Vec<_>>(), [edge("result", "worker"), edge("worker", "result")]);
    assert_eq!(g.cycles(), [["result", "worker"]]);
    assert_eq!(g.edges[&edge("worker", "result")].file, "src/engine/worker/tally.rs");
    // Inside worker, the re-exports resolve to tally, and tally's own reference leaves the folder.
    let inner = c.graph(&["engine".to_owned(), "worker".to_owned()]);
    assert_eq!(inner.modules.iter().collect::<Vec<_>>(), ["tally"]);
    assert!(inner.edges.is_empty());
    assert_eq!(c.resolve(&["engine".into(), "worker".into(), "Tally".into()]), ["engine", "worker", "tally", "Tally"]);
    assert!(c.folders().contains(&vec!["engine".to_owned(), "worker".to_owned()]));
}

#[test]
fn use_trees_bind_their_names_and_relative_paths_are_ours_only_below_the_module() {
    let here = ["app".to_owned(), "plan".to_owned()];
    let named = paths(
        &here,
        "use super::{bench::{self, run as go}, progress::*};\nuse std::fmt;\nfn f() {\n    use crate::x::Y;\n}\n",
    );
    let got: Vec<(String, Option<String>)> = named.iter().map(|n| (n.path.join("::"), n.binds.clone())).collect();
    assert_eq!(
        got,
        [
            ("app::bench".to_owned(), Some("bench".to_owned())),
            ("app::bench::run".to_owned(), Some("go".to_owned())),
            ("app::plan::std::fmt".to_owned(), Some("fmt".to_owned())),
            // A `use` inside a function binds nothing the module's children could name.
            ("x::Y".to_owned(), None),
        ]
    );
    let c = krate(&[("app/plan.rs", "use std::fmt;\n"), ("app/bench.rs", "")]);
    assert!(!c.ours(&named[2]), "std is another crate");
    assert!(c.ours(&named[0]));
}

#[test]
fn a_dag_passes() {
    let g = graph(&[
        ("cli.rs", "use crate::app::run;\n"),
        ("app.rs", "use crate::{engine, backend::open};\n"),
        ("engine/mod.rs", "use crate::backend::Backend;\nuse crate::stats::Summary;\n"),
        ("backend/mod.rs", "use crate::proto::nvme;\nuse crate::sys;\n"),
        ("proto/mod.rs", ""),
        ("sys/mod.rs", ""),
        ("stats.rs", ""),
    ]);
    assert!(g.tangles().is_empty());
    assert!(g.cycles().is_empty());
    assert_eq!(g.edges.len(), 7);
}

#[test]
fn every_cycle_of_a_tangle_is_listed_once() {
    let g = graph(&[
        ("a.rs", "use crate::b::X;\nuse crate::c::Y;\n"),
        ("b.rs", "use crate::a::Z;\nuse crate::c::W;\n"),
        ("c.rs", "use crate::a::V;\n"),
        ("d.rs", "use crate::a::V;\n"),
    ]);
    assert_eq!(g.tangles(), [["a", "b", "c"]]);
    assert_eq!(g.cycles(), [vec!["a", "b"], vec!["a", "b", "c"], vec!["a", "c"]]);
}

#[test]
fn nested_use_groups_name_each_top_level_module() {
    let text = "use crate::{\n    backend::{AtsMode, Backend},\n    error::{self, Result},\n    self,\n    spec::Region,\n};\n";
    assert_eq!(heads(&["engine"], text), ["backend", "error", "spec"]);
    let refs = references(&["engine".to_owned()], text);
    assert_eq!(refs.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 5]);
    assert_eq!(heads(&["app"], "pub use crate::{a::{b, c::{d}}, e};"), ["a", "e"]);
}

#[test]
fn paths_anywhere_count() {
    assert_eq!(heads(&["report"], "fn f(p: &crate::engine::Point) -> crate::stats::Summary {}"), ["engine", "stats"]);
    assert_eq!(heads(&["sys"], "pub(in crate::backend) fn f() {}"), ["backend"]);
    assert_eq!(heads(&["x"], "macro_rules! m { () => { $crate::y::f() } }"), ["y"]);
    assert_eq!(heads(&["x"], "pub(crate) fn f() {}"), Vec::<String>::new());
}

#[test]
fn super_counts_only_when_it_reaches_the_root() {
    // In a top-level module's own file, super is the crate root.
    assert_eq!(heads(&["app"], "use super::engine::run;"), ["engine"]);
    assert_eq!(heads(&["app"], "use super::{cli, report::Table};"), ["cli", "report"]);
    // In a submodule, super stays inside the module.
    assert!(heads(&["engine", "worker"], "use super::Step;").is_empty());
    assert_eq!(heads(&["engine", "worker"], "use super::super::backend::Op;"), ["backend"]);
    // An inline module is one level deeper.
    let tests = "fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::stats::Kind;\n}\nuse super::report;\n";
    assert_eq!(heads(&["engine"], tests), ["stats", "report"]);
    // `a::super` is not a path start (and not valid Rust); `self::` never leaves the module.
    assert!(heads(&["app"], "use self::inner::x;").is_empty());
}

#[test]
fn comments_strings_and_literals_are_skipped() {
    let text = r##"
        // use crate::commented;
        /* crate::block /* nested crate::inner */ still crate::comment */
        /// See [`crate::doclink`].
        const S: &str = "crate::string \" crate::escaped";
        const R: &str = r#"crate::raw " crate::still_raw"#;
        const C: char = '"';
        fn f<'a>(x: &'a u8) -> char { '\'' }
        use crate::real;
    "##;
    assert_eq!(heads(&["m"], text), ["real"]);
    let refs = references(&["m".to_owned()], text);
    assert_eq!(refs[0].line, 9, "lines still count after blanked comments and strings");
}

#[test]
fn files_map_to_their_top_level_module() {
    let m = |p: &str| module_path(Path::new(p)).map(|v| v.join("::"));
    assert_eq!(m("engine/worker/ats.rs").as_deref(), Some("engine::worker::ats"));
    assert_eq!(m("engine/mod.rs").as_deref(), Some("engine"));
    assert_eq!(m("app.rs").as_deref(), Some("app"));
    assert_eq!(m("lib.rs"), None);
    assert_eq!(m("main.rs"), None);
    assert_eq!(m("proto/scsi/sense.rs").as_deref(), Some("proto::scsi::sense"));
}

#[test]
fn references_to_root_items_and_self_are_not_edges() {
    let g = graph(&[
        ("a.rs", "use crate::VERSION;\nuse crate::a::inner;\nuse crate::b::x;\n"),
        ("b/mod.rs", "mod c;\n"),
        ("b/c.rs", "use crate::b::y;\nuse super::super::a::z;\n"),
    ]);
    let edges: Vec<_> = g.edges.keys().cloned().collect();
    assert_eq!(edges, [("a".to_owned(), "b".to_owned()), ("b".to_owned(), "a".to_owned())]);
    assert_eq!(g.edges[&("b".to_owned(), "a".to_owned())].file, "src/b/c.rs");
}

/// Issue 17: one definition of the results document, `results`, read by compare, merge,
/// report and plot, and below everything that measures or renders.
#[test]
fn compare_merge_report_and_plot_read_the_one_results_module() {
    let g = this_crate().graph(&[]);
    for reader in ["compare", "report", "plot", "app", "hosts"] {
        assert!(g.edges.contains_key(&(reader.to_string(), "results".to_string())), "{reader} does not read results");
    }
    let src = src_dir();
    for file in ["hosts/merge.rs", "compare/doc.rs", "plot/mod.rs", "report/mod.rs"] {
        let text = std::fs::read_to_string(src.join(file)).expect("a source file");
        let path = module_path(Path::new(file)).expect("a module");
        assert!(references(&path, &text).iter().any(|r| r.module == "results"), "{file} does not read results");
    }
    let below: Vec<&(String, String)> = g
        .edges
        .keys()
        .filter(|(from, to)| {
            from == "results"
                && ["app", "hosts", "compare", "report", "plot", "engine", "backend", "device"].contains(&to.as_str())
        })
        .collect();
    assert!(below.is_empty(), "results depends on {below:?}: it must stay below its writers and readers");
    let mut files = Vec::new();
    rust_files(&src.join("results"), &mut files);
    for f in files {
        let code = strip(&std::fs::read_to_string(&f).expect("a source file"));
        assert!(
            !code.contains("serde_json::Value") && !code.contains("Value::"),
            "{}: an untyped JSON value",
            f.display()
        );
    }
}
