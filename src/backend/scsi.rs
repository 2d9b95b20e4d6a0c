//! The SCSI backend. (Being built; `target::scsi::open` refuses SCSI targets until then.)

use crate::cli::DeviceArgs;
use crate::engine::{Point, PointSpec};
use crate::error::{Error, Result};
use crate::target::Target;
use std::sync::atomic::AtomicBool;

pub fn measure(_target: &Target, _spec: &PointSpec, _stop: &AtomicBool, _dev: &DeviceArgs) -> Result<Point> {
    Err(Error::Unsupported("the scsi backend is not built yet".into()))
}
