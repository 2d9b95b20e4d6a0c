//! The run-to-run noise of a results file's profile: the `run-noise` a shipped profile states
//! (measured by A/A runs, see docs/compare-verdicts.md), for points measured once per side.
//!
//! The results document records the profile's name in `config.profile`; this reads only that
//! key (the results module will carry it typed).

use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct File {
    config: Config,
}

#[derive(Deserialize)]
struct Config {
    profile: Option<ProfileRef>,
}

#[derive(Deserialize)]
struct ProfileRef {
    name: String,
}

/// The name and `run-noise` (percent) of the shipped profile the results at `path` came from;
/// None when they came from none, from a profile file, or it states none.
pub fn of_profile(path: &Path) -> Option<(String, f64)> {
    let bytes = std::fs::read(path).ok()?;
    let f: File = serde_json::from_slice(&bytes).ok()?;
    let name = f.config.profile?.name;
    let p = crate::profile::BUILT_IN.iter().find(|(n, _)| *n == name)?;
    let profile = crate::profile::parse(p.0, p.0, p.1).ok()?;
    profile.settings.run_noise.map(|pct| (name, pct))
}
