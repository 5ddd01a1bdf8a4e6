//! The whole config from its sections. Each section, function and binding
//! is validated on its own and an error in one does not stop the others,
//! so a config with several mistakes is reported in one go; a value in
//! error stands in as its default meanwhile, so no error follows from
//! another.

use super::raw::{RawConfig, RawFunction, RawMqtt, RawServer};
use super::{
    Config, ConfigError, FunctionConfig, MAX_CONNECTIONS, MAX_WORKERS, MqttVersion, PolicyNames,
    Validator,
};
use crate::examples;
use fenn_cron::CronSpec;
use fenn_http::{HttpSettings, RouteSpec, RouteTable};
use fenn_mqtt::{MqttRoute, MqttSettings};
use fenn_runtime::units;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Most bindings of one kind (`http`, `mqtt`, `cron`) one function has.
const MAX_BINDINGS: usize = 64;

/// What `[server]` gives.
struct Server {
    listen: SocketAddr,
    http: HttpSettings,
    guest_memory: usize,
    workers: usize,
    /// `buffer_memory` is valid (not a default standing in for an error).
    buffer_valid: bool,
}

/// What the functions and their bindings give.
#[derive(Default)]
pub(super) struct Functions {
    pub(super) functions: Vec<FunctionConfig>,
    pub(super) route_specs: Vec<RouteSpec>,
    route_keys: Vec<String>,
    pub(super) mqtt_routes: Vec<MqttRoute>,
    mqtt_keys: Vec<String>,
    pub(super) schedules: Vec<CronSpec>,
}

