//! `strftime_now(format)` for chat templates (HF: `datetime.now().strftime(format)`), with a
//! small C-`strftime` subset evaluated in UTC.

use std::time::{SystemTime, UNIX_EPOCH};

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
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Broken-down UTC time.
struct Tm {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// 0 = Monday
    weekday: usize,
    /// 1-based day of the year
    yday: u32,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days since 1970-01-01 to (year, month, day) — Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn tm_from_unix(secs: i64) -> Tm {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let month_days = [
        31,
        if is_leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let yday = month_days[..month as usize - 1].iter().sum::<u32>() + day;
    Tm {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem / 60 % 60) as u32,
        second: (rem % 60) as u32,
        // 1970-01-01 was a Thursday.
        weekday: (days + 3).rem_euclid(7) as usize,
        yday,
    }
}

/// Formats `unix_secs` (UTC). Supports `%Y %y %m %d %e %H %I %M %S %p %B %b %h %A %a %j %F %T
/// %D %Z %z %n %t %%` and glibc's `-` flag (no padding, e.g. `%-d`); other sequences are
/// copied unchanged.
pub(crate) fn strftime(format: &str, unix_secs: i64) -> String {
    let tm = tm_from_unix(unix_secs);
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let no_pad = chars.next_if_eq(&'-').is_some();
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        let num = |v: u32, width: usize| {
            if no_pad {
                v.to_string()
            } else {
                format!("{v:0width$}")
            }
        };
        let hour12 = if tm.hour.is_multiple_of(12) {
            12
        } else {
            tm.hour % 12
        };
        let text = match spec {
            'Y' => tm.year.to_string(),
            'y' => num(tm.year.rem_euclid(100) as u32, 2),
            'm' => num(tm.month, 2),
            'd' => num(tm.day, 2),
            'e' => format!("{:>2}", tm.day),
            'H' => num(tm.hour, 2),
            'I' => num(hour12, 2),
            'M' => num(tm.minute, 2),
            'S' => num(tm.second, 2),
            'p' => if tm.hour < 12 { "AM" } else { "PM" }.to_string(),
            'B' => MONTHS[tm.month as usize - 1].to_string(),
            'b' | 'h' => MONTHS[tm.month as usize - 1][..3].to_string(),
            'A' => WEEKDAYS[tm.weekday].to_string(),
            'a' => WEEKDAYS[tm.weekday][..3].to_string(),
            'j' => num(tm.yday, 3),
            'F' => format!("{}-{:02}-{:02}", tm.year, tm.month, tm.day),
            'T' => format!("{:02}:{:02}:{:02}", tm.hour, tm.minute, tm.second),
            'D' => format!(
                "{:02}/{:02}/{:02}",
                tm.month,
                tm.day,
                tm.year.rem_euclid(100)
            ),
            'Z' => "UTC".to_string(),
            'z' => "+0000".to_string(),
            'n' => "\n".to_string(),
            't' => "\t".to_string(),
            '%' => "%".to_string(),
            other => format!("%{}{other}", if no_pad { "-" } else { "" }),
        };
        out.push_str(&text);
    }
    out
}

/// The `strftime_now` global: the current UTC time formatted with [`strftime`].
pub(crate) fn strftime_now(format: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    strftime(format, secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        // 2024-07-23 14:05:09 UTC, a Tuesday, day 205 of a leap year.
        let t = 1_721_743_509;
        assert_eq!(strftime("%Y-%m-%d %H:%M:%S", t), "2024-07-23 14:05:09");
        assert_eq!(strftime("%d %b %Y", t), "23 Jul 2024");
        assert_eq!(
            strftime("%A %B %-d, %I%p %j %%", t),
            "Tuesday July 23, 02PM 205 %"
        );
        assert_eq!(
            strftime("%F %T %a %y %Q", 0),
            "1970-01-01 00:00:00 Thu 70 %Q"
        );
        assert_eq!(strftime("%-m/%e", 951_782_400), "2/29");
    }

    #[test]
    fn now_is_after_2024() {
        let year: i64 = strftime_now("%Y").parse().unwrap();
        assert!(year >= 2024);
    }
}
