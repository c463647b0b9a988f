//! Time in clv: parsing order timestamps, the shop's time zone, purchase periods and model time units.
//!
//! Every timestamp is kept as *shop-local naive seconds since 1970-01-01*: a naive timestamp is taken
//! to be in the shop's zone already, and one with a UTC offset is converted into that zone. Calendar
//! arithmetic (days, Monday-start weeks, months) on local seconds is then exact, with no DST surprises.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use std::fmt;
use std::str::FromStr;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// A time unit, period, length of time or time zone that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("unknown time unit `{0}`: use hour, day, week, month or year")]
    Unit(String),
    #[error("unknown period `{0}`: use hour, day, week, month or year")]
    Period(String),
    #[error("`{0}` is not a length of time: use e.g. 90d, 12w, 6m or 1y")]
    Length(String),
    #[error("`{text}`: unknown unit `{unit}`; use h, d, w, m or y")]
    LengthUnit { text: String, unit: String },
    #[error("unknown time zone `{0}`: use an IANA name such as UTC or Europe/Berlin")]
    Zone(String),
}

/// The unit that recency, T and horizons are expressed in.
///
/// Month and year are the Gregorian averages (30.436875 and 365.2425 days), as numpy's
/// `timedelta64(1, 'M')` that lifetimes divides by, so no "30 days per month" trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimeUnit {
    /// Length of one unit in seconds.
    pub fn seconds(self) -> f64 {
        match self {
            TimeUnit::Hour => 3_600.0,
            TimeUnit::Day => DAY as f64,
            TimeUnit::Week => 7.0 * DAY as f64,
            TimeUnit::Month => 30.436875 * DAY as f64,
            TimeUnit::Year => 365.2425 * DAY as f64,
        }
    }

    /// Length of one unit in days.
    pub fn days(self) -> f64 {
        self.seconds() / DAY as f64
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Year => "year",
        }
    }
}

impl FromStr for TimeUnit {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, TimeError> {
        match s.trim().to_ascii_lowercase().trim_end_matches('s') {
            "hour" | "h" => Ok(TimeUnit::Hour),
            "day" | "d" => Ok(TimeUnit::Day),
            "week" | "w" => Ok(TimeUnit::Week),
            "month" | "m" => Ok(TimeUnit::Month),
            "year" | "y" => Ok(TimeUnit::Year),
            other => Err(TimeError::Unit(other.to_string())),
        }
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The calendar bucket inside which purchases of one customer merge into one "purchase period"
/// (lifetimes' `freq`): two orders on the same day count as one repeat purchase with `Day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Hour,
    Day,
    /// Monday to Sunday, like pandas' `W` (= `W-SUN`) periods.
    Week,
    /// Calendar month.
    Month,
    /// Calendar year.
    Year,
}

impl Period {
    /// Index of the period containing local time `t` (seconds). Inlined: the ledger asks for
    /// every line; the calendar periods go out of line.
    #[inline]
    pub fn index(self, t: i64) -> i64 {
        match self {
            Period::Hour => t.div_euclid(3_600),
            Period::Day => t.div_euclid(DAY),
            // 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday.
            Period::Week => (t.div_euclid(DAY) + 3).div_euclid(7),
            Period::Month | Period::Year => self.calendar_index(t),
        }
    }

    #[inline(never)]
    fn calendar_index(self, t: i64) -> i64 {
        let d = local_date(t);
        match self {
            Period::Month => d.year() as i64 * 12 + d.month0() as i64,
            _ => d.year() as i64,
        }
    }

    /// Local time (seconds) at which period `index` starts.
    pub fn start(self, index: i64) -> i64 {
        match self {
            Period::Hour => index * 3_600,
            Period::Day => index * DAY,
            Period::Week => (index * 7 - 3) * DAY,
            Period::Month => {
                let year = index.div_euclid(12) as i32;
                let month = index.rem_euclid(12) as u32 + 1;
                let date = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month start");
                date_to_local(date)
            }
            Period::Year => date_to_local(
                NaiveDate::from_ymd_opt(index as i32, 1, 1).expect("valid year start"),
            ),
        }
    }

