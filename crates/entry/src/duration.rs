//! Go duration strings (SPEC 8.3), as written in YAML lifecycle fields and passed to the Lua
//! `time` module: `"1h30m"`, `"1.5s"`, `".5ms"`, `"-2m"`, `"0"`.
//!
//! Values are `i64` nanoseconds, like Go's `time.Duration`, so the range is about ±292 years.
//! Parsing and formatting follow Go's `time.ParseDuration` and `Duration.String` step by step,
//! including the rounding of fractions (`"0.3333333333333333333h"` is exactly 20 minutes).

use std::time::Duration;

use crate::error::DurationError;

/// One more than `i64::MAX`: the magnitude of `i64::MIN`, the largest value a negative
/// duration may accumulate.
const LIMIT: u64 = 1 << 63;

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// Parses a Go duration string into nanoseconds.
///
/// Grammar: an optional sign, then one or more `<decimal><unit>` groups; units `ns`, `us`,
/// `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`, `m`, `h`. The bare string `"0"` (also `"+0"`,
/// `"-0"`) is zero. Empty input, a missing unit (`"5"`), an unknown unit (`"1d"`) and values
/// beyond `i64` nanoseconds are errors.
///
/// ```
/// use starling_entry::parse_go_duration;
/// assert_eq!(parse_go_duration("1h30m").unwrap(), 5_400_000_000_000);
/// assert_eq!(parse_go_duration(".5ms").unwrap(), 500_000);
/// assert!(parse_go_duration("1d").is_err());
/// ```
pub fn parse_go_duration(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_owned());
    let overflow = || DurationError::Overflow(input.to_owned());

    let mut rest = input;
    let mut negative = false;
    if let Some(r) = rest.strip_prefix('-') {
        negative = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }

    let mut total: u64 = 0;
    while !rest.is_empty() {
        let first = rest.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }

        // Integer part.
        let int_len = leading_digits(rest);
        let mut value = parse_leading_int(&rest[..int_len]).ok_or_else(overflow)?;
        rest = &rest[int_len..];
        let has_int = int_len > 0;

        // Fraction part.
        let mut fraction = 0;
        let mut scale = 1.0;
        let mut has_fraction = false;
        if let Some(r) = rest.strip_prefix('.') {
            let frac_len = leading_digits(r);
            (fraction, scale) = parse_leading_fraction(&r[..frac_len]);
            has_fraction = frac_len > 0;
            rest = &r[frac_len..];
        }
        if !has_int && !has_fraction {
            // "." or "-.s": no digits at all.
            return Err(invalid());
        }

        // Unit: everything up to the next digit or dot.
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_text = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit_text.is_empty() {
            return Err(DurationError::MissingUnit(input.to_owned()));
        }
        let unit = unit_nanos(unit_text).ok_or_else(|| DurationError::UnknownUnit {
            unit: unit_text.to_owned(),
            input: input.to_owned(),
        })?;

        if value > LIMIT / unit {
            return Err(overflow());
        }
        value *= unit;
        if fraction > 0 {
            // Go does this in float64 too: `uint64(float64(f) * (float64(unit) / scale))`.
            // The float-to-int cast saturates, and the sum stays far below u64::MAX.
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(overflow());
            }
        }
        total += value;
        if total > LIMIT {
            return Err(overflow());
        }
    }

    if negative {
        // total <= 2^63, so its negation fits in i64 (i64::MIN at most).
        Ok((-(i128::from(total))) as i64)
    } else {
        i64::try_from(total).map_err(|_| overflow())
    }
}

/// Formats nanoseconds the way Go's `time.Duration.String` does: `"1h30m0s"`, `"250ms"`,
/// `"1.5s"`, `"0s"`, `"-2m0s"`, `"1µs"` (U+00B5), `"100ns"`.
///
/// ```
/// use starling_entry::format_go_duration;
/// assert_eq!(format_go_duration(5_400_000_000_000), "1h30m0s");
/// assert_eq!(format_go_duration(1_500_000_000), "1.5s");
/// ```
pub fn format_go_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".to_owned();
    }
    if u < SECOND {
        // Sub-second values use the largest unit below a second that keeps an integer part.
        let (unit, precision) = if u < MICROSECOND {
            ("ns", 0)
        } else if u < MILLISECOND {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        let divisor = 10u64.pow(precision);
        let fraction = fraction_digits(u % divisor, precision);
        return format!("{sign}{}{fraction}{unit}", u / divisor);
    }

    let fraction = fraction_digits(u % SECOND, 9);
    let seconds_total = u / SECOND;
    let seconds = seconds_total % 60;
    let minutes_total = seconds_total / 60;
    let mut out = String::from(sign);
    if minutes_total > 0 {
        let hours = minutes_total / 60;
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        out.push_str(&format!("{}m", minutes_total % 60));
    }
    out.push_str(&format!("{seconds}{fraction}s"));
    out
}

/// Converts non-negative nanoseconds to a [`Duration`]; negative values become
/// [`DurationError::Negative`], named by `input` (the text the value came from).
pub fn nanos_to_duration(nanos: i64, input: &str) -> Result<Duration, DurationError> {
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| DurationError::Negative(input.to_owned()))
}

/// `.ddd` with trailing zeros removed, or nothing when `value` is zero.
fn fraction_digits(value: u64, precision: u32) -> String {
    if value == 0 || precision == 0 {
        return String::new();
    }
    let digits = format!("{value:0width$}", width = precision as usize);
    format!(".{}", digits.trim_end_matches('0'))
}

