//! IANA time zone names → `chrono_tz::Tz`, refusing anything host-dependent.

use chrono_tz::{TZ_VARIANTS, Tz};

use super::ScheduleError;

/// Parses an IANA zone name exactly as chrono-tz spells it.
pub(crate) fn parse_zone(name: &str) -> Result<Tz, ScheduleError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ScheduleError::EmptyZone);
    }
    // "Local" would tie fire times to whatever /etc/localtime says on each host.
    if trimmed.eq_ignore_ascii_case("local") || trimmed.eq_ignore_ascii_case("localtime") {
        return Err(ScheduleError::LocalZone {
            zone: trimmed.to_string(),
        });
    }
    trimmed
        .parse::<Tz>()
        .map_err(|_| ScheduleError::UnknownZone {
            zone: trimmed.to_string(),
            suggestion: suggest(trimmed),
        })
}

/// The closest known zone name, when it is close enough to be a plausible typo.
fn suggest(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    TZ_VARIANTS
        .iter()
        .map(|tz| {
            let candidate = tz.name();
            (
                strsim::jaro_winkler(&lower, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(score, _)| *score >= 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iana_names() {
        assert_eq!(parse_zone("UTC").unwrap(), Tz::UTC);
        assert_eq!(
            parse_zone(" America/New_York ").unwrap(),
            Tz::America__New_York
        );
        assert_eq!(
            parse_zone("Australia/Lord_Howe").unwrap(),
            Tz::Australia__Lord_Howe
        );
    }

    #[test]
    fn rejects_empty_local_and_unknown() {
        assert_eq!(parse_zone("  "), Err(ScheduleError::EmptyZone));
        assert!(matches!(
            parse_zone("Local"),
            Err(ScheduleError::LocalZone { .. })
        ));
        assert!(matches!(
            parse_zone("Mars/Olympus"),
            Err(ScheduleError::UnknownZone { .. })
        ));
    }

    #[test]
    fn suggests_close_names() {
        match parse_zone("america/new_york") {
            Err(ScheduleError::UnknownZone { suggestion, .. }) => {
                assert_eq!(suggestion.as_deref(), Some("America/New_York"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
