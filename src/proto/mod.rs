//! Pure encoders and decoders of device commands: no I/O, no unsafe.
pub mod nvme;
pub mod scsi;
