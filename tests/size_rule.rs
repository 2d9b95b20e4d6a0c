//! Fails on a function over 80 lines or a struct over 12 fields in `src/` that does not say
//! why (issue 22): a long function is usually several steps with one name, and a struct with
//! many fields several structs grouped by who changes them and when.
//!
//! The reason is a comment of its own on a line just above the item, among its attributes and
//! doc comments: `// long: <why>` for a function, `// wide: <why>` for a struct. A function's
//! length counts from the line of `fn` to the line of its closing brace; a struct's fields are
//! the named fields of its braces (tuple and unit structs have none worth counting).

mod common;

use common::source::{src_files, strip, tokens};

/// The longest function that needs no reason, in lines.
const MAX_FN_LINES: usize = 80;
/// The widest struct that needs no reason, in fields.
const MAX_FIELDS: usize = 12;

/// One function or struct over its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Oversize {
    file: String,
    /// The line of `fn` or `struct` (from 1).
    line: usize,
    /// `fn` or `struct`.
    kind: &'static str,
    name: String,
    /// Lines of a function, fields of a struct.
    size: usize,
    /// The reason given above it, if any.
    reason: Option<String>,
}

/// The index of the token closing the bracket opened at `open`.
fn closing(toks: &[(String, usize)], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, (s, _)) in toks.iter().enumerate().skip(open) {
        match s.as_str() {
            "{" | "(" | "[" => depth += 1,
            "}" | ")" | "]" => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    toks.len() - 1
}

/// The named fields of the struct body whose `{` is at `open`.
fn fields(toks: &[(String, usize)], open: usize) -> usize {
    let end = closing(toks, open);
    let mut depth = 0usize;
    let mut n = 0;
    for k in open..end {
        match toks[k].0.as_str() {
            "{" | "(" | "[" => depth += 1,
            "}" | ")" | "]" => depth -= 1,
            s if depth == 1 && is_ident(s) && toks[k + 1].0 == ":" => {
                n += usize::from(matches!(toks[k - 1].0.as_str(), "{" | "," | "pub" | ")" | "]"));
            }
            _ => {}
        }
    }
    n
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The reason `// <word>: ...` among the attribute, doc and comment lines just above line
/// `line` (from 1).
fn reason(lines: &[&str], line: usize, word: &str) -> Option<String> {
    let tag = format!("// {word}:");
    for l in lines[..line - 1].iter().rev().map(|l| l.trim()) {
        if let Some(why) = l.strip_prefix(&tag) {
            return Some(why.trim().to_owned()).filter(|w| !w.is_empty());
        }
        if !(l.starts_with("#[") || l.starts_with("//") || l.starts_with("#![")) {
            return None;
        }
    }
    None
}

/// Every function over [`MAX_FN_LINES`] and struct over [`MAX_FIELDS`] in one file.
fn oversized(file: &str, text: &str) -> Vec<Oversize> {
    let toks = tokens(&strip(text));
    let lines: Vec<&str> = text.lines().collect();
    let t = |i: usize| toks.get(i).map_or("", |(s, _)| s.as_str());
    let mut out = Vec::new();
    for i in 0..toks.len() {
        let (kind, name) = (t(i), t(i + 1));
        if !(kind == "fn" || kind == "struct") || !is_ident(name) {
            continue;
        }
        let line = toks[i].1;
        // The body: the first `{` outside the signature's brackets (none before `;`: a
        // declaration, a tuple or unit struct).
        let mut j = i + 2;
        while j < toks.len() && !matches!(t(j), "{" | ";") {
            j = if matches!(t(j), "(" | "[") { closing(&toks, j) + 1 } else { j + 1 };
        }
        if t(j) != "{" {
            continue;
        }
        let (kind, size, limit, word) = if kind == "fn" {
            ("fn", toks[closing(&toks, j)].1 - line + 1, MAX_FN_LINES, "long")
        } else {
            ("struct", fields(&toks, j), MAX_FIELDS, "wide")
        };
        if size > limit {
            let reason = reason(&lines, line, word);
            out.push(Oversize { file: file.to_owned(), line, kind, name: name.to_owned(), size, reason });
        }
    }
    out
}

#[test]
fn long_functions_and_wide_structs_say_why() {
    let all: Vec<Oversize> =
        src_files().iter().flat_map(|(rel, text)| oversized(&format!("src/{rel}"), text)).collect();
    let unexplained: Vec<String> = all
        .iter()
        .filter(|o| o.reason.is_none())
        .map(|o| {
            let unit = if o.kind == "fn" { "lines" } else { "fields" };
            format!("{}:{}: {} {} ({} {unit})", o.file, o.line, o.kind, o.name, o.size)
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "{} function(s) over {MAX_FN_LINES} lines or struct(s) over {MAX_FIELDS} fields without a reason \
         (split them, or put `// long: <why>` above a function, `// wide: <why>` above a struct):\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
}

/// A function of `n` body lines (n + 2 in all), with `above` on the lines before it.
fn function(above: &str, n: usize) -> String {
    format!("{above}fn f(a: u8, b: (u8, u8)) -> u8 {{\n{}}}\n", "    let _ = 1;\n".repeat(n))
}

#[test]
fn a_long_function_is_found_and_its_reason_read() {
    assert!(oversized("a.rs", &function("", MAX_FN_LINES - 2)).is_empty(), "80 lines is not over");
    let o = oversized("a.rs", &function("", MAX_FN_LINES - 1));
    assert_eq!(o, [Oversize { file: "a.rs".into(), line: 1, kind: "fn", name: "f".into(), size: 81, reason: None }]);
    let why = "/// Docs.\n// long: one match over every opcode, read as a table\n#[inline]\npub ";
    let o = oversized("a.rs", &function(why, 100));
    assert_eq!((o[0].line, o[0].size), (4, 102));
    assert_eq!(o[0].reason.as_deref(), Some("one match over every opcode, read as a table"));
    // Too far up (code between), empty, or the wrong word: no reason.
    for above in ["// long: x\nconst A: u8 = 1;\n", "// long:\n", "// wide: x\n"] {
        assert_eq!(oversized("a.rs", &function(above, 90))[0].reason, None, "{above}");
    }
    // Braces in strings and comments do not end it; a declaration has no body.
    let tricky =
        format!("trait T {{\n    fn g(&self);\n}}\n{}", function("", 85).replace("let _ = 1;", "let _ = \"}\"; // }"));
    let o = oversized("a.rs", &tricky);
    assert_eq!(o.iter().map(|o| (o.name.as_str(), o.size)).collect::<Vec<_>>(), [("f", 87)]);
}

#[test]
fn a_wide_struct_is_found_and_its_fields_counted() {
    let wide = |n: usize, above: &str| {
        let fields: String = (0..n)
            .map(|k| match k % 3 {
                0 => format!("    pub f{k}: BTreeMap<u8, (u8, u8)>,\n"),
                1 => format!("    #[serde(skip)]\n    pub(crate) f{k}: fn(x: u8) -> u8,\n"),
                _ => format!("    /// a: b\n    f{k}: [u8; 4],\n"),
            })
            .collect();
        format!("{above}#[derive(Debug)]\npub struct S<T: Copy> where T: Clone {{\n{fields}}}\nstruct Tuple(u8, u8);\n")
    };
    assert!(oversized("s.rs", &wide(MAX_FIELDS, "")).is_empty());
    let o = oversized("s.rs", &wide(MAX_FIELDS + 1, ""));
    assert_eq!(
        o,
        [Oversize { file: "s.rs".into(), line: 2, kind: "struct", name: "S".into(), size: 13, reason: None }]
    );
    let o = oversized("s.rs", &wide(20, "// wide: the row of the CSV, one field per column\n"));
    assert_eq!(o[0].reason.as_deref(), Some("the row of the CSV, one field per column"));
}
