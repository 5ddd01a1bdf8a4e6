//! Daylight saving time: where croner's answers around a change of offset
//! are checked or completed (the rule is in the parent module's docs).

use super::Zone;
use chrono::{DateTime, Offset as _, TimeDelta, TimeZone as _, Utc};
use croner::Cron;

/// croner's next fire after `after`, checked: croner resolves an ambiguous
/// local time to its first pass, which can lie before `after` (then look
/// again an hour on), and it can answer the first instant after a spring gap
/// for a fixed-time job that was not in the gap at all (`0 30 1` in Berlin
/// on the day 02:00 jumps to 03:00 fires at 01:30 and again at 03:00). A
/// candidate stands only if its local time matches, or it is the end of a
/// gap that held a matching local time; otherwise the search goes on from it.
pub(super) fn next_in_zone(
    cron: &Cron,
    zone: &Zone,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let find = |from: DateTime<Utc>| {
        (0..3).find_map(|hours| {
            let start = from + TimeDelta::hours(hours);
            cron.find_next_occurrence(&start.with_timezone(zone), false)
                .ok()
                .map(|local| local.with_timezone(&Utc))
                .filter(|at| *at > from)
        })
    };
    let mut candidate = find(after)?;
    // Each refused candidate is a gap's end; a few years hold few gaps.
    for _ in 0..8 {
        let matches = cron
            .is_time_matching(&candidate.with_timezone(zone))
            .unwrap_or(false);
        if matches || gap_before_holds_a_match(cron, zone, candidate) {
            return Some(candidate);
        }
        candidate = find(candidate)?;
    }
    None
}

/// Whether `at` is the first instant after a spring gap and the expression
/// matches a local time inside that gap. The gap's local times, read with
/// the offset in force before it, are the instants from `at` to `at` plus
/// the gap's length.
fn gap_before_holds_a_match(cron: &Cron, zone: &Zone, at: DateTime<Utc>) -> bool {
    let offset_at = |at: DateTime<Utc>| zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    let (before, after) = (offset_at(at - TimeDelta::seconds(1)), offset_at(at));
    let gap = i64::from(after.local_minus_utc() - before.local_minus_utc());
    if gap <= 0 {
        return false;
    }
    cron.find_next_occurrence(&at.with_timezone(&before), true)
        .is_ok_and(|local| local.with_timezone(&Utc) < at + TimeDelta::seconds(gap))
}

