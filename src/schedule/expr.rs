//! Parsing and validating the 5-field cron expression (Vixie syntax) into bit sets.
//!
//! Every field is parsed here, which gives precise error messages, keeps names out of the fields
//! they do not belong to, and rejects the non-Vixie extensions other crons accept (`L`, `W`, `#`,
//! `?`, `+`). The bit sets drive everything else: the never-firing check, the minimum interval,
//! missed-fire counting and the civil-time search (`civil`), which tests check against croner.

use chrono::{Datelike, NaiveDate};

use super::ScheduleError;

/// One field's grammar: its name, its numeric range and the names it accepts.
struct FieldKind {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldKind = FieldKind {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldKind = FieldKind {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: FieldKind = FieldKind {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
// Index 0 is unused so that a name's index is its month number.
const MONTH: FieldKind = FieldKind {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
// 7 is accepted and folded onto 0: both are Sunday in Vixie cron.
const DAY_OF_WEEK: FieldKind = FieldKind {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

/// The parsed fields as bit sets, plus the Vixie flags that change their meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fields {
    /// Bit n set = minute n.
    pub minutes: u64,
    /// Bit n set = hour n.
    pub hours: u32,
    /// Bit n set = day n of the month (bit 0 unused).
    pub days: u32,
    /// Bit n set = month n (bit 0 unused).
    pub months: u16,
    /// Bit n set = weekday n, 0 = Sunday (7 already folded onto 0).
    pub weekdays: u8,
    /// Day-of-month field starts with `*` (Vixie's DOM_STAR).
    pub dom_star: bool,
    /// Day-of-week field starts with `*` (Vixie's DOW_STAR).
    pub dow_star: bool,
}

impl Fields {
    /// Vixie's day rule: OR when both day fields are restricted, AND when either starts with `*`.
    pub fn day_matches(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Number of fire times on a matching day.
    pub fn fires_per_day(&self) -> u64 {
        u64::from(self.minutes.count_ones()) * u64::from(self.hours.count_ones())
    }

    /// Matching times of day, in minutes after midnight, ascending.
    pub fn minutes_of_day(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.fires_per_day() as usize);
        for hour in bits(u64::from(self.hours)) {
            for minute in bits(self.minutes) {
                out.push(hour * 60 + minute);
            }
        }
        out
    }
}

/// The set bit positions of `mask`, ascending.
fn bits(mask: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |bit| mask & (1u64 << bit) != 0)
}

/// A fully validated expression.
#[derive(Debug, Clone)]
pub(crate) struct ParsedExpr {
    /// The five fields, macros expanded, names replaced by numbers, space-separated.
    pub normalized: Box<str>,
    /// Bit sets and flags.
    pub fields: Fields,
    /// Vixie's rule: neither the minute nor the hour field starts with `*`.
    pub fixed_time: bool,
}

/// Expands the supported macros; `None` for anything that is not a macro.
fn expand_macro(expr: &str) -> Result<Option<&'static str>, ScheduleError> {
    if !expr.starts_with('@') {
        return Ok(None);
    }
    let expanded = match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(ScheduleError::UnknownMacro {
                name: expr.to_string(),
            });
        }
    };
    Ok(Some(expanded))
}

/// Rejects `TZ=`/`CRON_TZ=` prefixes, which some crons accept but which would hide the zone
/// from `timeZone`.
fn reject_zone_prefix(expr: &str) -> Result<(), ScheduleError> {
    let first = expr.split_whitespace().next().unwrap_or_default();
    if let Some((prefix, zone)) = first.split_once('=') {
        return Err(ScheduleError::ZoneInExpression {
            prefix: format!("{prefix}="),
            zone: zone.to_string(),
        });
    }
    Ok(())
}

/// Parses and validates `expr`: field count, syntax, ranges, and that some date matches.
pub(crate) fn parse_expr(expr: &str) -> Result<ParsedExpr, ScheduleError> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(ScheduleError::Empty);
    }
    reject_zone_prefix(trimmed)?;
    let source = expand_macro(trimmed)?.unwrap_or(trimmed);
    let parts: Vec<&str> = source.split_whitespace().collect();
    match parts.len() {
        5 => {}
        6 => return Err(ScheduleError::SecondsField),
        7 => return Err(ScheduleError::SecondsAndYearFields),
        found => return Err(ScheduleError::FieldCount { found }),
    }

    let kinds = [&MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK];
    let mut masks = [0u64; 5];
    let mut normalized: [String; 5] = Default::default();
    for (i, kind) in kinds.iter().enumerate() {
        let (mask, text) = parse_field(parts[i], kind)?;
        masks[i] = mask;
        normalized[i] = text;
    }
    // Fold 7 onto 0: both mean Sunday.
    let weekdays = ((masks[4] & 0x7f) | (masks[4] >> 7)) as u8 & 0x7f;
    let fields = Fields {
        minutes: masks[0],
        hours: masks[1] as u32,
        days: masks[2] as u32,
        months: masks[3] as u16,
        weekdays,
        dom_star: parts[2].starts_with('*'),
        dow_star: parts[4].starts_with('*'),
    };
    let fixed_time = !parts[0].starts_with('*') && !parts[1].starts_with('*');

    if !any_day_matches(&fields) {
        return Err(ScheduleError::NeverFires {
            expr: trimmed.to_string(),
        });
    }

    Ok(ParsedExpr {
        normalized: normalized.join(" ").into_boxed_str(),
        fields,
        fixed_time,
    })
}