    /// Start of the period that contains `t`.
    pub fn floor(self, t: i64) -> i64 {
        self.start(self.index(t))
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }
}

impl FromStr for Period {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, TimeError> {
        match s.trim().to_ascii_lowercase().trim_end_matches('s') {
            "hour" | "h" => Ok(Period::Hour),
            "day" | "d" => Ok(Period::Day),
            "week" | "w" => Ok(Period::Week),
            "month" | "m" => Ok(Period::Month),
            "year" | "y" => Ok(Period::Year),
            other => Err(TimeError::Period(other.to_string())),
        }
    }
}

/// A length of time such as `90d`, `12w`, `6m`, `1y`, `36h` or a bare number of days, in days.
/// Months and years are Gregorian averages, like [`TimeUnit`].
pub fn parse_days(text: &str) -> Result<f64, TimeError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| TimeError::Length(text.to_string()))?;
    let unit = if unit.is_empty() {
        TimeUnit::Day
    } else {
        unit.parse::<TimeUnit>()
            .map_err(|_| TimeError::LengthUnit {
                text: text.to_string(),
                unit: unit.to_string(),
            })?
    };
    Ok(n * unit.days())
}

/// Local seconds of midnight at the start of `date`.
pub fn date_to_local(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()
}

/// The local calendar date of local time `t`.
pub fn local_date(t: i64) -> NaiveDate {
    DateTime::from_timestamp(t.div_euclid(DAY) * DAY, 0)
        .expect("timestamp in chrono's range")
        .date_naive()
}

/// Year, month, day of a day number (days since 1970-01-01), for any proleptic Gregorian date;
/// Howard Hinnant's `civil_from_days`. Formatting millions of dates through chrono's strftime
/// machinery was a tenth of `clv summary`'s time.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Append `YYYY-MM-DD` for local time `t` to `out`.
pub fn write_date(t: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    if (0..=9999).contains(&y) {
        let y = y as u32;
        out.extend_from_slice(&[
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
            b'-',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b'-',
            b'0' + (d / 10) as u8,
            b'0' + (d % 10) as u8,
        ]);
    } else {
        out.extend_from_slice(format!("{y}-{m:02}-{d:02}").as_bytes());
    }
}

/// `YYYY-MM-DD` for local time `t`.
pub fn format_date(t: i64) -> String {
    let mut out = Vec::with_capacity(10);
    write_date(t, &mut out);
    String::from_utf8(out).expect("ASCII digits")
}

/// `YYYY-MM` for local time `t`.
pub fn format_month(t: i64) -> String {
    local_date(t).format("%Y-%m").to_string()
}

/// Parses order timestamps into shop-local seconds.
///
/// Without a format it accepts ISO 8601 dates (`2024-03-05`, `2024/03/05`), compact `20240305`,
/// and ISO datetimes with `T` or a space, optional seconds and fraction, and an optional `Z` or
/// `±HH:MM` offset. Day-first and month-first slashed dates are ambiguous, so they need a format.
#[derive(Debug, Clone)]
pub struct DateParser {
    format: Option<CustomFormat>,
    zone: Tz,
}

#[derive(Debug, Clone)]
enum CustomFormat {
    WithOffset(String),
    DateTime(String),
    Date(String),
}

impl DateParser {
    /// `format` is a chrono/strftime pattern (`%d/%m/%Y %H:%M`); `zone` an IANA name (`Europe/Paris`).
    pub fn new(format: Option<&str>, zone: &str) -> Result<Self, TimeError> {
        let zone: Tz = zone
            .parse()
            .map_err(|_| TimeError::Zone(zone.to_string()))?;
        let format = format.map(|f| {
            let has = |pats: &[&str]| pats.iter().any(|p| f.contains(p));
            if has(&["%z", "%:z", "%#z"]) {
                CustomFormat::WithOffset(f.to_string())
            } else if has(&[
                "%H", "%I", "%M", "%S", "%T", "%R", "%X", "%r", "%c", "%k", "%l", "%s",
            ]) {
                CustomFormat::DateTime(f.to_string())
            } else {
                CustomFormat::Date(f.to_string())
            }
        });
        Ok(DateParser { format, zone })
    }

    /// UTC with the built-in formats.
    pub fn utc() -> Self {
        DateParser {
            format: None,
            zone: Tz::UTC,
        }
    }

    pub fn zone(&self) -> &str {
        self.zone.name()
    }