impl Validator<'_> {
    /// The validated config, or every error found.
    pub(super) fn config(&self, raw: &RawConfig) -> Result<Config, Vec<ConfigError>> {
        let server = self.server(&raw.server);
        // With the management API, functions may all come from deploys.
        if raw.functions.is_empty() && raw.admin.is_none() {
            self.report(self.error("function", "no [[function]] is declared"));
        }
        let state_dir = raw
            .server
            .state_dir
            .as_ref()
            .map(|dir| self.file.parent().unwrap_or(Path::new(".")).join(dir))
            .or_else(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from));
        let mqtt = raw
            .mqtt
            .as_ref()
            .and_then(|broker| self.keep(self.mqtt(broker, &server.http, state_dir.as_deref())));
        let embedded_broker = self
            .keep(self.embedded(raw.mqtt.as_ref(), mqtt.as_ref()))
            .flatten();
        let has_mqtt = raw.mqtt.is_some();
        let buffer = server.buffer_valid.then_some(server.http.buffer_bytes);
        let gateway = self.gateway(raw.gateway.as_ref(), &raw.apps);
        let names = gateway.names();
        let found = self.functions(
            &raw.functions,
            buffer,
            has_mqtt,
            state_dir.is_some(),
            &names,
        );
        let admin = raw
            .admin
            .as_ref()
            .and_then(|admin| self.keep(self.admin(admin, state_dir.as_deref())));
        let routes = self.keep(self.route_table(&found));
        if let Some(cycle) = fenn_mqtt::find_loop(&found.mqtt_routes) {
            let key = cycle.routes.first().and_then(|at| found.mqtt_keys.get(*at));
            let key = key.map_or("function", String::as_str);
            self.report(self.error(format!("{key}.reply"), cycle.to_string()));
        }
        let errors = self.errors.take();
        if routes.is_none() || !errors.is_empty() {
            return Err(errors);
        };
        Ok(Config {
            file: self.file.to_owned(),
            listen: server.listen,
            http: server.http,
            workers: server.workers,
            guest_memory: server.guest_memory,
            functions: found.functions,
            route_specs: found.route_specs,
            schedules: found.schedules,
            state_dir,
            mqtt,
            mqtt_routes: found.mqtt_routes,
            embedded_broker,
            admin,
            gateway,
        })
    }

    /// Records `error` and goes on.
    pub(super) fn report(&self, error: ConfigError) {
        self.errors.borrow_mut().push(error);
    }

    /// The value, or None with its error recorded.
    pub(super) fn keep<T>(&self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|error| self.report(error)).ok()
    }

    fn server(&self, server: &RawServer) -> Server {
        let defaults = HttpSettings::default();
        let listen = match &server.listen {
            Some(text) => self.keep(text.parse().map_err(|_| {
                self.error(
                    "server.listen",
                    format!("'{text}' is not an address such as 127.0.0.1:8080"),
                )
            })),
            None => None,
        };
        let duration = |key: &str, value: &Option<String>, default| match value {
            Some(text) => self
                .keep(units::duration(text).map_err(|reason| self.error(key, reason)))
                .unwrap_or(default),
            None => default,
        };
        let size = |key: &str, value: &Option<String>, default| {
            self.keep(self.size(key, value, default)).unwrap_or(default)
        };
        let count = |key: &str, value, default, most| {
            self.keep(self.count(key, value, default, most))
                .unwrap_or(default)
        };
        // Kept apart: the check between the two is made only when both are
        // valid, not against a default standing in for a value in error.
        let max_body =
            self.keep(self.size("server.max_body", &server.max_body, defaults.max_body_bytes));
        let buffer = self.keep(self.size(
            "server.buffer_memory",
            &server.buffer_memory,
            defaults.buffer_bytes,
        ));
        let http = HttpSettings {
            max_body_bytes: max_body.unwrap_or(defaults.max_body_bytes),
            header_read_timeout: duration(
                "server.header_read_timeout",
                &server.header_read_timeout,
                defaults.header_read_timeout,
            ),
            body_read_timeout: duration(
                "server.body_read_timeout",
                &server.body_read_timeout,
                defaults.body_read_timeout,
            ),
            shutdown_grace: duration(
                "server.shutdown_grace",
                &server.shutdown_grace,
                defaults.shutdown_grace,
            ),
            write_timeout: duration(
                "server.write_timeout",
                &server.write_timeout,
                defaults.write_timeout,
            ),
            buffer_bytes: buffer.unwrap_or(defaults.buffer_bytes),
            max_connections: count(
                "server.max_connections",
                server.max_connections,
                defaults.max_connections,
                MAX_CONNECTIONS,
            ),
            max_connections_per_client: count(
                "server.max_connections_per_client",
                server.max_connections_per_client,
                defaults.max_connections_per_client,
                MAX_CONNECTIONS,
            ),
            reserved_for_loopback: defaults.reserved_for_loopback,
        };
        if max_body
            .zip(buffer)
            .is_some_and(|(body, buffer)| body > buffer)
        {
            self.report(self.error(
                "server.max_body",
                format!(
                    "{} bytes is over server.buffer_memory ({} bytes), so no body could be read",
                    http.max_body_bytes, http.buffer_bytes
                ),
            ));
        }
        let guest_memory = size(
            "server.guest_memory",
            &server.guest_memory,
            fenn_runtime::limits::DEFAULT_GUEST_MEMORY,
        );
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let workers = count("server.workers", server.workers, cores, MAX_WORKERS);
        Server {
            listen: listen.unwrap_or(examples::DEFAULT_LISTEN),
            http,
            guest_memory,
            workers,
            buffer_valid: buffer.is_some(),
        }
    }

    /// `mqtt.embedded`: where the embedded broker listens, if it is on.
    fn embedded(
        &self,
        raw: Option<&RawMqtt>,
        settings: Option<&MqttSettings>,
    ) -> Result<Option<SocketAddr>, ConfigError> {
        let (Some(raw), Some(settings)) = (raw, settings) else {
            return Ok(None);
        };
        if !raw.embedded {
            return Ok(None);
        }
        if settings.version != MqttVersion::V5 {
            return Err(self.error(
                "mqtt.embedded",
                "the embedded broker speaks MQTT 5: leave mqtt.version at \"5\"",
            ));
        }
        if settings.tls.is_some() {
            return Err(self.error(
                "mqtt.embedded",
                "the embedded broker speaks mqtt://, not mqtts://",
            ));
        }
        let address = format!("{}:{}", settings.host, settings.port);
        let listen: SocketAddr = address.parse().map_err(|_| {
            self.error(
                "mqtt.embedded",
                format!("the embedded broker listens on an IP address, such as mqtt://127.0.0.1:1883, not '{address}'"),
            )
        })?;
        // No authentication, and retained messages kept in memory without
        // a bound: for trying fenn on one machine only.
        if !listen.ip().is_loopback() {
            return Err(self.error(
                "mqtt.embedded",
                format!("the embedded broker is for trying fenn and listens on loopback only (such as mqtt://127.0.0.1:1883), not {address}: it has no authentication and no bound on the retained messages it keeps; on a network, use a broker such as Mosquitto"),
            ));
        }
        Ok(Some(listen))
    }

    /// Every function and its bindings; a function in error still has its
    /// MQTT and cron bindings checked (its routes need its limits).
    pub(super) fn functions(
        &self,
        raw: &[RawFunction],
        buffer: Option<usize>,
        has_mqtt: bool,
        has_state: bool,
        names: &PolicyNames,
    ) -> Functions {
        let mut found = Functions::default();
        for (index, function) in raw.iter().enumerate() {
            let key = format!("function[{index}]");
            if raw[..index].iter().any(|f| f.name == function.name) {
                self.report(self.error(
                    format!("{key}.name"),
                    format!("'{}' is declared twice", function.name),
                ));
            }
            let parsed = self.keep(self.function(&key, function));
            let counts = [
                ("http", function.http.len()),
                ("mqtt", function.mqtt.len()),
                ("cron", function.cron.len()),
            ];
            if let Some((kind, count)) = counts.into_iter().find(|(_, n)| *n > MAX_BINDINGS) {
                // Each binding costs at every change of the tables and at
                // start; a function past the bound has none checked.
                self.report(self.error(
                    format!("{key}.{kind}"),
                    format!(
                        "{count} bindings, over the most one function may have ({MAX_BINDINGS})"
                    ),
                ));
                continue;
            }
            if let Some(parsed) = &parsed {
                self.bindings(&key, function, parsed, buffer, names, &mut found);
            }
            for (mqtt_index, route) in function.mqtt.iter().enumerate() {
                let mqtt_key = format!("{key}.mqtt[{mqtt_index}]");
                if !has_mqtt {
                    self.report(self.error(mqtt_key, "needs an [mqtt] section naming the broker"));
                    continue;
                }
                if let Some(route) = self.keep(self.mqtt_route(&mqtt_key, &function.name, route)) {
                    found.mqtt_routes.push(route);
                    found.mqtt_keys.push(mqtt_key);
                }
            }
            for (cron_index, cron) in function.cron.iter().enumerate() {
                let cron_key = format!("{key}.cron[{cron_index}]");
                let Some(spec) = self.keep(self.cron(&cron_key, &function.name, cron, has_state))
                else {
                    continue;
                };
                if spec.publish.is_some() && !has_mqtt {
                    self.report(self.error(
                        format!("{cron_key}.publish"),
                        "needs an [mqtt] section naming the broker",
                    ));
                }
                if found.schedules.iter().any(|other| other.name == spec.name) {
                    self.report(self.error(
                        format!("{cron_key}.name"),
                        format!("schedule '{}' is declared twice", spec.name),
                    ));
                }
                found.schedules.push(spec);
            }
            found.functions.extend(parsed);
        }
        found
    }

    /// A function's HTTP routes.
    fn bindings(
        &self,
        key: &str,
        function: &RawFunction,
        parsed: &FunctionConfig,
        buffer: Option<usize>,
        names: &PolicyNames,
        found: &mut Functions,
    ) {
        let context = fenn_http::PolicyContext {
            known_apps: &names.apps,
            refused_apps: &names.refused,
            jwt: names.jwt,
            function_apps: &function.apps,
        };
        let over = buffer.filter(|buffer| parsed.limits.max_response > *buffer);
        if let Some(buffer) = over.filter(|_| !function.http.is_empty()) {
            self.report(self.error(
                format!("{key}.max_response"),
                format!(
                    "{} bytes is over server.buffer_memory ({buffer} bytes), so such an answer could never be sent",
                    parsed.limits.max_response
                ),
            ));
        }
        for (route_index, route) in function.http.iter().enumerate() {
            let route_key = format!("{key}.http[{route_index}]");
            if let Some(Some(spec)) = self.keep(self.route(&route_key, parsed, route, &context)) {
                found.route_specs.push(spec);
                found.route_keys.push(route_key);
            }
        }
    }

    /// The routing table; a conflict names the later route's key.
    pub(super) fn route_table(&self, found: &Functions) -> Result<RouteTable, ConfigError> {
        RouteTable::new(found.route_specs.clone()).map_err(|error| {
            let route = match &error {
                fenn_http::route::RouteError::Template { route, .. }
                | fenn_http::route::RouteError::Duplicate { route, .. } => route.clone(),
            };
            let index = found
                .route_specs
                .iter()
                .rposition(|spec| spec.route == route)
                .unwrap_or(0);
            let key = found.route_keys.get(index).cloned().unwrap_or_default();
            self.error(format!("{key}.route"), error.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;

    #[test]
    fn every_error_in_a_config_is_reported_at_once() {
        let text = r#"
            [server]
            listen = "nowhere"
            workers = 0

            [[function]]
            name = "hello"
            module = "example:hello"
            timeout = "2x"
              [[function.cron]]
              name = "tick"
              schedule = "0 25 * * *"
              [[function.mqtt]]
              topic = "a/b"

            [[function]]
            name = "hello"
            module = "example:bogus"
        "#;
        let errors = Config::parse(Path::new("fenn.toml"), text).unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(|error| error.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.listen",
                "server.workers",
                "function[0].timeout",
                "function[0].mqtt[0]",
                "function[0].cron[0].schedule",
                "function[1].name",
                "function[1].module",
            ]
        );
        let text = errors.to_string();
        assert_eq!(text.lines().count(), 7, "{text}");
        assert!(
            text.starts_with("fenn.toml: server.listen: 'nowhere'"),
            "{text}"
        );
    }

    #[test]
    fn replies_that_feed_each_other_across_functions_are_refused_naming_the_loop() {
        let text = r#"
            [mqtt]
            url = "mqtt://127.0.0.1:1883"

            [[function]]
            name = "logger"
            module = "example:echo"
              [[function.mqtt]]
              topic = "logs/#"

            [[function]]
            name = "ping"
            module = "example:echo"
              [[function.mqtt]]
              topic = "atk/pa/{x}"
              reply = "atk/pb/{x}"

            [[function]]
            name = "pong"
            module = "example:echo"
              [[function.mqtt]]
              topic = "atk/pb/{x}"
              reply = "atk/pa/{x}"
        "#;
        let errors = Config::parse(Path::new("fenn.toml"), text).unwrap_err();
        assert_eq!(
            errors.to_string().trim(),
            "fenn.toml: function[1].mqtt[0].reply: mqtt loop: ping (atk/pa/{x}) -> pong (atk/pb/{x}) -> ping (atk/pa/{x})"
        );
        let chain = text.replace("reply = \"atk/pa/{x}\"", "reply = \"logs/{x}\"");
        assert!(Config::parse(Path::new("fenn.toml"), &chain).is_ok());
    }

    #[test]
    fn the_embedded_broker_listens_on_loopback_only() {
        let config = |url: &str| {
            format!(
                "[mqtt]\nurl = \"{url}\"\nembedded = true\n[[function]]\nname = \"hello\"\nmodule = \"example:hello\"\n"
            )
        };
        for url in ["mqtt://127.0.0.1:1883", "mqtt://[::1]:1883"] {
            let parsed = Config::parse(Path::new("fenn.toml"), &config(url)).unwrap();
            assert!(parsed.embedded_broker.is_some(), "{url}");
        }
        let errors =
            Config::parse(Path::new("fenn.toml"), &config("mqtt://0.0.0.0:1883")).unwrap_err();
        let text = errors.to_string();
        assert!(
            text.contains(
                "mqtt.embedded: the embedded broker is for trying fenn and listens on loopback only"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_value_in_error_does_not_make_errors_of_its_own() {
        // Were the bad buffer_memory's default (64 MiB) checked against,
        // max_body and max_response would be reported too.
        let text = r#"
            [server]
            buffer_memory = "lots"
            max_body = "100MiB"

            [[function]]
            name = "hello"
            module = "example:hello"
            max_response = "100MiB"
              [[function.http]]
              route = "/hello"
        "#;
        let errors = Config::parse(Path::new("fenn.toml"), text).unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(|error| error.key.as_str()).collect();
        assert_eq!(keys, ["server.buffer_memory"]);
    }
}
