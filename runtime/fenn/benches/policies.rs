//! What each gateway policy costs a request: the same hello behind an
//! open route and behind an AppCode, a signature, a JWT, an IP list and
//! rate limits, on one release fenn; wrk's throughput at 64 connections
//! and p50 at one connection, the policies in alternating rounds of the
//! same run. Signed requests are signed ahead (each nonce once) and sent
//! by a wrk script.
//!
//! `cargo bench --bench policies` (Debian's `wrk`).

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use base64::Engine as _;
use std::fmt::Write as _;
use std::time::Duration;

#[allow(dead_code, unused_imports)]
#[path = "../../../tests/util/mod.rs"]
mod util;

#[path = "policies/in_process.rs"]
mod in_process;

mod wrk;

const ROUNDS: usize = 3;
const LOAD: Duration = Duration::from_secs(5);
const CODE: &str = "bench-app-code-0123456789";
const SECRET: &str = "bench-app-secret-0123456789";
const JWT_SECRET: &str = "bench-jwt-secret-0123456789";
/// Signed requests made ahead for one wrk run: more than it sends.
const SIGNED: usize = 400_000;

const SCRIPT: &str = r#"
local lines, i = {}, 0
function init(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  args_path = args[2]
end
function request()
  i = i + 1
  local nonce, stamp, signature = lines[i]:match("^(%S+) (%S+) (%S+)$")
  return wrk.format("GET", args_path, {
    ["Accept"] = "application/json", ["X-Ca-Key"] = "bench-key",
    ["X-Ca-Nonce"] = nonce, ["X-Ca-Timestamp"] = stamp,
    ["X-Ca-Signature-Headers"] = "x-ca-key,x-ca-nonce,x-ca-timestamp",
    ["X-Ca-Signature"] = signature })
end
"#;

fn config(dir: &util::TempDir) -> std::path::PathBuf {
    // Sixteen entries each, the client's last: a list a site might keep.
    let nets = |first: u8| -> String {
        (0..15)
            .map(|i| format!("\"10.{first}.{i}.0/24\", "))
            .collect()
    };
    let text = format!(
        r#"
[gateway.jwt]
secret_env = "BENCH_JWT_SECRET"

[[app]]
name = "bench"
key = "bench-key"
secret_env = "BENCH_SECRET"
code_env = "BENCH_CODE"

[[function]]
name = "hello"
module = "example:hello"
http = [
  {{ route = "/open" }},
  {{ route = "/appcode", apps = ["bench"] }},
  {{ route = "/signed", apps = ["bench"] }},
  {{ route = "/jwt", jwt = true }},
  {{ route = "/ip", allow = [{allow}"127.0.0.0/8"], deny = [{deny}"192.0.2.1"] }},
  {{ route = "/rate", rate = "1000000/s", rate_per_caller = "1000000/s" }},
]
"#,
        allow = nets(1),
        deny = nets(2),
    );
    dir.write("fenn.toml", text)
}

/// `SIGNED` signed requests as `nonce stamp signature` lines, eight to a
/// millisecond from `*from` (or now, if later) on, as a client faster than
/// the clock stamps them; `*from` moves past the last, so that no run's
/// stamps are older than what fenn's nonce cache already forgot.
fn signed_lines(dir: &util::TempDir, run: usize, from: &mut u64) -> std::path::PathBuf {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let start = now.max(*from);
    *from = start + (SIGNED / 8) as u64 + 1;
    let mut lines = String::with_capacity(SIGNED * 96);
    for i in 0..SIGNED {
        let (nonce, stamp) = (format!("r{run}-{i}"), start + (i / 8) as u64);
        let text = format!(
            "GET\napplication/json\n\n\n\nx-ca-key:bench-key\nx-ca-nonce:{nonce}\nx-ca-timestamp:{stamp}\n/signed"
        );
        let signature = base64::engine::general_purpose::STANDARD
            .encode(ring::hmac::sign(&key, text.as_bytes()));
        writeln!(lines, "{nonce} {stamp} {signature}").unwrap();
    }
    dir.write(&format!("signed-{run}.txt"), lines)
}

fn main() {
    in_process::report();
    let dir = util::TempDir::new("bench-policies");
    let file = config(&dir);
    let fenn = util::Fenn::with_config_file(
        &file,
        &[
            ("BENCH_SECRET", SECRET),
            ("BENCH_CODE", CODE),
            ("BENCH_JWT_SECRET", JWT_SECRET),
        ],
    );
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "bench", "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let script = dir.write("signed.lua", SCRIPT);
    let header = |value: String| vec!["-H".to_owned(), value];
    let policies: [(&str, &str, Vec<String>); 7] = [
        ("open", "/open", vec![]),
        // The signature's baseline: the same wrk script, its headers
        // unread by an open route.
        ("open+lua", "/open", vec![]),
        (
            "appcode",
            "/appcode",
            header(format!("Authorization: APPCODE {CODE}")),
        ),
        ("signature", "/signed", vec![]),
        (
            "jwt",
            "/jwt",
            header(format!("Authorization: Bearer {token}")),
        ),
        ("ip list", "/ip", vec![]),
        ("rate limit", "/rate", vec![]),
    ];
    let mut rates = vec![Vec::new(); policies.len()];
    let mut p50s = vec![Vec::new(); policies.len()];
    let (mut run, mut from) = (0, 0);
    for round in 0..ROUNDS {
        for (at, (label, path, extra)) in policies.iter().enumerate() {
            let mut measured = [(0.0, 0.0); 2];
            for (slot, connections) in [64, 1].into_iter().enumerate() {
                let (mut extra, mut arguments) = (extra.clone(), Vec::new());
                if *label == "signature" || *label == "open+lua" {
                    run += 1;
                    let lines = signed_lines(&dir, run, &mut from);
                    extra.extend(["-s".to_owned(), script.display().to_string()]);
                    let path = (*path).to_owned();
                    arguments.extend(["--".to_owned(), lines.display().to_string(), path]);
                }
                measured[slot] = wrk::wrk(&fenn.url(path), connections, LOAD, &extra, &arguments);
            }
            println!(
                "  round {round} {label:<10}: {:>7.0} req/s at 64 connections, p50 {:.1} µs at one",
                measured[0].0, measured[1].1
            );
            rates[at].push(measured[0].0);
            p50s[at].push(measured[1].1);
        }
    }
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (open_rate, open_p50) = (mean(&rates[0]), mean(&p50s[0]));
    println!("(signature against open+lua: the same wrk script)");
    println!("policy      req/s (64 conns)   per request vs open   p50 (1 conn)   vs open");
    for (at, (label, _, _)) in policies.iter().enumerate() {
        let (rate, p50) = (mean(&rates[at]), mean(&p50s[at]));
        let (open_rate, open_p50) = if *label == "signature" {
            (mean(&rates[1]), mean(&p50s[1]))
        } else {
            (open_rate, open_p50)
        };
        println!(
            "{label:<10} {rate:>10.0} {:>+15.2} µs {p50:>15.1} µs {:>+8.1} µs",
            1e6 / rate - 1e6 / open_rate,
            p50 - open_p50
        );
    }
}
