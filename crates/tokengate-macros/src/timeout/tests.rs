#![cfg(test)]

use super::{TimeoutError, parse_nanos};

#[test]
fn every_unit() {
    assert_eq!(parse_nanos("500ns"), Ok(500));
    assert_eq!(parse_nanos("100us"), Ok(100_000));
    assert_eq!(parse_nanos("100µs"), Ok(100_000));
    assert_eq!(parse_nanos("250ms"), Ok(250_000_000));
    assert_eq!(parse_nanos("2s"), Ok(2_000_000_000));
    assert_eq!(parse_nanos("2m"), Ok(120_000_000_000));
    assert_eq!(parse_nanos("1h"), Ok(3_600_000_000_000));
}

#[test]
fn fractions_are_exact() {
    assert_eq!(parse_nanos("1.5s"), Ok(1_500_000_000));
    assert_eq!(parse_nanos("0.25ms"), Ok(250_000));
    assert_eq!(parse_nanos("1.000s"), Ok(1_000_000_000));
    assert_eq!(parse_nanos("0.1s"), Ok(100_000_000));
    assert_eq!(
        parse_nanos("1.5ns0"),
        Err(TimeoutError::UnknownUnit {
            input: "1.5ns0".into(),
            unit: "ns0".into(),
        })
    );
    // A third of a minute is 20s; a tenth of an hour is 6 minutes.
    assert_eq!(parse_nanos("0.5m"), Ok(30_000_000_000));
    assert_eq!(parse_nanos("0.1h"), Ok(360_000_000_000));
    assert_eq!(parse_nanos("0.000000001s"), Ok(1));
    assert_eq!(parse_nanos("0.0000000010000s"), Ok(1));
    assert_eq!(parse_nanos("007ms"), Ok(7_000_000));
}

#[test]
fn sub_nanosecond_fractions_are_refused() {
    for input in [
        "1.5ns",
        "0.0000000001s",
        "1.0001us",
        "0.00000000000000000000000001h",
    ] {
        assert_eq!(
            parse_nanos(input),
            Err(TimeoutError::SubNanosecond(input.into())),
            "{input}"
        );
    }
}

#[test]
fn zero_is_refused() {
    for input in ["0s", "0ms", "0.0s", "000ns"] {
        assert_eq!(
            parse_nanos(input),
            Err(TimeoutError::Zero(input.into())),
            "{input}"
        );
    }
}

#[test]
fn the_largest_timeout_fits_u64() {
    let max = u64::MAX.to_string();
    assert_eq!(parse_nanos(&format!("{max}ns")), Ok(u64::MAX));
    for input in [
        format!("{}ns", u128::from(u64::MAX) + 1),
        "18446744073709551616ns".to_owned(),
        "18446744073.709551616s".to_owned(),
        "5124096h".to_owned(),
        "999999999999999999999999999999999999999999h".to_owned(),
    ] {
        assert_eq!(
            parse_nanos(&input),
            Err(TimeoutError::TooLong(input.clone())),
            "{input}"
        );
    }
    // Just under the limit: 5124095 hours is about 584.5 years.
    assert!(parse_nanos("5124095h").is_ok());
}

#[test]
fn malformed_input_is_unparseable() {
    for input in [
        "", "abc", "ms", "250", "1.", ".5s", "1.s", "-1s", "+1s", "1e3ms", " 1s", "1 s", "1s ",
        "1_000ms", "1,5s",
    ] {
        let err = parse_nanos(input).unwrap_err();
        assert!(
            matches!(
                err,
                TimeoutError::Unparseable(_) | TimeoutError::UnknownUnit { .. }
            ),
            "{input}: {err:?}"
        );
    }
    assert_eq!(
        parse_nanos("abc"),
        Err(TimeoutError::Unparseable("abc".into()))
    );
    assert_eq!(
        parse_nanos("1.s"),
        Err(TimeoutError::Unparseable("1.s".into()))
    );
}

#[test]
fn unknown_units_are_named() {
    assert_eq!(
        parse_nanos("2d"),
        Err(TimeoutError::UnknownUnit {
            input: "2d".into(),
            unit: "d".into(),
        })
    );
    assert_eq!(
        parse_nanos("2MS").unwrap_err().to_string(),
        "unknown unit `MS` in timeout `2MS`; expected one of `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`"
    );
}

#[test]
fn messages() {
    assert_eq!(
        parse_nanos("abc").unwrap_err().to_string(),
        "unparseable timeout `abc`; write a number and a unit, such as `250ms`, `2s` or `1m`"
    );
    assert_eq!(
        parse_nanos("0s").unwrap_err().to_string(),
        "timeout `0s` is zero; a timeout must be greater than zero, or leave `timeout` out for none"
    );
}

#[test]
fn messages_name_the_key() {
    use super::{QUEUE_TIMEOUT, RETRY_BACKOFF};

    assert_eq!(
        parse_nanos("0ms").unwrap_err().message(RETRY_BACKOFF),
        "retry backoff `0ms` is zero; a retry backoff must be greater than zero, or leave \
         `retry_backoff` out for the default of 10ms"
    );
    assert_eq!(
        parse_nanos("5d").unwrap_err().message(QUEUE_TIMEOUT),
        "unknown unit `d` in queue timeout `5d`; expected one of `ns`, `us`, `µs`, `ms`, `s`, \
         `m`, `h`"
    );
    assert_eq!(
        parse_nanos("x").unwrap_err().message(QUEUE_TIMEOUT),
        "unparseable queue timeout `x`; write a number and a unit, such as `250ms`, `2s` or `1m`"
    );
}