    /// Shop-local seconds, or `None` when the text is not a timestamp this parser accepts.
    pub fn parse(&self, text: &[u8]) -> Option<i64> {
        let text = trim_ascii(text);
        match &self.format {
            None => self.parse_builtin(text),
            // The user's format first; unambiguous ISO dates still read in a mixed export.
            Some(custom) => std::str::from_utf8(text)
                .ok()
                .and_then(|t| self.parse_custom(custom, t))
                .or_else(|| self.parse_builtin(text)),
        }
    }

    /// Parses a bound given on the command line. A bare date means the whole day, so the returned
    /// time is its last second: `--observation-end 1998-06-30` keeps orders placed on the 30th.
    pub fn parse_end_bound(&self, text: &str) -> Option<i64> {
        let t = self.parse(text.as_bytes())?;
        Some(if is_date_only(text) { t + DAY - 1 } else { t })
    }

    fn parse_builtin(&self, s: &[u8]) -> Option<i64> {
        let (days, rest) = parse_iso_date(s)?;
        let mut t = days * DAY;
        if rest.is_empty() {
            return Some(t);
        }
        let rest = match rest[0] {
            b'T' | b't' | b' ' => &rest[1..],
            _ => return None,
        };
        let (secs, rest) = parse_clock(rest)?;
        t += secs;
        let rest = trim_ascii(rest);
        if rest.is_empty() {
            return Some(t);
        }
        let offset = parse_offset(rest)?;
        Some(self.utc_to_local(t - offset))
    }

    fn parse_custom(&self, custom: &CustomFormat, s: &str) -> Option<i64> {
        match custom {
            CustomFormat::WithOffset(f) => {
                let dt = DateTime::parse_from_str(s, f).ok()?;
                Some(self.utc_to_local(dt.timestamp()))
            }
            CustomFormat::DateTime(f) => {
                let dt = NaiveDateTime::parse_from_str(s, f).ok()?;
                Some(dt.and_utc().timestamp())
            }
            CustomFormat::Date(f) => NaiveDate::parse_from_str(s, f).ok().map(date_to_local),
        }
    }

    /// Shop-local seconds for an instant given as UTC seconds.
    pub fn utc_to_local(&self, utc: i64) -> i64 {
        if self.zone == Tz::UTC {
            return utc;
        }
        let when = DateTime::from_timestamp(utc, 0).map(|d| d.naive_utc());
        match when {
            Some(naive) => {
                utc + self
                    .zone
                    .offset_from_utc_datetime(&naive)
                    .fix()
                    .local_minus_utc() as i64
            }
            None => utc,
        }
    }

    /// UTC seconds of shop-local seconds: the inverse of [`DateParser::utc_to_local`]. A local
    /// time that a DST change skips reads as the hour after; a repeated hour as its first
    /// occurrence.
    pub fn local_to_utc(&self, local: i64) -> i64 {
        if self.zone == Tz::UTC {
            return local;
        }
        let Some(naive) = DateTime::from_timestamp(local, 0).map(|d| d.naive_utc()) else {
            return local;
        };
        let at = |naive| self.zone.from_local_datetime(&naive).earliest();
        at(naive)
            .or_else(|| at(naive + chrono::Duration::hours(1)))
            .map_or(local, |t| t.timestamp())
    }
}

fn is_date_only(text: &str) -> bool {
    let t = text.trim();
    t.len() <= 10 && !t.contains(':')
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() || *first == b'"' {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() || *last == b'"' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |n, d| n * 10 + (d - b'0') as u32))
}

