//! Go-style time layouts (`2006-01-02T15:04:05Z07:00`), as zrepl accepts them in
//! `timestamp_format`.
//!
//! A layout is the reference time `Mon Jan 2 15:04:05 MST 2006` written the way the result should
//! look; every recognised piece of it stands for one field, everything else is copied literally.
//! The rules for recognising pieces follow Go's `time.Format`, so a layout that works for zrepl
//! produces the same text here. One consequence worth knowing: in the `dense` layout
//! `20060102_150405_000` the trailing `000` is literal text (a `0` run is a field only after `.`
//! or `,`), which is why zrepl's dense names always end in `_000`.

use jiff::Zoned;

/// One piece of a parsed layout.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    LongMonth,        // January
    Month,            // Jan
    NumMonth,         // 1
    ZeroMonth,        // 01
    LongWeekday,      // Monday
    Weekday,          // Mon
    Day,              // 2
    UnderDay,         // _2
    ZeroDay,          // 02
    UnderYearDay,     // __2
    ZeroYearDay,      // 002
    Hour,             // 15
    Hour12,           // 3
    ZeroHour12,       // 03
    Minute,           // 4
    ZeroMinute,       // 04
    Second,           // 5
    ZeroSecond,       // 05
    LongYear,         // 2006
    Year,             // 06
    PmUpper,          // PM
    PmLower,          // pm
    ZoneAbbreviation, // MST
    /// A numeric zone offset; `z_for_utc` prints `Z` for a zero offset.
    Offset {
        z_for_utc: bool,
        colons: bool,
        parts: OffsetParts,
    },
    /// Fractional seconds: `.000` (fixed width) or `.999` (trailing zeros trimmed).
    Fraction {
        separator: char,
        digits: usize,
        trim: bool,
    },
}

/// How much of a zone offset a layout shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OffsetParts {
    Hours,
    HoursMinutes,
    HoursMinutesSeconds,
}

/// A parsed Go-style layout, ready to format times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoLayout {
    pieces: Vec<Piece>,
}

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const LONG_WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Offset spellings in the order Go tries them (longest first).
const OFFSET_SPELLINGS: [(&str, bool, OffsetParts); 5] = [
    ("070000", false, OffsetParts::HoursMinutesSeconds),
    ("07:00:00", true, OffsetParts::HoursMinutesSeconds),
    ("0700", false, OffsetParts::HoursMinutes),
    ("07:00", true, OffsetParts::HoursMinutes),
    ("07", false, OffsetParts::Hours),
];

impl GoLayout {
    /// Parses a layout. Every string is a valid layout (unknown text is literal), as in Go.
    pub fn parse(layout: &str) -> GoLayout {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            if let Some((piece, len)) = recognise(rest) {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
                rest = &rest[len..];
            } else {
                let c = rest.chars().next().unwrap_or_default();
                literal.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        GoLayout { pieces }
    }

    /// Formats `t` (in its own time zone) with this layout.
    pub fn format(&self, t: &Zoned) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            format_piece(piece, t, &mut out);
        }
        out
    }
}

