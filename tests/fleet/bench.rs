//! The fleet's benchmark (`tests/fleet.sh`): time to converge for fleets
//! of `FENN_FLEET_BENCH` devices (default 50,100), for a 20 KB and a 1 MB
//! module, one wave to every device; the brokers' and devices' peak
//! memory. Run on the release binary; prints one line a rollout.

use super::refusals::padded;
use super::{Site, id_of, peak_kib};
use crate::util::{hello_wasm, tagged};

#[test]
#[ignore = "a benchmark: tests/fleet.sh runs it"]
fn time_to_converge() {
    let sizes = std::env::var("FENN_FLEET_BENCH").unwrap_or_else(|_| "50,100".into());
    for n in sizes
        .split(',')
        .filter_map(|n| n.trim().parse::<usize>().ok())
    {
        let site = Site::start(n);
        for (label, wasm) in [
            ("20 KB", tagged(&hello_wasm(), 7)),
            ("1 MB", padded(&tagged(&hello_wasm(), 8), 1 << 20)),
        ] {
            let size = wasm.len();
            let path = site
                .files
                .write(&format!("bench-{size}.wasm"), wasm)
                .display()
                .to_string();
            let started = std::time::Instant::now();
            let (ok, answer) =
                site.fleet(&site.deploy_args(&path, &["--canary", "0", "--waves", "100"]));
            assert!(ok, "{answer}");
            let took = started.elapsed();
            site.all_active_on(id_of(&answer), "every device");
            let mut devices: Vec<u64> = (site.devices.iter())
                .filter_map(|d| d.fenn.as_ref())
                .map(|f| peak_kib(f.pid()))
                .collect();
            devices.sort_unstable();
            let brokers = site.cluster.peak_kib();
            eprintln!(
                "fleet bench: {n} devices, {label} module ({size} bytes): converged {} of {n}, p50 {} ms, p99 {} ms, whole rollout {} ms; \
                 device peak RSS median {} KiB, max {} KiB; broker nodes' peak RSS {:?} KiB",
                answer["converged"],
                answer["p50_ms"],
                answer["p99_ms"],
                took.as_millis(),
                devices[devices.len() / 2],
                devices[devices.len() - 1],
                brokers
            );
        }
    }
}
