//! What runs, over HTTP: the invocation history (`/v1/invocations`), its
//! live stream (server-sent events) and the metrics (`/metrics`).

use super::ApiError;
use super::platform::Platform;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use fenn_observe::{Query, Record};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

/// Records a query answers unless it asks for fewer; the most it may ask.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
/// A comment line on an idle stream this often, so that a client gone
/// away is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The query string's parameters, refusing any but `allowed`.
fn parameters(query: Option<&str>, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let pairs: HashMap<String, String> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|error| ApiError::BadRequest(format!("the query string: {error}")))?;
    match pairs.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(ApiError::BadRequest(format!(
            "unknown query parameter '{key}': this path takes {}",
            allowed.join(", ")
        ))),
        None => Ok(pairs),
    }
}

/// A `limit` parameter: the default when absent, the most when past it.
fn limit(text: Option<String>) -> Result<usize, ApiError> {
    match text {
        None => Ok(DEFAULT_LIMIT),
        Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => Ok(text
            .parse::<usize>()
            .unwrap_or(MAX_LIMIT)
            .clamp(1, MAX_LIMIT)),
        Some(text) => Err(ApiError::BadRequest(format!(
            "limit '{text}' is not a number (1 to {MAX_LIMIT})"
        ))),
    }
}

/// The filters of a history query; a `limit` past the most is the most.
fn query(query: Option<&str>) -> Result<Query, ApiError> {
    let mut pairs = parameters(
        query,
        &["function", "trigger", "status", "limit", "logs", "run"],
    )?;
    let limit = limit(pairs.remove("limit"))?;
    let logs = match pairs.remove("logs").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "logs '{other}': true or false"
            )));
        }
    };
    Ok(Query {
        logs,
        function: pairs.remove("function"),
        trigger: pairs.remove("trigger"),
        status: pairs.remove("status"),
        run: pairs.remove("run"),
        limit,
    })
}

/// `GET /v1/runs[?flow=NAME&limit=N]`: flows' newest runs, newest first.
pub(crate) fn runs(platform: &Platform, text: Option<&str>) -> Result<Value, ApiError> {
    let mut pairs = parameters(text, &["flow", "limit"])?;
    let limit = limit(pairs.remove("limit"))?;
    let flow = pairs.remove("flow");
    let runs = platform
        .observe
        .runs(|runs| runs.newest(flow.as_deref(), limit));
    let runs: Vec<&fenn_observe::RunRecord> = runs.iter().map(|run| &**run).collect();
    Ok(json!({"runs": runs, "limit": limit}))
}

/// `GET /v1/runs/{id}`: one run, each step as it ended, and the steps'
/// invocations in the history with their log lines: the run as one trace.
pub(crate) fn run(platform: &Platform, id: &str) -> Result<Value, ApiError> {
    let record = (platform.observe.runs(|runs| runs.get(id)))
        .ok_or_else(|| ApiError::NotFound(format!("no run '{id}' among the runs kept")))?;
    let query = Query {
        run: Some(id.to_owned()),
        limit: MAX_LIMIT,
        logs: true,
        ..Query::default()
    };
    let mut invocations = platform.observe.read(|history| history.query(&query));
    invocations.reverse();
    let mut value =
        serde_json::to_value(&*record).map_err(|error| ApiError::Internal(error.to_string()))?;
    if let Some(object) = value.as_object_mut() {
        let invocations: Vec<&Record> = invocations.iter().map(|record| &**record).collect();
        object.insert("invocations".into(), json!(invocations));
    }
    Ok(value)
}

/// `GET /v1/invocations`: the newest invocations that match, newest
/// first, their log lines only when asked (`logs=true`).
pub(crate) fn invocations(platform: &Platform, text: Option<&str>) -> Result<Value, ApiError> {
    let query = query(text)?;
    let found = platform.observe.read(|history| history.query(&query));
    let brief: Vec<Value> = found
        .iter()
        .map(|record| match query.logs {
            true => serde_json::to_value(&**record).unwrap_or(Value::Null),
            false => brief(record),
        })
        .collect();
    Ok(json!({"invocations": brief, "limit": query.limit}))
}

