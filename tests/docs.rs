//! The README and docs/ stay true: every relative link resolves (file and heading), every
//! command the README shows parses, every example in `--help` parses, and the README stays
//! short with its two first commands on top (`.ci/run` runs the second exactly).

use atsbench::cli::Cli;
use clap::{CommandFactory, Parser};
use std::path::{Path, PathBuf};

/// Pages that other changes add to docs/; the index links them before they land. A link to one
/// of these is checked like any other as soon as the file exists.
const PENDING: [&str; 0] = [];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The text outside fenced code blocks.
fn prose(text: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, spaces to hyphens, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    prose(text).lines().filter_map(|l| l.strip_prefix('#')).map(|h| slug(h.trim_start_matches('#'))).collect()
}

/// The targets of the markdown links `[text](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut out = Vec::new();
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
        }
    }
    out
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').map_or((link.as_str(), None), |(p, a)| (p, Some(a)));
            let target = if path.is_empty() { page.clone() } else { page.parent().unwrap().join(path) };
            let name = Path::new(path).file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !target.exists() {
                let pending = PENDING.contains(&name) && target.parent() == Some(&root().join("docs"));
                if !pending {
                    broken.push(format!("{}: {link}: no such file", page.display()));
                }
                continue;
            }
            if let Some(anchor) = anchor {
                let there = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&there).iter().any(|a| a == anchor) {
                    broken.push(format!("{}: {link}: no such heading", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_docs_page_is_in_the_index() {
    let index = std::fs::read_to_string(root().join("docs/index.md")).unwrap();
    let linked = links(&index);
    for page in pages().iter().skip(1) {
        let name = page.file_name().unwrap().to_str().unwrap();
        assert!(name == "index.md" || linked.iter().any(|l| l == name), "docs/{name} is not in docs/index.md");
    }
}

/// The atsbench command lines of a shell block: continuations joined, comments, redirections
/// and other commands of the line dropped; `cargo run --release --` read as atsbench.
fn commands(block: &str) -> Vec<Vec<String>> {
    let joined = block.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or("");
        for part in line.split([';', '&', '|']) {
            let part = part.trim();
            let args = if let Some(rest) = part.strip_prefix("cargo run --release -- ") {
                rest
            } else if let Some(rest) = part.strip_prefix("atsbench ") {
                rest
            } else {
                continue;
            };
            let mut argv = vec!["atsbench".to_string()];
            let mut words = args.split_whitespace();
            while let Some(w) = words.next() {
                if w == ">" {
                    words.next();
                } else if !w.starts_with('>') {
                    argv.push(w.to_string());
                }
            }
            out.push(argv);
        }
    }
    out
}

fn shell_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```sh") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.push(current.take().unwrap()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn every_readme_command_parses() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let all: Vec<Vec<String>> = shell_blocks(&readme).iter().flat_map(|b| commands(b)).collect();
    assert!(all.len() >= 15, "only {} commands found in the README", all.len());
    for argv in all {
        if let Err(e) = Cli::try_parse_from(&argv) {
            panic!("README: `{}` does not parse: {e}", argv.join(" "));
        }
    }
}

#[test]
fn every_help_example_parses() {
    let cmd = Cli::command();
    let mut n = 0;
    for sub in cmd.get_subcommands() {
        let Some(help) = sub.get_after_help() else { continue };
        for line in help.to_string().lines() {
            let Some(args) = line.trim_start().strip_prefix("atsbench ") else { continue };
            // Within a man page's text on an 80-column terminal, so it is not wrapped there.
            assert!(line.len() <= 66, "{} --help: an example of {} columns: {line}", sub.get_name(), line.len());
            // The description after two spaces or more is not part of the command.
            let args = args.split("  ").next().unwrap();
            let argv: Vec<&str> = std::iter::once("atsbench")
                .chain(args.split_whitespace().take_while(|w| *w != "|" && *w != ">"))
                .collect();
            Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("`{}` does not parse: {e}", argv.join(" ")));
            n += 1;
        }
        let examples = help.to_string().lines().filter(|l| l.trim_start().starts_with("atsbench ")).count();
        assert!(examples >= 2, "{} --help has {examples} examples", sub.get_name());
    }
    assert!(n >= 25, "{n} examples");
}

#[test]
fn the_readme_is_short_and_starts_with_the_two_first_commands() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.lines().count() <= 250, "README.md has {} lines", readme.lines().count());
    let first: Vec<&str> = readme.lines().skip(2).take(4).collect();
    assert_eq!(first[0], "```sh");
    assert!(first[1].starts_with("cargo run --release -- sweep --qd "), "{}", first[1]);
    assert!(first[2].starts_with("cargo test "), "{}", first[2]);
    assert_eq!(first[3], "```");
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "cargo test"), ".ci/run does not run `cargo test` as the README says");
    let install = readme.find("## Install").expect("an Install section");
    let other = readme.find("\n## ").unwrap();
    assert_eq!(install, other + 1, "Install is the first section");
}

#[test]
fn slugs_are_githubs() {
    assert_eq!(slug("The simulated device (`sim`)"), "the-simulated-device-sim");
    assert_eq!(slug("Timeouts and retries (ESXi)"), "timeouts-and-retries-esxi");
    let argv = &commands("atsbench man sweep | man -l -\nssh h atsbench probe /dev/sg0 > x.txt # c")[0];
    assert_eq!(argv, &["atsbench", "man", "sweep"]);
    assert!(Cli::try_parse_from(["atsbench", "sweep", "--qd", "1..4", "-v", "-q"]).is_ok());
}

fn atsbench(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atsbench")).args(args).output().unwrap();
    assert!(out.status.success(), "atsbench {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.is_empty(), "atsbench {args:?} printed nothing");
    out.stdout
}

/// Feed `input` to `cmd args` and return its stderr; fails if it exits non-zero.
fn pipe_into(input: &[u8], cmd: &str, args: &[&str]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(cmd)
        .args(args)
        .env("MANWIDTH", "80")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (.ci/run installs man-db and groff-base)"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn completions_are_valid_scripts() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = atsbench(&["completions", shell]);
        assert!(String::from_utf8_lossy(&script).contains("sweep"), "{shell}: no subcommands");
    }
    let errors = pipe_into(&atsbench(&["completions", "bash"]), "bash", &["-n"]);
    assert!(errors.is_empty(), "bash -n: {errors}");
}

/// Whether `tool` can be run; without it a test fails under CI (`.ci/run` installs it) and
/// says it was skipped elsewhere.
fn have(tool: &str) -> bool {
    let found = std::process::Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{tool} is missing (.ci/run installs man-db and groff-base)");
        eprintln!("SKIPPED: {tool} is not installed (apt install man-db groff-base)");
    }
    found
}

#[test]
fn man_pages_render_without_warnings() {
    if !have("man") {
        return;
    }
    let mut pages = vec![None];
    pages.extend(Cli::command().get_subcommands().map(|s| Some(s.get_name().to_string())));
    for page in pages {
        let mut args = vec!["man"];
        args.extend(page.as_deref());
        let roff = atsbench(&args);
        let warnings = pipe_into(&roff, "man", &["--warnings", "-l", "-"]);
        assert!(warnings.is_empty(), "man page {page:?}: {warnings}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atsbench")).args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn atsbench_alone_prints_the_first_commands() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atsbench")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    let tried: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("atsbench ")).collect();
    assert!(tried.len() >= 3, "{text}");
    for line in tried.iter().take(3) {
        let argv: Vec<&str> = line.split("  ").find(|s| !s.is_empty()).unwrap().split_whitespace().collect();
        Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("`{line}`: {e}"));
    }
}
