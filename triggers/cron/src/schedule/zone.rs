//! Time zones from the device's own zone database: the TZif files of
//! `/usr/share/zoneinfo` (or `$TZDIR`), which the system's updates keep
//! current. A build with the `bundled-tz` feature falls back to a copy of
//! the IANA database inside the binary for systems without one; `UTC`
//! needs neither.
//!
//! [`Zone`] is a chrono [`TimeZone`], so croner's matching and chrono's
//! arithmetic work in it as in any other zone.

use chrono::{FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where zone files are looked for when `$TZDIR` is not set, in order.
const ZONE_DIRS: [&str; 4] = [
    "/usr/share/zoneinfo",
    "/usr/lib/zoneinfo",
    "/usr/share/lib/zoneinfo",
    "/etc/zoneinfo",
];

/// A TZif file is a few KiB; anything past this is not one.
const MAX_ZONE_FILE: u64 = 256 << 10;

/// Why a zone could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneError {
    /// Not a zone name (characters, length or a `..` in it).
    Name,
    /// No file of that name in the zone database; the directories looked in.
    Missing(String),
    /// A file of that name that is not a zone (TZif) file.
    Unreadable(String),
}

/// A time zone: its IANA name and its rules.
#[derive(Clone)]
pub struct Zone {
    name: Arc<str>,
    rules: Arc<tz::TimeZone>,
}

impl Zone {
    /// The zone named `name`: `UTC` at once, any other from the zone
    /// database's file of that name.
    ///
    /// # Errors
    ///
    /// [`ZoneError`]: a name that is not one, no such file, or a file
    /// that does not read as a zone.
    pub fn named(name: &str) -> Result<Self, ZoneError> {
        if matches!(name, "UTC" | "Etc/UTC" | "Zulu" | "Etc/Zulu") {
            return Ok(Self::utc_named(name));
        }
        if !is_zone_name(name) {
            return Err(ZoneError::Name);
        }
        let data = match std::env::var_os("TZDIR") {
            Some(dir) => read_zone(&[PathBuf::from(dir)], name)?,
            None => read_zone(&ZONE_DIRS.map(PathBuf::from), name)?,
        };
        let rules = tz::TimeZone::from_tz_data(&data)
            .map_err(|_| ZoneError::Unreadable(name.to_owned()))?;
        Ok(Self {
            name: name.into(),
            rules: Arc::new(rules),
        })
    }

    fn utc_named(name: &str) -> Self {
        Self {
            name: name.into(),
            rules: Arc::new(tz::TimeZone::utc()),
        }
    }

    /// The zone's IANA name, as it was given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset from UTC at `unix_time`.
    fn offset_at(&self, unix_time: i64) -> FixedOffset {
        let seconds = self
            .rules
            .find_local_time_type(unix_time)
            .map_or(0, tz::LocalTimeType::ut_offset);
        FixedOffset::east_opt(seconds).unwrap_or(FixedOffset::east_opt(0).expect("UTC"))
    }

    fn at(&self, fixed: FixedOffset) -> ZoneOffset {
        ZoneOffset {
            zone: self.clone(),
            fixed,
        }
    }
}

/// A zone name as the database spells them: letters, digits, `_+-.`,
/// `/` between parts, no part that leads out of the database.
fn is_zone_name(name: &str) -> bool {
    name.len() <= 64
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
        })
}

/// The TZif data of `name` from the first of `dirs` that has it, else from
/// the bundled database when the build has one.
fn read_zone(dirs: &[PathBuf], name: &str) -> Result<Vec<u8>, ZoneError> {
    for dir in dirs {
        if let Ok(data) = fenn_runtime::files::read(&dir.join(name), MAX_ZONE_FILE, "a zone file") {
            return Ok(data);
        }
    }
    bundled(name).ok_or_else(|| {
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        ZoneError::Missing(looked.join(", "))
    })
}

#[cfg(feature = "bundled-tz")]
fn bundled(name: &str) -> Option<Vec<u8>> {
    tzdb_data::find_raw(name.as_bytes()).map(<[u8]>::to_vec)
}

#[cfg(not(feature = "bundled-tz"))]
fn bundled(_name: &str) -> Option<Vec<u8>> {
    None
}