/// A record without its lines, with their count.
fn brief(record: &Record) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("logs");
        object.insert("logLines".into(), json!(record.logs.len()));
    }
    value
}

/// `GET /v1/invocations/{id}`: one invocation with its log lines.
pub(crate) fn invocation(platform: &Platform, id: &str) -> Result<Value, ApiError> {
    let missing = || ApiError::NotFound(format!("no invocation '{id}' in the history"));
    let id: u64 = id.parse().map_err(|_| missing())?;
    let record = platform
        .observe
        .read(|history| history.get(id))
        .ok_or_else(missing)?;
    serde_json::to_value(&*record).map_err(|error| ApiError::Internal(error.to_string()))
}

/// `GET /v1/status`: each trigger's status by kind (`mqtt`: the link,
/// null without `[mqtt]`), what the history holds, each flow's runs
/// in flight, and the device's fleet state (its report; null without
/// `[fleet]`).
pub(crate) fn status(platform: &Platform) -> Value {
    let mut status = platform.triggers.status();
    let history = platform.observe.read(|history| history.bytes());
    status.insert("history_bytes".into(), history.into());
    let flows: serde_json::Map<String, Value> = (platform.dispatcher.flows().all().iter())
        .map(|flow| {
            let running = json!({"running": flow.running(), "max_runs": flow.limits.max_runs});
            (flow.name.clone(), running)
        })
        .collect();
    status.insert("flows".into(), Value::Object(flows));
    let fleet =
        (platform.fleet.get()).and_then(|reports| serde_json::to_value(&*reports.borrow()).ok());
    status.insert("fleet".into(), fleet.unwrap_or(Value::Null));
    Value::Object(status)
}

