//! Host analyzers (`spec.hostAnalyzers`). None is implemented yet: every host analyzer is
//! reported as unsupported until its module is added here.

use super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use serde_json::Value;

/// The results of the host analyzer `kind` with `body`; `None` when this build does not
/// implement `kind`.
pub(super) fn run(
    _ctx: &Ctx<'_>,
    _kind: &str,
    _body: &Value,
    _meta: &Meta,
) -> Option<Result<Vec<AnalyzeResult>, AnalyzerError>> {
    None
}
