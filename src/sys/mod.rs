//! Every `unsafe` block and FFI declaration of atsbench lives under this module.
pub mod nvme;
pub mod sg;
