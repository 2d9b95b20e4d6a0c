//! The NVMe backend. (Being built; `target::nvme::open` refuses NVMe targets until then.)

use crate::cli::DeviceArgs;
use crate::engine::{Point, PointSpec};
use crate::error::{Error, Result};
use crate::target::Target;
use std::sync::atomic::AtomicBool;

pub fn measure(_target: &Target, _spec: &PointSpec, _stop: &AtomicBool, _dev: &DeviceArgs) -> Result<Point> {
    Err(Error::Unsupported("the nvme backend is not built yet".into()))
}
