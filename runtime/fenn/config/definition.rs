//! A function's definition as a deploy sends it: the keys of one
//! `[[function]]` block, less `name` (the URL's) and `module` (the uploaded
//! bytes), validated by the same rules and with the same messages as the
//! config file's, each naming its key (`http[0].route`).

use super::raw::RawFunction;
use super::{ConfigError, ConfigErrors, FunctionConfig, ModuleSource, Validator};
use fenn_cron::CronSpec;
use fenn_http::RouteSpec;
use fenn_mqtt::MqttRoute;
use std::path::{Path, PathBuf};

/// What a definition is validated against: the parts of the config it
/// depends on.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// An `[mqtt]` broker is configured.
    pub(crate) has_mqtt: bool,
    /// `server.state_dir` is set.
    pub(crate) has_state: bool,
    /// `server.buffer_memory`.
    pub(crate) buffer_bytes: usize,
    /// The apps routes may name, and whether `jwt` may be asked for.
    pub(crate) gateway: super::PolicyNames,
}

/// A validated definition: the function and its bindings.
#[derive(Debug, Clone)]
pub(crate) struct Definition {
    pub(crate) function: FunctionConfig,
    pub(crate) routes: Vec<RouteSpec>,
    pub(crate) mqtt: Vec<MqttRoute>,
    pub(crate) schedules: Vec<CronSpec>,
}

/// The file errors name: what the caller sent.
const SOURCE: &str = "definition";

/// Validates `name` and `value` (a JSON object, the keys of a
/// `[[function]]` block) into a definition whose module is `module`.
pub(crate) fn definition(
    name: &str,
    value: &serde_json::Value,
    context: &Context,
    module: PathBuf,
) -> Result<Definition, ConfigErrors> {
    let error = |key: &str, reason: String| ConfigError {
        file: PathBuf::from(SOURCE),
        key: key.to_owned(),
        reason,
    };
    let Some(object) = value.as_object() else {
        return Err(error(
            "(definition)",
            "must be a JSON object of a function's keys".into(),
        )
        .into());
    };
    for (key, what) in [
        ("name", "the URL names the function"),
        ("module", "the module is the uploaded bytes"),
    ] {
        if object.contains_key(key) {
            return Err(error(key, format!("not part of a definition: {what}")).into());
        }
    }
    let mut object = object.clone();
    object.insert("name".into(), name.into());
    object.insert("module".into(), "".into());
    let raw: RawFunction = serde_path_to_error::deserialize(serde_json::Value::Object(object))
        .map_err(|refused| {
            let key = refused.path().to_string();
            relative(error(&key, refused.into_inner().to_string()))
        })?;
    let validator = Validator {
        file: Path::new(SOURCE),
        errors: std::cell::RefCell::default(),
    };
    let mut found = validator.functions(
        std::slice::from_ref(&raw),
        Some(context.buffer_bytes),
        context.has_mqtt,
        context.has_state,
        &context.gateway,
    );
    // The definition's own routes: a template that is not one, or two
    // that collide, is the definition's error (another function's is the
    // catalog's).
    validator.keep(validator.route_table(&found));
    let errors = validator.errors.take();
    let mut found = match (errors.is_empty(), found.functions.pop()) {
        (true, Some(function)) => (found, function),
        (_, _) => return Err(ConfigErrors(errors.into_iter().map(relative).collect())),
    };
    found.1.module = ModuleSource::File(module);
    found.1.key = String::new();
    Ok(Definition {
        function: found.1,
        routes: found.0.route_specs,
        mqtt: found.0.mqtt_routes,
        schedules: found.0.schedules,
    })
}

/// An error's key as the definition writes it: `http[0].route`, not
/// `function[0].http[0].route`.
fn relative(mut error: ConfigError) -> ConfigError {
    error.key = match error.key.strip_prefix("function[0]") {
        Some(rest) => rest.trim_start_matches('.').to_owned(),
        None => error.key,
    };
    if error.key.is_empty() || error.key == "." {
        error.key = "(definition)".into();
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Context {
        Context {
            has_mqtt: false,
            has_state: false,
            buffer_bytes: 64 << 20,
            gateway: super::super::PolicyNames::default(),
        }
    }

    fn parse(value: &serde_json::Value) -> Result<Definition, ConfigErrors> {
        definition("hello", value, &context(), "m.wasm".into())
    }

    fn keys(errors: &ConfigErrors) -> Vec<&str> {
        errors.0.iter().map(|error| error.key.as_str()).collect()
    }

    #[test]
    fn a_definition_is_validated_into_a_function_and_its_bindings() {
        let definition = parse(&json!({
            "timeout": "2s",
            "http": [{"route": "/hi", "methods": ["get"]}],
            "cron": [{"name": "tick", "schedule": "every 10s"}]
        }))
        .unwrap();
        assert_eq!(definition.function.name, "hello");
        assert_eq!(
            definition.function.limits.timeout,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(
            definition.function.module,
            ModuleSource::File("m.wasm".into())
        );
        assert_eq!(definition.routes[0].methods, ["GET"]);
        assert_eq!(definition.schedules[0].function, "hello");
    }

    #[test]
    fn errors_name_the_key_as_the_definition_writes_it() {
        let errors = parse(&json!({"timeoot": "2s"})).unwrap_err();
        assert_eq!(keys(&errors), ["timeoot"]);
        assert!(
            errors.to_string().contains("unknown field `timeoot`"),
            "{errors}"
        );
        let errors = parse(&json!({
            "timeout": "2x",
            "http": [{"route": "/a", "methods": ["g3t"]}],
            "cron": [{"name": "t", "schedule": "0 25 * * *"}],
            "mqtt": [{"topic": "a/b"}]
        }))
        .unwrap_err();
        assert_eq!(
            keys(&errors),
            ["timeout", "mqtt[0]", "cron[0].schedule"],
            "{errors}"
        );
        assert!(
            errors.to_string().starts_with("definition: timeout: '2x'"),
            "{errors}"
        );
        let errors = parse(&json!({"http": [{"route": 5}]})).unwrap_err();
        assert_eq!(keys(&errors), ["http[0].route"]);
        let errors = parse(&json!({"http": [{"route": "no-slash"}]})).unwrap_err();
        assert_eq!(keys(&errors), ["http[0].route"], "{errors}");
        let errors = parse(&json!({"module": "x.wasm"})).unwrap_err();
        assert_eq!(keys(&errors), ["module"]);
        let errors = parse(&json!(["not", "an", "object"])).unwrap_err();
        assert_eq!(keys(&errors), ["(definition)"]);
        let bad_name = definition("../x", &json!({}), &context(), "m".into()).unwrap_err();
        assert_eq!(keys(&bad_name), ["name"]);
    }
}
