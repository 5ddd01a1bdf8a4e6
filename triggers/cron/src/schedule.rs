//! A schedule: a cron expression in a time zone, or a fixed interval.
//!
//! Accepted forms:
//!
//! - 6 fields with seconds: `*/10 * * * * *`;
//! - the classic 5 fields: `30 2 * * *` (fires at second 0);
//! - shorthands: `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//!   `@midnight`, `@hourly`;
//! - intervals: `every 30s`, `every 500ms`, `every 5m`, `every 1h`, fired
//!   at whole multiples of the interval since the Unix epoch (so a fleet
//!   fires together unless it sets jitter).
//!
//! # Daylight saving time
//!
//! Expressions are read in the schedule's time zone (UTC by default) and
//! follow one rule, Vixie cron's as written down by the Open Cron Pattern
//! Specification:
//!
//! - **spring forward** (a local time that does not exist): a job at a
//!   fixed time (numbers in its second, minute and hour fields, such as
//!   `0 30 2 * * *`) runs at the first valid time after the gap, once; a job
//!   with wildcards or steps in those fields skips the times in the gap;
//! - **fall back** (a local time that occurs twice): a fixed-time job runs
//!   once, at the first occurrence; a wildcard or step job runs at every
//!   matching wall-clock time, in both passes of the repeated hour.
//!
//! Every fire time is worked out anew in the zone, so the offset after a
//! change is always the right one. (croner, which parses and matches the
//! expressions, skips the second pass of a repeated hour for wildcard and
//! step jobs; fenn searches that pass itself, see `second_pass`.)

use chrono::{DateTime, TimeDelta, TimeZone as _, Timelike as _, Utc};
use croner::parser::{CronParser, Seconds};
use croner::{Cron, JobType};
use std::time::Duration;

mod dst;
mod zone;
use dst::{next_in_zone, second_pass};
pub use zone::{BUNDLED, Zone, ZoneError};

/// Why an expression or zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression does not parse.
    #[error("'{expression}' is not a schedule: {reason}")]
    Expression {
        /// The expression.
        expression: String,
        /// What the parser said.
        reason: String,
    },
    /// The time zone is not one this device knows.
    #[error("'{zone}' {reason}")]
    Zone {
        /// The zone.
        zone: String,
        /// Why: not a name, or not in the zone database.
        reason: String,
    },
}

/// When a function fires.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A cron expression read in a time zone.
    Cron {
        /// The parsed expression.
        cron: Box<Cron>,
        /// The zone it is read in.
        zone: Zone,
        /// The text, for headers and logs.
        expression: String,
    },
    /// A fixed interval, aligned to the Unix epoch.
    Every(Duration),
}

