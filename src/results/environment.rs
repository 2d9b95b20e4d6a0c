//! The host a run is made on, for the report a vendor attaches: the date, the host name, its
//! CPU and the command line (read from /proc; no FFI). Recorded in `config.environment`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// When, where and by which command line a run was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Environment {
    /// When the run started, UTC (RFC 3339, seconds).
    pub started: String,
    pub hostname: String,
    /// The CPU model and the number of CPUs the kernel lists.
    pub cpu: String,
    /// The command line as given (arguments quoted where a shell would need it).
    pub command_line: String,
}

fn first_line(path: &str) -> String {
    std::fs::read_to_string(path).ok().and_then(|s| s.lines().next().map(|l| l.trim().to_string())).unwrap_or_default()
}

fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name") || l.starts_with("Model") || l.starts_with("cpu model"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let n = info.lines().filter(|l| l.starts_with("processor")).count();
    format!("{model} ({n} CPUs)")
}

fn quote(a: &str) -> String {
    if !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:=,@+-%".contains(&b)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

impl Environment {
    pub fn now() -> Environment {
        Environment {
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            hostname: first_line("/proc/sys/kernel/hostname"),
            cpu: cpu(),
            command_line: std::env::args().map(|a| quote(&a)).collect::<Vec<_>>().join(" "),
        }
    }
}
