//! Host `registryImages`: which images the registry has, from
//! `host-collectors/registry-images/<collectorName|images>.json`.

use super::super::outcome::{self, Op};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RegistryInfo {
    images: Option<BTreeMap<String, RegistryImage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RegistryImage {
    exists: bool,
    error: String,
}

/// The images sorted into verified, missing and failed, with the reason of each unverified one.
#[derive(Debug, Default)]
struct Summary {
    verified: Vec<String>,
    missing: Vec<String>,
    errors: Vec<String>,
    reasons: BTreeMap<String, String>,
}

impl Summary {
    fn of(info: RegistryInfo) -> Summary {
        let mut s = Summary::default();
        for (image, i) in info.images.unwrap_or_default() {
            if !i.error.is_empty() {
                s.reasons.insert(image.clone(), i.error);
                s.errors.push(image);
            } else if !i.exists {
                s.reasons
                    .insert(image.clone(), "image not found in registry".into());
                s.missing.push(image);
            } else {
                s.verified.push(image);
            }
        }
        s
    }

    /// `verified|missing|errors <op> <n>`.
    fn holds(&self, when: &str) -> Result<bool, AnalyzerError> {
        let parts: Vec<&str> = when.trim().split(' ').collect();
        let [term, op, desired] = parts.as_slice() else {
            return Err(AnalyzerError::spec(format!(
                "unable to parse conditional: {when}"
            )));
        };
        let actual = match *term {
            "verified" => self.verified.len(),
            "missing" => self.missing.len(),
            "errors" => self.errors.len(),
            other => {
                return Err(AnalyzerError::spec(format!(
                    "unknown term {other:?} in conditional (verified, missing or errors)"
                )));
            }
        };
        let desired: i64 = desired.parse().map_err(|_| {
            AnalyzerError::spec(format!(
                "failed to compare number of {term} images: cannot parse {desired:?}"
            ))
        })?;
        match Op::parse(op) {
            Some(Op::Ne) | None => Err(AnalyzerError::spec(format!("unknown operator: {op}"))),
            Some(op) => Ok(op.holds(i64::try_from(actual).unwrap_or(i64::MAX), desired)),
        }
    }

    /// A message template rendered over the summary (`{{ .Missing }}`, ...); a template that
    /// does not render leaves the message as written, as troubleshoot.
    fn render(&self, message: &str) -> String {
        let data = json!({
            "Verified": self.verified,
            "Missing": self.missing,
            "Errors": self.errors,
            "UnverifiedReasons": self.reasons,
        });
        template::render(message, &data, Missing::Empty).unwrap_or_else(|e| {
            tracing::debug!("registryImages message template: {e}");
            message.to_string()
        })
    }
}

pub(super) fn registry_images(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    const BASE: &str = "host-collectors/registry-images";
    let file = format!("{}.json", common::collector_name(body, "images"));
    let title = meta.title("Registry Images");
    let outcomes = outcome::parse(body)?;
    let files = common::collected(ctx, &format!("{BASE}/{file}"), BASE, &file)?;
    common::judged_per_file(
        &files,
        &title,
        |f| {
            let summary = Summary::of(f.decode("registry info")?);
            let hit = outcome::first_match(&outcomes, |when| {
                summary
                    .holds(when)
                    .map_err(|e| common::compare_error(when, e))
            })?;
            Ok(hit.map(|o| (o, summary)))
        },
        |o, summary| summary.render(&o.message),
    )
}
