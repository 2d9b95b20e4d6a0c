//! The SCSI generic (sg) driver: sg_io_hdr and its ioctls.
