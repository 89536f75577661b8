//! `tokens decrypt`: prints the token map of a tokenizing run (token → original value) as JSON.
//!
//! The map is written encrypted (AES-256-GCM, JSON envelope) outside the bundle, under the key in
//! the `tokenMapKeyFile` setting; only the holder of that key can read it.

use super::args::{GlobalArgs, TokensDecryptArgs};
use super::{exit, settings};
use anyhow::{Context as _, bail};

/// Runs `tokens decrypt`.
pub fn decrypt(global: &GlobalArgs, args: &TokensDecryptArgs) -> anyhow::Result<u8> {
    let key_file = match &args.key_file {
        Some(k) => k.clone(),
        None => match settings(global)?.token_map_key_file {
            Some(k) => k,
            None => bail!("no key: pass --key-file, or set tokenMapKeyFile in the settings"),
        },
    };
    let key = crate::redact::tokenize::load_key(&key_file)?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let map = crate::redact::decrypt_map(&bytes, &key)
        .with_context(|| format!("{}", args.file.display()))?;
    println!("{}", serde_json::to_string_pretty(&map)?);
    Ok(exit::OK)
}
