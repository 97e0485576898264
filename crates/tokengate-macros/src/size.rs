//! Parsing `memory_limit = "256MiB"`: a whole number and a unit.
//!
//! The value is turned into bytes at compile time. Binary units (`KiB`,
//! `MiB`, `GiB`) are powers of 1024, decimal ones (`KB`, `MB`, `GB`) powers of
//! 1000, as the IEC prefixes define them; units are case-sensitive, so that
//! `"256mb"` (millibits, if anything) is an error rather than a guess.

use std::fmt;

/// The units a size may be written in, with their length in bytes. Adding a
/// unit is one row here.
const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

/// Why a size string was refused. [`Display`](fmt::Display) writes the
/// message the user sees, which quotes the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SizeError {
    /// Not a number followed by a unit at all.
    Unparseable(String),
    /// A number followed by something that is not a known unit.
    UnknownUnit {
        /// The whole input, as written.
        input: String,
        /// The part after the number.
        unit: String,
    },
    /// A number with a fraction, such as `"1.5GiB"`.
    Fraction(String),
    /// Zero, which no call could run under.
    Zero(String),
    /// More than `u64::MAX` bytes.
    TooLarge(String),
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeError::Unparseable(input) => write!(
                f,
                "unparseable memory limit `{input}`; write a whole number and a unit, \
                 such as `256MiB`, `1GiB` or `500MB`"
            ),
            SizeError::UnknownUnit { input, unit } => {
                write!(
                    f,
                    "unknown unit `{unit}` in memory limit `{input}`; expected one of "
                )?;
                for (i, (name, _)) in UNITS.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}`{name}`")?;
                }
                Ok(())
            }
            SizeError::Fraction(input) => write!(
                f,
                "memory limit `{input}` has a fraction; write a whole number of a smaller \
                 unit, as `1536MiB` for `1.5GiB`"
            ),
            SizeError::Zero(input) => write!(
                f,
                "memory limit `{input}` is zero; a memory limit must be greater than zero, \
                 or leave `memory_limit` out for none"
            ),
            SizeError::TooLarge(input) => write!(
                f,
                "memory limit `{input}` is too large; the largest is `u64::MAX` bytes \
                 (16 EiB)"
            ),
        }
    }
}

/// Parses `"256MiB"`, `"1GiB"`, `"500MB"`, `"4096B"`, … into bytes.
///
/// The grammar is `DIGITS UNIT`, with no sign, no spaces and no fraction; see
/// [`UNITS`] for the units.
pub(crate) fn parse_bytes(input: &str) -> Result<u64, SizeError> {
    let end = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (digits, unit) = input.split_at(end);
    if digits.is_empty() || unit.is_empty() || unit.starts_with(char::is_whitespace) {
        return Err(SizeError::Unparseable(input.to_owned()));
    }
    if let Some(after_dot) = unit.strip_prefix('.') {
        return Err(if after_dot.starts_with(|c: char| c.is_ascii_digit()) {
            SizeError::Fraction(input.to_owned())
        } else {
            SizeError::Unparseable(input.to_owned())
        });
    }
    let Some(&(_, unit_bytes)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(SizeError::UnknownUnit {
            input: input.to_owned(),
            unit: unit.to_owned(),
        });
    };
    let too_large = || SizeError::TooLarge(input.to_owned());
    // `digits` is ASCII digits only, so the parse can fail only by overflow.
    let count: u64 = digits.parse().map_err(|_| too_large())?;
    let bytes = count.checked_mul(unit_bytes).ok_or_else(too_large)?;
    if bytes == 0 {
        return Err(SizeError::Zero(input.to_owned()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
