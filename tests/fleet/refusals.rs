//! What a device refuses (unsigned, forged, replayed deployments), and a
//! device killed in the middle of applying one.

use super::devices::{active_on, serving};
use super::{Site, id_of, scale};
use fenn_fleet::signed::Signer;
use rumqttc::QoS;
use serde_json::Value;
use std::time::Duration;

/// Publishes `payload` retained on the group's desired state, then waits
/// until every device reports refusing it with `reason`.
fn refused_by_all(site: &Site, payload: Vec<u8>, reason: &str) {
    let topic = "fenn/fleet/groups/site/desired";
    site.reports
        .client
        .publish(topic, QoS::AtLeastOnce, true, payload)
        .unwrap();
    let n = site.devices.len();
    site.reports.wait(
        &format!("every device refusing: {reason}"),
        Duration::from_secs(60),
        |r| {
            (r.values())
                .filter(|report| {
                    report["refused"]["reason"]
                        .as_str()
                        .is_some_and(|said| said.contains(reason))
                })
                .count()
                >= n
        },
    );
}

/// `wasm` with a custom section of `bytes` bytes: the same function, a
/// module of about that size.
pub(super) fn padded(wasm: &[u8], bytes: usize) -> Vec<u8> {
    let name = b"pad";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.resize(payload.len() + bytes, 0x5a);
    let mut out = wasm.to_vec();
    out.push(0);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&payload);
    out
}

#[test]
fn unsigned_forged_and_replayed_deployments_are_refused_and_a_killed_apply_ends_whole() {
    let (n, _) = scale();
    let mut site = Site::start(n);
    let (v1, _) = site.hello(1);
    let (ok, answer) = site.fleet(&site.deploy_args(&v1, &["--canary", "0", "--waves", "100"]));
    assert!(ok, "{answer}");
    let first_envelope = site
        .reports
        .desired
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    let (v2, v2_sha) = site.hello(2);
    let (ok, answer) = site.fleet(&site.deploy_args(&v2, &["--canary", "0", "--waves", "100"]));
    assert!(ok, "{answer}");
    let second = id_of(&answer);
    site.all_active_on(second, "every device on the second deployment");

    // Anyone who can publish on the broker tries.
    refused_by_all(
        &site,
        b"{\"id\": 99999999999999}".to_vec(),
        "not a signed deployment",
    );
    let mut forged: Value = {
        let envelope: Value = serde_json::from_slice(&first_envelope).unwrap();
        serde_json::from_str(envelope["deployment"].as_str().unwrap()).unwrap()
    };
    forged["id"] = (second + 1000).into();
    let theirs = Signer::from_pem(&Signer::generate().unwrap()).unwrap();
    let envelope = theirs.sign(forged.to_string());
    refused_by_all(
        &site,
        serde_json::to_vec(&envelope).unwrap(),
        "not signed by a key this device trusts",
    );
    refused_by_all(&site, first_envelope, "a replay");
    let reports = site.reports.wait("reports", Duration::ZERO, |_| true);
    for report in reports.values() {
        assert!(active_on(report, second), "{report}");
        assert_eq!(serving(report, "hello"), Some(v2_sha.as_str()), "{report}");
    }
    site.every_gateway_says_hello();

    // A device killed while it applies a large module: after its restart
    // it serves the old version or the new one, and says which.
    let big = padded(&crate::util::tagged(&crate::util::hello_wasm(), 3), 1 << 20);
    let big_sha = fenn_fleet::chunks::sha256(&big);
    let path = site.files.write("big.wasm", big).display().to_string();
    let mut args = site.deploy_args(&path, &["--wave-timeout", "30s"]);
    let group = args.iter().position(|a| a == "--group").unwrap();
    args.splice(group..group + 2, ["--device".to_owned(), "d000".to_owned()]);
    let expect = args.iter().position(|a| a == "--expect").unwrap();
    args.drain(expect..expect + 2);
    // The broker's desired state is now the replayed old one: the
    // operator will not build on it unless told to.
    let (ok, answer) = site.fleet(&args);
    assert!(!ok, "{answer}");
    args.push("--force".into());
    let rollout = site.fleet_in_background(args);
    let applying = site.reports.wait(
        "d000 applying the large module",
        Duration::from_secs(60),
        |r| {
            ["downloading", "validating"].contains(&r["d000"]["state"].as_str().unwrap_or_default())
                || r["d000"]["target"].as_u64() > Some(second)
        },
    );
    let caught = applying["d000"]["state"].clone();
    site.devices[0].fenn.as_mut().unwrap().kill_9();
    let _ = rollout.join().unwrap();
    let restarted = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    site.devices[0].run();
    let reports = site.reports.wait(
        "d000 active after its restart",
        Duration::from_secs(60),
        |r| {
            let report = &r["d000"];
            report["state"] == "active" && report["at"].as_str() > Some(restarted.as_str())
        },
    );
    let sha = serving(&reports["d000"], "hello").unwrap();
    assert!(
        sha == v2_sha || sha == big_sha,
        "neither version: {}",
        reports["d000"]
    );
    eprintln!(
        "fleet: killed in {caught}, restarted serving {}",
        if sha == big_sha {
            "the new version"
        } else {
            "the old version"
        }
    );
    site.devices[0].says_hello();
    // Its desired state is still there: it applies it again, whole.
    site.reports
        .wait("d000 on the new version", Duration::from_secs(60), |r| {
            r["d000"]["state"] == "active" && serving(&r["d000"], "hello") == Some(big_sha.as_str())
        });
    site.devices[0].says_hello();
}
