//! One request: the route, the body (within its limit and the shared
//! buffer budget), the function, and its response back as HTTP.

use crate::policy::cors::Cors;
use crate::policy::{self, Admission, GatewayPolicy, Refusal, RoutePolicy};
use crate::route::{Match, RouteSpec, RouteTable};
use crate::{GatewayError, HttpSettings, RequestStats, ResponseMode, request, response};
use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::IntoResponse as _;
use fenn_abi::Map;
use fenn_runtime::FunctionHost;
use http_body_util::{BodyExt as _, Limited};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bodies larger than this are turned into HTTP off the request threads.
const OFF_THREAD_BODY: usize = 64 << 10;

/// What every request shares.
pub(crate) struct Gateway<H> {
    /// Swapped whole when the routes change ([`crate::HttpTrigger::apply`]):
    /// a request routes by the table as it was when it arrived.
    pub(crate) routes: Arc<ArcSwap<RouteTable>>,
    pub(crate) host: H,
    pub(crate) settings: HttpSettings,
    /// `server.buffer_memory`, in bytes: request and response bodies hold
    /// their size from before they are read until they are sent.
    pub(crate) buffer: Arc<Semaphore>,
    /// Answers by route and status.
    pub(crate) stats: Arc<RequestStats>,
    /// The route of requests that matched none, as the stats name it.
    pub(crate) unmatched: Arc<str>,
    /// Apps, JWT keys, global IP lists: what every route's policy uses.
    pub(crate) policy: Arc<GatewayPolicy>,
}

/// Answers one request: refused by the gateway's IP list, a CORS
/// preflight, no route, or the route's function's answer; counted under
/// its route.
pub(crate) async fn handle<H: FunctionHost>(
    State(gateway): State<Arc<Gateway<H>>>,
    request: Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let client = gateway.policy.client(peer(&parts), &parts.headers);
    let routes = gateway.routes.load_full();
    if !gateway.policy.ip.admits(client) {
        return gateway.unrouted(Refusal::forbidden("Access Denied by IP Control").into());
    }
    if let Some((response, template)) = preflight(&routes, &parts, client) {
        gateway.stats.count(template, response.status().as_u16());
        return response;
    }
    let (spec, template, path_parameters) =
        match routes.find(parts.uri.path(), parts.method.as_str()) {
            Match::Found {
                spec,
                template,
                path_parameters,
            } => (spec, template, path_parameters),
            Match::MethodNotAllowed(allowed) => {
                return gateway.unrouted(GatewayError::MethodNotAllowed { allowed });
            }
            Match::NotFound => {
                let path = parts.uri.path().to_owned();
                return gateway.unrouted(GatewayError::NoRoute { path });
            }
        };
    let answer = answer(&gateway, spec, &parts, body, path_parameters, client);
    let mut response = match answer.await {
        Ok(response) => response,
        Err(error) => error.into_response_of(spec.response, &spec.function),
    };
    add_cors(spec, &parts.headers, &mut response);
    gateway.stats.count(template, response.status().as_u16());
    response
}

/// The address the request came from (loopback when the listener does
/// not say).
fn peer(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip())
}

impl<H> Gateway<H> {
    /// The answer to a request refused before any route is looked at, or
    /// matching none: counted under the one label for unmatched requests.
    fn unrouted(&self, error: GatewayError) -> axum::response::Response {
        let response = error.into_response_for(ResponseMode::Plain);
        self.stats
            .count(&self.unmatched, response.status().as_u16());
        response
    }
}

/// The routed request's answer: admitted by the route's policy, its body
/// read, the function run and its output turned into HTTP.
async fn answer<H: FunctionHost>(
    gateway: &Gateway<H>,
    spec: &RouteSpec,
    parts: &Parts,
    body: Body,
    path_parameters: Map,
    client: IpAddr,
) -> Result<axum::response::Response, GatewayError> {
    let (admission, held, body) =
        admit_with_body(gateway, &spec.policy, parts, body, client).await?;
    let mut event = request::to_admitted_event(
        &parts.method,
        &parts.uri,
        &parts.headers,
        body,
        path_parameters,
        admission
            .caller
            .as_ref()
            .map(|(caller, credential)| (&**caller, *credential)),
    );
    if spec.web {
        let web = fenn_runtime::wasi::cgi::HEADER_WEB;
        event.headers.insert(web.into(), "1".into());
    }
    let output = gateway.host.invoke(&spec.function, event).await?;
    let held = [held, reserve(&gateway.buffer, output.body.len())?];
    let http = output_to_http(output, spec.response, spec.max_response).await?;
    Ok(hold_until_sent(http, held))
}

