//! `[gateway]` and `[[app]]`: errors named by their key, and routes that
//! name what was refused.
// Most of these tests are of the `jwt` feature's section; a build
// without it leaves their helpers unused.
#![cfg_attr(not(feature = "jwt"), allow(unused_imports, dead_code))]

use super::{keys, read, routes};
use fenn_runtime::Limits;
use fenn_runtime::trigger::{FunctionInfo, KeyError};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// A folder of its own for `test`, with `files` in it (mode 600 unless
/// named `open.*`).
fn folder(test: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("fenn-http-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let mode = if name.starts_with("open.") {
            0o644
        } else {
            0o600
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

// Its JWT section is in error for a reason of the `jwt` feature's.
#[cfg(feature = "jwt")]
#[test]
fn gateway_and_app_errors_name_their_key_and_add_none_to_the_routes() {
    let secret = "a-secret-of-some-length";
    let dir = folder(
        "policies",
        &[("good.secret", secret), ("open.secret", secret)],
    );
    let sections = json!({
        "gateway": {"deny": ["10.0.0.0/33"], "alow": ["10.0.0.1"], "allow": ["10.0.0.0/8"],
            "jwt": {"secret_file": "good.secret", "issuer": "me"}},
        "app": [
            {"name": "a", "key": "ka", "secret_file": "missing.secret"},
            {"name": "b", "key": "kb", "secret_file": "open.secret"},
            {"name": "c", "key": "kc", "secret_file": "good.secret"},
            {"name": "d", "secret_file": "good.secret"},
            {"name": "e", "code_file": "good.secret", "colour": "red"},
        ],
    });
    let (setup, errors) = read(&dir, json!({}), sections);
    assert_eq!(
        keys(&errors),
        [
            "gateway.alow",
            "app[0].secret_file",
            "app[1].secret_file",
            "app[3].key",
            "app[4].colour",
            "gateway.deny[0]",
        ],
        "{errors:?}"
    );
    assert!(
        errors[2]
            .reason
            .ends_with("may be read by other users (mode 644): chmod 600 it")
    );
    assert!(
        errors[3]
            .reason
            .starts_with("an app that signs requests needs its AppKey")
    );
    assert_eq!(
        errors[5].reason,
        "'10.0.0.0/33' is not an IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8"
    );
    let info = FunctionInfo {
        name: "f",
        limits: &Limits::default(),
        apps: &[],
    };
    let raw = [
        json!({"route": "/c", "apps": ["c"], "jwt": true}),
        json!({"route": "/b", "apps": ["b"]}),
        json!({"route": "/e", "apps": ["e"]}),
        json!({"route": "/ghost", "apps": ["ghost"]}),
    ];
    let found = setup.bindings(&info, &raw, &BTreeMap::new());
    let protected = found[0].as_ref().unwrap();
    assert_eq!(
        protected.view(),
        json!({"route": "/c", "methods": [], "apps": ["c"], "jwt": true})
    );
    // Apps refused for their own keys are reported once, as theirs.
    assert!(found[1].as_ref().unwrap_err().is_reported_elsewhere());
    assert!(found[2].as_ref().unwrap_err().is_reported_elsewhere());
    let ghost = found[3].as_ref().unwrap_err();
    assert_eq!(
        ghost.to_string(),
        "apps[0]: no [[app]] is named 'ghost' (there are: c)"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(not(feature = "jwt"))]
#[test]
fn a_build_without_jwt_refuses_the_section_once_and_checks_its_keys() {
    let sections = json!({"gateway": {"jwt": {"secret_env": "X"}}});
    let (_, errors) = read(Path::new("."), json!({}), sections);
    assert_eq!(
        errors,
        [KeyError::new(
            "gateway.jwt",
            "this fenn was built without JWT support (the cargo feature `jwt`)"
        )]
    );
    let sections = json!({"gateway": {"jwt": {"isuer": "me"}}});
    let (_, errors) = read(Path::new("."), json!({}), sections);
    assert_eq!(keys(&errors), ["gateway.jwt.isuer"]);
}

#[cfg(feature = "jwt")]
#[test]
fn a_jwt_section_in_error_is_reported_once_not_for_each_route_asking_for_tokens() {
    let sections = json!({"gateway": {"jwt": {"secret_env": "X", "isuer": "me"}}});
    let (setup, errors) = read(Path::new("."), json!({}), sections);
    assert_eq!(keys(&errors), ["gateway.jwt.isuer"]);
    let found = routes(
        &*setup,
        "f",
        1 << 20,
        &[json!({"route": "/t", "jwt": true})],
    );
    assert_eq!(found.len(), 1);
    let (_, errors) = read(Path::new("."), json!({}), json!({"gateway": {"jwt": {}}}));
    assert_eq!(
        errors,
        [KeyError::new(
            "gateway.jwt",
            "names no key: give secret_env, secret_file, public_key or jwks"
        )]
    );
}
