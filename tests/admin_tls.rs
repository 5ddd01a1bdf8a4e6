//! The management API off loopback: HTTPS with the operator's certificate,
//! the CLI trusting it by CA or by pinned fingerprint, and the config
//! refusing what would send the token in clear.

use crate::util::{Certificates, Managed, TempDir};

/// A config directory holding the test CA's server certificate and its
/// key, readable by its owner only.
fn with_certificate(certs: &Certificates) -> TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("admin-tls");
    dir.write(
        "admin.crt",
        std::fs::read(certs.path("server.crt")).unwrap(),
    );
    let key = dir.write(
        "admin.key",
        std::fs::read(certs.path("server.key")).unwrap(),
    );
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

const TLS: &str =
    "[admin]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"admin.crt\"\ntls_key = \"admin.key\"\n";

#[test]
fn the_cli_trusts_an_https_management_api_by_its_ca_or_its_pinned_fingerprint_only() {
    let certs = Certificates::new();
    let fenn = Managed::start_in(with_certificate(&certs), TLS);
    let announced = fenn.fenn.stdout.wait_for("(certificate sha256 ");
    let fingerprint = announced
        .split("(certificate sha256 ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_owned();
    // The certificate is for 127.0.0.1 and localhost.
    let https = format!("https://127.0.0.1:{}", fenn.admin.port());
    let ca = certs.path("ca.crt");
    let (ok, out, err) = fenn.cli_at(&https, &["ls", "--ca-file", &ca]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("NAME"), "{out}");
    let (ok, _, err) = fenn.cli_at(&https, &["ls", "--fingerprint", &fingerprint]);
    assert!(ok, "{err}");
    let wrong = "AB:".repeat(31) + "AB";
    let (ok, _, err) = fenn.cli_at(&https, &["ls", "--fingerprint", &wrong]);
    assert!(
        !ok && err.contains("not the one of the pinned fingerprint"),
        "{err}"
    );
    let (ok, _, err) = fenn.cli_at(&https, &["ls"]);
    assert!(
        !ok && err.contains("--ca-file FILE, or --fingerprint"),
        "{err}"
    );
    // Another CA's certificate is not trusted.
    let other = Certificates::new();
    let (ok, _, err) = fenn.cli_at(&https, &["ls", "--ca-file", &other.path("ca.crt")]);
    assert!(
        !ok && err.contains("cannot reach the management API"),
        "{err}"
    );
    // Plain HTTP to the HTTPS listener gets nowhere.
    let (ok, _, _) = fenn.cli(&["ls"]);
    assert!(!ok);
}

#[test]
fn an_address_off_loopback_without_tls_and_a_key_others_can_read_are_refused_at_start() {
    let dir = TempDir::new("admin-refused");
    let plain = dir.write(
        "plain.toml",
        "[server]\nstate_dir = \"state\"\n[admin]\nlisten = \"0.0.0.0:0\"\n",
    );
    let (ok, _, err) = run_with_token(&["serve", "--config", plain.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("admin.listen: 0.0.0.0:0 is reachable from other machines"),
        "{err}"
    );
    let certs = Certificates::new();
    let dir = with_certificate(&certs);
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        dir.0.join("admin.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let config = dir.write(
        "fenn.toml",
        format!("[server]\nstate_dir = \"state\"\n{TLS}"),
    );
    let (ok, _, err) = run_with_token(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("admin.tls_key") && err.contains("chmod 600"),
        "{err}"
    );
    // No token at all.
    let loopback = dir.write(
        "loopback.toml",
        "[server]\nstate_dir = \"state\"\n[admin]\n",
    );
    let (ok, _, err) = run_with(None, &["serve", "--config", loopback.to_str().unwrap()]);
    assert!(!ok && err.contains("FENN_ADMIN_TOKEN"), "{err}");
}

fn run_with_token(args: &[&str]) -> (bool, String, String) {
    run_with(Some(crate::util::admin::TOKEN), args)
}

/// Runs fenn with `token` as its admin token, or none.
fn run_with(token: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut command = crate::util::fenn();
    command.args(args).env_remove("FENN_ADMIN_TOKEN");
    if let Some(token) = token {
        command.env("FENN_ADMIN_TOKEN", token);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
