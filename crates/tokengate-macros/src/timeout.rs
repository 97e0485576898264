//! Parsing `timeout = "250ms"`: a number, an optional fraction and a unit.
//!
//! The value is turned into whole nanoseconds at compile time, with exact integer
//! arithmetic (no floats), so `"1.5s"` is exactly `1_500_000_000`.

use std::fmt;

/// The units a timeout may be written in, with their length in nanoseconds.
/// Adding a unit is one row here.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 60 * 60 * 1_000_000_000),
];

/// Why a timeout string was refused. [`Display`](fmt::Display) writes the
/// message the user sees, which quotes the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimeoutError {
    /// Not a number followed by a unit at all.
    Unparseable(String),
    /// A number followed by something that is not a known unit.
    UnknownUnit {
        /// The whole input, as written.
        input: String,
        /// The part after the number.
        unit: String,
    },
    /// Zero, which would time every call out at once.
    Zero(String),
    /// A fraction of a nanosecond, such as `"1.5ns"`.
    SubNanosecond(String),
    /// More than `u64::MAX` nanoseconds.
    TooLong(String),
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutError::Unparseable(input) => write!(
                f,
                "unparseable timeout `{input}`; write a number and a unit, \
                 such as `250ms`, `2s` or `1m`"
            ),
            TimeoutError::UnknownUnit { input, unit } => {
                write!(
                    f,
                    "unknown unit `{unit}` in timeout `{input}`; expected one of "
                )?;
                for (i, (name, _)) in UNITS.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}`{name}`")?;
                }
                Ok(())
            }
            TimeoutError::Zero(input) => write!(
                f,
                "timeout `{input}` is zero; a timeout must be greater than zero, \
                 or leave `timeout` out for none"
            ),
            TimeoutError::SubNanosecond(input) => write!(
                f,
                "timeout `{input}` is not a whole number of nanoseconds; \
                 use fewer decimal places or a smaller unit"
            ),
            TimeoutError::TooLong(input) => write!(
                f,
                "timeout `{input}` is too long; the longest is `u64::MAX` \
                 nanoseconds (about 584 years)"
            ),
        }
    }
}

/// Parses `"250ms"`, `"1.5s"`, `"100µs"`, … into nanoseconds.
///
/// The grammar is `DIGITS ["." DIGITS] UNIT`, with no sign, no spaces and no
/// exponent; see [`UNITS`] for the units.
pub(crate) fn parse_nanos(input: &str) -> Result<u64, TimeoutError> {
    let unparseable = || TimeoutError::Unparseable(input.to_owned());

    let (whole, rest) = split_digits(input);
    if whole.is_empty() {
        return Err(unparseable());
    }
    let (fraction, unit) = match rest.strip_prefix('.') {
        Some(after_dot) => {
            let (fraction, unit) = split_digits(after_dot);
            if fraction.is_empty() {
                return Err(unparseable());
            }
            (fraction, unit)
        }
        None => ("", rest),
    };
    if unit.is_empty() {
        return Err(unparseable());
    }
    let Some(&(_, unit_nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(TimeoutError::UnknownUnit {
            input: input.to_owned(),
            unit: unit.to_owned(),
        });
    };

    let too_long = || TimeoutError::TooLong(input.to_owned());
    // `whole` is ASCII digits only, so the parse can fail only by overflow.
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let whole_nanos = whole.checked_mul(unit_nanos).ok_or_else(too_long)?;

    let fraction_nanos = fraction_nanos(fraction, unit_nanos)
        .ok_or_else(|| TimeoutError::SubNanosecond(input.to_owned()))?;

    let nanos = whole_nanos
        .checked_add(fraction_nanos)
        .ok_or_else(too_long)?;
    if nanos == 0 {
        return Err(TimeoutError::Zero(input.to_owned()));
    }
    u64::try_from(nanos).map_err(|_| too_long())
}

/// Splits `s` after its leading ASCII digits.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// The nanoseconds in `0.<fraction>` units, or `None` if that is not a whole
/// number of nanoseconds.
fn fraction_nanos(fraction: &str, unit_nanos: u128) -> Option<u128> {
    // Trailing zeros change nothing, and dropping them keeps the numbers small.
    let fraction = fraction.trim_end_matches('0');
    // A unit is at most 2^13 * 3^2 * 5^11 ns (one hour), so a fraction with more
    // than 13 significant decimals can never be whole nanoseconds; bailing out
    // early also keeps `10^len` and the product inside `u128`.
    if fraction.len() > 13 {
        return None;
    }
    if fraction.is_empty() {
        return Some(0);
    }
    let numerator = fraction.parse::<u128>().ok()? * unit_nanos;
    let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    (numerator % denominator == 0).then_some(numerator / denominator)
}

#[cfg(test)]
mod tests;
