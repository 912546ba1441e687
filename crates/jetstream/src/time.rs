//! Timestamps as nats-server writes them: Go's `time.Time` in JSON is RFC 3339 with
//! up to nine fractional digits, trailing zeros trimmed, always UTC here
//! (`2026-11-27T03:22:47.169628123Z`). Go's zero time (`0001-01-01T00:00:00Z`) lies
//! outside the range of `i64` nanoseconds, so it is spelled out separately.
//!
//! Nothing in this crate reads a clock: every time is unix nanoseconds passed in.

/// Go's zero `time.Time`, which nats-server reports for "no time" (e.g. `first_ts` of
/// an empty stream).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Formats unix nanoseconds as Go's `time.RFC3339Nano` in UTC.
pub fn format_rfc3339_nanos(unix_nanos: i64) -> String {
    let secs = unix_nanos.div_euclid(NANOS_PER_SEC);
    let nanos = unix_nanos.rem_euclid(NANOS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let secs_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs_of_day / 3600,
        (secs_of_day / 60) % 60,
        secs_of_day % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Formats an optional time: `None` is Go's zero time.
pub fn format_opt(unix_nanos: Option<i64>) -> String {
    unix_nanos.map_or_else(|| ZERO_TIME.to_string(), format_rfc3339_nanos)
}

/// Parses an RFC 3339 time (any offset, optional fraction of up to nine digits) into
/// unix nanoseconds, clamped to the `i64` range (Go's zero time becomes `i64::MIN`).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter()
            .try_fold(0i64, |acc, &d| Some(acc * 10 + i64::from(d - b'0')))
    };
    let year = num(0..4)?;
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac = frac * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            frac *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    let nanos = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(frac);
    Some(nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_rfc3339nano() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:00.000000001Z"),
            (1_500_000_000, "1970-01-01T00:00:01.5Z"),
            (1_795_748_567_169_628_123, "2026-11-27T03:02:47.169628123Z"),
            (1_795_748_567_100_000_000, "2026-11-27T03:02:47.1Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
        ];
        for &(ns, want) in cases {
            assert_eq!(format_rfc3339_nanos(ns), want, "{ns}");
            assert_eq!(parse_rfc3339(want), Some(ns), "{want}");
        }
    }

    #[test]
    fn parses_offsets_and_rejects_garbage() {
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00.5-00:30"),
            Some(1_800_500_000_000)
        );
        assert_eq!(parse_rfc3339(ZERO_TIME), Some(i64::MIN));
        for bad in [
            "",
            "x",
            "1970-01-01 00:00:00Z",
            "1970-13-01T00:00:00Z",
            "1970-02-30T00:00:00Z",
            "1970-01-01T00:00:00",
            "1970-01-01T00:00:00.Z",
            "1970-01-01T00:00:00+0100",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_round_trips(ns in proptest::prelude::any::<i64>()) {
            proptest::prop_assert_eq!(parse_rfc3339(&format_rfc3339_nanos(ns)), Some(ns));
        }
    }

    #[test]
    fn zero_time_for_none() {
        assert_eq!(format_opt(None), "0001-01-01T00:00:00Z");
        assert_eq!(format_opt(Some(0)), "1970-01-01T00:00:00Z");
    }
}

/// Go's `time.Duration.String()`: `1m30s`, `1.5s`, `250ms`, `0s`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    let frac = |v: u64, unit: u64| -> String {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            return whole.to_string();
        }
        let digits = unit.to_string().len() - 1;
        let f = format!("{rest:0digits$}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000));
    }
    let secs_ns = u % 60_000_000_000;
    let mins = u / 60_000_000_000;
    let s = format!("{}s", frac(secs_ns, 1_000_000_000));
    if mins == 0 {
        return format!("{sign}{s}");
    }
    let (h, m) = (mins / 60, mins % 60);
    if h == 0 {
        return format!("{sign}{m}m{s}");
    }
    format!("{sign}{h}h{m}m{s}")
}

#[cfg(test)]
mod go_duration_tests {
    use super::go_duration;

    #[test]
    fn like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(30_000_000_000), "30s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(250_000_000), "250ms");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(12), "12ns");
    }
}
