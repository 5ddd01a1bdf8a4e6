//! A load of GET requests from threads of this process, shared by the
//! benchmarks that run the release binary.

use crate::util;
use std::time::{Duration, Instant};

/// Every request's latency in µs, and how many failed, over `time` at
/// `connections` connections (a thread each).
pub(crate) fn load(url: &str, connections: usize, time: Duration) -> (Vec<f64>, usize) {
    let until = Instant::now() + time;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let url = url.to_owned();
            std::thread::spawn(move || {
                let client = util::client();
                let (mut latencies, mut failed) = (Vec::new(), 0);
                while Instant::now() < until {
                    let started = Instant::now();
                    match client
                        .get(&url)
                        .send()
                        .and_then(|r| r.error_for_status())
                        .and_then(|r| r.bytes())
                    {
                        Ok(_) => latencies.push(started.elapsed().as_secs_f64() * 1e6),
                        Err(_) => failed += 1,
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    workers.into_iter().map(|w| w.join().unwrap()).fold(
        (Vec::new(), 0),
        |(mut all, failed), (l, f)| {
            all.extend(l);
            (all, failed + f)
        },
    )
}
