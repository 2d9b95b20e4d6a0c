//! Miscompare classification and verification of the ATS history.
pub mod classify;
pub mod history;