/// `GET /metrics`, in the Prometheus text format.
pub(crate) fn metrics(platform: &Platform) -> Response {
    let mut response = Response::new(Body::from(platform.metrics.render()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `GET /v1/invocations/stream[?function=NAME]`: each invocation as it
/// ends, with its log lines, as server-sent events (`event: invocation`).
/// A reader more than a backlog behind is told (`event: lagged`) and
/// cut off rather than buffered for.
pub(crate) fn stream(platform: &Arc<Platform>, text: Option<&str>) -> Result<Response, ApiError> {
    let function = parameters(text, &["function"])?.remove("function");
    let open = platform.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::Busy(format!(
            "{} invocation streams are open, the most at once: close one",
            super::STREAMS
        ))
    })?;
    let mut stopping = platform.stopping.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let events = events(platform.observe.follow(), function, stopped, open);
    let mut response = Response::new(Body::from_stream(events));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    Ok(response)
}

/// The stream's events: first a comment saying it is subscribed (a
/// client may act on it, knowing it misses nothing after), then each
/// record of `function` (or all), a keep-alive comment when idle, and
/// `lagged` before the end when the reader fell too far behind. It ends
/// when `stopped` completes (fenn stops); `held` is held until it ends.
fn events<T: Send + 'static>(
    receiver: Receiver<Arc<Record>>,
    function: Option<String>,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
    held: T,
) -> impl futures_util::Stream<Item = Result<String, std::convert::Infallible>> {
    let subscribed = futures_util::stream::once(async { Ok(": subscribed\n\n".to_owned()) });
    let stopped = futures_util::FutureExt::shared(futures_util::FutureExt::boxed(stopped));
    let state = Some((receiver, held));
    let records = futures_util::stream::unfold(state, move |state| {
        let function = function.clone();
        let stopped = stopped.clone();
        async move {
            let (mut receiver, held) = state?;
            loop {
                let next = tokio::select! {
                    next = tokio::time::timeout(KEEP_ALIVE, receiver.recv()) => next,
                    () = stopped.clone() => return None,
                };
                let event = match next {
                    Err(_) => ": keep-alive\n\n".to_owned(),
                    Ok(Ok(record)) if function.as_ref().is_some_and(|f| *f != record.function) => {
                        continue;
                    }
                    Ok(Ok(record)) => {
                        let data = serde_json::to_string(&*record).unwrap_or_default();
                        format!("event: invocation\ndata: {data}\n\n")
                    }
                    Ok(Err(RecvError::Lagged(missed))) => {
                        let event = format!("event: lagged\ndata: {{\"missed\":{missed}}}\n\n");
                        return Some((Ok::<_, std::convert::Infallible>(event), None));
                    }
                    Ok(Err(RecvError::Closed)) => return None,
                };
                return Some((Ok(event), Some((receiver, held))));
            }
        }
    });
    futures_util::StreamExt::chain(subscribed, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fenn_observe::{HistorySettings, Recorder};
    use fenn_runtime::Observer as _;
    use futures_util::StreamExt as _;
    use tokio::sync::oneshot;

    fn invoked(observe: &Recorder, id: u64, function: &str) {
        let result = Ok(fenn_abi::Response::default());
        observe.invoked(fenn_runtime::Invoked {
            id,
            function,
            version: 1,
            trigger: "http",
            method: "GET",
            source: "/",
            started: std::time::SystemTime::now(),
            duration: Duration::from_millis(1),
            result: &result,
            recorded: fenn_runtime::trace::Recorded::default(),
            step: None,
        });
    }

    type Events = std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<String, std::convert::Infallible>> + Send>,
    >;

    /// An observer, a stream of `function`'s invocations past its first
    /// comment, and what stops it.
    async fn following(function: Option<&str>) -> (Arc<Recorder>, Events, oneshot::Sender<()>) {
        let observe = Recorder::new(
            HistorySettings {
                per_function: 10,
                log_bytes: 1024,
                max_bytes: 1 << 20,
            },
            &["http"],
        );
        let (stop, stopping) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopping.await;
        };
        let function = function.map(str::to_owned);
        let mut events: Events = Box::pin(events(observe.follow(), function, stopped, ()));
        assert_eq!(events.next().await.unwrap().unwrap(), ": subscribed\n\n");
        (observe, events, stop)
    }

    #[tokio::test]
    async fn a_reader_too_far_behind_is_told_and_cut_off_not_buffered_for() {
        let (observe, mut events, _stop) = following(Some("f")).await;
        invoked(&observe, 1, "other");
        invoked(&observe, 2, "f");
        let first = events.next().await.unwrap().unwrap();
        assert!(first.starts_with("event: invocation\ndata: {"), "{first}");
        assert!(first.contains("\"id\":2"), "{first}");
        // The reader stops reading while far more than the backlog ends.
        for id in 3..1000 {
            invoked(&observe, id, "f");
        }
        let lagged = events.next().await.unwrap().unwrap();
        assert!(lagged.starts_with("event: lagged"), "{lagged}");
        assert!(events.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_ends_when_fenn_stops() {
        let (_observe, mut events, stop) = following(None).await;
        stop.send(()).unwrap();
        assert!(events.next().await.is_none());
    }

    #[test]
    fn absurd_limits_are_clamped_and_bad_ones_refused() {
        assert_eq!(query(None).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(query(Some("limit=0")).unwrap().limit, 1);
        let huge = query(Some("limit=99999999999999999999999999")).unwrap();
        assert_eq!(huge.limit, MAX_LIMIT);
        assert!(query(Some("limit=-1")).is_err());
        assert!(query(Some("limit=ten")).is_err());
        assert!(query(Some("colour=red")).is_err());
        let asked = query(Some("function=hello&status=error&trigger=http")).unwrap();
        assert_eq!(asked.function.as_deref(), Some("hello"));
        assert_eq!(asked.status.as_deref(), Some("error"));
    }
}
