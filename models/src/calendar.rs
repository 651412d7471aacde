//! Prague time: opening hours, Czech public holidays, and the slots of a day.
//!
//! Instants are UTC everywhere else; every rule about days, hours and slots is computed here in
//! `Europe/Prague`. A slot whose wall-clock start falls into the spring-forward gap does not
//! exist; one in the autumn overlap is the earlier of the two instants, so no slot is listed twice.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The time zone of every office.
pub const PRAGUE: Tz = chrono_tz::Europe::Prague;

/// Opening hours per weekday (Monday first); `None` is closed all day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyHours {
    days: [Option<(NaiveTime, NaiveTime)>; 7],
}

impl WeeklyHours {
    /// `days[0]` is Monday. Each open day must close after it opens.
    pub fn new(days: [Option<(NaiveTime, NaiveTime)>; 7]) -> Option<Self> {
        days.iter().flatten().all(|(open, close)| open < close).then_some(Self { days })
    }

    pub fn on(&self, weekday: Weekday) -> Option<(NaiveTime, NaiveTime)> {
        self.days[weekday.num_days_from_monday() as usize]
    }

    /// The usual hours of a Czech immigration office: long Monday and Wednesday, short Friday.
    pub fn typical_office() -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        Self {
            days: [
                Some((t(8, 0), t(17, 0))),
                Some((t(8, 0), t(14, 0))),
                Some((t(8, 0), t(17, 0))),
                Some((t(8, 0), t(14, 0))),
                Some((t(8, 0), t(12, 0))),
                None,
                None,
            ],
        }
    }
}

/// The first instant of a Prague day and the first of the next (23 or 25 hours apart on the
/// days the clocks change).
pub fn prague_day_bounds(date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = prague_instant(date, NaiveTime::MIN)?;
    let end = prague_instant(date.succ_opt()?, NaiveTime::MIN)?;
    Some((start, end))
}

/// When walk-in tickets are issued on a day: from an hour before opening until `cutoff`
/// before closing (so everyone who takes one can still be served), never on a closed day.
pub fn walk_ins_open(hours: &WeeklyHours, now: DateTime<Utc>, cutoff: Duration) -> Result<(), crate::ErrorCode> {
    let local = now.with_timezone(&PRAGUE);
    let date = local.date_naive();
    let (open, close) = hours.on(date.weekday()).filter(|_| !is_public_holiday(date)).ok_or(crate::ErrorCode::WalkInsClosed)?;
    let time = local.time();
    if time < open - Duration::hours(1) || time >= close - cutoff {
        return Err(crate::ErrorCode::WalkInsClosed);
    }
    Ok(())
}

/// Easter Sunday of a Gregorian year (anonymous Gregorian algorithm).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

/// Czech public holidays: the fixed days of the law on holidays plus Good Friday and Easter Monday.
pub fn is_public_holiday(date: NaiveDate) -> bool {
    const FIXED: [(u32, u32); 11] = [(1, 1), (5, 1), (5, 8), (7, 5), (7, 6), (9, 28), (10, 28), (11, 17), (12, 24), (12, 25), (12, 26)];
    if FIXED.contains(&(date.month(), date.day())) {
        return true;
    }
    let easter = easter_sunday(date.year());
    date == easter - Duration::days(2) || date == easter + Duration::days(1)
}

/// The calendar day in Prague that an instant falls on.
pub fn prague_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&PRAGUE).date_naive()
}

