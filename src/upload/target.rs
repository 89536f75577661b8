//! Where a job's bundles go: the `upload` entries of a job file (serde + schema types), owned by
//! the sinks that read them and named by the job file model (`jobs::model` re-exports them).

use crate::secret_ref::SecretRef;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn http_method() -> HttpMethod {
    HttpMethod::Put
}

/// One upload destination (exactly one of `s3`, `gcs`, `http`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UploadTarget {
    /// An S3 or S3-compatible bucket.
    S3(S3Target),
    /// A Google Cloud Storage bucket.
    Gcs(GcsTarget),
    /// An HTTP endpoint.
    Http(HttpTarget),
}

/// An S3 bucket; credentials come from the AWS default chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Target {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Object key template (`{job}`, `{runId}`, `{timestamp}`, `{hostname}`, `{node}`, `{cluster}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// AWS region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Endpoint URL of an S3-compatible store (MinIO, Ceph, R2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Path-style addressing (most S3-compatible stores need it).
    #[serde(default)]
    pub force_path_style: bool,
    /// Server-side encryption: `AES256` or `aws:kms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<String>,
    /// KMS key for `aws:kms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Storage class (`STANDARD`, `STANDARD_IA`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Object tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A GCS bucket; credentials come from Application Default Credentials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcsTarget {
    /// Bucket name.
    pub bucket: String,
    /// Object name prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Object name template (`{job}`, `{runId}`, `{timestamp}`, `{hostname}`, `{node}`, `{cluster}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Endpoint of an emulator or private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// An HTTP endpoint that receives the archive as the request body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpTarget {
    /// URL (http or https).
    pub url: String,
    /// `PUT` or `POST`.
    #[serde(default = "http_method")]
    pub method: HttpMethod,
    /// Request headers; values are secret references, never inline.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, SecretRef>,
    /// Bearer token for `Authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<SecretRef>,
    /// PEM file of extra CA certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// PEM client certificate for mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<String>,
    /// PEM client key for mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<String>,
}

/// HTTP method of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// PUT.
    Put,
    /// POST.
    Post,
}
