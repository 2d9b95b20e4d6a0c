//! Fails on any import cycle between the crate's top-level modules (issue 8: arrows point one
//! way, cli -> app -> (device, engine) -> backend -> proto / sys).
//!
//! Reads `src/**/*.rs` at test time. Each file belongs to a top-level module
//! (`src/engine/worker/ats.rs` to `engine`, `src/app.rs` to `app`; `lib.rs` and `main.rs` to
//! none). A reference to another top-level module is any path that reaches the crate root:
//! `crate::x` (in `use`, in code, in `pub(in crate::x)`), each item of a `use crate::{x, y::z}`
//! group, and `super::` chains that climb to the root (`super::x` in `src/app.rs`,
//! `super::super::x` in an inline module of it). Comments and string literals are skipped.
//!
//! Test code counts: a `#[cfg(test)]` module that imports a module above it ties the two
//! together as much as the code does (the tests cannot move with their module), and a test
//! that needs something from above usually shows a seam missing below.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One reference from a file to a top-level module.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    module: String,
    line: usize,
}

/// Where one edge was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Site {
    file: String,
    line: usize,
    text: String,
}

/// Comments, strings and character literals blanked out (newlines kept, so lines still count).
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if let Some((prefix, hashes)) = raw_string_start(&c, i) {
            // r"..." or r#"..."# (also after b): skip to the quote followed by as many #.
            let body = i + prefix;
            out.push_str(&" ".repeat(prefix));
            i = body;
            while i < c.len() && !(c[i] == '"' && (0..hashes).all(|h| c.get(i + 1 + h) == Some(&'#'))) {
                blank(&mut out, c[i]);
                i += 1;
            }
            let end = (i + 1 + hashes).min(c.len());
            out.push_str(&" ".repeat(end - i));
            i = end;
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' && (next == Some('\\') || c.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\''), not a lifetime.
            out.push(' ');
            i += 1;
            if c.get(i) == Some(&'\\') {
                out.push_str("  ");
                i += 2;
            }
            while i < c.len() && c[i] != '\'' {
                blank(&mut out, c[i]);
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// At `i`, the start of a raw string literal (`r"`, `r#"`, `br##"`...): the length of its
/// opening (up to and with the quote) and how many `#` close it.
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    let at_token_start = i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_');
    let r = match (c.get(i), c.get(i + 1)) {
        (Some('r'), _) if at_token_start => i,
        (Some('b'), Some('r')) if at_token_start => i + 1,
        _ => return None,
    };
    let hashes = c[r + 1..].iter().take_while(|&&ch| ch == '#').count();
    (c.get(r + 1 + hashes) == Some(&'"')).then_some((r - i + hashes + 2, hashes))
}

/// Identifiers, `::` and single punctuation characters, with their line numbers.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let c: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < c.len() {
            if c[i].is_alphanumeric() || c[i] == '_' {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push((c[start..i].iter().collect(), n + 1));
            } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
                out.push(("::".to_owned(), n + 1));
                i += 2;
            } else {
                if !c[i].is_whitespace() {
                    out.push((c[i].to_string(), n + 1));
                }
                i += 1;
            }
        }
    }
    out
}

/// The module path of a file under `src`: `engine/worker/ats.rs` is [engine, worker, ats],
/// `engine/mod.rs` is [engine]. None for the crate roots.
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop()?;
    let stem = file.strip_suffix(".rs")?;
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return None;
    }
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts)
}

/// Every reference in `text` (the file at module path `path`) that reaches the crate root,
/// named by the top-level module it names (or the root item, which callers filter out).
fn references(path: &[String], text: &str) -> Vec<Reference> {
    let toks = tokens(&strip(text));
    let t = |i: usize| toks.get(i).map_or("", |(s, _)| s.as_str());
    let mut refs = Vec::new();
    // Inline modules (`mod tests { ... }`) open at a brace depth; `super` counts from them.
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match t(i) {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
            }
            "mod" if t(i + 2) == "{" => {
                inline.push((depth, t(i + 1).to_owned()));
            }
            _ => {}
        }
        let path_start = i == 0 || t(i - 1) != "::";
        let root = match t(i) {
            "crate" if t(i + 1) == "::" => Some(i + 2),
            "super" if path_start && t(i + 1) == "::" => {
                let mut here: Vec<&str> = path.iter().map(String::as_str).collect();
                here.extend(inline.iter().map(|(_, m)| m.as_str()));
                let mut j = i;
                let mut climbed = 0;
                while t(j) == "super" && t(j + 1) == "::" {
                    climbed += 1;
                    j += 2;
                }
                (climbed == here.len()).then_some(j)
            }
            _ => None,
        };
        if let Some(j) = root {
            if t(j) == "{" {
                refs.extend(group_heads(&toks, j));
            } else if is_ident(t(j)) {
                refs.push(Reference { module: t(j).to_owned(), line: toks[j].1 });
            }
        }
        i += 1;
    }
    refs
}

