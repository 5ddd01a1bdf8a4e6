//! `[[function.cron]]`: a schedule as a config or a deploy writes it, and
//! its validation into a [`CronSpec`]. The trigger's keys live here, not
//! in the binary; `publish` is checked in [`crate::kind`] by the sink that
//! takes the results (the MQTT trigger's).

use crate::{CronSpec, Overlap, Schedule, ScheduleError};
use fenn_runtime::trigger::BindingError;
use serde::Deserialize;

/// `[[function.cron]]`: one schedule, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// `name`: unique among schedules; the event's `path`.
    pub name: String,
    /// `schedule`: `*/10 * * * * *`, `30 2 * * *`, `@daily`, `every 30s`.
    pub schedule: String,
    /// `timezone`: IANA zone the expression is read in (default `UTC`).
    pub timezone: Option<String>,
    /// `body`: the event body (default empty).
    #[serde(default)]
    pub body: String,
    /// `overlap`: `"skip"` (default) or `"allow"`.
    #[serde(default)]
    pub overlap: RawOverlap,
    /// `catch_up`: after downtime, run the latest missed fire once (default false).
    #[serde(default)]
    pub catch_up: bool,
    /// `jitter`: delay each fire by a spread amount below this (default none).
    pub jitter: Option<String>,
    /// `publish`: MQTT topic each result is published to (needs `[mqtt]`).
    pub publish: Option<String>,
}

/// `overlap`, as written.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawOverlap {
    /// `"skip"`.
    #[default]
    Skip,
    /// `"allow"`.
    Allow,
}

impl RawSchedule {
    /// The schedule of `function`; `has_state` says whether fenn has
    /// somewhere to remember fires (`catch_up` needs it).
    ///
    /// # Errors
    ///
    /// The name, the expression, the zone, `catch_up` or `jitter` is refused.
    pub fn validate(&self, function: &str, has_state: bool) -> Result<CronSpec, BindingError> {
        if let Some(reason) = fenn_runtime::trigger::name_refused(&self.name) {
            return Err(BindingError::new("name", reason));
        }
        let zone = self.timezone.as_deref().unwrap_or("UTC");
        let schedule = Schedule::parse(&self.schedule, zone).map_err(|error| {
            let field = match error {
                ScheduleError::Zone { .. } => "timezone",
                ScheduleError::Expression { .. } => "schedule",
            };
            BindingError::new(field, error.to_string())
        })?;
        if self.catch_up && !has_state {
            return Err(BindingError::new(
                "catch_up",
                "needs somewhere to remember the last fire: set server.state_dir",
            ));
        }
        let jitter = match &self.jitter {
            Some(text) => fenn_runtime::units::duration(text)
                .map_err(|reason| BindingError::new("jitter", reason))?,
            None => std::time::Duration::ZERO,
        };
        Ok(CronSpec {
            name: self.name.clone(),
            function: function.to_owned(),
            schedule,
            body: self.body.clone(),
            overlap: match self.overlap {
                RawOverlap::Skip => Overlap::Skip,
                RawOverlap::Allow => Overlap::Allow,
            },
            catch_up: self.catch_up,
            jitter,
            publish: self.publish.clone(),
        })
    }
}
