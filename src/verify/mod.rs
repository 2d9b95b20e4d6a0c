//! Miscompare classification and verification of the ATS history.
pub mod claims;
pub mod classify;
pub mod history;
