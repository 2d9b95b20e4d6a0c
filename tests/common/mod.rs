//! Helpers shared by the integration tests. Each test file is its own crate and uses a part of
//! them, so the parts it leaves are not dead code.
#![allow(dead_code)]

pub mod source;