/// The first identifier of each item of the `{ ... }` group opening at token `open`.
fn group_heads(toks: &[(String, usize)], open: usize) -> Vec<Reference> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = false;
    for (s, line) in &toks[open..] {
        match s.as_str() {
            "{" => {
                depth += 1;
                expect_head = depth == 1;
                continue;
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => {
                expect_head = true;
                continue;
            }
            head if expect_head && is_ident(head) && head != "self" => {
                heads.push(Reference { module: head.to_owned(), line: *line });
            }
            _ => {}
        }
        expect_head = false;
    }
    heads
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The top-level modules and one site of each edge between them.
#[derive(Default)]
struct Graph {
    modules: BTreeSet<String>,
    edges: BTreeMap<(String, String), Site>,
}

impl Graph {
    /// Add one file (its path relative to `src`, e.g. `engine/mod.rs`).
    fn add_file(&mut self, rel: &str, text: &str) {
        let Some(path) = module_path(Path::new(rel)) else { return };
        let from = path[0].clone();
        self.modules.insert(from.clone());
        let lines: Vec<&str> = text.lines().collect();
        for r in references(&path, text) {
            if r.module == from {
                continue;
            }
            let site = Site { file: format!("src/{rel}"), line: r.line, text: lines[r.line - 1].trim().to_owned() };
            self.edges.entry((from.clone(), r.module)).or_insert(site);
        }
    }

    /// Drop edges to names that are not top-level modules (items of the crate root).
    fn finish(&mut self) {
        let modules = &self.modules;
        self.edges.retain(|(_, to), _| modules.contains(to));
    }

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
        let mut s = format!("{} import cycle(s) between top-level modules:\n", cycles.len());
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

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_top_level_modules_have_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g = Graph::default();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display()));
        g.add_file(&rel, &text);
    }
    g.finish();
    assert!(g.modules.len() > 5, "found only {:?} under {}", g.modules, src.display());
    let cycles = g.cycles();
    assert!(cycles.is_empty(), "{}", g.report(&cycles));
}

/// A graph from (file, text) pairs.
fn graph(files: &[(&str, &str)]) -> Graph {
    let mut g = Graph::default();
    for (rel, text) in files {
        g.add_file(rel, text);
    }
    g.finish();
    g
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

/// The module graph of `src/`.
fn crate_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g = Graph::default();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/");
        g.add_file(&rel, &std::fs::read_to_string(f).expect("a source file"));
    }
    g.finish();
    g
}

/// Issue 17: one definition of the results document, `results`, read by compare, merge,
/// report and plot, and below everything that measures or renders.
#[test]
fn compare_merge_report_and_plot_read_the_one_results_module() {
    let g = crate_graph();
    for reader in ["compare", "report", "plot", "app"] {
        assert!(g.edges.contains_key(&(reader.to_string(), "results".to_string())), "{reader} does not read results");
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in ["app/merge.rs", "compare/doc.rs", "plot/mod.rs", "report/mod.rs"] {
        let text = std::fs::read_to_string(src.join(file)).expect("a source file");
        let path = module_path(Path::new(file)).expect("a module");
        assert!(references(&path, &text).iter().any(|r| r.module == "results"), "{file} does not read results");
    }
    let below: Vec<&(String, String)> = g
        .edges
        .keys()
        .filter(|(from, to)| {
            from == "results"
                && ["app", "compare", "report", "plot", "engine", "backend", "device"].contains(&to.as_str())
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