/// Checks the request against the route's policy, by its headers before
/// its body is read and, when the policy needs the body (a signature),
/// by the body too; the admission, what the body holds of the buffer
/// budget, and the body.
async fn admit_with_body<H>(
    gateway: &Gateway<H>,
    route: &RoutePolicy,
    parts: &Parts,
    body: Body,
    client: IpAddr,
) -> Result<(Admission, Option<OwnedSemaphorePermit>, Vec<u8>), GatewayError> {
    let policy = &gateway.policy;
    if route.is_protected() {
        policy.not_penalized(client)?;
    }
    let admission = policy::admit(policy, route, &parts.headers, client)
        .map_err(|refusal| policy.counted(refusal, client))?;
    if !admission.needs_body() {
        admission.rate(route, client)?;
    }
    let held = reserve_body(&body, gateway)?;
    let body = read_body(body, &gateway.settings).await?;
    if admission.needs_body() {
        // Again: a penalty may have started while the body came in,
        // and signatures sent side by side would all be checked.
        policy.not_penalized(client)?;
        let method = parts.method.as_str();
        admission
            .finish(policy, method, &parts.uri, &parts.headers, &body)
            .map_err(|refusal| policy.counted(refusal, client))?;
        admission.rate(route, client)?;
    }
    Ok((admission, held, body))
}

/// The function's output as an HTTP response; a large body is turned
/// into HTTP off the request threads.
async fn output_to_http(
    output: fenn_abi::Response,
    mode: ResponseMode,
    max: usize,
) -> Result<axum::response::Response, GatewayError> {
    if output.body.len() <= OFF_THREAD_BODY {
        response::to_http(output, mode, max)
    } else {
        // Decoding base64 or escaping an envelope takes time in
        // proportion to the body: large ones leave the request threads.
        tokio::task::spawn_blocking(move || response::to_http(output, mode, max))
            .await
            .map_err(|error| {
                GatewayError::Function(fenn_runtime::Error::Trap {
                    reason: format!("building the response failed: {error}"),
                })
            })?
    }
}

/// Adds the route's CORS headers to its answer: the allowed origin's,
/// and `Vary` whenever the route has a CORS policy.
fn add_cors(spec: &RouteSpec, headers: &HeaderMap, response: &mut axum::response::Response) {
    if let Some(cors) = &spec.policy.cors {
        if let Some(origin) = cors.allowed(headers) {
            cors.decorate(origin, response.headers_mut());
        }
        Cors::vary(response.headers_mut());
    }
}

/// The answer to a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) for a route with a CORS policy: fenn
/// answers it, without credentials, as browsers send it.
fn preflight<'r>(
    routes: &'r RouteTable,
    parts: &Parts,
    client: IpAddr,
) -> Option<(axum::response::Response, &'r Arc<str>)> {
    use axum::http::header;
    if parts.method != axum::http::Method::OPTIONS {
        return None;
    }
    let asked = parts
        .headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
        .to_str()
        .ok()
        .filter(|method| {
            !method.is_empty()
                && method.len() <= 32
                && method.bytes().all(|b| b.is_ascii_alphabetic())
        })?;
    parts.headers.get(header::ORIGIN)?;
    let Match::Found { spec, template, .. } = routes.find(parts.uri.path(), asked) else {
        return None;
    };
    let cors = spec.policy.cors.as_ref()?;
    let refused = |refusal| {
        let mut response = GatewayError::Refused(refusal).into_response_for(ResponseMode::Plain);
        Cors::vary(response.headers_mut());
        Some((response, template))
    };
    if !spec.policy.ip.admits(client) {
        return refused(Refusal::forbidden("Access Denied by IP Control"));
    }
    let Some(origin) = cors.allowed(&parts.headers) else {
        return refused(Refusal::forbidden("CORS Origin Not Allowed"));
    };
    let mut response = axum::http::StatusCode::NO_CONTENT.into_response();
    cors.preflight(
        origin,
        &parts.headers,
        &spec.methods,
        response.headers_mut(),
    );
    Cors::vary(response.headers_mut());
    Some((response, template))
}

