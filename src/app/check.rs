//! `atsbench check`: run the conformance checks, write the report, exit 12 when one failed.

use crate::backend::sim::SimProtocol;
use crate::check::{self, CheckOptions};
use crate::cli::{CheckArgs, CheckFormat};
use crate::error::{Error, Result};
use std::io::Write as _;

pub fn check(a: &CheckArgs) -> Result<()> {
    let o = CheckOptions {
        targets: a.targets.clone(),
        region: a.region,
        force: a.force,
        ops: a.ops,
        actors: a.actors,
        seed: a.seed,
        sim_nvme: a.sim_protocol == Some(SimProtocol::Nvme),
        inject: a.inject.unwrap_or_default(),
    };
    let report = check::run(&o)?;
    let text = match a.format {
        CheckFormat::Table => report.table(),
        CheckFormat::Markdown => report.markdown(),
        CheckFormat::Json => report.json(),
    };
    match &a.output {
        Some(p) => std::fs::write(p, &text).map_err(|e| Error::from_io(p, "writing the report", &e))?,
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
    let failed: Vec<&str> = report.failed().map(|c| c.id.as_str()).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::CheckFailed(format!("{} check(s) failed: {}", failed.len(), failed.join(", "))))
    }
}
