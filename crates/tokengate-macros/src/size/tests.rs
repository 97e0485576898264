#![cfg(test)]

use super::{SizeError, parse_bytes};

#[test]
fn every_unit() {
    assert_eq!(parse_bytes("4096B"), Ok(4096));
    assert_eq!(parse_bytes("64KiB"), Ok(64 * 1024));
    assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
    assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
    assert_eq!(parse_bytes("64KB"), Ok(64_000));
    assert_eq!(parse_bytes("500MB"), Ok(500_000_000));
    assert_eq!(parse_bytes("3GB"), Ok(3_000_000_000));
    assert_eq!(parse_bytes("007MiB"), Ok(7 << 20));
}

#[test]
fn units_are_case_sensitive_and_named() {
    for (input, unit) in [("256mb", "mb"), ("1gib", "gib"), ("1TiB", "TiB"), ("1", "")] {
        let expected = if unit.is_empty() {
            SizeError::Unparseable(input.into())
        } else {
            SizeError::UnknownUnit {
                input: input.into(),
                unit: unit.into(),
            }
        };
        assert_eq!(parse_bytes(input), Err(expected), "{input}");
    }
    assert_eq!(
        parse_bytes("256mb").unwrap_err().to_string(),
        "unknown unit `mb` in memory limit `256mb`; expected one of `B`, `KiB`, `MiB`, \
         `GiB`, `KB`, `MB`, `GB`"
    );
}

#[test]
fn malformed_sizes_are_refused() {
    for input in [
        "", "MiB", "abc", "-1MiB", "+1MiB", "256 MiB", "1.MiB", " 1MiB",
    ] {
        assert_eq!(
            parse_bytes(input),
            Err(SizeError::Unparseable(input.into())),
            "{input}"
        );
    }
    assert_eq!(
        parse_bytes("abc").unwrap_err().to_string(),
        "unparseable memory limit `abc`; write a whole number and a unit, such as \
         `256MiB`, `1GiB` or `500MB`"
    );
}

#[test]
fn fractions_are_refused() {
    for input in ["1.5GiB", "0.5MiB", "2.0B"] {
        assert_eq!(
            parse_bytes(input),
            Err(SizeError::Fraction(input.into())),
            "{input}"
        );
    }
    assert_eq!(
        parse_bytes("1.5GiB").unwrap_err().to_string(),
        "memory limit `1.5GiB` has a fraction; write a whole number of a smaller unit, as \
         `1536MiB` for `1.5GiB`"
    );
}

#[test]
fn zero_is_refused() {
    for input in ["0B", "0MiB", "000GB"] {
        assert_eq!(
            parse_bytes(input),
            Err(SizeError::Zero(input.into())),
            "{input}"
        );
    }
    assert_eq!(
        parse_bytes("0MiB").unwrap_err().to_string(),
        "memory limit `0MiB` is zero; a memory limit must be greater than zero, or leave \
         `memory_limit` out for none"
    );
}

#[test]
fn sizes_past_u64_are_refused() {
    let max = u64::MAX.to_string();
    assert_eq!(parse_bytes(&format!("{max}B")), Ok(u64::MAX));
    for input in [
        format!("{}B", u128::from(u64::MAX) + 1),
        "17179869184GiB".to_owned(),
        "99999999999999999999999999MB".to_owned(),
    ] {
        assert_eq!(
            parse_bytes(&input),
            Err(SizeError::TooLarge(input.clone())),
            "{input}"
        );
    }
}