impl Schedule {
    /// Parses `expression` in the IANA time zone `zone`.
    ///
    /// # Errors
    ///
    /// [`ScheduleError`] naming what is wrong.
    pub fn parse(expression: &str, zone: &str) -> Result<Self, ScheduleError> {
        let zone = Zone::named(zone).map_err(|error| ScheduleError::Zone {
            zone: zone.to_owned(),
            reason: zone_reason(&error),
        })?;
        let text = expression.trim();
        if let Some(interval) = text.strip_prefix("every ") {
            return parse_interval(interval.trim())
                .map(Schedule::Every)
                .ok_or_else(|| ScheduleError::Expression {
                    expression: text.to_owned(),
                    reason: "an interval is a whole number with ms, s, m or h, such as every 30s"
                        .into(),
                });
        }
        let normalized = if text.eq_ignore_ascii_case("@midnight") {
            "@daily"
        } else {
            text
        };
        let refuse = |reason: String| ScheduleError::Expression {
            expression: text.to_owned(),
            reason,
        };
        check_fields(normalized).map_err(refuse)?;
        let cron =
            parse_cron(normalized).map_err(|error| refuse(name_the_field(normalized, &error)))?;
        let schedule = Schedule::Cron {
            cron: Box::new(cron),
            zone,
            expression: text.to_owned(),
        };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(refuse("it never fires (no such date)".into()));
        }
        Ok(schedule)
    }

    /// The first fire time strictly after `after`, or `None` if it never
    /// fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(interval) => {
                let step = i64::try_from(interval.as_millis()).ok()?.max(1);
                let now = after.timestamp_millis();
                let next = (now.div_euclid(step) + 1).checked_mul(step)?;
                Utc.timestamp_millis_opt(next).single()
            }
            Schedule::Cron { cron, zone, .. } => {
                // Cron has whole seconds: match from the start of this one.
                let after = after.with_nanosecond(0).unwrap_or(after);
                let next = next_in_zone(cron, zone, after);
                match cron.determine_job_type() {
                    JobType::FixedTime => next,
                    JobType::IntervalWildcard => match (second_pass(cron, zone, after), next) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                }
            }
        }
    }

    /// The last fire time at or before `at`, if any (for catch-up).
    pub fn last_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(interval) => {
                let step = i64::try_from(interval.as_millis()).ok()?.max(1);
                let last = at.timestamp_millis().div_euclid(step).checked_mul(step)?;
                Utc.timestamp_millis_opt(last).single()
            }
            Schedule::Cron { cron, zone, .. } => {
                let at = at.with_nanosecond(0).unwrap_or(at);
                // croner's answer, checked as in `next_in_zone` (around a
                // spring gap it can answer a time that never fires), then
                // walked forward over fires it does not see (a gap's end, a
                // repeated hour's second pass), a bounded number of steps.
                let mut from = at;
                let mut last = None;
                for _ in 0..8 {
                    let found = cron
                        .find_previous_occurrence(&from.with_timezone(zone), true)
                        .ok()?
                        .with_timezone(&Utc);
                    if cron
                        .is_time_matching(&found.with_timezone(zone))
                        .unwrap_or(false)
                    {
                        last = Some(found);
                        break;
                    }
                    from = found - TimeDelta::seconds(1);
                }
                // Enough steps for an every-second job's repeated hour (3 600).
                let mut last = last?;
                for _ in 0..4_000 {
                    match self.next_after(last) {
                        Some(next) if next <= at => last = next,
                        _ => break,
                    }
                }
                Some(last)
            }
        }
    }

    /// The schedule as it could be written: a cron expression as it was,
    /// an interval in its largest whole unit (`every 30s`, `every 1h`,
    /// `every 1500ms`).
    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron { expression, .. } => expression.clone(),
            Schedule::Every(interval) => format!("every {}", whole_unit(*interval)),
        }
    }

    /// The zone, as an IANA name (`UTC` for intervals).
    pub fn zone(&self) -> String {
        match self {
            Schedule::Cron { zone, .. } => zone.name().to_owned(),
            Schedule::Every(_) => "UTC".into(),
        }
    }
}

/// Why a zone is refused, as the config's error says it.
fn zone_reason(error: &ZoneError) -> String {
    match error {
        ZoneError::Name => "is not an IANA time zone name (such as Europe/Berlin or UTC)".into(),
        ZoneError::Missing(dirs) if BUNDLED => format!(
            "is not a time zone this device knows: no file in {dirs}, nor in the bundled \
             zone database"
        ),
        ZoneError::Missing(dirs) => format!(
            "is not a time zone this device knows: no file in {dirs} (install the \
             system's tzdata package, or build fenn with the bundled-tz feature)"
        ),
        ZoneError::Unreadable(_) => "has a file in the zone database that is not a zone".into(),
    }
}

