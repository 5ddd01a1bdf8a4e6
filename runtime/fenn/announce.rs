//! What `fenn serve` tells the person who started it: where it listens
//! and what it serves (stdout, not the log).

use crate::config::Config;
use std::io::Write as _;
use std::net::SocketAddr;

/// Tells the person who started fenn what it serves (stdout, not the log).
#[allow(clippy::print_stdout)]
pub(crate) fn announce(
    config: &Config,
    local: SocketAddr,
    admin: Option<SocketAddr>,
    deployed: &[String],
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "fenn {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "functions from {}:", config.file.display());
    for spec in &config.route_specs {
        let methods = if spec.methods.is_empty() {
            "ANY".to_owned()
        } else {
            spec.methods.join(",")
        };
        let mode = match spec.response {
            fenn_http::ResponseMode::Plain => "",
            fenn_http::ResponseMode::Envelope => " (envelope)",
        };
        let _ = writeln!(
            out,
            "  {methods:<8} {:<22} -> {}{mode}",
            spec.route, spec.function
        );
    }
    if let Some(mqtt) = &config.mqtt {
        let embedded = if config.embedded_broker.is_some() {
            " (embedded unless one already listens there)"
        } else {
            ""
        };
        let scheme = if mqtt.tls.is_some() { "mqtts" } else { "mqtt" };
        let _ = writeln!(
            out,
            "MQTT broker {scheme}://{}:{}{embedded}",
            mqtt.host, mqtt.port
        );
    }
    for route in &config.mqtt_routes {
        let reply = route
            .reply
            .as_ref()
            .map(|reply| format!(" (replies to {})", reply.as_written()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<8} {:<22} -> {}{reply}",
            "MQTT",
            route.filter.as_written(),
            route.function
        );
    }
    for schedule in &config.schedules {
        let _ = writeln!(
            out,
            "  {:<8} {:<22} -> {} ({}, {})",
            "CRON",
            schedule.name,
            schedule.function,
            schedule.schedule.describe(),
            schedule.schedule.zone()
        );
    }
    if config
        .route_specs
        .iter()
        .any(|spec| spec.route == "/testfunc")
    {
        let _ = writeln!(
            out,
            "try: curl -X POST 'http://{local}/testfunc?name=Jason' -H 'content-type: text/plain' -d 'requested the API'"
        );
    }
    if let (Some(mqtt), Some(route)) = (&config.mqtt, config.mqtt_routes.first()) {
        let topic = route.filter.as_written().replace(['{', '}'], "");
        let _ = writeln!(
            out,
            "try: mosquitto_rr -h {} -p {} -t {topic} -e replies/fenn -m '{{\"celsius\":31}}'",
            mqtt.host, mqtt.port
        );
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
