// Copyright 2024 Google LLC
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     https://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! Telemetry header helpers.

#[cfg(feature = "_internal-grpc-client")]
use google_cloud_gax::client_builder::internal::Extensions;
#[cfg(feature = "_internal-grpc-client")]
use google_cloud_gax::error::Error;
#[cfg(feature = "_internal-grpc-client")]
use http::HeaderValue;

/// Generated libraries create one static instance of this struct and use it
/// to lazy initialize (via [std::sync::LazyLock]) the x-goog-api-client header
/// value.
#[derive(Debug, PartialEq)]
pub struct XGoogApiClient {
    pub name: &'static str,
    pub library_type: &'static str,
    pub version: &'static str,
}

pub const GAPIC: &str = "gapic";
pub const GCCL: &str = "gccl";

mod build_info {
    // The file has been placed there by the build script.
    include!(concat!(env!("OUT_DIR"), "/build_env.rs"));

    pub(crate) const PKG_VERSION: &str = env!("CARGO_PKG_VERSION");
}

impl XGoogApiClient {
    /// Format the struct as needed for the `x-goog-api-client` header.
    pub fn rest_header_value(&self) -> String {
        // Strip out the initial "rustc " string from `RUSTC_VERSION`. If not
        // found, leave RUSTC_VERSION unchanged.
        let rustc_version = build_info::RUSTC_VERSION;
        let rustc_version = rustc_version
            .strip_prefix("rustc ")
            .unwrap_or(build_info::RUSTC_VERSION);

        // Capture the gax version too.
        let gax_version = build_info::PKG_VERSION;

        format!(
            "gl-rust/{rustc_version} gax/{gax_version} rest/{gax_version}-reqwest {}/{}",
            self.library_type, self.version
        )
    }

    /// Format the struct as needed for the `x-goog-api-client` header.
    pub fn grpc_header_value(&self) -> String {
        // Strip out the initial "rustc " string from `RUSTC_VERSION`. If not
        // found, leave RUSTC_VERSION unchanged.
        let rustc_version = build_info::RUSTC_VERSION;
        let rustc_version = rustc_version
            .strip_prefix("rustc ")
            .unwrap_or(build_info::RUSTC_VERSION);

        // Capture the gax version too.
        let gax_version = build_info::PKG_VERSION;

        format!(
            "gl-rust/{rustc_version} gax/{gax_version} grpc/{gax_version}-tonic {}/{}",
            self.library_type, self.version
        )
    }
}

/// Resolves the effective `x-goog-api-client` header value for a gRPC request.
///
/// Precedence order:
/// 1. Client-level `XGoogApiClient`
/// 2. Default static header value
#[cfg(feature = "_internal-grpc-client")]
pub(crate) fn resolve_grpc_header_value(
    extensions: &Extensions,
    default_header: &'static str,
) -> Result<HeaderValue, Error> {
    if let Some(h) = extensions.get::<XGoogApiClient>() {
        return HeaderValue::from_str(&h.grpc_header_value()).map_err(Error::ser);
    }
    Ok(HeaderValue::from_static(default_header))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn breakdown(formatted: &str) -> HashMap<String, String> {
        formatted
            .split(" ")
            .filter_map(|v| v.find('/').map(|i| v.split_at(i)))
            .map(|(k, v)| (k, &v[1..]))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn test_format_rest() {
        let header = XGoogApiClient {
            name: "unused",
            version: "1.2.3",
            library_type: GCCL,
        };
        let fields = breakdown(header.rest_header_value().as_str());

        let got = fields.get(GCCL).map(String::to_owned);
        assert_eq!(got.as_deref(), Some("1.2.3"));

        let got = fields.get("gax").map(String::to_owned);
        assert_eq!(got.as_deref(), Some(build_info::PKG_VERSION));

        let got = fields.get("grpc");
        assert!(got.is_none(), "{fields:?}");

        let got = fields.get("rest");
        assert!(got.is_some(), "{fields:?}");

        let got = fields.get("gl-rust").map(String::to_owned);
        let want = build_info::RUSTC_VERSION;
        assert!(
            got.as_ref()
                .map(|s| want.contains(s) && !s.is_empty())
                .unwrap_or(false),
            "mismatched rustc version {want} and {got:?}"
        );
    }

    #[test]
    fn test_format_grpc() {
        let header = XGoogApiClient {
            name: "unused",
            version: "1.2.3",
            library_type: GCCL,
        };
        let fields = breakdown(header.grpc_header_value().as_str());

        let got = fields.get(GCCL).map(String::to_owned);
        assert_eq!(got.as_deref(), Some("1.2.3"));

        let got = fields.get("gax").map(String::to_owned);
        assert_eq!(got.as_deref(), Some(build_info::PKG_VERSION));

        let got = fields.get("grpc");
        assert!(got.is_some(), "{fields:?}");

        let got = fields.get("rest");
        assert!(got.is_none(), "{fields:?}");

        let got = fields.get("gl-rust").map(String::to_owned);
        let want = build_info::RUSTC_VERSION;
        assert!(
            got.as_ref()
                .map(|s| want.contains(s) && !s.is_empty())
                .unwrap_or(false),
            "mismatched rustc version {want} and {got:?}"
        );
    }

    #[cfg(feature = "_internal-grpc-client")]
    #[test]
    fn test_resolve_grpc_default() {
        let extensions = Extensions::new();
        let resolved = resolve_grpc_header_value(&extensions, "default-header")
            .expect("should resolve default header");
        assert_eq!(
            resolved.to_str().expect("valid header string"),
            "default-header"
        );
    }

    #[cfg(feature = "_internal-grpc-client")]
    #[test]
    fn test_resolve_grpc_client_extension() {
        let mut extensions = Extensions::new();
        extensions.insert(XGoogApiClient {
            name: "storage",
            library_type: GCCL,
            version: "0.1.0",
        });

        let resolved = resolve_grpc_header_value(&extensions, "default-header")
            .expect("should resolve client extension header");
        let val = resolved.to_str().expect("valid header string");
        assert!(val.contains("gccl/0.1.0"), "{val}");
        assert!(val.contains("grpc/"), "{val}");
    }
}