/// `interval` in the largest unit it is a whole number of.
fn whole_unit(interval: Duration) -> String {
    let millis = interval.as_millis();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if millis % size == 0 {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

fn parse_cron(text: &str) -> Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(text)
}

/// croner's reason, with the field it is about: each field is tried alone,
/// the others `*`, and the first that fails is named (croner's own message,
/// such as "Number out of bounds", does not say where).
fn name_the_field(text: &str, error: &croner::errors::CronError) -> String {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let names = field_names(fields.len());
    for (index, (field, name)) in fields.iter().zip(names).enumerate() {
        let alone: Vec<&str> = (0..fields.len())
            .map(|i| if i == index { *field } else { "*" })
            .collect();
        if let Err(alone_error) = parse_cron(&alone.join(" ")) {
            return format!("the {} field '{field}': {alone_error}", name.0);
        }
    }
    error.to_string()
}

/// The fields' names and numbers of values, for 5 or 6 fields.
fn field_names(count: usize) -> &'static [(&'static str, u32)] {
    const SIX: [(&str, u32); 6] = [
        ("second", 60),
        ("minute", 60),
        ("hour", 24),
        ("day", 31),
        ("month", 12),
        ("weekday", 7),
    ];
    if count == 6 { &SIX } else { &SIX[1..] }
}

