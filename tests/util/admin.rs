//! A fenn with its management API on, kept across restarts (its config and
//! state directory outlive each process), and the API called as a client
//! would: over HTTP with the token, or through the `fenn` CLI.

use super::{Fenn, TempDir};
use base64::Engine as _;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;

/// The token the tests' fenn is given.
pub(crate) const TOKEN: &str = "test-token-0123456789abcdef";

/// The bundled hello guest ("Hello, NAME!").
pub(crate) fn hello_wasm() -> Vec<u8> {
    std::fs::read(env!("FENN_GUEST_HELLO")).unwrap()
}

/// The bundled echo guest (answers with the event as JSON).
pub(crate) fn echo_wasm() -> Vec<u8> {
    std::fs::read(env!("FENN_GUEST_ECHO")).unwrap()
}

/// `wasm` with a custom section holding `tag`: another module (another
/// hash) that runs the same.
pub(crate) fn tagged(wasm: &[u8], tag: u32) -> Vec<u8> {
    let name = b"fenn-test";
    let payload_len = 1 + name.len() + 4;
    let mut out = wasm.to_vec();
    out.extend_from_slice(&[0, payload_len as u8, name.len() as u8]);
    out.extend_from_slice(name);
    out.extend_from_slice(&tag.to_le_bytes());
    out
}

/// A deploy's body: the definition and the module in base64.
pub(crate) fn deployment(wasm: &[u8], definition: &Value) -> String {
    let module = base64::engine::general_purpose::STANDARD.encode(wasm);
    json!({"definition": definition, "module": module}).to_string()
}

/// A config directory and the fenn serving it.
pub(crate) struct Managed {
    pub(crate) dir: TempDir,
    pub(crate) fenn: Fenn,
    pub(crate) admin: SocketAddr,
}

/// The `[admin]` section of [`Managed::start`]: the API on a free port.
const ADMIN: &str = "[admin]\nlisten = \"127.0.0.1:0\"\nmax_module_size = \"1MiB\"\n";

impl Managed {
    /// fenn with `extra` config (an `[mqtt]` section, `[[function]]`s)
    /// and the management API on a free port.
    pub(crate) fn start(extra: &str) -> Self {
        Self::start_in(TempDir::new("admin"), &format!("{ADMIN}{extra}"))
    }

    /// fenn on `config` (and `[server] state_dir`) in `dir`, which may
    /// hold the files the config names.
    pub(crate) fn start_in(dir: TempDir, config: &str) -> Self {
        dir.write(
            "fenn.toml",
            format!("[server]\nstate_dir = \"state\"\n{config}\n"),
        );
        let (fenn, admin) = Self::serve(&dir);
        Self { dir, fenn, admin }
    }

    /// Like [`Managed::start`], fenn's stderr as `stderr` says.
    pub(crate) fn start_with_stderr(extra: &str, stderr: super::Stderr) -> Self {
        let dir = TempDir::new("admin");
        dir.write(
            "fenn.toml",
            format!("[server]\nstate_dir = \"state\"\n{ADMIN}{extra}\n"),
        );
        let (fenn, admin) = Self::serve_with(&dir, stderr);
        Self { dir, fenn, admin }
    }

    fn serve(dir: &TempDir) -> (Fenn, SocketAddr) {
        Self::serve_with(dir, super::Stderr::Read)
    }

    fn serve_with(dir: &TempDir, stderr: super::Stderr) -> (Fenn, SocketAddr) {
        let env = [("FENN_ADMIN_TOKEN", TOKEN)];
        let fenn = Fenn::with_config_file_stderr(&dir.0.join("fenn.toml"), &env, stderr);
        let announced = fenn.stdout.wait_for("management API listening on ");
        let admin = announced
            .split("management API listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|url| url.split("://").nth(1))
            .and_then(|addr| addr.parse().ok())
            .unwrap();
        (fenn, admin)
    }

    /// Stops fenn (SIGTERM, or SIGKILL when `kill`) and starts it again on
    /// the same config and state.
    pub(crate) fn restart(&mut self, kill: bool) {
        if kill {
            let killed = std::process::Command::new("kill")
                .args(["-KILL", &self.fenn.pid().to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            self.fenn
                .wait_exit(std::time::Duration::from_secs(30))
                .unwrap();
        } else {
            assert!(self.fenn.terminate().success());
        }
        (self.fenn, self.admin) = Self::serve(&self.dir);
    }

    pub(crate) fn api(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// `/metrics` as a scraper reads it, with the token (answered 200).
    pub(crate) fn metrics(&self) -> String {
        let response = super::client()
            .get(self.api("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().unwrap()
    }

    /// `method path` with the token and a JSON body: (status, answer).
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let client = super::client();
        let mut request = client
            .request(method.parse().unwrap(), self.api(path))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Deploys `wasm` as `name` with `definition`: (status, answer).
    pub(crate) fn deploy(&self, name: &str, wasm: &[u8], definition: &Value) -> (u16, Value) {
        let body = serde_json::from_str(&deployment(wasm, definition)).unwrap();
        self.call("PUT", &format!("/v1/functions/{name}"), Some(body))
    }

    /// Deploys flow `name` with `definition`: (status, answer).
    pub(crate) fn deploy_flow(&self, name: &str, definition: &Value) -> (u16, Value) {
        let body = json!({ "definition": definition });
        self.call("PUT", &format!("/v1/flows/{name}"), Some(body))
    }

    /// Runs the `fenn` CLI against this fenn: (success, stdout, stderr).
    pub(crate) fn cli(&self, args: &[&str]) -> (bool, String, String) {
        self.cli_at(&format!("http://{}", self.admin), args)
    }

    /// Runs the `fenn` CLI with `FENN_REMOTE` set to `remote`.
    pub(crate) fn cli_at(&self, remote: &str, args: &[&str]) -> (bool, String, String) {
        let output = super::fenn()
            .args(args)
            .env("FENN_REMOTE", remote)
            .env("FENN_ADMIN_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `GET path` on the gateway: (status, body).
    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        let response = super::client().get(self.fenn.url(path)).send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    }
}
