//! Publishing to MQTT and emitting events to other functions, each within
//! the function's grants and an invocation's count, with the chain's hop
//! count carried along so that a loop ends.

use super::{Answer, Call, Refused, before_waiting, begin, read, read_text, settle};
use crate::invocation::HostState;
use crate::services::Message;
use fenn_abi::{Event, abi, calls, event};
use wasmi::Linker;

/// Messages an invocation may publish.
pub const MAX_PUBLISHES: u32 = 100;
/// Events an invocation may emit.
pub const MAX_EMITS: u32 = 16;
/// The longest chain of emits (and of publishes that reach functions
/// again): past it, an emit is refused and the loop ends.
pub const MAX_HOPS: u32 = 8;
/// The longest topic, in bytes.
pub const MAX_TOPIC: usize = 1024;
/// The largest payload a function publishes, in bytes.
pub const MAX_PAYLOAD: usize = 256 << 10;
/// The most bytes of MQTT 5 properties.
pub const MAX_PROPERTIES: usize = 8 << 10;
/// The largest event a function emits, as JSON, in bytes.
pub const MAX_EVENT: usize = 1 << 20;
/// Header of an emitted event: the chain's hops so far.
pub const HEADER_HOPS: &str = "x-fenn-hops";
/// Header of an emitted event: the function that emitted it.
pub const HEADER_SOURCE: &str = "x-fenn-source-function";
/// Header of an emitted event: the invocation that emitted it.
pub const HEADER_SOURCE_INVOCATION: &str = "x-fenn-source-invocation";

pub(super) fn define(linker: &mut Linker<HostState>) -> Result<(), wasmi::errors::LinkerError> {
    linker.func_wrap(abi::IMPORT_MODULE, calls::IMPORT_PUBLISH, publish)?;
    linker.func_wrap(abi::IMPORT_MODULE, calls::IMPORT_EMIT, emit)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn publish(
    mut caller: Call<'_>,
    topic_ptr: i32,
    topic_len: i32,
    payload_ptr: i32,
    payload_len: i32,
    flags: i32,
    props_ptr: i32,
    props_len: i32,
) -> Result<i32, wasmi::Error> {
    let answer = (|| {
        begin(&mut caller, 0)?;
        let topic = read_text(&caller, topic_ptr, topic_len, MAX_TOPIC, "the topic")?;
        let payload = read(
            &caller,
            payload_ptr,
            payload_len,
            MAX_PAYLOAD,
            "the payload",
        )?;
        let properties = read(
            &caller,
            props_ptr,
            props_len,
            MAX_PROPERTIES,
            "the properties",
        )?;
        super::charge(&mut caller, topic.len() + payload.len() + properties.len())?;
        if flags & !(calls::QOS_1 | calls::RETAIN) != 0 {
            return Err(Refused::new(calls::INVALID, format!("unknown flags {flags:#x}")).into());
        }
        let state = &mut caller.data_mut().calls;
        if !state.grants.may_publish(&topic) {
            let reason = format!("publishing to '{topic}' is not granted (publish = [...])");
            return Err(Refused::new(calls::DENIED, reason).into());
        }
        state.published += 1;
        if state.published > MAX_PUBLISHES {
            let reason = format!("over {MAX_PUBLISHES} messages in one invocation");
            return Err(Refused::new(calls::LIMIT, reason).into());
        }
        let mut message = Message {
            topic,
            payload,
            qos: u8::from(flags & calls::QOS_1 != 0),
            retain: flags & calls::RETAIN != 0,
            content_type: None,
            user_properties: Vec::new(),
            hops: state.hops + 1,
        };
        properties_into(&properties, &mut message)?;
        let (Some(publisher), deadline) = (state.services.publisher().cloned(), state.deadline)
        else {
            let reason = "no MQTT broker: the config has no [mqtt] section";
            return Err(Refused::new(calls::UNAVAILABLE, reason).into());
        };
        before_waiting(&mut caller)?;
        if tokio::runtime::Handle::try_current().is_ok() {
            // Waiting here would stall the async runtime; the dispatcher
            // runs functions that publish on worker threads.
            let reason = "publish called on the async runtime";
            return Err(Refused::new(calls::UNAVAILABLE, reason).into());
        }
        publisher
            .publish(message, deadline)
            .map_err(|reason| Refused::new(calls::UNAVAILABLE, reason))?;
        Ok(0)
    })();
    settle(&mut caller, calls::IMPORT_PUBLISH, answer)
}

/// `name\0value\0` pairs: `content-type`, else user properties.
fn properties_into(bytes: &[u8], message: &mut Message) -> Answer<()> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Refused::new(calls::INVALID, "the properties are not UTF-8"))?;
    let mut parts = text.split('\0');
    while let Some(name) = parts.next() {
        if name.is_empty() {
            break;
        }
        let Some(value) = parts.next() else {
            let reason = format!("property '{name}' has no value");
            return Err(Refused::new(calls::INVALID, reason).into());
        };
        if name.eq_ignore_ascii_case("content-type") {
            message.content_type = Some(value.to_owned());
        } else {
            message
                .user_properties
                .push((name.to_owned(), value.to_owned()));
        }
    }
    Ok(())
}

