//! [`EventBuilder`]: the one place an event is made from a trigger's parts,
//! with the rules every trigger shares.
//!
//! - `x-fenn-trigger` names the trigger (`http`, `mqtt`, `cron`);
//! - header names are lower case, and a repeated name's values are joined
//!   with `", "`, as HTTP joins them;
//! - `x-fenn-*` headers are fenn's own: one from outside (a client's
//!   header, a message's user property) is dropped, so a function can trust
//!   them; the trigger adds its own with [`EventBuilder::fenn_header`];
//! - a body that is valid UTF-8 travels as text, any other body base64
//!   encoded with `isBase64Encoded` set.
//!
//! The invocation id (`x-fenn-invocation-id`) is the dispatcher's to add,
//! as it names the invocation in the log.

use base64::Engine as _;
use fenn_abi::event::HEADER_TRIGGER;
use fenn_abi::{Event, Map};

/// The prefix of the headers only fenn sets.
pub const FENN_PREFIX: &str = "x-fenn-";

/// An event in the making; see the module docs for its rules.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    event: Event,
}

impl EventBuilder {
    /// An event from `trigger` for `path` (request path, topic, schedule
    /// name) and `method` (`GET`…, `PUBLISH`, `SCHEDULE`).
    pub fn new(trigger: &str, path: &str, method: &str) -> Self {
        let mut event = Event::new(path, method);
        event.headers.insert(HEADER_TRIGGER.into(), trigger.into());
        Self { event }
    }

    /// A header from outside: its name lower-cased, joined with an earlier
    /// value of the same name, dropped if it is one of fenn's own.
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        let name = name.to_ascii_lowercase();
        if name.starts_with(FENN_PREFIX) {
            return self;
        }
        self.event
            .headers
            .entry(name)
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
        self
    }

    /// A header the source states itself (MQTT's content type): it replaces
    /// whatever outside header of that name came before.
    pub fn set_header(&mut self, name: &str, value: &str) -> &mut Self {
        let name = name.to_ascii_lowercase();
        if !name.starts_with(FENN_PREFIX) {
            self.event.headers.insert(name, value.to_owned());
        }
        self
    }

    /// One of fenn's own headers, `x-fenn-` followed by `name`.
    pub fn fenn_header(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.event
            .headers
            .insert(format!("{FENN_PREFIX}{name}"), value.into());
        self
    }

    /// A query parameter; the last value wins when a name repeats.
    pub fn query(&mut self, name: String, value: String) -> &mut Self {
        self.event.query_parameters.insert(name, value);
        self
    }

    /// The named segments of the route template or topic filter.
    pub fn path_parameters(&mut self, parameters: Map) -> &mut Self {
        self.event.path_parameters = parameters;
        self
    }

    /// The event with `body`: as text when it is UTF-8, else base64.
    pub fn body(self, body: Vec<u8>) -> Event {
        let mut event = self.event;
        match String::from_utf8(body) {
            Ok(text) => event.body = text,
            Err(error) => {
                event.body = base64::engine::general_purpose::STANDARD.encode(error.as_bytes());
                event.is_base64_encoded = true;
            }
        }
        event
    }

    /// The event with a text body.
    pub fn text(self, body: &str) -> Event {
        self.event.with_body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_headers_are_lower_cased_joined_and_cannot_pose_as_fenn_s() {
        let mut builder = EventBuilder::new("mqtt", "sensors/a", "PUBLISH");
        builder
            .header("Dup", "1")
            .header("dup", "2")
            .header("X-Fenn-Trigger", "http")
            .header("x-fenn-invocation-id", "forged")
            .fenn_header("qos", "1");
        let event = builder.text("21.5");
        assert_eq!(event.header("dup"), Some("1, 2"));
        assert_eq!(event.header("x-fenn-trigger"), Some("mqtt"));
        assert_eq!(event.header("x-fenn-qos"), Some("1"));
        assert_eq!(event.header("x-fenn-invocation-id"), None);
        assert_eq!(
            (event.body.as_str(), event.is_base64_encoded),
            ("21.5", false)
        );
    }

    #[test]
    fn a_header_the_source_states_replaces_an_outside_one() {
        let mut builder = EventBuilder::new("mqtt", "t", "PUBLISH");
        builder
            .header("Content-Type", "text/plain")
            .set_header("content-type", "application/json")
            .set_header("x-fenn-trigger", "forged");
        let event = builder.text("");
        assert_eq!(event.header("content-type"), Some("application/json"));
        assert_eq!(event.header("x-fenn-trigger"), Some("mqtt"));
    }

    #[test]
    fn a_body_that_is_not_utf8_travels_as_base64() {
        let event = EventBuilder::new("http", "/", "POST").body(vec![0xff, 0x00, 0x41]);
        assert_eq!(
            (event.body.as_str(), event.is_base64_encoded),
            ("/wBB", true)
        );
        let event = EventBuilder::new("http", "/", "POST").body(b"text".to_vec());
        assert_eq!(
            (event.body.as_str(), event.is_base64_encoded),
            ("text", false)
        );
    }
}
