//! Host `registryImages`: whether each image's manifest exists in its registry (registry v2 API:
//! `GET /v2/<repo>/manifests/<tag|digest>`, after the `/v2/` ping and its Basic or Bearer token
//! challenge), as troubleshoot does with go-containerregistry.
//!
//! Output: `host-collectors/registry-images/<collectorName|images>.json`, `{"images": {image:
//! {"exists": bool, "error"?: text}}}`.
//!
//! The registry client (TLS, schemes, challenges) is [`crate::collect::registry`], shared with the
//! in-cluster collector. Credentials come from the spec (`username`/`password`), else from the
//! agent's own Docker config ([`super::docker_config`]); credential helper programs are not run.

use super::output::{file_name, go_json};
use super::{Ctx, Error};
use crate::collect::registry::{Basic, Client, DEADLINE, parse_image_ref};
use serde::Serialize;
use std::collections::BTreeMap;

/// One image's entry (troubleshoot's `RegistryImage`).
#[derive(Debug, Serialize, PartialEq, Eq)]
struct RegistryImage {
    exists: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

#[derive(Serialize)]
struct RegistryInfo {
    images: BTreeMap<String, RegistryImage>,
}

/// The `registryImages` host collector.
pub async fn registry_images(ctx: &Ctx<'_>) -> Result<(), Error> {
    let client = Client::new()?;
    let username = ctx.str("username").unwrap_or("");
    let inline = (!username.is_empty()).then(|| Basic {
        username: username.to_string(),
        password: ctx.str("password").unwrap_or("").to_string(),
    });
    let mut info = RegistryInfo {
        images: BTreeMap::new(),
    };
    for image in ctx.strings("images") {
        let entry = match parse_image_ref(&image) {
            Err(e) => RegistryImage {
                exists: false,
                error: e.to_string(),
            },
            Ok(r) => {
                // No inline credentials: the agent's own Docker config, as troubleshoot's
                // ambient keychain.
                let ambient = match &inline {
                    Some(_) => None,
                    None => super::docker_config::credentials(&r.registry)
                        .await
                        .map(|(username, password)| Basic { username, password }),
                };
                let creds = inline.as_ref().or(ambient.as_ref());
                let check = tokio::time::timeout(DEADLINE, client.manifest_exists(&r, creds));
                let result = tokio::select! {
                    r = check => r.map_err(|_| "context deadline exceeded".to_string()),
                    () = ctx.cancel.cancelled() => return Err(Error::Cancelled),
                };
                match result {
                    Ok(Ok(exists)) => RegistryImage {
                        exists,
                        error: String::new(),
                    },
                    Ok(Err(e)) => RegistryImage {
                        exists: false,
                        error: format!("failed to get image manifest: {e}"),
                    },
                    Err(deadline) => RegistryImage {
                        exists: false,
                        error: format!("failed to get image manifest: {deadline}"),
                    },
                }
            }
        };
        info.images.insert(image, entry);
    }
    let json = go_json(&info, Some(2))?;
    let file = file_name(ctx.name.unwrap_or("images"), ".json");
    ctx.out
        .write(
            &["host-collectors", "registry-images", &file],
            json.as_bytes(),
        )
        .await?;
    Ok(())
}
