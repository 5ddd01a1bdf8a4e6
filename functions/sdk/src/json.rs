//! An event as JSON in the API-gateway event format, for `emit`: written by
//! hand, so that a guest that emits links no JSON library.

use alloc::string::String;
use fenn_abi::{Event, Map};

/// `event` as JSON text.
pub(crate) fn event(event: &Event) -> String {
    let mut out = String::with_capacity(event.body.len() + 128);
    out.push_str("{\"path\":");
    string(&mut out, &event.path);
    out.push_str(",\"httpMethod\":");
    string(&mut out, &event.http_method);
    for (name, map) in [
        ("headers", &event.headers),
        ("queryParameters", &event.query_parameters),
        ("pathParameters", &event.path_parameters),
    ] {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        object(&mut out, map);
    }
    out.push_str(",\"body\":");
    string(&mut out, &event.body);
    out.push_str(",\"isBase64Encoded\":");
    out.push_str(if event.is_base64_encoded {
        "true"
    } else {
        "false"
    });
    out.push('}');
    out
}

fn object(out: &mut String, map: &Map) {
    out.push('{');
    for (i, (name, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, name);
        out.push(':');
        string(out, value);
    }
    out.push('}');
}

fn string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_event_is_written_as_the_api_gateway_format() {
        let event = fenn_abi::Event::new("/a", "POST")
            .with_header("x", "q\"\n\u{1}")
            .with_body("b");
        assert_eq!(
            super::event(&event),
            "{\"path\":\"/a\",\"httpMethod\":\"POST\",\"headers\":{\"x\":\"q\\\"\\n\\u0001\"},\"queryParameters\":{},\"pathParameters\":{},\"body\":\"b\",\"isBase64Encoded\":false}"
        );
    }
}