/// Refuses a declared length over the limit before reading a byte (so a
/// client that sent `Expect: 100-continue` is not told to go on), and
/// reserves what the body may take from the buffer budget: its declared
/// length (none for a request without a body), or `max_body` when it is
/// chunked.
fn reserve_body<H>(
    body: &Body,
    gateway: &Gateway<H>,
) -> Result<Option<OwnedSemaphorePermit>, GatewayError> {
    let limit = gateway.settings.max_body_bytes;
    let hint = hyper::body::Body::size_hint(body);
    if hint.lower() > limit as u64 {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    let most = hint
        .upper()
        .map_or(limit, |upper| upper.min(limit as u64) as usize);
    reserve(&gateway.buffer, most)
}

/// Bodies this small are not counted against the buffer budget, so that
/// a full budget still serves small requests and answers (at most this
/// much per connection goes uncounted).
pub(crate) const UNCOUNTED_BODY: usize = 16 << 10;

/// Takes `bytes` from the buffer budget, or answers 503 at once.
fn reserve(
    buffer: &Arc<Semaphore>,
    bytes: usize,
) -> Result<Option<OwnedSemaphorePermit>, GatewayError> {
    if bytes <= UNCOUNTED_BODY {
        return Ok(None);
    }
    // More than a semaphore holds (2^29 on 32-bit targets) never fits.
    if bytes > Semaphore::MAX_PERMITS {
        return Err(GatewayError::Overloaded);
    }
    let permits = u32::try_from(bytes).map_err(|_| GatewayError::Overloaded)?;
    buffer
        .clone()
        .try_acquire_many_owned(permits)
        .map(Some)
        .map_err(|_| GatewayError::Overloaded)
}

/// The response, holding `held` until its body has been sent or dropped.
fn hold_until_sent(
    response: axum::response::Response,
    held: [Option<OwnedSemaphorePermit>; 2],
) -> axum::response::Response {
    if held.iter().all(Option::is_none) {
        // Nothing counted (small bodies): nothing to hold, no wrapper.
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = Held {
        body,
        pending: axum::body::Bytes::new(),
        _held: held,
    };
    axum::response::Response::from_parts(parts, Body::new(body))
}

/// A body and what it holds: the same frames, cut into pieces of at most
/// [`FRAME`] bytes so that hyper takes them only as the client reads, and
/// the same size (so the response keeps its `Content-Length`). What it
/// holds goes back to the budget when hyper has taken the last piece.
struct Held {
    body: Body,
    pending: axum::body::Bytes,
    _held: [Option<OwnedSemaphorePermit>; 2],
}

/// Largest piece of a response body handed to hyper at once.
const FRAME: usize = 16 << 10;

impl hyper::body::Body for Held {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        loop {
            if !self.pending.is_empty() {
                let take = self.pending.len().min(FRAME);
                let piece = self.pending.split_to(take);
                return Poll::Ready(Some(Ok(hyper::body::Frame::data(piece))));
            }
            match std::task::ready!(std::pin::Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.pending = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        let inner = self.body.size_hint();
        let pending = self.pending.len() as u64;
        let mut hint = hyper::body::SizeHint::new();
        hint.set_lower(inner.lower() + pending);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + pending);
        }
        hint
    }
}

async fn read_body(body: Body, settings: &HttpSettings) -> Result<Vec<u8>, GatewayError> {
    // A request without a body (most GETs) arms no read timer.
    if hyper::body::Body::is_end_stream(&body) {
        return Ok(Vec::new());
    }
    let limit = settings.max_body_bytes;
    let collect = Limited::new(body, limit).collect();
    match tokio::time::timeout(settings.body_read_timeout, collect).await {
        Err(_) => Err(GatewayError::BodyTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            Err(GatewayError::BodyTooLarge { limit })
        }
        Ok(Err(error)) => Err(GatewayError::BadBody {
            reason: error.to_string(),
        }),
    }
}
