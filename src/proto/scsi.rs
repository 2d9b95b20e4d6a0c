//! SCSI CDB encoding and sense decoding.
