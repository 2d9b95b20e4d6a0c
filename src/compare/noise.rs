//! The run-to-run noise of a results file's profile: the `run-noise` a shipped profile states
//! (measured by A/A runs, see docs/compare-verdicts.md), for points measured once per side.
//! The profile is known by the name the results record in `config.profile`.

use super::Results;

/// The name and `run-noise` (percent) of the shipped profile `results` came from; None when
/// they came from none, from a profile file, or it states none.
pub fn of_profile(results: &Results) -> Option<(String, f64)> {
    let name = &results.config.profile.as_ref()?.name;
    let p = crate::profile::BUILT_IN.iter().find(|(n, _)| n == name)?;
    let profile = crate::profile::parse(p.0, p.0, p.1).ok()?;
    profile.settings.run_noise.map(|pct| (name.clone(), pct))
}
