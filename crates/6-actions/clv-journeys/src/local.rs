//! Times on the recipient's clock: quiet hours, "at 10:00 on a weekday", and the calendar day a
//! frequency cap counts in. Every function takes UTC seconds and an IANA zone and returns UTC
//! seconds, so a daylight-saving change moves the UTC instant, never the local time.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A time of day, `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime(pub NaiveTime);

impl std::str::FromStr for LocalTime {
    type Err = String;
    fn from_str(text: &str) -> Result<LocalTime, String> {
        NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map(LocalTime)
            .map_err(|_| format!("`{text}` is not a time of day: write HH:MM, as in 08:30"))
    }
}

impl Serialize for LocalTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%H:%M"))
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LocalTime, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Days of the week, written `mon` … `sun`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weekdays(pub Vec<Weekday>);

impl Default for Weekdays {
    fn default() -> Weekdays {
        Weekdays(vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ])
    }
}

impl Serialize for Weekdays {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let names: Vec<String> = self
            .0
            .iter()
            .map(|d| d.to_string().to_lowercase())
            .collect();
        names.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Weekdays {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Weekdays, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        if names.is_empty() {
            return Err(serde::de::Error::custom(
                "no weekdays: name at least one (mon … sun) or leave the field out for every day",
            ));
        }
        let days = names
            .iter()
            .map(|n| {
                n.parse::<Weekday>().map_err(|_| {
                    serde::de::Error::custom(format!(
                        "`{n}` is not a weekday: use mon, tue, wed, thu, fri, sat or sun"
                    ))
                })
            })
            .collect::<Result<Vec<_>, D::Error>>()?;
        Ok(Weekdays(days))
    }
}

/// Hours in which a message class is not sent, on the recipient's clock; `start` after `end`
/// spans midnight (21:00–08:00).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: LocalTime,
    pub end: LocalTime,
    /// What a message due in them does: wait for their end (default) or not go at all.
    #[serde(default)]
    pub action: QuietAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuietAction {
    #[default]
    Defer,
    Skip,
}

/// The instant a local date and time happens in `zone`: the earlier of two when clocks go back;
/// when clocks go forward over it, the first minute after the gap.
pub fn instant(zone: Tz, local: NaiveDateTime) -> i64 {
    let mut probe = local;
    for _ in 0..(26 * 60) {
        if let Some(t) = zone.from_local_datetime(&probe).earliest() {
            return t.timestamp();
        }
        probe += chrono::Duration::minutes(1);
    }
    // No zone has a gap of a day; the UTC reading is the last resort.
    local.and_utc().timestamp()
}

/// `at` (UTC seconds) on `zone`'s clock.
pub fn local(zone: Tz, at: i64) -> NaiveDateTime {
    let utc = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
    utc.with_timezone(&zone).naive_local()
}

/// When quiet hours that hold at `now` end (None: they do not hold at `now`).
pub fn quiet_until(quiet: &QuietHours, zone: Tz, now: i64) -> Option<i64> {
    let here = local(zone, now);
    let time = here.time();
    let (start, end) = (quiet.start.0, quiet.end.0);
    let inside = if start <= end {
        time >= start && time < end
    } else {
        time >= start || time < end
    };
    if !inside {
        return None;
    }
    // The end is today when it is still ahead on the clock, otherwise tomorrow.
    let day = if time < end {
        here.date()
    } else {
        here.date().succ_opt()?
    };
    Some(instant(zone, day.and_time(end)))
}

/// The first instant at or after `after` whose local time in `zone` is `time` on one of
/// `weekdays`.
pub fn next_at(zone: Tz, after: i64, time: LocalTime, weekdays: &Weekdays) -> i64 {
    let start = local(zone, after).date();
    for offset in 0..15 {
        let Some(day) = start.checked_add_days(chrono::Days::new(offset)) else {
            break;
        };
        if !weekdays.0.contains(&day.weekday()) {
            continue;
        }
        let at = instant(zone, day.and_time(time.0));
        if at >= after {
            return at;
        }
    }
    after
}

/// The calendar day `at` falls on in `zone` (frequency caps count per local day).
pub fn day(zone: Tz, at: i64) -> NaiveDate {
    local(zone, at).date()
}

/// Seconds since local midnight (for tests and summaries).
pub fn seconds_of_day(zone: Tz, at: i64) -> u32 {
    local(zone, at).time().num_seconds_from_midnight()
}

/// Seconds in a day.
pub const DAY: i64 = 86_400;
