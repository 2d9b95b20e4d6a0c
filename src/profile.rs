//! Workload profiles: TOML files that set `sweep` options, shipped in `profiles/` and built
//! into the binary, or read from a path. Unknown keys are errors naming the key and the file;
//! values go through the same parsers as the flags; flags given on the command line win.

use crate::error::{Error, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The shipped profiles: (name, TOML text).
pub const BUILT_IN: [(&str, &str); 4] = [
    ("qualification", include_str!("../profiles/qualification.toml")),
    ("vmfs-heartbeat", include_str!("../profiles/vmfs-heartbeat.toml")),
    ("lock-storm", include_str!("../profiles/lock-storm.toml")),
    ("ci-nullblk", include_str!("../profiles/ci-nullblk.toml")),
];

/// The keys a profile may set, each as its flag would take it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
// wide: one field per key a profile may set (deny_unknown_fields)
pub struct Settings {
    pub description: String,
    pub workload: Option<Vec<String>>,
    pub qd: Option<String>,
    pub threads: Option<String>,
    pub contention: Option<String>,
    pub locks: Option<String>,
    pub duration: Option<String>,
    pub ops: Option<u64>,
    pub rate: Option<f64>,
    pub bs: Option<String>,
    pub region: Option<String>,
    pub repeat: Option<u32>,
    pub interleave: Option<bool>,
    pub heartbeat_interval: Option<String>,
    pub verify: Option<bool>,
    /// `compare`: the run-to-run noise in percent of one run of this profile (one standard
    /// deviation between identical runs, measured by A/A runs), for points measured once.
    pub run_noise: Option<f64>,
    /// Run `atsbench check`'s conformance checks on the target before the points.
    pub checks: Option<bool>,
}

/// A loaded profile: its name, where it came from, its checksum and its settings.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub source: String,
    /// SHA-256 of the TOML text, recorded in results.
    pub sha256: String,
    pub settings: Settings,
}

/// Load `name_or_path`: a shipped profile's name, or a TOML file's path.
pub fn load(name_or_path: &str) -> Result<Profile> {
    if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(name, &format!("built-in profile {name}"), text);
    }
    let path = Path::new(name_or_path);
    if !name_or_path.contains('/') && !name_or_path.ends_with(".toml") {
        return Err(Error::usage(format!(
            "--profile {name_or_path}: no such profile; use one of {} (atsbench profiles) or a path to a .toml file",
            names().join(", ")
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::from_io(path, "reading the profile", &e))?;
    let name = path.file_stem().map_or_else(|| name_or_path.to_string(), |s| s.to_string_lossy().into_owned());
    parse(&name, &path.display().to_string(), &text)
}

/// Parse a profile's text; `source` names it in errors.
pub fn parse(name: &str, source: &str, text: &str) -> Result<Profile> {
    let settings: Settings = toml::from_str(text).map_err(|e| {
        let why = e.message().trim().replace('\n', " ");
        Error::usage(format!("profile {source}: {why}; fix the file (see atsbench profiles show qualification)"))
    })?;
    if settings.contention.is_some() && settings.locks.is_some() {
        return Err(Error::usage(format!("profile {source}: sets both contention and locks; keep one")));
    }
    let sha256 = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    Ok(Profile { name: name.into(), source: source.into(), sha256, settings })
}

pub fn names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(n, _)| *n).collect()
}

/// `atsbench profiles`: one line per shipped profile.
pub fn list() -> Result<String> {
    let mut out = String::new();
    for (name, text) in BUILT_IN {
        let p = parse(name, name, text)?;
        out.push_str(&format!("{name:<16} {}\n", p.settings.description));
    }
    Ok(out)
}

/// `atsbench profiles show NAME`: the profile's TOML.
pub fn show(name: &str) -> Result<String> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| t.to_string()).ok_or_else(|| {
        Error::usage(format!("no profile named {name}; use one of {} (atsbench profiles)", names().join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_parses() {
        for (name, text) in BUILT_IN {
            let p = parse(name, name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!p.settings.description.is_empty(), "{name} has no description");
            assert_eq!(p.sha256.len(), 64);
        }
        assert_eq!(list().unwrap().lines().count(), BUILT_IN.len());
        assert!(show("qualification").unwrap().contains("repeat = 5"));
    }

    #[test]
    fn unknown_keys_and_bad_types_are_one_line_usage_errors() {
        let e = parse("x", "x.toml", "description = \"d\"\nqdd = \"1..8\"\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let s = e.to_string();
        assert!(s.contains("qdd") && s.contains("x.toml") && !s.contains('\n'), "{s}");
        let e = parse("x", "x.toml", "description = \"d\"\nrepeat = \"three\"\n").unwrap_err();
        assert!(e.to_string().contains("x.toml") && !e.to_string().contains('\n'), "{e}");
        let e = parse("x", "x.toml", "description = \"d\"\nlocks = \"1\"\ncontention = \"2\"\n").unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
        assert_eq!(load("nope").unwrap_err().exit_code(), 2);
    }
}
