//! Kubernetes resource quantities (`4`, `3800m`, `16331364Ki`, `40Gi`, `1e3`, `1.5G`), exact to
//! the nano unit, as `resource.Quantity` compares them.

use std::fmt;

/// A quantity in nano units (value × 10⁹), rounded up as Kubernetes rounds sub-nano values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Quantity(i128);

const NANO: i128 = 1_000_000_000;

/// A text that is not a Kubernetes quantity (the wording analyzers' results show).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a Kubernetes quantity (e.g. 4, 500m, 8Gi, 1.5G)")]
pub struct QuantityError {
    /// The text as given.
    pub text: String,
}

impl Quantity {
    /// Parses a quantity; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let s = text.trim();
        let bad = || QuantityError {
            text: text.to_string(),
        };
        let (sign, s) = match s.as_bytes().first() {
            Some(b'-') => (-1, &s[1..]),
            Some(b'+') => (1, &s[1..]),
            _ => (1, s),
        };
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(bad());
        }
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        // digits × 10^-len(frac)
        let digits: String = format!("{int}{frac}");
        let mut exp10: i32 = -i32::try_from(frac.len()).map_err(|_| bad())?;
        let mut exp2: u32 = 0;
        match suffix {
            "" => {}
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            "Ki" => exp2 = 10,
            "Mi" => exp2 = 20,
            "Gi" => exp2 = 30,
            "Ti" => exp2 = 40,
            "Pi" => exp2 = 50,
            "Ei" => exp2 = 60,
            other => {
                let e = other
                    .strip_prefix(['e', 'E'])
                    .and_then(|e| e.parse::<i32>().ok())
                    .ok_or_else(bad)?;
                exp10 += e;
            }
        }
        let digits = digits.trim_start_matches('0');
        let mut value: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| bad())?
        };
        value = value.checked_shl(exp2).ok_or_else(bad)?;
        // To nano units: × 10^(exp10 + 9), rounding a remainder up.
        let shift = exp10 + 9;
        let value = if shift >= 0 {
            10i128
                .checked_pow(shift.unsigned_abs())
                .and_then(|p| value.checked_mul(p))
                .ok_or_else(bad)?
        } else {
            let p = 10i128
                .checked_pow(shift.unsigned_abs())
                .unwrap_or(i128::MAX);
            let q = value / p;
            if value % p != 0 { q + 1 } else { q }
        };
        Ok(Quantity(sign * value))
    }

    /// A whole number.
    pub fn from_int(n: i64) -> Quantity {
        Quantity(i128::from(n) * NANO)
    }

    /// The sum.
    pub fn saturating_add(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % NANO == 0 {
            write!(f, "{}", self.0 / NANO)
        } else {
            write!(f, "{}n", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn quantities_compare_exactly_across_suffixes() {
        assert_eq!(q("40Gi"), Quantity::from_int(40 << 30));
        assert_eq!(q("100m"), q("0.1"));
        assert_eq!(q("1k"), q("1e3"));
        assert_eq!(q("1.5G"), Quantity::from_int(1_500_000_000));
        assert!(q("3800m") < q("4"));
        assert!(q("16331364Ki") < q("16Gi"));
        assert!(q("1Ki") > q("1k"));
        assert_eq!(q("-2"), Quantity::from_int(-2));
        assert_eq!(q("1n"), Quantity(1));
        // Below a nano unit rounds up.
        assert_eq!(q("0.1n"), Quantity(1));
        assert_eq!(q("4").saturating_add(q("500m")).to_string(), "4500000000n");
    }

    #[test]
    fn malformed_quantities_are_errors() {
        for bad in ["", "Gi", "1.2.3", "4 cores", "1x", "1e", "--1"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }
}
