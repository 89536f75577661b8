//! What changed between two bundles: each bundle is reduced to a [`Fingerprint`] (keys and
//! hashes, one streaming pass), and [`compare`] turns two fingerprints into [`Changes`]. Used by
//! `diff A B` and, after every run, against the fingerprint of the job's previous completed run
//! (`jobs/<job>/changes/<run-id>.fingerprint.json`), giving `changes/<run-id>.json` and the
//! record's `changes` summary. The JSON shapes are documented in docs/changes.md.

mod compare;
mod fingerprint;
mod stable;

pub use crate::state::records::ChangesRecord as Summary;
pub use compare::{Category, Changes, CountChange, Counts, ObjectChanges, ValueChange, compare};
pub use fingerprint::{FINGERPRINT_VERSION, Fingerprint, FingerprintError};

/// Changes between the bundles at `old` and `new` (directories or `.tar.gz`).
pub fn diff_paths(
    old: &std::path::Path,
    new: &std::path::Path,
) -> Result<Changes, FingerprintError> {
    let old = Fingerprint::of_path(old)?;
    let new = Fingerprint::of_path(new)?;
    Ok(compare(&old, &new))
}

#[cfg(test)]
mod tests;
