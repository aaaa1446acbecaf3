//! When editions are due. A schedule names local times (09:00 in The Hague); a slot is one
//! local time, identified by the first UTC instant at which the local clock shows it.
//!
//! The cron crate, asked in a time zone, fires twice for a time that the autumn change
//! repeats and never for one that the spring change skips. So slots are enumerated on the
//! naive local calendar (no time zone, no daylight saving) and only then placed in time:
//! a repeated local time becomes its first instant, a skipped one the instant the clocks
//! jump past it. One slot, one instant, one edition.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use cron::Schedule;

/// The slot an edition is due for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The slot's instant, epoch ms UTC.
    pub slot_ms: i64,
    /// Earlier slots after `since` that were missed and are not built on their own.
    pub skipped: u32,
}

/// Slots counted back at most: beyond this, the count of missed slots is a lower bound.
const MAX_COUNTED: u32 = 10_000;

/// The latest slot in (`since_ms`, `now_ms`], if any.
pub fn due(schedule: &Schedule, tz: Tz, since_ms: i64, now_ms: i64) -> Option<Due> {
    let now = DateTime::from_timestamp_millis(now_ms)?;
    let naive_now = now.with_timezone(&tz).naive_local();
    // Occurrences strictly before the start: one second on includes a slot at `now`.
    let start = (naive_now + Duration::seconds(1)).and_utc();
    let mut slots = schedule
        .after(&start)
        .rev()
        .map(|naive| slot_instant(tz, naive.naive_utc()).timestamp_millis())
        .filter(|&slot| slot <= now_ms)
        .take_while(|&slot| slot > since_ms);
    let slot_ms = slots.next()?;
    let skipped = slots.take(MAX_COUNTED as usize).count() as u32;
    Some(Due { slot_ms, skipped })
}

/// The next `count` slots after `now_ms`, earliest first, as editors are shown them: each
/// local time once, placed in time as [`due`] places it, so that what is announced is what
/// fires.
pub fn upcoming(schedule: &Schedule, tz: Tz, now_ms: i64, count: usize) -> Vec<DateTime<Utc>> {
    let Some(now) = DateTime::from_timestamp_millis(now_ms) else {
        return Vec::new();
    };
    // From a day back on the local calendar: a slot skipped by the spring change fires
    // after its local time, and may still be ahead.
    let start = (now.with_timezone(&tz).naive_local() - Duration::days(1)).and_utc();
    schedule
        .after(&start)
        .map(|naive| slot_instant(tz, naive.naive_utc()))
        .filter(|slot| *slot > now)
        .take(count)
        .collect()
}

/// The first instant at which the local clock in `tz` shows `local`.
pub fn slot_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(instant) => instant.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => end_of_gap(tz, local),
    }
}

