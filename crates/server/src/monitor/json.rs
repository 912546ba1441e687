//! Go-compatible renderings nats-server's monitoring JSON uses.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in nanoseconds.
pub fn unix_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

pub fn system_time_nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

/// nats-server's uptime/idle rendering: whole seconds as `1y2d3h4m5s`, leading zero
/// units left out (`5s`, `1m0s`).
pub fn go_uptime(nanos: i64) -> String {
    let secs = nanos.max(0) / 1_000_000_000;
    let (mins, hours) = (secs / 60, secs / 3600);
    let (days, years) = (hours / 24, hours / 24 / 365);
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_as_nats_server() {
        let s = 1_000_000_000;
        assert_eq!(go_uptime(0), "0s");
        assert_eq!(go_uptime(59 * s + 999), "59s");
        assert_eq!(go_uptime(60 * s), "1m0s");
        assert_eq!(go_uptime(3600 * s + 61 * s), "1h1m1s");
        assert_eq!(go_uptime(86_400 * s), "1d0h0m0s");
        assert_eq!(go_uptime(366 * 86_400 * s), "1y1d0h0m0s");
    }

    #[test]
    fn bools_as_go() {
        assert_eq!(parse_go_bool("1"), Some(true));
        assert_eq!(parse_go_bool("False"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
