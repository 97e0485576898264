//! Parsing durations: `timeout = "250ms"`, and `retry_backoff` and
//! `queue_timeout` alike: a number, an optional fraction and a unit.
//!
//! The value is turned into whole nanoseconds at compile time, with exact integer
//! arithmetic (no floats), so `"1.5s"` is exactly `1_500_000_000`. The keys
//! share the grammar and the errors; each error names the key it was written
//! for (see [`DurationKey`]).

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

/// A key whose value is a duration, as its messages name it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DurationKey {
    /// The key as written: `timeout`.
    key: &'static str,
    /// What messages call the value: "timeout", "retry backoff".
    noun: &'static str,
    /// What leaving the key out means, after "for": "none", "the default of 10ms".
    absent: &'static str,
}

/// `timeout = "…"`.
pub(crate) const TIMEOUT: DurationKey = DurationKey {
    key: "timeout",
    noun: "timeout",
    absent: "none",
};

/// `retry_backoff = "…"`; the runtime's default is 10ms.
pub(crate) const RETRY_BACKOFF: DurationKey = DurationKey {
    key: "retry_backoff",
    noun: "retry backoff",
    absent: "the default of 10ms",
};

/// `queue_timeout = "…"`.
pub(crate) const QUEUE_TIMEOUT: DurationKey = DurationKey {
    key: "queue_timeout",
    noun: "queue timeout",
    absent: "none",
};

/// Why a duration string was refused. [`message`](Self::message) writes the
/// message the user sees, which quotes the input and names the key;
/// [`Display`](fmt::Display) writes it for `timeout`.
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

impl TimeoutError {
    /// The message for this error in the value of `key`.
    pub(crate) fn message(&self, key: DurationKey) -> String {
        let DurationKey { key, noun, absent } = key;
        match self {
            TimeoutError::Unparseable(input) => format!(
                "unparseable {noun} `{input}`; write a number and a unit, \
                 such as `250ms`, `2s` or `1m`"
            ),
            TimeoutError::UnknownUnit { input, unit } => {
                let units: Vec<String> =
                    UNITS.iter().map(|(name, _)| format!("`{name}`")).collect();
                format!(
                    "unknown unit `{unit}` in {noun} `{input}`; expected one of {}",
                    units.join(", ")
                )
            }
            TimeoutError::Zero(input) => format!(
                "{noun} `{input}` is zero; a {noun} must be greater than zero, \
                 or leave `{key}` out for {absent}"
            ),
            TimeoutError::SubNanosecond(input) => format!(
                "{noun} `{input}` is not a whole number of nanoseconds; \
                 use fewer decimal places or a smaller unit"
            ),
            TimeoutError::TooLong(input) => format!(
                "{noun} `{input}` is too long; the longest is `u64::MAX` \
                 nanoseconds (about 584 years)"
            ),
        }
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(TIMEOUT))
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
