//! An MQTT message as an event in the API-gateway event format of Alibaba
//! Cloud Function Compute, and a function's response as the reply message.
//!
//! The event: `path` = the topic, `httpMethod` = `PUBLISH`, headers = the
//! MQTT 5 user properties (names lower-cased, repeated ones joined with
//! `", "`), `content-type`,
//! `x-fenn-trigger: mqtt`, `x-fenn-qos`, and `x-fenn-response-topic` when the
//! sender asked for a reply; `pathParameters` from the named segments;
//! `body` = the payload (base64 when it is not UTF-8).
//!
//! The reply: the response body as the payload (base64 decoded), the status
//! code as the user property `status`, the response's headers as user
//! properties (`content-type` as the content type), and the request's
//! correlation data.
//!
//! Every message fenn sends carries the user property `fenn-hops`: one
//! more than the message it answers had, 1 for a cron result. A message
//! that arrives with [`MAX_HOPS`] or more is not run: replies feeding
//! subscriptions through the broker (between devices, or through another
//! responder that keeps the property) end there instead of looping.

use crate::outbox::Outgoing;
use crate::session::Received;
use bytes::Bytes;
use fenn_abi::{Event, Map, Response};
use fenn_runtime::EventBuilder;

/// Hops at which a message is refused.
pub const MAX_HOPS: u32 = 8;

// Read where a message is received, and written here.
pub use crate::session::{HOPS, hops};

/// Sets `message`'s hop count to `hops`, in place of any the function's
/// headers gave.
pub fn set_hops(message: &mut Outgoing, hops: u32) {
    message
        .user_properties
        .retain(|(name, _)| !name.eq_ignore_ascii_case(HOPS));
    message
        .user_properties
        .push((HOPS.into(), hops.to_string()));
}

/// Builds the event for a message, or says why the message is unusable.
pub fn to_event(publish: &Received, path_parameters: Map) -> Result<Event, String> {
    let topic = std::str::from_utf8(&publish.topic)
        .map_err(|_| "the topic is not valid UTF-8".to_owned())?;
    let mut event = EventBuilder::new("mqtt", topic, "PUBLISH");
    for (name, value) in &publish.user_properties {
        event.header(name, value);
    }
    if let Some(content_type) = &publish.content_type {
        // The property is the content type; a user property of that
        // name gives way to it.
        event.set_header("content-type", content_type);
    }
    if let Some(response_topic) = &publish.response_topic {
        event.fenn_header("response-topic", response_topic.clone());
    }
    event
        .fenn_header("qos", publish.qos.to_string())
        .fenn_header("hops", publish.hops.to_string())
        .path_parameters(path_parameters);
    Ok(event.body(publish.payload.to_vec()))
}

/// The reply to `request` on `topic`: the function's result with the
/// request's correlation data, at the request's QoS (0 or 1).
pub fn reply(
    result: Result<Response, fenn_runtime::Error>,
    request: &Received,
    topic: String,
) -> Outgoing {
    let qos = request.qos.min(1);
    let mut message = match result {
        Ok(response) => self::result(response, topic, qos),
        Err(error) => failure(&error, topic, qos),
    };
    message.correlation.clone_from(&request.correlation);
    set_hops(&mut message, request.hops.saturating_add(1));
    message
}

/// A response as a message: the body (base64 decoded), the status code as
/// the user property `status`, the headers as user properties
/// (`content-type` as the content type). A body that claims base64 and is
/// not makes it the failure message, as over HTTP.
pub fn result(response: Response, topic: String, qos: u8) -> Outgoing {
    let reply = match fenn_runtime::output::into_reply(response) {
        Ok(reply) => reply,
        Err(error) => return failure(&error, topic, qos),
    };
    let mut message = Outgoing {
        topic,
        qos,
        payload: Bytes::from(reply.body),
        content_type: None,
        correlation: None,
        user_properties: vec![("status".into(), reply.status_code.to_string())],
        retain: false,
    };
    for (name, value) in reply.headers {
        if name == "content-type" {
            message.content_type = Some(value);
        } else {
            message.user_properties.push((name, value));
        }
    }
    message
}

/// The message for a failed invocation: `{"message": …}` with its status.
pub fn failure(error: &fenn_runtime::Error, topic: String, qos: u8) -> Outgoing {
    refusal(error.status_code(), &error.client_message(), topic, qos)
}

/// A reply that no function produced: `{"message": …}` with `status`.
pub fn refusal(status: u16, message: &str, topic: String, qos: u8) -> Outgoing {
    Outgoing {
        topic,
        qos,
        payload: Bytes::from(message_json(message)),
        content_type: Some("application/json".into()),
        correlation: None,
        user_properties: vec![("status".into(), status.to_string())],
        retain: false,
    }
}

