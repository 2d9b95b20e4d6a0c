//! NVMe command encoding and completion status decoding.