/// Recognises the field at the start of `s`, returning it and its length in bytes.
fn recognise(s: &str) -> Option<(Piece, usize)> {
    let b = s.as_bytes();
    let starts = |p: &str| s.starts_with(p);
    match b[0] {
        b'J' if starts("January") => Some((Piece::LongMonth, 7)),
        b'J' if starts("Jan") => Some((Piece::Month, 3)),
        b'M' if starts("Monday") => Some((Piece::LongWeekday, 6)),
        b'M' if starts("Mon") => Some((Piece::Weekday, 3)),
        b'M' if starts("MST") => Some((Piece::ZoneAbbreviation, 3)),
        b'0' if starts("002") => Some((Piece::ZeroYearDay, 3)),
        b'0' if b.len() >= 2 && (b'1'..=b'6').contains(&b[1]) => {
            let piece = match b[1] {
                b'1' => Piece::ZeroMonth,
                b'2' => Piece::ZeroDay,
                b'3' => Piece::ZeroHour12,
                b'4' => Piece::ZeroMinute,
                b'5' => Piece::ZeroSecond,
                _ => Piece::Year,
            };
            Some((piece, 2))
        }
        b'1' if starts("15") => Some((Piece::Hour, 2)),
        b'1' => Some((Piece::NumMonth, 1)),
        b'2' if starts("2006") => Some((Piece::LongYear, 4)),
        b'2' => Some((Piece::Day, 1)),
        // Go reads "_2006" as a literal underscore followed by the year.
        b'_' if starts("_2") && !starts("_2006") => Some((Piece::UnderDay, 2)),
        b'_' if starts("__2") => Some((Piece::UnderYearDay, 3)),
        b'3' => Some((Piece::Hour12, 1)),
        b'4' => Some((Piece::Minute, 1)),
        b'5' => Some((Piece::Second, 1)),
        b'P' if starts("PM") => Some((Piece::PmUpper, 2)),
        b'p' if starts("pm") => Some((Piece::PmLower, 2)),
        b'-' | b'Z' => OFFSET_SPELLINGS
            .iter()
            .find_map(|(spelling, colons, parts)| {
                s[1..].starts_with(spelling).then_some((
                    Piece::Offset {
                        z_for_utc: b[0] == b'Z',
                        colons: *colons,
                        parts: *parts,
                    },
                    1 + spelling.len(),
                ))
            }),
        b'.' | b',' if b.len() >= 2 && (b[1] == b'0' || b[1] == b'9') => {
            let digit = b[1];
            let run = b[1..].iter().take_while(|&&c| c == digit).count();
            let after = b.get(1 + run);
            // A fraction only when the digit run is not followed by another digit.
            if after.is_some_and(u8::is_ascii_digit) {
                return None;
            }
            Some((
                Piece::Fraction {
                    separator: char::from(b[0]),
                    digits: run.min(9),
                    trim: digit == b'9',
                },
                1 + run,
            ))
        }
        _ => None,
    }
}

fn format_piece(piece: &Piece, t: &Zoned, out: &mut String) {
    use std::fmt::Write as _;
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let month_index = usize::try_from(t.month() - 1).unwrap_or_default();
    let weekday_index = usize::from(t.weekday().to_monday_zero_offset().unsigned_abs());
    // Writing into a String cannot fail.
    let _ = match piece {
        Piece::Literal(text) => write!(out, "{text}"),
        Piece::LongMonth => write!(out, "{}", LONG_MONTHS[month_index]),
        Piece::Month => write!(out, "{}", &LONG_MONTHS[month_index][..3]),
        Piece::NumMonth => write!(out, "{}", t.month()),
        Piece::ZeroMonth => write!(out, "{:02}", t.month()),
        Piece::LongWeekday => write!(out, "{}", LONG_WEEKDAYS[weekday_index]),
        Piece::Weekday => write!(out, "{}", &LONG_WEEKDAYS[weekday_index][..3]),
        Piece::Day => write!(out, "{}", t.day()),
        Piece::UnderDay => write!(out, "{:>2}", t.day()),
        Piece::ZeroDay => write!(out, "{:02}", t.day()),
        Piece::UnderYearDay => write!(out, "{:>3}", t.day_of_year()),
        Piece::ZeroYearDay => write!(out, "{:03}", t.day_of_year()),
        Piece::Hour => write!(out, "{:02}", t.hour()),
        Piece::Hour12 => write!(out, "{hour12}"),
        Piece::ZeroHour12 => write!(out, "{hour12:02}"),
        Piece::Minute => write!(out, "{}", t.minute()),
        Piece::ZeroMinute => write!(out, "{:02}", t.minute()),
        Piece::Second => write!(out, "{}", t.second()),
        Piece::ZeroSecond => write!(out, "{:02}", t.second()),
        Piece::LongYear => write!(out, "{:04}", t.year()),
        Piece::Year => write!(out, "{:02}", t.year().rem_euclid(100)),
        Piece::PmUpper => write!(out, "{}", if t.hour() >= 12 { "PM" } else { "AM" }),
        Piece::PmLower => write!(out, "{}", if t.hour() >= 12 { "pm" } else { "am" }),
        Piece::ZoneAbbreviation => {
            let info = t.time_zone().to_offset_info(t.timestamp());
            let abbreviation = info.abbreviation();
            if abbreviation.is_empty() {
                write_offset(out, t, false, false, OffsetParts::HoursMinutes);
                Ok(())
            } else {
                write!(out, "{abbreviation}")
            }
        }
        Piece::Offset {
            z_for_utc,
            colons,
            parts,
        } => {
            write_offset(out, t, *z_for_utc, *colons, *parts);
            Ok(())
        }
        Piece::Fraction {
            separator,
            digits,
            trim,
        } => {
            let nanos = format!("{:09}", t.subsec_nanosecond());
            let shown = &nanos[..*digits];
            let shown = if *trim {
                shown.trim_end_matches('0')
            } else {
                shown
            };
            if shown.is_empty() {
                Ok(())
            } else {
                write!(out, "{separator}{shown}")
            }
        }
    };
}

