//! Opening and describing SCSI generic devices. (The SCSI backend is being built; until then this
//! says so with the "unsupported" exit code.)

use super::Target;
use crate::cli::DeviceArgs;
use crate::error::{Error, Result};
use std::path::Path;

pub fn open(path: &Path, _writes: bool, _force: bool, _dev: &DeviceArgs) -> Result<Target> {
    Err(Error::Unsupported(format!("{}: the scsi backend is not built yet", path.display())))
}