/// `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD` at the start of `s`; returns the rest.
fn parse_iso_date(s: &[u8]) -> Option<(i64, &[u8])> {
    let (y, m, d, rest) = if s.len() >= 10 && (s[4] == b'-' || s[4] == b'/') && s[7] == s[4] {
        (
            digits(&s[0..4])?,
            digits(&s[5..7])?,
            digits(&s[8..10])?,
            &s[10..],
        )
    } else if s.len() >= 8
        && s[..8].iter().all(u8::is_ascii_digit)
        && (s.len() == 8 || s[8] == b'T')
    {
        (
            digits(&s[0..4])?,
            digits(&s[4..6])?,
            digits(&s[6..8])?,
            &s[8..],
        )
    } else {
        return None;
    };
    Some((days_from_civil(y as i64, m, d)?, rest))
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (Hinnant's `days_from_civil`), or
/// `None` for a month or day that does not exist. Reading dates is on every input line's path.
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > month_days {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `HH:MM[:SS[.fff]]`; returns seconds after midnight and the rest.
fn parse_clock(s: &[u8]) -> Option<(i64, &[u8])> {
    if s.len() < 5 || s[2] != b':' {
        return None;
    }
    let h = digits(&s[0..2])?;
    let m = digits(&s[3..5])?;
    let mut rest = &s[5..];
    let mut sec = 0;
    if rest.len() >= 3 && rest[0] == b':' {
        sec = digits(&rest[1..3])?;
        rest = &rest[3..];
        if let [b'.' | b',', tail @ ..] = rest {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = &tail[n..];
        }
    }
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(((h * 3600 + m * 60 + sec.min(59)) as i64, rest))
}

/// `Z`, `+HH:MM`, `+HHMM` or `+HH`, in seconds east of UTC.
fn parse_offset(s: &[u8]) -> Option<i64> {
    if s == b"Z" || s == b"z" || s.eq_ignore_ascii_case(b"UTC") {
        return Some(0);
    }
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &s[1..];
    let (h, m) = match body.len() {
        2 => (digits(body)?, 0),
        4 => (digits(&body[0..2])?, digits(&body[2..4])?),
        5 if body[2] == b':' => (digits(&body[0..2])?, digits(&body[3..5])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h as i64 * 3600 + m as i64 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_agree_with_chrono() {
        // Every day from 1600 to 2400 (leap centuries and all), both directions.
        let mut day = NaiveDate::from_ymd_opt(1600, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2400, 12, 31).unwrap();
        while day <= end {
            let (y, m, d) = (day.year() as i64, day.month(), day.day());
            let n = date_to_local(day) / DAY;
            assert_eq!(days_from_civil(y, m, d), Some(n), "{day}");
            assert_eq!(civil_from_days(n), (y, m, d), "{day}");
            day = day.succ_opt().unwrap();
        }
        for (y, m, d) in [
            (2023, 2, 29),
            (1900, 2, 29),
            (2024, 4, 31),
            (2024, 13, 1),
            (2024, 0, 1),
        ] {
            assert_eq!(days_from_civil(y, m, d), None, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2000, 2, 29), Some(11_016));
    }

    fn ymd(y: i32, m: u32, d: u32) -> i64 {
        date_to_local(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn local_to_utc_inverts_utc_to_local() {
        let berlin = DateParser::new(None, "Europe/Berlin").unwrap();
        let hour = 3600;
        // (local, UTC): winter +1 h, summer +2 h; 02:30 on 2024-03-31 does not exist (read as
        // 03:30, +2 h); 02:30 on 2024-10-27 happens twice (the first, +2 h).
        let cases = [
            (ymd(2024, 1, 15) + 12 * hour, ymd(2024, 1, 15) + 11 * hour),
            (ymd(2024, 7, 1), ymd(2024, 6, 30) + 22 * hour),
            (
                ymd(2024, 3, 31) + 2 * hour + 1800,
                ymd(2024, 3, 31) + hour + 1800,
            ),
            (
                ymd(2024, 10, 27) + 2 * hour + 1800,
                ymd(2024, 10, 27) + 1800,
            ),
        ];
        for (local, utc) in cases {
            assert_eq!(berlin.local_to_utc(local), utc, "{}", format_date(local));
        }
        for (local, _) in &cases[..2] {
            assert_eq!(berlin.utc_to_local(berlin.local_to_utc(*local)), *local);
        }
        assert_eq!(DateParser::utc().local_to_utc(12_345), 12_345);
    }

    #[test]
    fn builtin_formats() {
        let utc = DateParser::utc();
        let paris = DateParser::new(None, "Europe/Paris").unwrap();
        let day = ymd(1997, 1, 1);
        // (parser, text, expected local seconds or None)
        let cases: &[(&DateParser, &str, Option<i64>)] = &[
            (&utc, "1997-01-01", Some(day)),
            (&utc, "19970101", Some(day)),
            (&utc, "1997/01/01", Some(day)),
            (&utc, " \"1997-01-01\" ", Some(day)),
            (&utc, "1997-01-01T13:45", Some(day + 13 * 3600 + 45 * 60)),
            (&utc, "1997-01-01 13:45:30.250", Some(day + 49_530)),
            (&utc, "1997-01-01T13:45:30Z", Some(day + 49_530)),
            (&utc, "1997-01-01T13:45:30+02:00", Some(day + 49_530 - 7200)),
            (&utc, "1997-01-01T01:00:00-0230", Some(day + 3600 + 9000)),
            // Naive times are already shop-local; offsets are converted into the shop's zone.
            (&paris, "1997-01-01T23:30:00", Some(day + 84_600)),
            (&paris, "1997-01-01T23:30:00Z", Some(day + 84_600 + 3600)),
            (
                &paris,
                "1997-07-01T12:00:00Z",
                Some(ymd(1997, 7, 1) + 14 * 3600),
            ),
            (&utc, "1997-02-30", None),
            (&utc, "01/02/1997", None),
            (&utc, "1997-01-01T25:00", None),
            (&utc, "yesterday", None),
            (&utc, "", None),
        ];
        for (parser, text, want) in cases {
            assert_eq!(parser.parse(text.as_bytes()), *want, "{text}");
        }
    }

    #[test]
    fn custom_formats() {
        let dmy = DateParser::new(Some("%d/%m/%Y"), "UTC").unwrap();
        assert_eq!(dmy.parse(b"02/01/1997"), Some(ymd(1997, 1, 2)));
        assert_eq!(dmy.parse(b"1997-01-02"), Some(ymd(1997, 1, 2)));
        assert_eq!(dmy.parse(b"13/13/1997"), None);
        let with_time = DateParser::new(Some("%m/%d/%Y %H:%M"), "UTC").unwrap();
        assert_eq!(
            with_time.parse(b"01/02/1997 10:30"),
            Some(ymd(1997, 1, 2) + 37_800)
        );
        let with_zone = DateParser::new(Some("%d.%m.%Y %H:%M %z"), "UTC").unwrap();
        assert_eq!(
            with_zone.parse(b"02.01.1997 10:30 +0100"),
            Some(ymd(1997, 1, 2) + 37_800 - 3600)
        );
        assert!(DateParser::new(None, "Mars/Olympus").is_err());
    }

    #[test]
    fn periods_start_where_the_calendar_says() {
        // 1997-01-01 was a Wednesday: its week starts Monday 1996-12-30.
        let wed = ymd(1997, 1, 1) + 5000;
        assert_eq!(Period::Week.floor(wed), ymd(1996, 12, 30));
        assert_eq!(Period::Month.floor(ymd(1997, 3, 31) + 10), ymd(1997, 3, 1));
        assert_eq!(Period::Day.floor(wed), ymd(1997, 1, 1));
        assert_eq!(Period::Hour.floor(wed), ymd(1997, 1, 1) + 3600);
        assert_eq!(Period::Year.floor(wed), ymd(1997, 1, 1));
        for p in [
            Period::Hour,
            Period::Day,
            Period::Week,
            Period::Month,
            Period::Year,
        ] {
            for t in [
                ymd(1969, 12, 31),
                ymd(2000, 2, 29) + 7777,
                ymd(2024, 12, 31) + 86_399,
            ] {
                let i = p.index(t);
                assert!(p.start(i) <= t && t < p.start(i + 1), "{p:?} {t}");
            }
        }
    }

    #[test]
    fn fast_date_formatting_agrees_with_chrono() {
        for days in (-700_000i64..800_000).step_by(997) {
            let t = days * DAY + 12_345;
            assert_eq!(
                format_date(t),
                local_date(t).format("%Y-%m-%d").to_string(),
                "{days}"
            );
        }
    }

    #[test]
    fn lengths_of_time() {
        let cases = [
            ("90d", 90.0),
            ("12w", 84.0),
            ("1y", 365.2425),
            ("6m", 182.62125),
            ("48h", 2.0),
            ("7", 7.0),
        ];
        for (text, days) in cases {
            assert!((parse_days(text).unwrap() - days).abs() < 1e-9, "{text}");
        }
        assert!(parse_days("soon").is_err());
        assert!(parse_days("3 fortnights").is_err());
    }

    #[test]
    fn end_bounds_cover_the_whole_day() {
        let utc = DateParser::utc();
        assert_eq!(
            utc.parse_end_bound("1998-06-30"),
            Some(ymd(1998, 6, 30) + DAY - 1)
        );
        assert_eq!(
            utc.parse_end_bound("1998-06-30T12:00:00"),
            Some(ymd(1998, 6, 30) + 43_200)
        );
    }
}