fn emit(
    mut caller: Call<'_>,
    function_ptr: i32,
    function_len: i32,
    event_ptr: i32,
    event_len: i32,
) -> Result<i32, wasmi::Error> {
    let answer = (|| {
        begin(&mut caller, 0)?;
        let function = read_text(&caller, function_ptr, function_len, 128, "the function")?;
        let json = read(&caller, event_ptr, event_len, MAX_EVENT, "the event")?;
        super::charge(&mut caller, json.len())?;
        let mut event: Event = serde_json::from_slice(&json).map_err(|error| {
            let reason = format!("not an event in the API-gateway format: {error}");
            Refused::new(calls::INVALID, reason)
        })?;
        let source = (caller.data().function.clone(), caller.data().invocation);
        let state = &mut caller.data_mut().calls;
        if !state.grants.may_emit(&function) {
            let reason = format!("emitting to '{function}' is not granted (emit = [...])");
            return Err(Refused::new(calls::DENIED, reason).into());
        }
        state.emitted += 1;
        if state.emitted > MAX_EMITS {
            let reason = format!("over {MAX_EMITS} events in one invocation");
            return Err(Refused::new(calls::LIMIT, reason).into());
        }
        let hops = state.hops + 1;
        if hops > MAX_HOPS {
            let reason = format!(
                "the chain that led here is {} hops long, the most is {MAX_HOPS}: a loop?",
                state.hops
            );
            return Err(Refused::new(calls::LIMIT, reason).into());
        }
        let Some(emitter) = state.services.emitter().cloned() else {
            let reason = "emitting is not available in this process";
            return Err(Refused::new(calls::UNAVAILABLE, reason).into());
        };
        // Header names in lower case, as every trigger hands them over;
        // fenn's own are fenn's: a guest cannot forge them.
        event.headers = std::mem::take(&mut event.headers)
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .filter(|(name, _)| !name.starts_with("x-fenn-"))
            .collect();
        let headers = [
            (event::HEADER_TRIGGER, "emit".to_owned()),
            (HEADER_HOPS, hops.to_string()),
            (HEADER_SOURCE, source.0.to_string()),
            (HEADER_SOURCE_INVOCATION, source.1.to_string()),
        ];
        for (name, value) in headers {
            event.headers.insert(name.to_owned(), value);
        }
        emitter
            .emit(&function, event)
            .map_err(|reason| Refused::new(calls::UNAVAILABLE, reason))?;
        Ok(0)
    })();
    settle(&mut caller, calls::IMPORT_EMIT, answer)
}
