//! Human-readable numbers for the status display: sizes, rates, durations, progress bars.

use std::time::Duration;

/// `1.5 GiB`, `512 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `12.0 MiB/s`.
pub fn rate(bytes_per_sec: u64) -> String {
    format!("{}/s", bytes(bytes_per_sec))
}

/// `1h 2m 3s`, `4m 5s`, `6s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// `1h`, `15m`, `16m 40s`, `0s`: like [`duration`] without zero parts (for limits and ages).
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let parts: Vec<String> = [
        (s / 86400, "d"),
        (s / 3600 % 24, "h"),
        (s / 60 % 60, "m"),
        (s % 60, "s"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n}{unit}"))
    .collect();
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

/// Time left to move `remaining` bytes at `bytes_per_sec`; `None` when nothing moves.
pub fn eta(remaining: u64, bytes_per_sec: u64) -> Option<Duration> {
    (bytes_per_sec > 0).then(|| Duration::from_secs(remaining.div_ceil(bytes_per_sec)))
}

/// Fraction done in `0.0..=1.0` (0 when nothing is expected).
pub fn ratio(done: u64, expected: u64) -> f64 {
    if expected == 0 {
        0.0
    } else {
        (done as f64 / expected as f64).clamp(0.0, 1.0)
    }
}

/// `[#########-----------]  45%` with `width` cells between the brackets.
pub fn progress_bar(done: u64, expected: u64, width: usize) -> String {
    let r = ratio(done, expected);
    let filled = ((r * width as f64).round() as usize).min(width);
    format!(
        "[{}{}] {:>3.0}%",
        "#".repeat(filled),
        "-".repeat(width - filled),
        r * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rates() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(rate(12 * 1024 * 1024), "12.0 MiB/s");
    }

    #[test]
    fn durations_and_eta() {
        assert_eq!(duration(Duration::from_secs(6)), "6s");
        assert_eq!(duration(Duration::from_secs(245)), "4m 5s");
        assert_eq!(duration(Duration::from_secs(3723)), "1h 2m 3s");
        assert_eq!(eta(100, 0), None);
        assert_eq!(eta(101, 10), Some(Duration::from_secs(11)));
    }

    #[test]
    fn bars() {
        assert_eq!(progress_bar(0, 0, 4), "[----]   0%");
        assert_eq!(progress_bar(1, 2, 10), "[#####-----]  50%");
        assert_eq!(progress_bar(5, 2, 4), "[####] 100%");
    }
}