/// The start instants of the slots of one service on one Prague day, in order. Empty on
/// holidays and closed days.
pub fn slot_starts(hours: &WeeklyHours, slot_minutes: u32, date: NaiveDate) -> Vec<DateTime<Utc>> {
    if slot_minutes == 0 || is_public_holiday(date) {
        return Vec::new();
    }
    let Some((open, close)) = hours.on(date.weekday()) else { return Vec::new() };
    let step = Duration::minutes(i64::from(slot_minutes));
    let mut starts = Vec::new();
    let mut local = date.and_time(open);
    let closing = date.and_time(close);
    while local + step <= closing {
        match PRAGUE.from_local_datetime(&local) {
            LocalResult::Single(t) => starts.push(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(earlier, _) => starts.push(earlier.with_timezone(&Utc)),
            LocalResult::None => {}
        }
        local += step;
    }
    starts
}

/// Whether `instant` is the start of a slot of this service.
pub fn is_slot_start(hours: &WeeklyHours, slot_minutes: u32, instant: DateTime<Utc>) -> bool {
    slot_starts(hours, slot_minutes, prague_date(instant)).contains(&instant)
}

/// How far ahead bookings open and how close to a slot they close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingWindow {
    pub horizon_days: u32,
    pub min_lead_minutes: u32,
}

impl Default for BookingWindow {
    fn default() -> Self {
        Self { horizon_days: 60, min_lead_minutes: 30 }
    }
}

/// Formats an instant as Prague wall-clock time, `2026-03-29 08:30`.
pub fn prague_label(instant: DateTime<Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    // By hand rather than with a strftime pattern, which is parsed again on every call: a page
    // of slots formats dozens of these.
    let local = instant.with_timezone(&PRAGUE);
    format!("{:04}-{:02}-{:02} {:02}:{:02}", local.year(), local.month(), local.day(), local.hour(), local.minute())
}

/// Parses a slot start sent by a client: RFC 3339 with an offset (`2026-11-24T08:30:00+01:00`,
/// `…Z`). Wall-clock times without an offset are refused: in the autumn overlap they are ambiguous.
pub fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    if raw.len() > 40 {
        return None;
    }
    DateTime::parse_from_rfc3339(raw.trim()).ok().map(|t| t.with_timezone(&Utc))
}

