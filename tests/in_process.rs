//! fenn run in this process (`fenn::serve`) where time is the subject: the
//! clock is tokio's, paused, and the test moves it on, so that an hour's
//! refill of a rate limit passes at once instead of in an hour. The
//! requests are real HTTP over loopback; only the clock is the test's.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot;

/// fenn serving `config` on a free port, until `stop` is sent.
struct InProcess {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcess {
    async fn start(config: &str) -> Self {
        let path = Path::new("in-process.toml");
        let config = fenn_config::Config::parse(path, config, fenn::registry::registry())
            .unwrap_or_else(|errors| panic!("{errors}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut listeners = fenn::Listeners::default();
        listeners
            .triggers
            .insert("http", fenn::Listen::Bound(listener));
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let served = tokio::spawn(fenn::serve(config, listeners, stopped));
        Self {
            address,
            stop,
            served,
        }
    }

    /// GET `path`: the status and the head of the answer.
    async fn get(&self, path: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: fenn\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
        (status, answer)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap().unwrap();
    }
}

const HOURLY: &str = r#"
[[function]]
name = "hello"
module = "example:hello"
  [[function.http]]
  route = "/hourly"
  rate_per_caller = "2/h"
  [[function.http]]
  route = "/minute"
  rate = "60/min"
"#;

#[tokio::test(start_paused = true)]
async fn an_hourly_rate_limit_refills_as_the_hour_passes() {
    let fenn = InProcess::start(HOURLY).await;
    assert_eq!(fenn.get("/hourly").await.0, 200);
    assert_eq!(fenn.get("/hourly").await.0, 200);
    let (status, refused) = fenn.get("/hourly").await;
    assert_eq!(status, 429, "{refused}");
    // One request refills every 30 minutes: the refusal says so.
    assert!(refused.contains("retry-after: 1800\r\n"), "{refused}");
    tokio::time::advance(Duration::from_secs(29 * 60)).await;
    assert_eq!(fenn.get("/hourly").await.0, 429);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(fenn.get("/hourly").await.0, 200);
    assert_eq!(fenn.get("/hourly").await.0, 429);
    fenn.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_route_limit_is_crossed_and_refills_a_request_a_second() {
    let fenn = InProcess::start(HOURLY).await;
    let mut statuses = Vec::new();
    for _ in 0..61 {
        statuses.push(fenn.get("/minute").await.0);
    }
    // The burst is the count: 60 pass, the 61st waits a second.
    assert!(
        statuses[..60].iter().all(|status| *status == 200),
        "{statuses:?}"
    );
    let (status, refused) = fenn.get("/minute").await;
    assert_eq!(status, 429);
    assert!(refused.contains("retry-after: 1\r\n"), "{refused}");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(fenn.get("/minute").await.0, 200);
    fenn.stop().await;
}