/// `local` falls in a gap (clocks put forward): the first instant whose local time is
/// later, found by bisection over a window wider than any UTC offset.
fn end_of_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let shows_later = |instant: DateTime<Utc>| instant.with_timezone(&tz).naive_local() > local;
    let mut before = local.and_utc() - Duration::days(1);
    let mut after = local.and_utc() + Duration::days(1);
    while after - before > Duration::seconds(1) {
        let middle = before + (after - before) / 2;
        if shows_later(middle) {
            after = middle;
        } else {
            before = middle;
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn schedule(text: &str) -> Schedule {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    const AMSTERDAM: Tz = chrono_tz::Europe::Amsterdam;

    #[test]
    fn the_bulletin_is_due_at_nine_in_the_hague_on_the_first_of_odd_months() {
        let bulletin = schedule("0 0 9 1 1/2 *");
        let since = ms("2027-01-01T08:00:00Z");
        // 09:00 CET is 08:00 UTC in winter, 07:00 UTC in summer (CEST).
        assert_eq!(
            due(&bulletin, AMSTERDAM, since, ms("2027-03-01T07:59:59Z")),
            None
        );
        let due_march = due(&bulletin, AMSTERDAM, since, ms("2027-03-01T08:00:00Z"));
        assert_eq!(
            due_march,
            Some(Due {
                slot_ms: ms("2027-03-01T08:00:00Z"),
                skipped: 0
            })
        );
        let due_may = due(&bulletin, AMSTERDAM, since, ms("2027-05-01T07:00:00Z"));
        assert_eq!(due_may.map(|d| d.slot_ms), Some(ms("2027-05-01T07:00:00Z")));
        assert_eq!(due_may.map(|d| d.skipped), Some(1), "March was missed");
    }

    #[test]
    fn a_slot_the_autumn_change_repeats_is_one_slot() {
        // 02:30 on 31 October 2027 happens twice in Amsterdam: 00:30 and 01:30 UTC.
        let nightly = schedule("0 30 2 * * *");
        let first = ms("2027-10-31T00:30:00Z");
        let since = ms("2027-10-30T12:00:00Z");
        assert_eq!(
            due(&nightly, AMSTERDAM, since, first).map(|d| d.slot_ms),
            Some(first)
        );
        // Once built, the repetition an hour later is not a new slot...
        assert_eq!(
            due(&nightly, AMSTERDAM, first, ms("2027-10-31T01:30:00Z")),
            None
        );
        assert_eq!(
            due(&nightly, AMSTERDAM, first, ms("2027-10-31T02:00:00Z")),
            None
        );
        // ...and the next night's is.
        let next = due(&nightly, AMSTERDAM, first, ms("2027-11-01T01:30:00Z"));
        assert_eq!(next.map(|d| d.slot_ms), Some(ms("2027-11-01T01:30:00Z")));
        assert_eq!(next.map(|d| d.skipped), Some(0));
    }

    #[test]
    fn a_slot_the_spring_change_skips_fires_when_the_clocks_jump() {
        // 02:30 on 28 March 2027 does not exist in Amsterdam: at 01:00 UTC clocks go from
        // 02:00 to 03:00.
        let nightly = schedule("0 30 2 * * *");
        let since = ms("2027-03-27T12:00:00Z");
        let jump = ms("2027-03-28T01:00:00Z");
        assert_eq!(due(&nightly, AMSTERDAM, since, jump - 1000), None);
        let fired = due(&nightly, AMSTERDAM, since, jump);
        assert_eq!(fired.map(|d| d.slot_ms), Some(jump));
        assert_eq!(
            due(&nightly, AMSTERDAM, jump, ms("2027-03-28T12:00:00Z")),
            None
        );
        // The next night is back to 02:30 CEST, 00:30 UTC.
        let next = due(&nightly, AMSTERDAM, jump, ms("2027-03-29T00:30:00Z"));
        assert_eq!(next.map(|d| d.slot_ms), Some(ms("2027-03-29T00:30:00Z")));
    }

    #[test]
    fn upcoming_slots_are_each_local_time_once_in_order() {
        let nightly = schedule("0 30 2 * * *");
        // Before the autumn change: 02:30 repeats on 31 October, and is one slot.
        let slots = upcoming(&nightly, AMSTERDAM, ms("2027-10-30T12:00:00Z"), 3);
        let slots: Vec<i64> = slots.iter().map(|s| s.timestamp_millis()).collect();
        assert_eq!(
            slots,
            [
                ms("2027-10-31T00:30:00Z"),
                ms("2027-11-01T01:30:00Z"),
                ms("2027-11-02T01:30:00Z")
            ]
        );
        // A slot the spring change skips is announced for when the clocks jump.
        let spring = upcoming(&nightly, AMSTERDAM, ms("2027-03-28T00:59:00Z"), 1);
        assert_eq!(
            spring.first().map(|s| s.timestamp_millis()),
            Some(ms("2027-03-28T01:00:00Z"))
        );
        let bulletin = schedule("0 0 9 1 1/2 *");
        let next = upcoming(&bulletin, AMSTERDAM, ms("2027-03-01T08:00:00Z"), 1);
        assert_eq!(
            next.first().map(|s| s.timestamp_millis()),
            Some(ms("2027-05-01T07:00:00Z"))
        );
    }

    #[test]
    fn many_missed_slots_give_one_due_slot() {
        let hourly = schedule("0 0 * * * *");
        let utc = chrono_tz::UTC;
        let since = ms("2027-01-01T00:00:00Z");
        let due = due(&hourly, utc, since, ms("2027-01-02T00:30:00Z"));
        assert_eq!(
            due,
            Some(Due {
                slot_ms: ms("2027-01-02T00:00:00Z"),
                skipped: 23
            })
        );
    }
}
