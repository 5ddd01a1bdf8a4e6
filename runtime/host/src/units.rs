//! Durations (`500ms`, `2s`, `1m`, `1h`) and sizes (`512KiB`, `16MiB`,
//! `1MB`, plain bytes) as the config writes them.

use std::time::Duration;

/// Parses `500ms`, `2s`, `1.5s`, `1m`, `1h`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (write it as 500ms, 2s, 1m or 1h)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("'{text}' has no known unit (ms, s, m or h)")),
    };
    if !(seconds.is_finite() && seconds > 0.0 && seconds < 1e9) {
        return Err(format!("'{text}' must be more than zero"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Like [`duration`], but `0s` (or `0`, `0ms`, …) is allowed and read as
/// `None`: for keys where zero means "none at all".
pub fn duration_or_zero(text: &str) -> Result<Option<Duration>, String> {
    let number = text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .trim();
    if number.parse::<f64>().is_ok_and(|n| n == 0.0) {
        return Ok(None);
    }
    duration(text).map(Some)
}

/// Parses `4096`, `512KiB`, `16MiB`, `1GiB`, `1KB`, `1MB`.
pub fn size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: usize = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (write it as 4096, 512KiB or 16MiB)"))?;
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => {
            return Err(format!(
                "'{text}' has no known unit (KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    match value.checked_mul(scale) {
        Some(0) => Err(format!("'{text}' must be more than zero")),
        Some(bytes) => Ok(bytes),
        None => Err(format!("'{text}' is too large")),
    }
}

/// A count a config gives: from 1 to `most`, or `default` when absent.
///
/// # Errors
///
/// 0, or over `most`, with the reason.
pub fn count(value: Option<usize>, default: usize, most: usize) -> Result<usize, String> {
    match value {
        Some(0) => Err("must be at least 1".into()),
        Some(n) if n > most => Err(format!("{n} is over the most fenn allows, {most}")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_none_where_zero_means_none() {
        for zero in ["0s", "0", " 0ms ", "0.0h"] {
            assert_eq!(duration_or_zero(zero), Ok(None), "{zero}");
        }
        assert_eq!(duration_or_zero("2s"), Ok(Some(Duration::from_secs(2))));
        assert!(duration_or_zero("-1s").is_err());
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(duration("2").unwrap_err().contains("no known unit"));
        assert!(duration("0s").is_err());
        assert!(duration("soon").is_err());
    }

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("16MiB"), Ok(16 << 20));
        assert_eq!(size("1MB"), Ok(1_000_000));
        assert!(size("16 furlongs").is_err());
        assert!(size("0").is_err());
    }
}