/// Whether this build carries its own copy of the zone database.
pub const BUNDLED: bool = cfg!(feature = "bundled-tz");

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// An offset in force in a [`Zone`] (it knows its zone, as chrono asks).
#[derive(Clone)]
pub struct ZoneOffset {
    zone: Zone,
    fixed: FixedOffset,
}

impl fmt::Debug for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.fixed, self.zone.name)
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fixed, f)
    }
}

impl chrono::Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Self {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN))
    }

    /// The offsets a local time can have: those in force a day before and
    /// a day after it (zones change offset at most once a day), each kept
    /// only if the zone has it at the instant it gives; none in a spring
    /// gap, two in a repeated hour, earlier instant first.
    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let seconds = local.and_utc().timestamp();
        let holds = |offset: FixedOffset| {
            let utc = seconds - i64::from(offset.local_minus_utc());
            self.offset_at(utc) == offset
        };
        let before = self.offset_at(seconds - 86_400);
        let after = self.offset_at(seconds + 86_400);
        let mut found: Vec<FixedOffset> =
            [before, after].into_iter().filter(|o| holds(*o)).collect();
        found.dedup();
        // The earlier instant has the larger offset.
        found.sort_by_key(|offset| std::cmp::Reverse(offset.local_minus_utc()));
        match found.as_slice() {
            [] => MappedLocalTime::None,
            [one] => MappedLocalTime::Single(self.at(*one)),
            [earlier, later, ..] => MappedLocalTime::Ambiguous(self.at(*earlier), self.at(*later)),
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        self.at(self.offset_at(utc.and_utc().timestamp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Offset as _, Utc};

    #[test]
    fn utc_needs_no_zone_database() {
        let zone = Zone::named("UTC").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(at.with_timezone(&zone).offset().fix().local_minus_utc(), 0);
    }

    #[test]
    fn names_that_leave_the_database_are_refused_before_any_file_is_read() {
        for name in [
            "../../etc/passwd",
            "/etc/passwd",
            "Europe/../../x",
            "Europe//Berlin",
            "",
        ] {
            assert_eq!(Zone::named(name).unwrap_err(), ZoneError::Name, "{name}");
        }
    }

    #[test]
    fn a_zone_the_database_lacks_names_where_it_was_looked_for() {
        match Zone::named("Europe/Atlantis") {
            Err(ZoneError::Missing(dirs)) => assert!(dirs.contains("zoneinfo"), "{dirs}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn berlin_has_a_gap_in_spring_and_a_repeated_hour_in_autumn() {
        let zone = Zone::named("Europe/Berlin").unwrap();
        let local = |d, h, m| {
            NaiveDate::from_ymd_opt(2026, 3, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        let offsets = |at: &NaiveDateTime| match zone.offset_from_local_datetime(at) {
            MappedLocalTime::None => vec![],
            MappedLocalTime::Single(o) => vec![o.fix().local_minus_utc() / 3600],
            MappedLocalTime::Ambiguous(a, b) => {
                vec![
                    a.fix().local_minus_utc() / 3600,
                    b.fix().local_minus_utc() / 3600,
                ]
            }
        };
        assert_eq!(offsets(&local(29, 2, 30)), Vec::<i32>::new());
        assert_eq!(offsets(&local(29, 3, 30)), vec![2]);
        assert_eq!(offsets(&local(28, 2, 30)), vec![1]);
        let autumn = NaiveDate::from_ymd_opt(2026, 10, 25)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(offsets(&autumn), vec![2, 1]);
    }

    #[cfg(feature = "bundled-tz")]
    #[test]
    fn the_bundled_database_reads_as_the_system_files_do() {
        let data = bundled("America/New_York").unwrap();
        let bundled = tz::TimeZone::from_tz_data(&data).unwrap();
        let system = Zone::named("America/New_York").unwrap();
        for unix_time in [0, 1_700_000_000, 1_800_000_000] {
            assert_eq!(
                bundled.find_local_time_type(unix_time).unwrap().ut_offset(),
                system.offset_at(unix_time).local_minus_utc()
            );
        }
    }
}
