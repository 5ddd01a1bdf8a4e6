//! The guest's side of the wire, written out by hand: the event's
//! postcard form read, the response's written.
//!
//! A guest decodes one event and encodes one response per instance, all of
//! it interpreted, and for a small function that is most of its work.
//! Through serde and postcard it cost the SDK hello some 10 500 of its
//! 13 800 wasm instructions an event: over half of them in
//! `core::str::from_utf8` (hundreds a string, however short), and 1 700 in
//! encoding a 23-byte response into a growing vector then copying it behind
//! the tag. Here the same event and response cost it about 4 400. These functions
//! produce and accept exactly what `postcard` does for [`Event`] and
//! [`Response`] (fields in declaration order, LEB128 varint lengths of the
//! platform's `usize`, bools as 0 or 1, trailing bytes ignored) and fail
//! with the same [`postcard::Error`] variants; the tests hold the two
//! together. The host keeps postcard itself.

use crate::abi::OUTPUT_POSTCARD;
use crate::{Event, Map, Response};
use alloc::{string::String, vec::Vec};
use postcard::Error;

/// Encodes `response` as tagged guest output, as
/// [`OUTPUT_POSTCARD`] followed by `postcard::to_allocvec(response)`.
pub(crate) fn encode_output(response: &Response) -> Vec<u8> {
    // Room for every varint at its longest, so the output never regrows.
    const VARINT: usize = usize::BITS.div_ceil(7) as usize;
    let headers: usize = response
        .headers
        .iter()
        .map(|(name, value)| 2 * VARINT + name.len() + value.len())
        .sum();
    let mut out = Vec::with_capacity(2 + 3 * VARINT + headers + response.body.len());
    out.push(OUTPUT_POSTCARD);
    out.push(u8::from(response.is_base64_encoded));
    push_varint(&mut out, usize::from(response.status_code));
    push_varint(&mut out, response.headers.len());
    for (name, value) in &response.headers {
        push_str(&mut out, name);
        push_str(&mut out, value);
    }
    push_str(&mut out, &response.body);
    out
}

fn push_varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    push_varint(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// Decodes an [`Event`] as `postcard::from_bytes` would.
pub(crate) fn decode_event(bytes: &[u8]) -> Result<Event, Error> {
    let mut reader = Reader {
        bytes,
        ascii: is_ascii(bytes),
    };
    Ok(Event {
        path: reader.string()?,
        http_method: reader.string()?,
        headers: reader.map()?,
        query_parameters: reader.map()?,
        path_parameters: reader.map()?,
        body: reader.string()?,
        is_base64_encoded: reader.bool()?,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    /// Whether the whole input is ASCII, and so every string in it UTF-8:
    /// one pass over the input instead of a validation per string, which
    /// costs an interpreted guest hundreds of instructions each.
    ascii: bool,
}

// Inlined into the one caller: the reader's position then stays in wasm
// locals instead of memory: some 900 fewer instructions an event.
impl<'a> Reader<'a> {
    #[inline(always)]
    fn byte(&mut self) -> Result<u8, Error> {
        let (&byte, rest) = self
            .bytes
            .split_first()
            .ok_or(Error::DeserializeUnexpectedEnd)?;
        self.bytes = rest;
        Ok(byte)
    }

    /// A varint `usize`: 7 bits a byte, low bits first, at most as many
    /// bytes as a `usize` needs, and no bits past its width.
    #[inline(always)]
    fn varint(&mut self) -> Result<usize, Error> {
        const MAX_BYTES: u32 = usize::BITS.div_ceil(7);
        let mut value = 0usize;
        for i in 0..MAX_BYTES {
            let byte = self.byte()?;
            value |= usize::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                let past_width = i == MAX_BYTES - 1 && u32::from(byte) >> (usize::BITS % 7) != 0;
                return if past_width {
                    Err(Error::DeserializeBadVarint)
                } else {
                    Ok(value)
                };
            }
        }
        Err(Error::DeserializeBadVarint)
    }

    #[inline(always)]
    fn str(&mut self) -> Result<&'a str, Error> {
        let len = self.varint()?;
        if len > self.bytes.len() {
            return Err(Error::DeserializeUnexpectedEnd);
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        if self.ascii {
            #[allow(unsafe_code)]
            // SAFETY: ASCII is valid UTF-8.
            return Ok(unsafe { core::str::from_utf8_unchecked(text) });
        }
        core::str::from_utf8(text).map_err(|_| Error::DeserializeBadUtf8)
    }

    #[inline(always)]
    fn string(&mut self) -> Result<String, Error> {
        self.str().map(String::from)
    }

    /// A map: its length, then each key and value; a repeated key keeps
    /// its last value, as serde's `BTreeMap` does.
    fn map(&mut self) -> Result<Map, Error> {
        let len = self.varint()?;
        let mut map = Map::new();
        for _ in 0..len {
            let key = self.string()?;
            let value = self.string()?;
            map.insert(key, value);
        }
        Ok(map)
    }

    fn bool(&mut self) -> Result<bool, Error> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::DeserializeBadBool),
        }
    }
}

