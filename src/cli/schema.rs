//! `schema`: the JSON Schema of a job file.

use super::exit;

/// Prints the schema.
pub fn run() -> anyhow::Result<u8> {
    print!("{}", crate::jobs::schema_json());
    Ok(exit::OK)
}