fn leading_digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// The integer value of an all-digit string, or `None` when it exceeds 2^63.
fn parse_leading_int(digits: &str) -> Option<u64> {
    let mut value: u64 = 0;
    for d in digits.bytes() {
        if value > LIMIT / 10 {
            return None;
        }
        value = value * 10 + u64::from(d - b'0');
        if value > LIMIT {
            return None;
        }
    }
    Some(value)
}

/// The digits of a fraction as an integer and its scale (10^digits used). Digits beyond what
/// fits are dropped, as Go does, since they cannot change the result.
fn parse_leading_fraction(digits: &str) -> (u64, f64) {
    let mut value: u64 = 0;
    let mut scale = 1.0;
    let mut overflow = false;
    for d in digits.bytes() {
        if overflow {
            continue;
        }
        if value > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let next = value * 10 + u64::from(d - b'0');
        if next > LIMIT {
            overflow = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale)
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NANOSECOND,
        // U+00B5 micro sign and U+03BC Greek small letter mu.
        "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: i64 = 1;
    const US: i64 = 1_000;
    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;

    /// Go's `parseDurationTests` (src/time/time_test.go).
    #[test]
    fn parses_go_table() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            ("-5s", -5 * S),
            ("+5s", 5 * S),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600 * MS),
            ("5.s", 5 * S),
            (".5s", 500 * MS),
            ("1.0s", S),
            ("1.00s", S),
            ("1.004s", S + 4 * MS),
            ("1.0040s", S + 4 * MS),
            ("100.00100s", 100 * S + MS),
            ("10ns", 10 * NS),
            ("11us", 11 * US),
            ("12µs", 12 * US),
            ("12μs", 12 * US),
            ("13ms", 13 * MS),
            ("14s", 14 * S),
            ("15m", 15 * M),
            ("16h", 16 * H),
            ("3h30m", 3 * H + 30 * M),
            ("10.5s4m", 4 * M + 10 * S + 500 * MS),
            ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
            (
                "1h2m3s4ms5us6ns",
                H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS,
            ),
            ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * M),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("-9223372036s854ms775us808ns", i64::MIN),
            ("-2562047h47m16.854775808s", i64::MIN),
            ("0.100000000000000000000h", 6 * M),
            ("0.830103483285477580700h", 49 * M + 48 * S + 372_539_827),
            ("1h30m", 90 * M),
            ("1.5s", 1500 * MS),
            (".5ms", 500 * US),
            ("-2m", -2 * M),
            ("250ms", 250 * MS),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_go_duration(input), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn rejects_go_error_table() {
        let invalid = ["", "-", "s", ".", "-.", ".s", "+.s", "+", " 1s", "a1s"];
        for input in invalid {
            assert_eq!(
                parse_go_duration(input),
                Err(DurationError::Invalid(input.to_owned())),
                "input {input:?}"
            );
        }
        for input in ["3", "5", "1.5", "0.0", "-1"] {
            assert_eq!(
                parse_go_duration(input),
                Err(DurationError::MissingUnit(input.to_owned())),
                "input {input:?}"
            );
        }
        for (input, unit) in [
            ("1d", "d"),
            ("3x2s", "x"),
            ("1sec", "sec"),
            ("1S", "S"),
            ("1s 2s", "s "),
            ("1s-2s", "s-"),
        ] {
            assert_eq!(
                parse_go_duration(input),
                Err(DurationError::UnknownUnit {
                    unit: unit.to_owned(),
                    input: input.to_owned()
                }),
                "input {input:?}"
            );
        }
        for input in [
            "9223372036854775808ns",
            "9223372036854775.808us",
            "9223372036854ms775us808ns",
            "-9223372036854775809ns",
            "99999999999999999999s",
            "2562048h",
        ] {
            assert_eq!(
                parse_go_duration(input),
                Err(DurationError::Overflow(input.to_owned())),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn error_messages_name_the_input() {
        assert_eq!(
            parse_go_duration("5").unwrap_err().to_string(),
            "missing unit in duration \"5\""
        );
        assert_eq!(
            parse_go_duration("1d").unwrap_err().to_string(),
            "unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            parse_go_duration("").unwrap_err().to_string(),
            "invalid duration \"\""
        );
    }

    /// Go's `durationTests` (src/time/time_test.go) plus a few from the SPEC.
    #[test]
    fn formats_go_table() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (100, "100ns"),
            (1_100, "1.1µs"),
            (US, "1µs"),
            (2_200 * US, "2.2ms"),
            (250 * MS, "250ms"),
            (3_300 * MS, "3.3s"),
            (1_500 * MS, "1.5s"),
            (4 * M + 5 * S, "4m5s"),
            (4 * M + 5_001 * MS, "4m5.001s"),
            (5 * H + 6 * M + 7_001 * MS, "5h6m7.001s"),
            (8 * M + 1, "8m0.000000001s"),
            (90 * M, "1h30m0s"),
            (H, "1h0m0s"),
            (-2 * M, "-2m0s"),
            (-1, "-1ns"),
            (-1_500 * US, "-1.5ms"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for &(nanos, want) in cases {
            assert_eq!(format_go_duration(nanos), want, "nanos {nanos}");
        }
    }

    #[test]
    fn format_then_parse_round_trips() {
        for nanos in [
            0,
            1,
            999,
            1_001,
            1_234_567,
            S,
            61 * S + 5,
            3 * H + 1,
            -7 * M,
            i64::MIN,
        ] {
            assert_eq!(parse_go_duration(&format_go_duration(nanos)), Ok(nanos));
        }
    }

    #[test]
    fn nanos_to_duration_rejects_negative() {
        assert_eq!(nanos_to_duration(5, "5ns"), Ok(Duration::from_nanos(5)));
        assert_eq!(
            nanos_to_duration(-5, "-5ns"),
            Err(DurationError::Negative("-5ns".to_owned()))
        );
    }
}