/// Whether every byte is below 0x80, eight at a time: `<[u8]>::is_ascii`
/// costs an interpreted guest several times as many instructions.
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let words_ascii = chunks.all(|chunk| {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0xFF; 8]));
        word & HIGH_BITS == 0
    });
    words_ascii && chunks.remainder().iter().all(|&byte| byte < 0x80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec};

    fn events() -> Vec<Event> {
        let mut many = Event::new("/many", "GET");
        for i in 0..300 {
            many = many.with_header(&format!("x-{i}"), "v");
        }
        many.path_parameters.insert("id".into(), "7".into());
        vec![
            Event::default(),
            Event::new("/testfunc", "POST")
                .with_header("content-type", "text/plain")
                .with_query("name", "Jason")
                .with_body("requested the API"),
            Event::new("/ünïcode", "PUBLISH").with_body("héllo wörld ✓"),
            Event::new("/long", "POST").with_body("x".repeat(20_000)),
            Event {
                is_base64_encoded: true,
                ..Event::new("/b", "POST").with_body("AAEC")
            },
            many,
        ]
    }

    fn decode_both(bytes: &[u8]) -> (Result<Event, Error>, Result<Event, Error>) {
        (decode_event(bytes), postcard::from_bytes(bytes))
    }

    #[test]
    fn events_decode_as_postcard_decodes_them() {
        for event in events() {
            let mut bytes = postcard::to_allocvec(&event).unwrap();
            assert_eq!(decode_event(&bytes).unwrap(), event);
            bytes.extend_from_slice(b"trailing \xFF");
            assert_eq!(decode_event(&bytes).unwrap(), event);
        }
    }

    #[test]
    fn malformed_events_fail_as_postcard_fails() {
        for event in events().into_iter().take(5) {
            let bytes = postcard::to_allocvec(&event).unwrap();
            for end in 0..bytes.len() {
                let (ours, theirs) = decode_both(&bytes[..end]);
                assert_eq!(ours, theirs, "{event:?} cut at {end}");
            }
            let mut bad_bool = bytes.clone();
            *bad_bool.last_mut().unwrap() = 2;
            assert_eq!(decode_event(&bad_bool), Err(Error::DeserializeBadBool));
        }
        let cases: [&[u8]; 6] = [
            b"\x02\xC3\x28",             // invalid UTF-8
            b"\x80\x80\x80\x80\x80\x01", // longer than a varint may be
            b"\x80\x80\x80\x80\x10",     // past 32 bits (or a length past the end)
            b"\xFF\xFF\xFF\xFF\x0F",     // u32::MAX, past the end
            b"\x01a\x01b\x01\x01k",      // a map that ends early
            b"\x01a\x01b\x00\x00\x00\x00\x01",
        ];
        for bytes in cases {
            let (ours, theirs) = decode_both(bytes);
            assert_eq!(ours, theirs, "{bytes:?}");
        }
    }

    #[test]
    fn responses_encode_as_postcard_encodes_them() {
        let mut many = Response::with_status(u16::MAX, "y".repeat(200));
        for i in 0..200 {
            many = many.header(&format!("x-{i}"), "é".repeat(i));
        }
        let responses = [
            Response::default(),
            Response::ok("Jason requested the API").header("content-type", "text/plain"),
            Response {
                is_base64_encoded: true,
                ..Response::with_status(404, "bm90IGZvdW5k")
            },
            Response::ok("z".repeat(70_000)),
            many,
        ];
        for response in responses {
            let mut expected = vec![crate::abi::OUTPUT_POSTCARD];
            expected.extend(postcard::to_allocvec(&response).unwrap());
            assert_eq!(encode_output(&response), expected, "{response:?}");
        }
    }
}
