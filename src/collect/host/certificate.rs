//! `certificate`: checks that a certificate and a private key file form a valid pair.

use super::output::file_name;
use super::process::capture;
use super::{Ctx, Error};
use std::time::Duration;

/// What the PEM text alone says, before any cryptography.
pub fn classify_pem(cert: &str, key: &str) -> Option<&'static str> {
    let cert_has_cert = cert.contains("-----BEGIN CERTIFICATE-----");
    let key_has_key = key.contains("PRIVATE KEY-----");
    if !cert_has_cert
        && cert.contains("PRIVATE KEY-----")
        && key.contains("-----BEGIN CERTIFICATE-----")
    {
        return Some("key-pair-switched");
    }
    if key.contains("ENCRYPTED") {
        return Some("key-pair-encrypted");
    }
    if !cert_has_cert || !key_has_key {
        return Some("key-pair-invalid");
    }
    None
}

/// The `certificate` host collector: writes a bare JSON string (`key-pair-valid`, ...). The
/// public keys are compared with the `openssl` CLI (no crypto crate in this build).
pub async fn certificate(ctx: &Ctx<'_>) -> Result<(), Error> {
    let cert_path = ctx.required("certificatePath")?;
    let key_path = ctx.str("keyPath").unwrap_or("");
    let status = check(ctx, cert_path, key_path).await?;
    let file = file_name(ctx.name.unwrap_or("certificate"), ".json");
    ctx.out
        .write_json(&["host-collectors", "certificate", &file], &status)
        .await?;
    Ok(())
}

/// A PEM file's text; `None` when no path is given or the file does not exist. Through
/// tokio::fs: the paths come from the spec and may be on a slow network mount.
async fn read_pem(p: &str) -> Result<Option<String>, Error> {
    if p.is_empty() {
        return Ok(None);
    }
    match tokio::fs::read(p).await {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("read {p}"), e)),
    }
}

async fn check(ctx: &Ctx<'_>, cert_path: &str, key_path: &str) -> Result<&'static str, Error> {
    let (Some(cert), Some(key)) = (read_pem(cert_path).await?, read_pem(key_path).await?) else {
        return Ok("key-pair-missing");
    };
    if let Some(s) = classify_pem(&cert, &key) {
        return Ok(s);
    }
    let t = Duration::from_secs(30);
    let c = capture(
        "openssl",
        &["x509", "-in", cert_path, "-noout", "-pubkey"],
        t,
        ctx,
    )
    .await?;
    let k = capture("openssl", &["pkey", "-in", key_path, "-pubout"], t, ctx).await?;
    let ok = |r: &super::process::ExecResult| r.status.is_some_and(|s| s.success());
    if !ok(&c) || !ok(&k) {
        return Ok("key-pair-invalid");
    }
    Ok(if c.stdout.bytes() == k.stdout.bytes() {
        "key-pair-valid"
    } else {
        "key-pair-mismatch"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_classes() {
        let cert = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n";
        let enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n";
        assert_eq!(classify_pem(key, cert), Some("key-pair-switched"));
        assert_eq!(classify_pem(cert, enc), Some("key-pair-encrypted"));
        assert_eq!(classify_pem("junk", key), Some("key-pair-invalid"));
        assert_eq!(classify_pem(cert, key), None);
    }
}
