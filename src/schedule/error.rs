//! Errors from parsing a schedule; each message says what is wrong and what to write instead.

/// Why a cron expression or time zone was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression is empty or only whitespace.
    #[error(
        "the schedule is empty; write 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\", or a macro such as @daily"
    )]
    Empty,
    /// The expression carries a `TZ=` or `CRON_TZ=` prefix.
    #[error(
        "\"{prefix}\" inside the schedule is not supported; remove it and set `timeZone: {zone}` on the job instead"
    )]
    ZoneInExpression {
        /// The prefix as written, e.g. `TZ=`.
        prefix: String,
        /// The zone named after the prefix.
        zone: String,
    },
    /// Six fields were given: the first is taken to be seconds.
    #[error(
        "6 fields: seconds are not supported; use 5 fields (minute hour day-of-month month day-of-week)"
    )]
    SecondsField,
    /// Seven fields were given: seconds and years.
    #[error(
        "7 fields: seconds and years are not supported; use 5 fields (minute hour day-of-month month day-of-week)"
    )]
    SecondsAndYearFields,
    /// Some other number of fields.
    #[error(
        "{found} field(s): a schedule needs exactly 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\""
    )]
    FieldCount {
        /// How many whitespace-separated fields were found.
        found: usize,
    },
    /// An `@macro` that is not one of the supported ones (e.g. `@reboot`).
    #[error(
        "\"{name}\" is not supported; use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, or 5 fields"
    )]
    UnknownMacro {
        /// The macro as written.
        name: String,
    },
    /// One field could not be parsed or is out of range.
    #[error("{field} field \"{text}\": {reason}")]
    InvalidField {
        /// The field's name, e.g. `day-of-month`.
        field: &'static str,
        /// The field as written.
        text: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The expression is well formed but no date ever matches it.
    #[error(
        "\"{expr}\" can never fire: no date matches its day-of-month, month and day-of-week fields; check them (e.g. February has at most 29 days)"
    )]
    NeverFires {
        /// The expression as written.
        expr: String,
    },
    /// The time zone is empty.
    #[error(
        "the time zone is empty; set an IANA zone name such as \"UTC\" or \"America/New_York\""
    )]
    EmptyZone,
    /// The time zone is `Local`, which would make fire times depend on the host's settings.
    #[error(
        "time zone \"{zone}\" is not allowed: fire times must not depend on the host's settings; set an IANA zone name such as \"UTC\" or \"Europe/Berlin\""
    )]
    LocalZone {
        /// The zone as written.
        zone: String,
    },
    /// The time zone is not a known IANA zone name.
    #[error("unknown time zone \"{zone}\"; use an IANA zone name{}", suggestion_text(.suggestion))]
    UnknownZone {
        /// The zone as written.
        zone: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
    },
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(name) => format!(" (did you mean \"{name}\"?)"),
        None => " such as \"UTC\" or \"America/New_York\"".to_string(),
    }
}
