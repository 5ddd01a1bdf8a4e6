//! What `fenn serve` tells the person who started it: where it listens
//! and what it serves (stdout, not the log).

use fenn_config::Config;
use std::io::Write as _;
use std::net::SocketAddr;

/// Tells the person who started fenn what it serves (stdout, not the log):
/// where it listens, each trigger's settings and bindings, the hints the
/// running triggers give, and the management API with the deployed
/// functions and flows.
#[allow(clippy::print_stdout)]
pub(crate) fn announce(
    config: &Config,
    local: SocketAddr,
    admin: Option<SocketAddr>,
    (deployed, flows): &(Vec<String>, Vec<String>),
    hints: &[String],
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "fenn {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "functions from {}:", config.file.display());
    for setup in config.setups.iter().filter(|setup| setup.enabled()) {
        for line in setup.announce() {
            let _ = writeln!(out, "{line}");
        }
        let bindings = config.functions.iter();
        for binding in bindings.flat_map(|function| function.bindings.of(setup.kind())) {
            let [label, what, note] = binding.announce();
            let function = binding.function();
            let _ = writeln!(out, "  {label:<8} {what:<22} -> {function}{note}");
        }
    }
    for hint in hints {
        let _ = writeln!(out, "{hint}");
    }
    if let (Some(admin), Some(settings)) = (admin, &config.admin) {
        let list = if deployed.is_empty() {
            "none yet".to_owned()
        } else {
            deployed.join(", ")
        };
        let _ = writeln!(
            out,
            "deployed functions in {}: {list} (fenn ls shows their triggers)",
            settings.store_dir.display()
        );
        if !flows.is_empty() {
            let _ = writeln!(
                out,
                "deployed flows in {}: {} (fenn flow ls shows their triggers)",
                settings.flow_dir.display(),
                flows.join(", ")
            );
        }
        let _ = match &settings.tls {
            Some(tls) => writeln!(
                out,
                "management API listening on https://{admin} (certificate sha256 {})",
                tls.fingerprint
            ),
            None => writeln!(out, "management API listening on http://{admin}"),
        };
    }
    let _ = out.flush();
}
