//! wrk (Debian's `wrk`) as the benchmarks of the release binary run it:
//! one thread, so that it leaves the server most of the CPU.

use std::time::Duration;

/// wrk on `url` for `time` at `connections`, with `extra` options (before
/// the URL) and `arguments` (after it, for a script): requests a second,
/// and the median latency in µs. Any answer but a 2xx fails the run.
pub(crate) fn wrk(
    url: &str,
    connections: usize,
    time: Duration,
    extra: &[String],
    arguments: &[String],
) -> (f64, f64) {
    let output = std::process::Command::new("wrk")
        .args(["--latency", "-t", "1", "-c", &connections.to_string()])
        .arg(format!("-d{}s", time.as_secs()))
        .args(extra)
        .arg(url)
        .args(arguments)
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("Non-2xx"), "{url}: {text}");
    let field = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix).map(str::trim))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
            .to_owned()
    };
    let rate: f64 = field("Requests/sec:").parse().unwrap();
    let p50 = field("50%");
    let p50 = match p50.strip_suffix("us") {
        Some(us) => us.parse().unwrap(),
        None => p50.strip_suffix("ms").unwrap().parse::<f64>().unwrap() * 1e3,
    };
    (rate, p50)
}
