//! The two exposition formats of `/metrics`. The registry encodes OpenMetrics, which Prometheus
//! asks for; anything else (curl, `promtool check metrics`, older scrapers) gets the classic
//! text format 0.0.4, as Prometheus' own client libraries negotiate. The formats differ only in
//! a counter's family name (`x` with samples `x_total` in OpenMetrics, `x_total` in text), the
//! escapes a HELP text may hold and the closing `# EOF`.

/// OpenMetrics' content type.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The text format's content type.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a request's `Accept` header asks for OpenMetrics.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

/// The text format 0.0.4 of an OpenMetrics exposition.
pub fn to_text_format(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let suffix = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                // Text format HELP escapes only `\\` and `\n`; OpenMetrics also escapes `"`.
                let tail = if prefix == "# HELP " {
                    tail.replace("\\\"", "\"")
                } else {
                    tail.to_string()
                };
                out.push_str(&format!("{prefix}{name}{suffix} {tail}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_their_sample_name_and_eof_goes() {
        let om = "# HELP a_runs Runs by \\\"status\\\".\n# TYPE a_runs counter\na_runs_total{status=\"ok\"} 1\n# HELP a_jobs Jobs.\n# TYPE a_jobs gauge\na_jobs 2\n# HELP a_d Wall time.\n# TYPE a_d histogram\na_d_bucket{le=\"1.0\"} 0\na_d_sum 0.0\na_d_count 0\n# EOF\n";
        assert_eq!(
            to_text_format(om),
            "# HELP a_runs_total Runs by \"status\".\n# TYPE a_runs_total counter\na_runs_total{status=\"ok\"} 1\n# HELP a_jobs Jobs.\n# TYPE a_jobs gauge\na_jobs 2\n# HELP a_d Wall time.\n# TYPE a_d histogram\na_d_bucket{le=\"1.0\"} 0\na_d_sum 0.0\na_d_count 0\n"
        );
    }

    #[test]
    fn prometheus_gets_openmetrics_and_everyone_else_text() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(Some(prometheus)));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        assert!(!wants_openmetrics(None));
    }
}
