//! Errors a user can cause, each with one line naming the cause and the fix, and an exit code.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success (also when `rmw` loses updates: that is the known answer) |
//! | 1    | `compare`: a regression, the change's interval wholly beyond the margin (the report says where) |
//! | 2    | usage: an option or value is invalid; a file given to `compare`/`report` is not atsbench results, unreadable (`compare`), or nothing in it is comparable |
//! | 3    | target: missing, a directory, unsupported type, too small, region outside it; a results file is missing (`report`). `compare` alone: inconclusive |
//! | 4    | permission: access denied or a missing privilege |
//! | 5    | refused: the device holds a filesystem, partitions or is mounted (`--force`) |
//! | 6    | system limit: RLIMIT_MEMLOCK too low, io_uring disabled |
//! | 7    | unsupported: the device or kernel lacks a feature that was asked for |
//! | 8    | device: an I/O error during measurement; or the device went away mid-run (ENODEV, ENXIO, DID_NO_CONNECT): the point ended at once and the points measured so far were written; or, with `--on-timeout abort`, the kernel escalated beyond ABORT TASK (`ended_by: escalated`; results were written) |
//! | 9    | verification failed: a device-side or serialised ATS broke atomicity |
//! | 10   | rendezvous: the other hosts of a multi-host run were not seen in time, or one left |
//! | 11   | the device returned errors: a point's I/O error rate passed `--max-error-rate` (default 0: any error); results were written |
//! | 12   | `check`: a conformance check failed (the report, written in full, says which and why) |
//! | 70   | internal error (a bug: please report it) |
//! | 130  | interrupted (SIGINT or SIGTERM); the points measured so far were written |

use std::fmt;

/// An error that ends the run. The message is one line: the cause, then the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `compare`: the candidate regressed; the report has been written.
    #[error("{0}")]
    Regression(String),
    /// `compare`: a figure's interval straddles its margin; the report has been written.
    #[error("{0}")]
    Inconclusive(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Target(String),
    #[error("{0}")]
    Permission(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Limit(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Device(String),
    #[error("{0}")]
    Verification(String),
    #[error("{0}")]
    Rendezvous(String),
    /// The device returned I/O errors past `--max-error-rate`; the results have been written.
    #[error("{0}")]
    DeviceErrors(String),
    /// `check`: a conformance check failed; the report has been written.
    #[error("{0}")]
    CheckFailed(String),
    #[error("interrupted; the points measured so far were written")]
    Interrupted,
    #[error("internal error: {0} (this is a bug in atsbench; please report it)")]
    Internal(String),
}

impl Error {
    /// The process exit code documented in the README.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Internal(_) => 70,
            Error::Regression(_) => 1,
            // `compare` alone returns it; its own unreadable files are usage errors there.
            Error::Inconclusive(_) => 3,
            Error::Usage(_) => 2,
            Error::Target(_) => 3,
            Error::Permission(_) => 4,
            Error::Refused(_) => 5,
            Error::Limit(_) => 6,
            Error::Unsupported(_) => 7,
            Error::Device(_) => 8,
            Error::Verification(_) => 9,
            Error::Rendezvous(_) => 10,
            Error::DeviceErrors(_) => 11,
            Error::CheckFailed(_) => 12,
            Error::Interrupted => 130,
        }
    }

    pub fn usage(msg: impl fmt::Display) -> Self {
        Error::Usage(msg.to_string())
    }

    /// An output file (`-o`, `--plot`) that cannot be written: named as the option's value,
    /// with the fix.
    pub fn from_output(flag: &str, path: &std::path::Path, e: &std::io::Error) -> Self {
        let p = path.display();
        let folder =
            path.parent().filter(|f| !f.as_os_str().is_empty()).map_or(".".into(), |f| f.display().to_string());
        match e.raw_os_error() {
            Some(libc::ENOENT) => Error::Usage(format!(
                "{flag} {p}: the folder {folder} does not exist; create it (mkdir -p {folder}) or give another path"
            )),
            Some(libc::EISDIR) => Error::Usage(format!(
                "{flag} {p}: is a directory; give a file path for the results, e.g. {flag} {}",
                path.join("results.json").display()
            )),
            Some(libc::ENOTDIR) => {
                Error::Usage(format!("{flag} {p}: a part of the path is not a folder; give another path"))
            }
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => {
                Error::Permission(format!("{flag} {p}: cannot write there ({e}); give a path this user may write"))
            }
            _ => Error::Device(format!("{flag} {p}: writing the results failed: {e}")),
        }
    }

    /// Map an OS error met while opening or using `path` to the right class and fix.
    pub fn from_io(path: &std::path::Path, what: &str, e: &std::io::Error) -> Self {
        let p = path.display();
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENODEV) => {
                Error::Target(format!("{p}: no such file or device; check the path"))
            }
            Some(libc::EPERM) | Some(libc::EACCES) if nix::unistd::geteuid().is_root() => Error::Permission(format!(
                "{p}: not permitted while {what}, even as root; is it immutable or append-only (lsattr; chattr -i -a), \
                 or refused by a security policy (SELinux, AppArmor, a container)?"
            )),
            Some(libc::EACCES) | Some(libc::EPERM) => Error::Permission(format!(
                "{p}: permission denied while {what}; run as root or give this user read-write access to it"
            )),
            Some(libc::EROFS) => Error::Permission(format!(
                "{p}: read-only while {what}; use a writable target or a read-only workload (--workload read)"
            )),
            Some(libc::EBUSY) => Error::Refused(format!(
                "{p}: busy while {what} (held exclusively, e.g. mounted or in use by device-mapper); pick an unused device"
            )),
            Some(libc::EISDIR) => Error::Target(format!(
                "{p}: is a directory; give a regular file or a block device"
            )),
            _ => Error::Device(format!("{p}: {what}: {e}")),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct() {
        let all = [
            Error::Internal(String::new()),
            Error::Regression(String::new()),
            Error::Usage(String::new()),
            Error::Target(String::new()),
            Error::Permission(String::new()),
            Error::Refused(String::new()),
            Error::Limit(String::new()),
            Error::Unsupported(String::new()),
            Error::Device(String::new()),
            Error::Verification(String::new()),
            Error::Rendezvous(String::new()),
            Error::DeviceErrors(String::new()),
            Error::CheckFailed(String::new()),
            Error::Interrupted,
        ];
        let mut codes: Vec<i32> = all.iter().map(Error::exit_code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        // compare's own 3, which compare never uses for a target (its unreadable files exit 2).
        assert_eq!(Error::Inconclusive(String::new()).exit_code(), 3);
        assert_eq!(Error::DeviceErrors(String::new()).exit_code(), 11, "documented in docs/faults-and-errors.md");
    }

    #[test]
    fn io_errors_map_to_classes() {
        let p = std::path::Path::new("/dev/x");
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(Error::from_io(p, "opening", &e).exit_code(), 3);
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        let err = Error::from_io(p, "opening", &e);
        assert_eq!(err.exit_code(), 4);
        let root = nix::unistd::geteuid().is_root();
        assert_eq!(err.to_string().contains("run as root"), !root, "{err}");
        assert_eq!(err.to_string().contains("immutable"), root, "{err}");
        let e = std::io::Error::from_raw_os_error(libc::EISDIR);
        let err = Error::from_output("-o", std::path::Path::new("/tmp"), &e);
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("-o /tmp: is a directory") && err.to_string().contains("/tmp/results.json"));
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        let err = Error::from_output("-o", std::path::Path::new("/no/dir/x.json"), &e);
        assert!(err.to_string().contains("folder /no/dir does not exist"), "{err}");
    }
}