fn message_json(message: &str) -> String {
    serde_json::json!({ "message": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};

    fn publish(topic: &str, payload: &[u8], properties: Option<PublishProperties>) -> Received {
        let mut publish = Publish::new(topic, QoS::AtLeastOnce, payload.to_vec(), properties);
        publish.pkid = 1;
        Received::from_v5(publish)
    }

    #[test]
    fn a_message_becomes_an_api_gateway_event() {
        let properties = PublishProperties {
            user_properties: vec![
                ("Device".into(), "pi-zero".into()),
                ("x-fenn-trigger".into(), "cron".into()),
                ("dup".into(), "1".into()),
                ("DUP".into(), "2".into()),
            ],
            content_type: Some("application/json".into()),
            response_topic: Some("replies/1".into()),
            ..PublishProperties::default()
        };
        let mut params = Map::new();
        params.insert("room".into(), "kitchen".into());
        let event = to_event(
            &publish("sensors/kitchen/temp", br#"{"c":21}"#, Some(properties)),
            params,
        )
        .unwrap();
        assert_eq!(
            (event.path.as_str(), event.http_method.as_str()),
            ("sensors/kitchen/temp", "PUBLISH")
        );
        assert_eq!(event.header("device"), Some("pi-zero"));
        assert_eq!(event.header("dup"), Some("1, 2"));
        assert_eq!(event.header("content-type"), Some("application/json"));
        assert_eq!(
            event.header("x-fenn-trigger"),
            Some("mqtt"),
            "a sender cannot forge it"
        );
        assert_eq!(event.header("x-fenn-response-topic"), Some("replies/1"));
        assert_eq!(event.header("x-fenn-qos"), Some("1"));
        assert_eq!(event.path_parameter("room"), Some("kitchen"));
        assert_eq!(event.body, r#"{"c":21}"#);
    }

    #[test]
    fn a_binary_payload_travels_base64_and_a_bad_topic_is_refused() {
        let event = to_event(&publish("raw", &[0, 255], None), Map::new()).unwrap();
        assert!(event.is_base64_encoded);
        assert_eq!(event.body, "AP8=");
        let mut bad = publish("x", b"", None);
        bad.topic = Bytes::from_static(&[0xff, 0xfe]);
        assert_eq!(
            to_event(&bad, Map::new()).unwrap_err(),
            "the topic is not valid UTF-8"
        );
    }

    #[test]
    fn a_reply_carries_status_headers_and_correlation_data() {
        let request = publish(
            "t",
            b"",
            Some(PublishProperties {
                correlation_data: Some(Bytes::from_static(b"id-7")),
                ..PublishProperties::default()
            }),
        );
        let response = Response::with_status(201, "made")
            .header("content-type", "text/plain")
            .header("x-a", "b");
        let message = reply(Ok(response), &request, "out".into());
        assert_eq!((message.topic.as_str(), message.qos), ("out", 1));
        assert_eq!(message.payload.as_ref(), b"made");
        assert_eq!(message.correlation.as_deref(), Some(&b"id-7"[..]));
        assert_eq!(message.content_type.as_deref(), Some("text/plain"));
        assert!(
            message
                .user_properties
                .contains(&("status".into(), "201".into()))
        );
        assert!(
            message
                .user_properties
                .contains(&("x-a".into(), "b".into()))
        );
    }

    #[test]
    fn a_reply_counts_one_hop_more_than_its_request_whatever_the_function_says() {
        let request = publish(
            "t",
            b"",
            Some(PublishProperties {
                user_properties: vec![("fenn-hops".into(), "3".into())],
                ..PublishProperties::default()
            }),
        );
        assert_eq!(request.hops, 3);
        let response = Response::ok("x").header("fenn-hops", "0");
        let message = reply(Ok(response), &request, "out".into());
        let hops: Vec<_> = message
            .user_properties
            .iter()
            .filter(|(name, _)| name == "fenn-hops")
            .collect();
        assert_eq!(hops, [&("fenn-hops".to_owned(), "4".to_owned())]);
        assert_eq!(publish("t", b"", None).hops, 0);
        let bogus = [("Fenn-Hops".to_owned(), "many".to_owned())];
        assert_eq!(self::hops(&bogus), 0);
        let huge = [("fenn-hops".to_owned(), u32::MAX.to_string())];
        let mut at_most = publish("t", b"", None);
        at_most.hops = self::hops(&huge);
        let message = reply(Ok(Response::ok("")), &at_most, "out".into());
        assert!(
            message
                .user_properties
                .contains(&("fenn-hops".into(), u32::MAX.to_string()))
        );
    }

    #[test]
    fn a_body_that_is_not_the_base64_it_claims_is_answered_as_a_502() {
        let mut response = Response::ok("%%%");
        response.is_base64_encoded = true;
        let message = reply(Ok(response), &publish("t", b"", None), "out".into());
        assert_eq!(
            message.payload.as_ref(),
            br#"{"message":"function returned an invalid response"}"#
        );
        assert!(
            message
                .user_properties
                .contains(&("status".into(), "502".into()))
        );
    }

    #[test]
    fn a_failure_is_a_reply_with_its_status_and_no_internals() {
        let error = fenn_runtime::Error::Trap {
            reason: "secret".into(),
        };
        let mut request = publish("t", b"", None);
        request.qos = 0;
        let message = reply(Err(error), &request, "out".into());
        assert_eq!(message.qos, 0, "the request's QoS");
        assert_eq!(
            message.payload.as_ref(),
            br#"{"message":"function failed"}"#
        );
        assert!(
            message
                .user_properties
                .contains(&("status".into(), "502".into()))
        );
    }
}