fn write_offset(out: &mut String, t: &Zoned, z_for_utc: bool, colons: bool, parts: OffsetParts) {
    use std::fmt::Write as _;
    let seconds = t.offset().seconds();
    if z_for_utc && seconds == 0 {
        out.push('Z');
        return;
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    let sep = if colons { ":" } else { "" };
    let _ = match parts {
        OffsetParts::Hours => write!(out, "{sign}{h:02}"),
        OffsetParts::HoursMinutes => write!(out, "{sign}{h:02}{sep}{m:02}"),
        OffsetParts::HoursMinutesSeconds => write!(out, "{sign}{h:02}{sep}{m:02}{sep}{s:02}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Zoned {
        s.parse().expect("valid test time")
    }

    #[test]
    fn dense_layout_keeps_trailing_zeros_literal() {
        let t = at("2024-03-09T07:05:03.123456789+00:00[UTC]");
        assert_eq!(
            GoLayout::parse("20060102_150405_000").format(&t),
            "20240309_070503_000"
        );
    }

    #[test]
    fn human_layout() {
        let t = at("2024-03-09T17:05:03+00:00[UTC]");
        assert_eq!(
            GoLayout::parse("2006-01-02_15:04:05").format(&t),
            "2024-03-09_17:05:03"
        );
    }

    #[test]
    fn fixed_and_trimmed_fractions() {
        let t = at("2024-03-09T17:05:03.120+00:00[UTC]");
        assert_eq!(GoLayout::parse("05.000").format(&t), "03.120");
        assert_eq!(GoLayout::parse("05.999").format(&t), "03.12");
        assert_eq!(GoLayout::parse("05,00").format(&t), "03,12");
        let whole = at("2024-03-09T17:05:03+00:00[UTC]");
        assert_eq!(GoLayout::parse("05.999").format(&whole), "03");
        // A digit run followed by another digit is not a fraction: ".0" stays literal, "01" is
        // the month.
        assert_eq!(GoLayout::parse(".001").format(&whole), ".003");
    }

    #[test]
    fn offsets_with_and_without_z() {
        let utc = at("2024-01-01T00:00:00+00:00[UTC]");
        let berlin = at("2024-07-01T12:00:00+02:00[Europe/Berlin]");
        let ny = at("2024-01-01T12:00:00-05:00[America/New_York]");
        assert_eq!(GoLayout::parse("Z07:00").format(&utc), "Z");
        assert_eq!(GoLayout::parse("-07:00").format(&utc), "+00:00");
        assert_eq!(GoLayout::parse("Z0700").format(&berlin), "+0200");
        assert_eq!(GoLayout::parse("-07").format(&ny), "-05");
        assert_eq!(GoLayout::parse("Z07:00:00").format(&ny), "-05:00:00");
        assert_eq!(GoLayout::parse("MST").format(&berlin), "CEST");
    }

    #[test]
    fn names_twelve_hour_clock_and_year_days() {
        let t = at("2024-02-05T00:07:09+00:00[UTC]");
        assert_eq!(
            GoLayout::parse("Monday Mon January Jan 1 2 _2 3 03 4 5 06 PM pm 002 __2").format(&t),
            "Monday Mon February Feb 2 5  5 12 12 7 9 24 AM am 036  36"
        );
        let evening = at("2024-12-31T23:00:00+00:00[UTC]");
        assert_eq!(GoLayout::parse("3PM 002").format(&evening), "11PM 366");
    }

    #[test]
    fn underscore_before_long_year_is_literal() {
        let t = at("2024-02-05T00:00:00+00:00[UTC]");
        assert_eq!(GoLayout::parse("x_2006").format(&t), "x_2024");
        assert_eq!(GoLayout::parse("x_2").format(&t), "x 5");
    }
}
