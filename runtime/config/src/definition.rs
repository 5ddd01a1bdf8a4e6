//! A function's definition as a deploy sends it: the keys of one
//! `[[function]]` block, less `name` (the URL's) and `module` (the uploaded
//! bytes), validated by the same rules and with the same messages as the
//! config file's, each naming its key (`http[0].route`).

use super::bindings::Declared;
use super::{ConfigError, ConfigErrors, FunctionConfig, ModuleSource, Setups, Validator};
use std::path::{Path, PathBuf};

/// The file errors name: what the caller sent.
const SOURCE: &str = "definition";

/// Validates `name` and `value` (a JSON object, the keys of a
/// `[[function]]` block) into a function whose module is `module`, its
/// bindings read by the triggers of `setups`.
pub fn definition(
    name: &str,
    value: &serde_json::Value,
    setups: &Setups,
    module: PathBuf,
) -> Result<FunctionConfig, ConfigErrors> {
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
    let validator = Validator {
        file: Path::new(SOURCE),
        registry: setups.registry(),
        errors: std::cell::RefCell::default(),
    };
    // Bindings that collide, the definition's own among themselves or
    // with another function's, are the catalog's to refuse.
    let found = validator.function_entry("function[0]", &object, setups, &mut Declared::default());
    let errors = validator.errors.take();
    let (true, Some(mut function)) = (errors.is_empty(), found) else {
        return Err(ConfigErrors(errors.into_iter().map(relative).collect()));
    };
    function.module = ModuleSource::File(module);
    function.key = String::new();
    Ok(function)
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

    fn context() -> std::sync::Arc<Setups> {
        crate::from_sections("", None, crate::TEST_REGISTRY).unwrap()
    }

    fn parse(value: &serde_json::Value) -> Result<FunctionConfig, ConfigErrors> {
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
        assert_eq!(definition.name, "hello");
        assert_eq!(definition.limits.timeout, std::time::Duration::from_secs(2));
        assert_eq!(definition.module, ModuleSource::File("m.wasm".into()));
        let route = &definition.bindings.of("http")[0];
        let route = route.as_any().downcast_ref::<fenn_http::RouteSpec>();
        assert_eq!(route.unwrap().methods, ["GET"]);
        assert_eq!(definition.bindings.of("cron")[0].function(), "hello");
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
            ["timeout", "http[0].methods", "mqtt[0]", "cron[0].schedule"],
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