/// Whether any calendar date matches the day fields. Only the AND case can fail: with OR,
/// every weekday occurs in every month.
fn any_day_matches(fields: &Fields) -> bool {
    if !(fields.dom_star || fields.dow_star) {
        return true;
    }
    // The Gregorian calendar repeats every 400 years, weekdays included.
    (2000..2400).any(|year| {
        (1..=12u32).any(|month| {
            fields.months & (1 << month) != 0
                && (1..=31u32).any(|day| {
                    fields.days & (1 << day) != 0
                        && NaiveDate::from_ymd_opt(year, month, day)
                            .is_some_and(|date| fields.day_matches(date))
                })
        })
    })
}

/// Parses one field into a bit mask and its normalized text (names replaced by numbers).
fn parse_field(text: &str, kind: &FieldKind) -> Result<(u64, String), ScheduleError> {
    let invalid = |reason: String| ScheduleError::InvalidField {
        field: kind.name,
        text: text.to_string(),
        reason,
    };
    if let Some(bad) = text.chars().find(|c| {
        matches!(c, '#' | '?' | '+')
            || (kind.names.is_empty() && c.is_ascii_alphabetic() && "LlWw".contains(*c))
    }) {
        return Err(invalid(format!(
            "'{bad}' is an extension Vixie cron does not have; use numbers, ranges (a-b), steps (*/n, a-b/n) and lists (a,b)"
        )));
    }
    let mut mask = 0u64;
    let mut items = Vec::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(invalid(
                "empty list element; separate values with single commas, e.g. 1,15".to_string(),
            ));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u32 = parse_digits(step).ok_or_else(|| {
                    invalid(format!(
                        "step \"{step}\" is not a number; write */n or a-b/n"
                    ))
                })?;
                if step == 0 {
                    return Err(invalid(
                        "a step of 0 never advances; use 1 or more".to_string(),
                    ));
                }
                (base, Some(step))
            }
            None => (item, None),
        };
        let (low, high, base_text) = if base == "*" {
            (kind.min, kind.max, "*".to_string())
        } else if let Some((a, b)) = base.split_once('-') {
            let low = parse_value(a, kind).map_err(|e| invalid(e.to_string()))?;
            let high = parse_value(b, kind).map_err(|e| invalid(e.to_string()))?;
            if low > high {
                return Err(invalid(format!(
                    "range {a}-{b} runs backwards; write the smaller value first or use a list"
                )));
            }
            (low, high, format!("{low}-{high}"))
        } else {
            let value = parse_value(base, kind).map_err(|e| invalid(e.to_string()))?;
            if step.is_some() {
                // Vixie reads "5/10" as an error; cronie and croner's sloppy mode disagree
                // on what it means, so it is refused rather than guessed.
                return Err(invalid(format!(
                    "\"{item}\" steps from a single value; write {value}-{}/n or */n",
                    kind.max
                )));
            }
            (value, value, value.to_string())
        };
        let step_by = step.unwrap_or(1);
        let mut value = low;
        while value <= high {
            mask |= 1u64 << value;
            value += step_by;
        }
        items.push(match step {
            Some(step) => format!("{base_text}/{step}"),
            None => base_text,
        });
    }
    Ok((mask, items.join(",")))
}

