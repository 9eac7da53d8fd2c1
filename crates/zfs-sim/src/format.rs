//! Number and date formatting exactly as the `zfs` command prints them.

/// OpenZFS's `zfs_nicebytes`: 1024-based with at most 5 characters (`0B`, `512B`, `1.50K`, `96K`).
pub fn nicebytes(num: u64) -> String {
    const UNITS: [&str; 7] = ["B", "K", "M", "G", "T", "P", "E"];
    let mut n = num;
    let mut index = 0;
    while n >= 1024 && index < 6 {
        n /= 1024;
        index += 1;
    }
    let u = UNITS[index];
    let base = 1024u128.pow(index as u32);
    if index == 0 || u128::from(num) % base == 0 {
        return format!("{n}{u}");
    }
    let val = num as f64 / base as f64;
    let mut out = String::new();
    for prec in (0..=2).rev() {
        out = format!("{val:.prec$}{u}");
        if out.len() <= 5 {
            break;
        }
    }
    out
}

/// Parses a size as `zfs set` accepts it (`128K`, `1M`, `1.5G`, plain bytes, `none` = 0).
pub fn parse_size(s: &str) -> Option<u64> {
    if s == "none" {
        return Some(0);
    }
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        "P" | "PB" | "PIB" => 1 << 50,
        "E" | "EB" | "EIB" => 1 << 60,
        _ => return None,
    };
    Some((num * mult as f64) as u64)
}

/// `%a %b %e %H:%M %Y` of a unix time, in UTC (the simulator's time zone), as `zfs holds`
/// prints timestamps.
pub fn date(t: i64) -> String {
    date_fmt(t, true, false)
}

/// `%a %b %e %k:%M %Y` (hour padded with a space), as the `creation` property is printed.
pub fn date_prop(t: i64) -> String {
    date_fmt(t, false, false)
}

/// `%a %b %e %k:%M:%S %Y`, as the `snapshots_changed` property is printed.
pub fn date_prop_secs(t: i64) -> String {
    date_fmt(t, false, true)
}

fn date_fmt(t: i64, zero_hour: bool, secs_shown: bool) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let wd = DAYS[days.rem_euclid(7) as usize];
    let hour = if zero_hour {
        format!("{:02}", secs / 3600)
    } else {
        format!("{:>2}", secs / 3600)
    };
    let tail = if secs_shown {
        format!(":{:02}", secs % 60)
    } else {
        String::new()
    };
    format!(
        "{wd} {} {d:>2} {hour}:{:02}{tail} {y}",
        MONTHS[(m - 1) as usize],
        (secs % 3600) / 60
    )
}

/// Date of a day number since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The current unix time.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicebytes_matches_zfs() {
        assert_eq!(nicebytes(0), "0B");
        assert_eq!(nicebytes(512), "512B");
        assert_eq!(nicebytes(24576), "24K");
        assert_eq!(nicebytes(1536), "1.50K");
        assert_eq!(nicebytes(10239), "10.0K");
        assert_eq!(nicebytes(98_765_432), "94.2M");
        assert_eq!(nicebytes(1 << 30), "1G");
    }

    #[test]
    fn date_is_ctime_like() {
        assert_eq!(date(0), "Thu Jan  1 00:00 1970");
        assert_eq!(date(1_763_767_351), "Fri Nov 21 23:22 2025");
        assert_eq!(date(1_763_769_600), "Sat Nov 22 00:00 2025");
        assert_eq!(date_prop(1_763_769_600), "Sat Nov 22  0:00 2025");
        assert_eq!(date_prop_secs(1_763_769_605), "Sat Nov 22  0:00:05 2025");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("128K"), Some(131072));
        assert_eq!(parse_size("none"), Some(0));
        assert_eq!(parse_size("1.5M"), Some(1_572_864));
        assert_eq!(parse_size("x"), None);
    }
}
