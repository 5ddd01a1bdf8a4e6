//! A generator-driven fuzz test over what a guest can return: random and
//! half-valid outputs (JSON text and postcard) through the runtime's
//! decoding and the gateway's response building, in both response modes.
//! Nothing may panic, and whatever is accepted keeps to the bounds: at most
//! `max_response` bytes of body (and of envelope), at most the header
//! limits, every header valid HTTP. Bounded: a fixed number of cases from
//! fixed seeds, so a failure names its seed and reproduces; `FENN_FUZZ_CASES`
//! runs more.

#![allow(clippy::unwrap_used)]

use fenn_abi::{Response, abi};
use fenn_http::ResponseMode;
use fenn_http::response::to_http;
use fenn_runtime::output::{self, MAX_HEADER_BYTES, MAX_HEADERS};
use http_body_util::BodyExt as _;

/// xorshift64*: small, fast and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    /// Printable ASCII without spaces: a valid header name or value.
    fn token(&mut self, max: u64) -> String {
        (0..self.below(max))
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }
    fn text(&mut self, max: u64) -> String {
        let alphabet = [
            "a",
            "Z",
            "0",
            " ",
            "\"",
            "\\",
            "\n",
            "\r",
            "\t",
            "\u{1}",
            "\u{7f}",
            "é",
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "-",
            "/",
            "=",
            "\u{1F600}",
            "%",
        ];
        (0..self.below(max)).map(|_| self.pick(&alphabet)).collect()
    }
}

fn json_value(rng: &mut Rng, depth: u32) -> String {
    match rng.below(if depth > 2 { 5 } else { 8 }) {
        0 => "null".into(),
        1 => rng.pick(&["true", "false", "\"true\"", "\"FALSE\""]).into(),
        2 => rng
            .pick(&[
                "200",
                "\"404\"",
                "-1",
                "1e3",
                "99999999999999999999",
                "600",
                "0",
            ])
            .into(),
        3 | 4 => serde_json::to_string(&rng.text(40)).unwrap(),
        5 => format!(
            "[{}]",
            (0..rng.below(6))
                .map(|_| json_value(rng, depth + 1))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => format!(
            "{{{}}}",
            (0..rng.below(5))
                .map(|_| format!(
                    "{}: {}",
                    serde_json::to_string(&rng.text(12)).unwrap(),
                    json_value(rng, depth + 1)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A header value as JSON: mostly a valid one, sometimes anything.
fn header_value(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => json_value(rng, 2),
        1 => rng.pick(&["7", "null", "true"]).into(),
        _ => serde_json::to_string(&rng.token(30)).unwrap(),
    }
}

/// A JSON response: mostly well formed, each field sometimes odd.
fn json_output(rng: &mut Rng) -> Vec<u8> {
    let mut fields = Vec::new();
    if rng.below(10) > 0 {
        let status = if rng.below(5) > 0 {
            rng.pick(&["200", "\"201\"", "204", "599"]).into()
        } else {
            json_value(rng, 2)
        };
        fields.push(format!("\"statusCode\": {status}"));
    }
    if rng.below(4) == 0 {
        let flag = rng.pick(&["false", "true", "\"false\"", "\"TRUE\"", "null", "1"]);
        fields.push(format!("\"isBase64Encoded\": {flag}"));
    }
    if rng.below(4) > 0 {
        let headers = if rng.below(10) > 0 {
            let members: Vec<String> = (0..rng.below(80))
                .map(|i| format!("\"X-{i}{}\": {}", rng.token(3), header_value(rng)))
                .collect();
            format!("{{{}}}", members.join(","))
        } else {
            json_value(rng, 1)
        };
        fields.push(format!("\"headers\": {headers}"));
    }
    if rng.below(5) > 0 {
        let body = match rng.below(3) {
            0 => format!("[{}0]", "0,".repeat(rng.below(5000) as usize)),
            _ => json_value(rng, 0),
        };
        fields.push(format!("\"body\": {body}"));
    }
    if rng.below(4) == 0 {
        fields.push(format!("\"other\": {}", json_value(rng, 0)));
    }
    let mut text = format!("{{{}}}", fields.join(", ")).into_bytes();
    if rng.below(20) == 0 && !text.is_empty() {
        let cut = rng.below(text.len() as u64) as usize;
        text.truncate(cut);
    }
    let mut output = vec![abi::OUTPUT_JSON];
    output.extend(text);
    output
}

fn postcard_output(rng: &mut Rng) -> Vec<u8> {
    let status = rng.pick(&["100", "200", "200", "302", "404", "599", "700"]);
    let mut response = Response::with_status(status.parse().unwrap(), rng.text(3000));
    if rng.below(4) == 0 {
        response.is_base64_encoded = true;
        response.body = rng.pick(&["AAH/", "aGVsbG8=", " aGk= ", "%%%"]).into();
    }
    let most = if rng.below(8) == 0 { 100 } else { 10 };
    for _ in 0..rng.below(most) {
        let (name, value) = if rng.below(20) == 0 {
            let prefix = rng.pick(&["bad name ", "", "x-\n"]);
            (format!("{prefix}{}", rng.text(6)), rng.text(2000))
        } else {
            let prefix = rng.pick(&["x-", "X-", "content-length", "Content-Type"]);
            let len = rng.below(3) * 1_000 + 20;
            (format!("{prefix}{}", rng.token(6)), rng.token(len))
        };
        response.headers.insert(name, value);
    }
    let mut output = abi::encode_output(&response).unwrap();
    if rng.below(20) == 0 {
        let at = rng.below(output.len() as u64) as usize;
        output[at] ^= 0xff;
    }
    output
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    (0..rng.below(200)).map(|_| rng.next() as u8).collect()
}

async fn body_len(response: axum::response::Response) -> usize {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

#[tokio::test]
async fn no_guest_output_panics_the_gateway_or_escapes_its_bounds() {
    let cases: u64 = std::env::var("FENN_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let (mut accepted, mut refused) = (0, 0);
    let mut reasons = std::collections::BTreeMap::<String, u32>::new();
    for seed in 1..=cases {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let output = match rng.below(5) {
            0 | 1 => json_output(&mut rng),
            2 | 3 => postcard_output(&mut rng),
            _ => random_bytes(&mut rng),
        };
        let max = [1024, 1 << 20, 1 << 20, 1 << 20][rng.below(4) as usize];
        let response = match output::decode(&output, max) {
            Ok(response) => response,
            Err(error) => {
                refused += 1;
                let reason = error.to_string();
                let key: String = reason.chars().take(45).collect();
                *reasons.entry(key).or_insert(0) += 1;
                continue;
            }
        };
        accepted += 1;
        assert!(response.headers.len() <= MAX_HEADERS, "seed {seed}");
        let header_bytes: usize = response
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum();
        assert!(header_bytes <= MAX_HEADER_BYTES, "seed {seed}");
        assert!(response.body.len() <= max, "seed {seed}");
        for mode in [ResponseMode::Plain, ResponseMode::Envelope] {
            match to_http(response.clone(), mode, max) {
                Ok(http) => assert!(body_len(http).await <= max, "seed {seed} {mode:?}"),
                Err(error) => assert_eq!(error.status().as_u16(), 502, "seed {seed}: {error}"),
            }
        }
    }
    // The generator reaches both sides of the decoder.
    assert!(
        accepted > cases / 10 && refused > cases / 10,
        "{accepted} accepted, {refused} refused: {reasons:?}"
    );
}