/// Parses plain ASCII digits; `str::parse` would also take a leading `+`.
fn parse_digits(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Why one value of a field is not valid (the `reason` of [`ScheduleError::InvalidField`]).
#[derive(Debug, thiserror::Error)]
enum BadValue {
    /// A number outside the field's range.
    #[error("{value} is out of range; allowed {min}-{max}")]
    OutOfRange { value: u32, min: u32, max: u32 },
    /// Not a number, in a field without names.
    #[error("\"{text}\" is not a number in {min}-{max}")]
    NotANumber { text: String, min: u32, max: u32 },
    /// Neither a number nor one of the field's names.
    #[error("\"{text}\" is neither a number in {min}-{max} nor one of {names}")]
    NotANumberOrName {
        text: String,
        min: u32,
        max: u32,
        names: String,
    },
}

/// Parses a number or, where the field allows it, a three-letter name.
fn parse_value(text: &str, kind: &FieldKind) -> Result<u32, BadValue> {
    let (min, max) = (kind.min, kind.max);
    if let Some(value) = parse_digits(text) {
        if value < min || value > max {
            return Err(BadValue::OutOfRange { value, min, max });
        }
        return Ok(value);
    }
    if let Some(index) = kind
        .names
        .iter()
        .position(|name| !name.is_empty() && name.eq_ignore_ascii_case(text))
    {
        return Ok(index as u32);
    }
    let text = text.to_string();
    if kind.names.is_empty() {
        Err(BadValue::NotANumber { text, min, max })
    } else {
        let names: Vec<&str> = kind
            .names
            .iter()
            .copied()
            .filter(|n| !n.is_empty())
            .collect();
        Err(BadValue::NotANumberOrName {
            text,
            min,
            max,
            names: names.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(expr: &str) -> Fields {
        parse_expr(expr).unwrap().fields
    }

    #[test]
    fn parses_lists_ranges_steps_and_names() {
        let f = fields("0,30 9-17/4 1,15 JAN-mar mon-FRI");
        assert_eq!(f.minutes, (1 << 0) | (1 << 30));
        assert_eq!(f.hours, (1 << 9) | (1 << 13) | (1 << 17));
        assert_eq!(f.days, (1 << 1) | (1 << 15));
        assert_eq!(f.months, 0b1110);
        assert_eq!(f.weekdays, 0b0111110);
        assert!(!f.dom_star && !f.dow_star);
    }

    #[test]
    fn sunday_is_0_and_7() {
        assert_eq!(fields("0 9 * * 7").weekdays, 1);
        assert_eq!(fields("0 9 * * 0").weekdays, 1);
        assert_eq!(fields("0 9 * * 5-7").weekdays, 0b1100001);
        assert_eq!(fields("0 9 * * *").weekdays, 0x7f);
    }

    #[test]
    fn expands_macros() {
        for (mac, expect) in [
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@HOURLY", "0 * * * *"),
        ] {
            assert_eq!(&*parse_expr(mac).unwrap().normalized, expect);
        }
        assert!(matches!(
            parse_expr("@reboot"),
            Err(ScheduleError::UnknownMacro { .. })
        ));
    }

    #[test]
    fn fixed_time_follows_vixie_rule() {
        assert!(parse_expr("30 1,13 * * *").unwrap().fixed_time);
        assert!(parse_expr("15 0-3 * * *").unwrap().fixed_time);
        assert!(!parse_expr("*/30 * * * *").unwrap().fixed_time);
        assert!(!parse_expr("0 * * * *").unwrap().fixed_time);
        assert!(!parse_expr("* 2 * * *").unwrap().fixed_time);
    }

    #[test]
    fn star_flags_follow_first_character() {
        let f = fields("0 0 */2 * MON");
        assert!(f.dom_star && !f.dow_star);
        let f = fields("0 0 13 * */2");
        assert!(!f.dom_star && f.dow_star);
    }

    #[test]
    fn rejects_bad_fields() {
        for bad in [
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * 32 * *",
            "* * * 13 *",
            "* * * * 8",
            "5/10 * * * *",
            "*/0 * * * *",
            "10-5 * * * *",
            "1,,2 * * * *",
            "* * L * *",
            "* * 15W * *",
            "* * * * 5#3",
            "* * ? * *",
            "* * * * +1",
            "MON * * * *",
            "* * * MON *",
            "* * * * JAN",
            "a b c d e",
        ] {
            assert!(
                matches!(parse_expr(bad), Err(ScheduleError::InvalidField { .. })),
                "{bad} -> {:?}",
                parse_expr(bad)
            );
        }
    }

    #[test]
    fn rejects_field_counts_and_prefixes() {
        assert_eq!(parse_expr(" ").unwrap_err(), ScheduleError::Empty);
        assert_eq!(
            parse_expr("0 0 2 * * *").unwrap_err(),
            ScheduleError::SecondsField
        );
        assert_eq!(
            parse_expr("0 0 2 * * * 2025").unwrap_err(),
            ScheduleError::SecondsAndYearFields
        );
        assert_eq!(
            parse_expr("* * *").unwrap_err(),
            ScheduleError::FieldCount { found: 3 }
        );
        assert!(matches!(
            parse_expr("TZ=UTC 0 * * * *"),
            Err(ScheduleError::ZoneInExpression { .. })
        ));
        assert!(matches!(
            parse_expr("CRON_TZ=Europe/Paris 0 * * * *"),
            Err(ScheduleError::ZoneInExpression { .. })
        ));
    }

    #[test]
    fn detects_never_firing() {
        assert!(matches!(
            parse_expr("0 0 30 2 *"),
            Err(ScheduleError::NeverFires { .. })
        ));
        assert!(matches!(
            parse_expr("0 0 31 4,6,9,11 *"),
            Err(ScheduleError::NeverFires { .. })
        ));
        assert!(parse_expr("0 0 29 2 *").is_ok());
        // OR semantics: the Mondays keep it alive.
        assert!(parse_expr("0 0 30 2 MON").is_ok());
        // AND via the star-step quirk: Feb 30 on any weekday never exists.
        assert!(matches!(
            parse_expr("0 0 30 2 */1"),
            Err(ScheduleError::NeverFires { .. })
        ));
    }

    #[test]
    fn day_rule_is_vixie() {
        let or = fields("0 9 13 * FRI");
        let friday = NaiveDate::from_ymd_opt(2025, 6, 6).unwrap();
        let thirteenth = NaiveDate::from_ymd_opt(2025, 7, 13).unwrap();
        let neither = NaiveDate::from_ymd_opt(2025, 6, 7).unwrap();
        assert!(or.day_matches(friday) && or.day_matches(thirteenth) && !or.day_matches(neither));
        let and = fields("0 9 */2 * FRI");
        assert!(!and.day_matches(NaiveDate::from_ymd_opt(2025, 6, 6).unwrap())); // Fri the 6th
        assert!(and.day_matches(NaiveDate::from_ymd_opt(2025, 6, 13).unwrap())); // Fri the 13th
    }

    #[test]
    fn minutes_of_day_are_sorted() {
        let f = fields("45,15 1,0 * * *");
        assert_eq!(f.minutes_of_day(), vec![15, 45, 75, 105]);
        assert_eq!(f.fires_per_day(), 4);
    }
}