/// A Prague local date and time as an instant, `None` in the spring gap; the earlier instant in
/// the autumn overlap.
pub fn prague_instant(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    match PRAGUE.from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
    }

    fn every_day(open: NaiveTime, close: NaiveTime) -> WeeklyHours {
        WeeklyHours { days: [Some((open, close)); 7] }
    }

    #[test]
    fn walk_ins_stop_before_closing_and_on_closed_days() {
        let hours = WeeklyHours::typical_office();
        let cutoff = Duration::minutes(30);
        let prague = |date: NaiveDate, time: NaiveTime| prague_instant(date, time).unwrap_or_default();
        // Tuesday 24 November 2026: open 8:00–14:00.
        let tuesday = d(2026, 11, 24);
        let cases = [
            (prague(tuesday, t(6, 59)), false),
            (prague(tuesday, t(7, 0)), true),
            (prague(tuesday, t(13, 29)), true),
            (prague(tuesday, t(13, 30)), false),
            (prague(d(2026, 11, 28), t(10, 0)), false),
            (prague(d(2026, 12, 24), t(10, 0)), false),
        ];
        for (now, open) in cases {
            assert_eq!(walk_ins_open(&hours, now, cutoff).is_ok(), open, "{now}");
        }
    }

    #[test]
    fn easter_dates() {
        for (year, month, day) in [(2024, 3, 31), (2025, 4, 20), (2026, 4, 5), (2027, 3, 28), (2028, 4, 16)] {
            assert_eq!(easter_sunday(year), d(year, month, day));
        }
    }

    #[test]
    fn czech_holidays_2026_and_2027() {
        let holidays = [
            d(2026, 1, 1),
            d(2026, 4, 3),
            d(2026, 4, 6),
            d(2026, 5, 1),
            d(2026, 5, 8),
            d(2026, 7, 5),
            d(2026, 7, 6),
            d(2026, 9, 28),
            d(2026, 10, 28),
            d(2026, 11, 17),
            d(2026, 12, 24),
            d(2026, 12, 25),
            d(2026, 12, 26),
            d(2027, 1, 1),
            d(2027, 3, 26),
            d(2027, 3, 29),
            d(2027, 5, 1),
            d(2027, 5, 8),
            d(2027, 11, 17),
        ];
        for day in holidays {
            assert!(is_public_holiday(day), "{day}");
            assert!(slot_starts(&every_day(t(8, 0), t(17, 0)), 30, day).is_empty(), "{day}");
        }
        for workday in [d(2026, 4, 2), d(2026, 4, 7), d(2026, 11, 18), d(2027, 3, 25), d(2027, 3, 30), d(2026, 12, 23)] {
            assert!(!is_public_holiday(workday), "{workday}");
        }
    }

    /// (date, opening, closing, slot minutes, expected count, expected first start in UTC).
    #[test]
    fn slots_across_dst_changes() {
        let cases = [
            // Ordinary winter and summer days: 08:00 Prague is 07:00 / 06:00 UTC.
            (d(2026, 11, 24), t(8, 0), t(12, 0), 30, 8, "2026-11-24T07:00:00Z"),
            (d(2026, 6, 2), t(8, 0), t(12, 0), 30, 8, "2026-06-02T06:00:00Z"),
            // Spring forward, 29 March 2026 and 28 March 2027: 02:00–02:59 does not exist.
            (d(2026, 3, 29), t(0, 0), t(6, 0), 30, 10, "2026-03-28T23:00:00Z"),
            (d(2027, 3, 28), t(1, 0), t(4, 0), 60, 2, "2027-03-28T00:00:00Z"),
            // Fall back, 25 October 2026 and 31 October 2027: 02:00–02:59 happens twice; listed once.
            (d(2026, 10, 25), t(0, 0), t(6, 0), 30, 12, "2026-10-24T22:00:00Z"),
            (d(2027, 10, 31), t(1, 0), t(4, 0), 60, 3, "2027-10-30T23:00:00Z"),
            // The same DST days with ordinary office hours: unaffected.
            (d(2026, 3, 29), t(8, 0), t(12, 0), 60, 4, "2026-03-29T06:00:00Z"),
            (d(2026, 10, 25), t(8, 0), t(12, 0), 60, 4, "2026-10-25T07:00:00Z"),
        ];
        for (date, open, close, minutes, count, first) in cases {
            let starts = slot_starts(&every_day(open, close), minutes, date);
            assert_eq!(starts.len(), count, "{date}");
            assert_eq!(starts.first().map(|s| s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).as_deref(), Some(first), "{date}");
            let mut unique = starts.clone();
            unique.dedup();
            assert_eq!(unique.len(), starts.len(), "{date}: duplicate slot");
            assert!(starts.windows(2).all(|w| w[0] < w[1]), "{date}: not increasing");
        }
    }

    #[test]
    fn spring_gap_has_no_slot_and_autumn_overlap_one() {
        let hours = every_day(t(1, 0), t(4, 0));
        let spring: Vec<String> = slot_starts(&hours, 30, d(2026, 3, 29)).iter().map(|s| prague_label(*s)).collect();
        assert_eq!(spring, ["2026-03-29 01:00", "2026-03-29 01:30", "2026-03-29 03:00", "2026-03-29 03:30"]);
        let autumn: Vec<String> = slot_starts(&hours, 30, d(2026, 10, 25)).iter().map(|s| prague_label(*s)).collect();
        assert_eq!(
            autumn,
            ["2026-10-25 01:00", "2026-10-25 01:30", "2026-10-25 02:00", "2026-10-25 02:30", "2026-10-25 03:00", "2026-10-25 03:30"]
        );
    }

    #[test]
    fn closed_days_and_slot_membership() {
        let hours = WeeklyHours::typical_office();
        assert!(slot_starts(&hours, 30, d(2026, 11, 28)).is_empty(), "Saturday");
        let friday = slot_starts(&hours, 30, d(2026, 11, 27));
        assert_eq!(friday.len(), 8);
        assert!(is_slot_start(&hours, 30, friday[3]));
        assert!(!is_slot_start(&hours, 30, friday[3] + Duration::minutes(10)));
        assert_eq!(parse_instant("2026-11-27T08:00:00+01:00"), friday.first().copied());
        assert_eq!(parse_instant("2026-11-27T08:00:00"), None);
    }
}