/// A wildcard or step job's next fire in the second pass of a repeated
/// (fall-back) hour, which croner skips: it searches the next wall-clock
/// match after the local time of `after`, and after a fall back that local
/// time is already past the repeated hour.
///
/// The search is redone at each fixed offset in force around `after` (now,
/// and a few hours on, past any change); a match counts only if the zone
/// really has that offset at that instant.
pub(super) fn second_pass(cron: &Cron, zone: &Zone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let offset_at = |at: DateTime<Utc>| zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    [offset_at(after), offset_at(after + TimeDelta::hours(3))]
        .into_iter()
        .filter_map(|offset| {
            let local = cron
                .find_next_occurrence(&after.with_timezone(&offset), false)
                .ok()?;
            let at = local.with_timezone(&Utc);
            (at > after && offset_at(at) == offset).then_some(at)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::super::Schedule;
    use super::super::Zone;
    use super::super::tests::fires;
    use chrono::{DateTime, Datelike as _, TimeDelta, TimeZone as _, Utc};

    // Europe/Dublin: 2026-03-29 01:00 local (UTC) jumps to 02:00 (IST, +1);
    // 2026-10-25 02:00 IST falls back to 01:00 GMT.
    // America/New_York: 2026-03-08 02:00 EST jumps to 03:00 EDT;
    // 2026-11-01 02:00 EDT falls back to 01:00 EST.

    #[test]
    fn a_daily_local_time_keeps_its_local_time_across_both_changes() {
        let nine = Schedule::parse("0 0 9 * * *", "Europe/Dublin").unwrap();
        assert_eq!(
            fires(&nine, "2026-03-28T10:00:00Z", 2),
            // 09:00 GMT, then 09:00 IST = 08:00 UTC: no drift after the change.
            ["2026-03-29T08:00:00+00:00", "2026-03-30T08:00:00+00:00"]
        );
        assert_eq!(
            fires(&nine, "2026-10-24T10:00:00Z", 2),
            ["2026-10-25T09:00:00+00:00", "2026-10-26T09:00:00+00:00"]
        );
    }

    #[test]
    fn a_fixed_time_in_the_spring_gap_runs_once_right_after_it() {
        // 02:30 does not exist in New York on 2026-03-08.
        let half_two = Schedule::parse("0 30 2 * * *", "America/New_York").unwrap();
        assert_eq!(
            fires(&half_two, "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08T07:00:00+00:00", // 03:00 EDT, the first time after the gap
                "2026-03-09T06:30:00+00:00", // 02:30 EDT
                "2026-03-10T06:30:00+00:00",
            ]
        );
    }

    #[test]
    fn a_fixed_time_in_the_autumn_overlap_runs_once() {
        // 01:30 happens twice in New York on 2026-11-01.
        let half_one = Schedule::parse("0 30 1 * * *", "America/New_York").unwrap();
        assert_eq!(
            fires(&half_one, "2026-10-31T12:00:00Z", 2),
            // 01:30 EDT (05:30 UTC) only, then 01:30 EST the next day.
            ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]
        );
        // Started during the second pass (01:10 EST): not again that night.
        assert_eq!(
            fires(&half_one, "2026-11-01T06:10:00Z", 1),
            ["2026-11-02T06:30:00+00:00"]
        );
        let dublin = Schedule::parse("0 30 1 * * *", "Europe/Dublin").unwrap();
        assert_eq!(
            fires(&dublin, "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]
        );
    }

    #[test]
    fn a_step_job_skips_the_gap_and_runs_through_the_repeated_hour() {
        let quarter = Schedule::parse("0 */30 * * * *", "America/New_York").unwrap();
        // Spring: 01:30 EST, then 03:00 EDT (02:00 and 02:30 do not exist).
        assert_eq!(
            fires(&quarter, "2026-03-08T06:15:00Z", 2),
            ["2026-03-08T06:30:00+00:00", "2026-03-08T07:00:00+00:00"]
        );
        // Autumn: 01:00, 01:30 EDT, then 01:00, 01:30 EST, then 02:00 EST.
        assert_eq!(
            fires(&quarter, "2026-11-01T04:45:00Z", 5),
            [
                "2026-11-01T05:00:00+00:00",
                "2026-11-01T05:30:00+00:00",
                "2026-11-01T06:00:00+00:00",
                "2026-11-01T06:30:00+00:00",
                "2026-11-01T07:00:00+00:00",
            ]
        );
    }

    #[test]
    fn a_step_job_runs_through_dublins_repeated_hour() {
        // 2026-10-25: 02:00 IST (01:00 UTC) falls back to 01:00 GMT.
        let half_hourly = Schedule::parse("0 */30 * * * *", "Europe/Dublin").unwrap();
        assert_eq!(
            fires(&half_hourly, "2026-10-25T00:15:00Z", 4),
            [
                "2026-10-25T00:30:00+00:00", // 01:30 IST
                "2026-10-25T01:00:00+00:00", // 01:00 GMT, the second pass
                "2026-10-25T01:30:00+00:00", // 01:30 GMT
                "2026-10-25T02:00:00+00:00",
            ]
        );
        // Spring: 2026-03-29 01:00 GMT jumps to 02:00 IST; 01:00-01:59 do not exist.
        assert_eq!(
            fires(&half_hourly, "2026-03-29T00:45:00Z", 2),
            ["2026-03-29T01:00:00+00:00", "2026-03-29T01:30:00+00:00"]
        );
    }

    #[test]
    fn catch_up_finds_the_last_fire_in_the_second_pass_of_a_repeated_hour() {
        // 01:30 EST on 2026-11-01 is the second 01:30 that night.
        let half_minutes = Schedule::parse("*/30 * * * * *", "America/New_York").unwrap();
        let at: DateTime<Utc> = "2026-11-01T06:30:10Z".parse().unwrap();
        let want: DateTime<Utc> = "2026-11-01T06:30:00Z".parse().unwrap();
        assert_eq!(half_minutes.last_at_or_before(at), Some(want));
    }

    /// What a daily job at local `hour:minute` should do on `day` in `zone`:
    /// fire once, at that time if it exists (its first pass if it occurs
    /// twice), else at the first instant after the spring gap.
    fn expected_fire(zone: &Zone, day: chrono::NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
        use chrono::LocalResult;
        let local = day.and_hms_opt(hour, minute, 0).unwrap();
        match zone.from_local_datetime(&local) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
            LocalResult::None => {
                // The gap: walk forward a minute at a time to the first time that exists.
                let mut probe = local;
                loop {
                    probe += TimeDelta::minutes(1);
                    if let LocalResult::Single(at) = zone.from_local_datetime(&probe) {
                        return at.with_timezone(&Utc);
                    }
                }
            }
        }
    }

    /// Every hour of both change days in both zones, at :00, :30 and :59,
    /// in the 5- and 6-field forms and pinned to the weekday or the date:
    /// each fires exactly once that local day, at the expected instant, and
    /// catch-up finds the same instant as the last fire.
    #[test]
    fn every_daily_time_fires_once_on_both_change_days_in_both_zones() {
        let days = [
            ("Europe/Berlin", "2026-03-29"),
            ("Europe/Berlin", "2026-10-25"),
            ("America/New_York", "2026-03-08"),
            ("America/New_York", "2026-11-01"),
        ];
        for (zone_name, day) in days {
            let zone = &Zone::named(zone_name).unwrap();
            let day: chrono::NaiveDate = day.parse().unwrap();
            let local = |day: chrono::NaiveDate, hour| {
                let at = day.and_hms_opt(hour, 0, 0).unwrap();
                zone.from_local_datetime(&at).unwrap().with_timezone(&Utc)
            };
            let (start, end) = (
                local(day.pred_opt().unwrap(), 12),
                local(day.succ_opt().unwrap(), 0),
            );
            for hour in 0..24 {
                for minute in [0, 30, 59] {
                    // Every change day here is a Sunday.
                    let (date, month) = (day.day(), day.month());
                    for expression in [
                        format!("0 {minute} {hour} * * *"),
                        format!("{minute} {hour} * * *"),
                        format!("0 {minute} {hour} * * 0"),
                        format!("0 {minute} {hour} {date} {month} *"),
                    ] {
                        let schedule = Schedule::parse(&expression, zone_name).unwrap();
                        let mut fired = Vec::new();
                        let mut at = start;
                        while let Some(next) = schedule.next_after(at).filter(|n| *n < end) {
                            if next.with_timezone(zone).date_naive() == day {
                                fired.push(next);
                            }
                            at = next;
                        }
                        let want = expected_fire(zone, day, hour, minute);
                        assert_eq!(fired, [want], "'{expression}' in {zone_name} on {day}");
                        let last = schedule.last_at_or_before(want + TimeDelta::seconds(59));
                        assert_eq!(last, Some(want), "last of '{expression}' in {zone_name}");
                    }
                }
            }
        }
    }
}
