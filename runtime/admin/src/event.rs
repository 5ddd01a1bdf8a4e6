//! An event as JSON in the API-gateway format, as `fenn invoke` and the
//! management API's test event take it.

use anyhow::{Context as _, bail};
use fenn_abi::Event;

/// The event fields, as the API-gateway format names them.
const EVENT_FIELDS: [&str; 7] = [
    "path",
    "httpMethod",
    "headers",
    "queryParameters",
    "pathParameters",
    "body",
    "isBase64Encoded",
];

/// Reads an event as `fenn invoke` takes it: JSON in the API-gateway
/// format, every field known (a misspelt one would silently be empty), and
/// header names lower-cased as the gateway hands them to functions.
pub fn parse_event(source: &str, text: &str) -> anyhow::Result<Event> {
    let what = || {
        format!(
            "{source}: not an event in the API-gateway format ({})",
            EVENT_FIELDS.join(", ")
        )
    };
    let value: serde_json::Value = serde_json::from_str(text).with_context(what)?;
    if let Some(fields) = value.as_object() {
        if let Some(unknown) = fields
            .keys()
            .find(|key| !EVENT_FIELDS.contains(&key.as_str()))
        {
            bail!("{}: unknown field '{unknown}'", what());
        }
    }
    let mut event: Event = serde_json::from_value(value).with_context(what)?;
    event.headers = std::mem::take(&mut event.headers)
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_event_field_is_refused_and_header_names_are_lower_cased() {
        let error = parse_event("e.json", r#"{"path":"/","queryParams":{"a":"b"}}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field 'queryParams'"),
            "{error}"
        );
        let event = parse_event(
            "e.json",
            r#"{"path":"/","httpMethod":"GET","headers":{"Content-Type":"x"}}"#,
        )
        .unwrap();
        assert_eq!(event.header("content-type"), Some("x"));
    }
}
