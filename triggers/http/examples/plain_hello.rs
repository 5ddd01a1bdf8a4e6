//! The baseline of the gateway benchmark (`benches/wrk.sh`): a plain axum
//! handler answering the same bytes as fenn's `/hello?name=Jason`, with no
//! function behind it. Prints `listening on http://ADDR` like `fenn serve`.

#![allow(clippy::print_stdout)]

use axum::Router;
use axum::routing::any;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = Router::new().route("/hello", any(|| async { "Hello, Jason!" }));
    axum::serve(listener, app).await
}
