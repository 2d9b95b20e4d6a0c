//! Reading the crate's own source in tests: comments and strings blanked out, tokens with
//! their lines, and every file under `src/` with its module path. Used by the module-graph and
//! size-rule tests, which check the shape of the code rather than what it does.

use std::path::{Path, PathBuf};

/// Comments, strings and character literals blanked out (newlines kept, so lines still count).
pub fn strip(text: &str) -> String {
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
pub fn tokens(code: &str) -> Vec<(String, usize)> {
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
pub fn module_path(rel: &Path) -> Option<Vec<String>> {
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

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
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

/// `src/` of this crate.
pub fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every file under `src/`: its path relative to `src` (with `/`) and its text.
pub fn src_files() -> Vec<(String, String)> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/");
            (rel, std::fs::read_to_string(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display())))
        })
        .collect()
}
