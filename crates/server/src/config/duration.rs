//! Go-style duration strings (`time.ParseDuration`): `"2m"`, `"10s"`,
//! `"1h30m"`, `"500ms"`, `"1.5s"`, `"0"`.

use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(String);

/// Nanoseconds per unit, longest unit names first where they share a prefix.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),  // micro sign
    ("\u{3bc}s", 1_000), // Greek mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
];

/// Largest duration Go can represent (i64 nanoseconds, about 292 years).
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration string: a sequence of decimal numbers, each with
/// optional fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g.
/// `"1h30m"`, `"1.5s"`. `"0"` needs no unit. A leading `+` is allowed;
/// negative durations are rejected (they make no sense for server options).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError(format!("invalid duration {text:?}"));
    let mut s = text;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        // Integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u128 = 0;
        for b in s[..int_len].bytes() {
            whole = whole * 10 + u128::from(b - b'0');
            if whole > MAX_NANOS {
                return Err(invalid());
            }
        }
        s = &s[int_len..];
        // Fraction.
        let mut frac: u128 = 0;
        let mut scale: u128 = 1;
        let mut frac_len = 0;
        if let Some(rest) = s.strip_prefix('.') {
            frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            for b in rest[..frac_len].bytes() {
                // Digits beyond nanosecond precision of any unit cannot
                // matter; stop before the scale could overflow.
                if scale < 10u128.pow(20) {
                    frac = frac * 10 + u128::from(b - b'0');
                    scale *= 10;
                }
            }
            s = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        // Unit.
        let unit_len = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        let unit = &s[..unit_len];
        if unit.is_empty() {
            return Err(DurationError(format!("missing unit in duration {text:?}")));
        }
        let Some(&(_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(DurationError(format!(
                "unknown unit {unit:?} in duration {text:?}"
            )));
        };
        s = &s[unit_len..];
        let part = whole
            .checked_mul(nanos)
            .and_then(|w| w.checked_add(frac * nanos / scale))
            .ok_or_else(invalid)?;
        total = total.checked_add(part).ok_or_else(invalid)?;
        if total > MAX_NANOS {
            return Err(invalid());
        }
    }
    if negative && total > 0 {
        return Err(DurationError(format!(
            "negative duration {text:?} is not allowed"
        )));
    }
    let secs = (total / 1_000_000_000) as u64;
    let nanos = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("+0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("2m", Duration::from_secs(120)),
            ("10s", Duration::from_secs(10)),
            ("1h30m", Duration::from_secs(5400)),
            ("1h30m15s", Duration::from_secs(5415)),
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("2.25h", Duration::from_secs(8100)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("100μs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("1m0.5s", Duration::from_millis(60_500)),
            ("+5s", Duration::from_secs(5)),
            ("0.000000001s", Duration::from_nanos(1)),
            (
                "0.1234567899999999999999999999999999s",
                Duration::from_nanos(123_456_789),
            ),
            ("2562047h", Duration::from_secs(2_562_047 * 3600)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn invalid() {
        let cases: &[(&str, &str)] = &[
            ("", "invalid duration"),
            ("-", "invalid duration"),
            ("s", "invalid duration"),
            (".s", "invalid duration"),
            ("1", "missing unit"),
            ("10", "missing unit"),
            ("1.5", "missing unit"),
            ("1s2", "missing unit"),
            ("1d", "unknown unit \"d\""),
            ("1 s", "unknown unit \" s\""),
            ("1sec", "unknown unit \"sec\""),
            ("5S", "unknown unit \"S\""),
            ("abc", "invalid duration"),
            ("-1s", "negative duration"),
            ("-1.5m", "negative duration"),
            ("2562048h", "invalid duration"),
            (
                "99999999999999999999999999999999999999999h",
                "invalid duration",
            ),
        ];
        for (text, frag) in cases {
            let e = parse_duration(text).unwrap_err();
            assert!(e.to_string().contains(frag), "{text}: {e}");
        }
    }
}