fn parse_interval(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "ms" => Some(Duration::from_millis(value)),
        "s" => Some(Duration::from_secs(value)),
        "m" => value.checked_mul(60).map(Duration::from_secs),
        "h" => value.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

/// The shorthands fenn takes (`@midnight` is read as `@daily`).
const SHORTHANDS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// What croner would take but a person did not mean: more fields than
/// `sec min hour day month weekday` (croner reads a seventh as a year), and
/// a step no smaller than its field's number of values (`*/61` in minutes
/// matches minute 0 only), each named with its field.
fn check_fields(text: &str) -> Result<(), String> {
    if text.starts_with('@') {
        if SHORTHANDS
            .iter()
            .any(|known| text.eq_ignore_ascii_case(known))
        {
            return Ok(());
        }
        return Err(format!(
            "no such shorthand: fenn knows {}, intervals such as every 30s, and 5 fields (min hour day month weekday) or 6 (sec first)",
            SHORTHANDS.join(" ")
        ));
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    if !(5..=6).contains(&fields.len()) {
        return Err(format!(
            "{} fields: fenn takes 5 (min hour day month weekday) or 6 (sec first)",
            fields.len()
        ));
    }
    for (field, (name, values)) in fields.iter().zip(field_names(fields.len())) {
        for part in field.split(',') {
            let Some((_, step)) = part.split_once('/') else {
                continue;
            };
            if step.parse::<u32>().is_ok_and(|step| step >= *values) {
                return Err(format!(
                    "the {name} field's step /{step} is not below its {values} values"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_that_never_fire_or_mean_something_else_are_refused() {
        for (expression, says) in [
            ("0 0 30 2 *", "never fires"),
            ("*/61 * * * *", "minute field's step /61"),
            ("0 */24 * * *", "hour field's step /24"),
            ("0 0 0 1 1 * 2030", "7 fields"),
            (
                "* * *",
                "3 fields: fenn takes 5 (min hour day month weekday) or 6",
            ),
            (
                "@often",
                "no such shorthand: fenn knows @yearly @annually @monthly @weekly @daily @midnight @hourly, intervals such as every 30s, and 5 fields",
            ),
            ("0 25 * * *", "the hour field '25'"),
            ("61 * * * * *", "the second field '61'"),
            ("0 0 * 13 *", "the month field '13'"),
            ("0 0 * * MOON", "the weekday field 'MOON'"),
        ] {
            let error = Schedule::parse(expression, "UTC").unwrap_err();
            assert!(error.to_string().contains(says), "{expression}: {error}");
        }
        for fine in [
            "0 0 29 2 *",
            "*/59 * * * *",
            "@daily",
            "@Annually",
            "*/5 * * * * *",
        ] {
            assert!(Schedule::parse(fine, "UTC").is_ok(), "{fine}");
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// The next `n` fire times after `from`, as RFC 3339 in UTC.
    pub(super) fn fires(schedule: &Schedule, from: &str, n: usize) -> Vec<String> {
        let mut at = utc(from);
        (0..n)
            .map(|_| {
                at = schedule.next_after(at).unwrap();
                at.to_rfc3339()
            })
            .collect()
    }

    #[test]
    fn six_and_five_field_expressions_and_shorthands() {
        let every_ten = Schedule::parse("*/10 * * * * *", "UTC").unwrap();
        assert_eq!(
            fires(&every_ten, "2026-01-01T00:00:05Z", 2),
            ["2026-01-01T00:00:10+00:00", "2026-01-01T00:00:20+00:00"]
        );
        let classic = Schedule::parse("30 2 * * *", "UTC").unwrap();
        assert_eq!(
            fires(&classic, "2026-01-01T00:00:00Z", 1),
            ["2026-01-01T02:30:00+00:00"]
        );
        let hourly = Schedule::parse("@hourly", "UTC").unwrap();
        assert_eq!(
            fires(&hourly, "2026-01-01T00:59:59Z", 1),
            ["2026-01-01T01:00:00+00:00"]
        );
        // Fires are on whole seconds whatever the sub-second part of "now".
        let every_second = Schedule::parse("* * * * * *", "UTC").unwrap();
        assert_eq!(
            fires(&every_second, "2026-01-01T00:00:05.024Z", 1),
            ["2026-01-01T00:00:06+00:00"]
        );
        let midnight = Schedule::parse("@midnight", "Europe/Berlin").unwrap();
        assert_eq!(
            fires(&midnight, "2026-01-01T12:00:00Z", 1),
            ["2026-01-01T23:00:00+00:00"]
        );
    }

    #[test]
    fn intervals_are_described_in_their_largest_whole_unit() {
        for (written, described) in [
            ("every 30s", "every 30s"),
            ("every 30000ms", "every 30s"),
            ("every 90s", "every 90s"),
            ("every 120m", "every 2h"),
            ("every 1500ms", "every 1500ms"),
        ] {
            let schedule = Schedule::parse(written, "UTC").unwrap();
            assert_eq!(schedule.describe(), described, "{written}");
        }
    }

    #[test]
    fn intervals_fire_at_multiples_since_the_epoch() {
        let every = Schedule::parse("every 30s", "UTC").unwrap();
        assert_eq!(
            fires(&every, "2026-01-01T00:00:10Z", 2),
            ["2026-01-01T00:00:30+00:00", "2026-01-01T00:01:00+00:00"]
        );
        let fast = Schedule::parse("every 250ms", "UTC").unwrap();
        let next = fast.next_after(utc("2026-01-01T00:00:00.100Z")).unwrap();
        assert_eq!(next, utc("2026-01-01T00:00:00.250Z"));
    }

    #[test]
    fn bad_expressions_and_zones_are_refused_with_the_reason() {
        for bad in [
            "",
            "* * *",
            "61 * * * * *",
            "every",
            "every 0s",
            "every 5 weeks",
            "@sometimes",
        ] {
            let error = Schedule::parse(bad, "UTC").unwrap_err();
            assert!(
                matches!(error, ScheduleError::Expression { .. }),
                "{bad}: {error}"
            );
        }
        let error = Schedule::parse("@daily", "Mars/Olympus").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("'Mars/Olympus' is not a time zone this device knows: no file "),
            "{message}"
        );
        assert!(message.contains("/usr/share/zoneinfo"), "{message}");
        let error = Schedule::parse("@daily", "../etc/passwd").unwrap_err();
        assert_eq!(
            error.to_string(),
            "'../etc/passwd' is not an IANA time zone name (such as Europe/Berlin or UTC)"
        );
    }

    #[test]
    fn the_last_fire_at_or_before_an_instant() {
        let hourly = Schedule::parse("@hourly", "UTC").unwrap();
        assert_eq!(
            hourly.last_at_or_before(utc("2026-01-01T05:59:00Z")),
            Some(utc("2026-01-01T05:00:00Z"))
        );
        assert_eq!(
            hourly.last_at_or_before(utc("2026-01-01T05:00:00Z")),
            Some(utc("2026-01-01T05:00:00Z"))
        );
        // Whole seconds, whatever the sub-second part of the instant.
        assert_eq!(
            hourly.last_at_or_before(utc("2026-01-01T05:27:29.168Z")),
            Some(utc("2026-01-01T05:00:00Z"))
        );
    }
}
