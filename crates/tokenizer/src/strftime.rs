//! A C-locale `strftime` for the `strftime_now` template global (transformers' is
//! `datetime.now().strftime(format)`, i.e. glibc's strftime). Covers the conversions date-stamping
//! templates use (Llama-3.2's `strftime_now("%d %b %Y")`, ISO dates and times) and glibc's `-`
//! flag (no padding); unknown conversions are copied through as glibc does.

use std::fmt::Write as _;

use time::OffsetDateTime;

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
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

/// Formats `at` with a strftime `format` string in the C locale.
pub fn format(format: &str, at: &OffsetDateTime) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let no_pad = chars.peek() == Some(&'-');
        if no_pad {
            chars.next();
        }
        let Some(conv) = chars.next() else {
            out.push('%');
            if no_pad {
                out.push('-');
            }
            break;
        };
        // (value, width, pad char) for numeric conversions.
        let num = |v: i64, width: usize, pad: char| -> String {
            if no_pad {
                v.to_string()
            } else if pad == '0' {
                format!("{v:0width$}")
            } else {
                format!("{v:>width$}")
            }
        };
        let weekday = at.weekday().number_days_from_monday() as usize;
        let month = u8::from(at.month()) as usize;
        let hour12 = match at.hour() % 12 {
            0 => 12,
            h => h,
        };
        match conv {
            'a' => out.push_str(&DAYS[weekday][..3]),
            'A' => out.push_str(DAYS[weekday]),
            'b' | 'h' => out.push_str(&MONTHS[month - 1][..3]),
            'B' => out.push_str(MONTHS[month - 1]),
            'C' => out.push_str(&num(i64::from(at.year()).div_euclid(100), 2, '0')),
            'd' => out.push_str(&num(i64::from(at.day()), 2, '0')),
            'e' => out.push_str(&num(i64::from(at.day()), 2, ' ')),
            'D' => {
                let _ = write!(
                    out,
                    "{:02}/{:02}/{:02}",
                    month,
                    at.day(),
                    at.year().rem_euclid(100)
                );
            }
            'F' => {
                let _ = write!(out, "{}-{:02}-{:02}", at.year(), month, at.day());
            }
            'H' => out.push_str(&num(i64::from(at.hour()), 2, '0')),
            'I' => out.push_str(&num(i64::from(hour12), 2, '0')),
            'j' => out.push_str(&num(i64::from(at.ordinal()), 3, '0')),
            'k' => out.push_str(&num(i64::from(at.hour()), 2, ' ')),
            'l' => out.push_str(&num(i64::from(hour12), 2, ' ')),
            'm' => out.push_str(&num(month as i64, 2, '0')),
            'M' => out.push_str(&num(i64::from(at.minute()), 2, '0')),
            'n' => out.push('\n'),
            'p' => out.push_str(if at.hour() < 12 { "AM" } else { "PM" }),
            'R' => {
                let _ = write!(out, "{:02}:{:02}", at.hour(), at.minute());
            }
            'S' => out.push_str(&num(i64::from(at.second()), 2, '0')),
            't' => out.push('\t'),
            'T' => {
                let _ = write!(
                    out,
                    "{:02}:{:02}:{:02}",
                    at.hour(),
                    at.minute(),
                    at.second()
                );
            }
            'u' => out.push_str(&(weekday + 1).to_string()),
            'w' => out.push_str(&((weekday + 1) % 7).to_string()),
            'y' => out.push_str(&num(i64::from(at.year().rem_euclid(100)), 2, '0')),
            'Y' => out.push_str(&at.year().to_string()),
            'z' => {
                let offset = at.offset();
                let total = offset.whole_minutes();
                let sign = if total < 0 { '-' } else { '+' };
                let _ = write!(out, "{sign}{:02}{:02}", total.abs() / 60, total.abs() % 60);
            }
            'Z' => {
                if at.offset().is_utc() {
                    out.push_str("UTC");
                }
            }
            '%' => out.push('%'),
            other => {
                out.push('%');
                if no_pad {
                    out.push('-');
                }
                out.push(other);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings are Python's `datetime(2024, 7, 6, 14, 5, 9).strftime(f)`, recorded in
    /// fixtures/chat_templates/expected.json by fixtures/gen/chat_templates.py.
    #[test]
    fn matches_python_strftime() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/chat_templates/expected.json"
        );
        let text = std::fs::read_to_string(path)
            .expect("fixture missing; run fixtures/gen/chat_templates.py");
        let json: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
        let fixture = &json["strftime"];
        let parts: Vec<i64> = fixture["datetime"]
            .as_array()
            .expect("datetime")
            .iter()
            .map(|v| v.as_i64().expect("int"))
            .collect();
        let month = time::Month::try_from(parts[1] as u8).expect("month");
        let date =
            time::Date::from_calendar_date(parts[0] as i32, month, parts[2] as u8).expect("date");
        let at = date
            .with_hms(parts[3] as u8, parts[4] as u8, parts[5] as u8)
            .expect("time")
            .assume_utc();
        let cases = fixture["cases"].as_object().expect("cases");
        assert!(cases.len() >= 5);
        for (fmt, want) in cases {
            assert_eq!(
                format(fmt, &at),
                want.as_str().expect("string"),
                "format {fmt:?}"
            );
        }
    }

    #[test]
    fn glibc_extensions() {
        let at = time::macros::datetime!(2025-01-05 09:03:00 UTC);
        assert_eq!(format("%-d %B %Y", &at), "5 January 2025");
        assert_eq!(format("%F %T %Z %z", &at), "2025-01-05 09:03:00 UTC +0000");
        assert_eq!(format("%u %w %Q 100%", &at), "7 0 %Q 100%");
    }
}
