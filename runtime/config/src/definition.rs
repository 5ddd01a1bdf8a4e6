//! A function's or a flow's definition as a deploy sends it: the keys of
//! one `[[function]]` block, less `name` (the URL's) and `module` (the
//! uploaded bytes), or of one `[[flow]]` block less `name`; validated by
//! the same rules and with the same messages as the config file's, each
//! naming its key (`http[0].route`, `step[1].next`).

use super::bindings::Declared;
use super::{
    ConfigError, ConfigErrors, FlowConfig, FunctionConfig, ModuleSource, Setups, Validator,
};
use fenn_runtime::trigger::Table;
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
    let refused = [
        ("name", "the URL names the function"),
        ("module", "the module is the uploaded bytes"),
    ];
    let mut object = block(value, "a function's", &refused)?;
    object.insert("name".into(), name.into());
    object.insert("module".into(), "".into());
    let mut function = validated(
        "function",
        &object,
        setups,
        |v, key, table, setups, declared| v.function_entry(key, table, setups, declared),
    )?;
    function.module = ModuleSource::File(module);
    function.key = String::new();
    Ok(function)
}

/// Validates `name` and `value` (a JSON object, the keys of a `[[flow]]`
/// block) into a flow, its shape checked, its bindings read by the
/// triggers of `setups`. That its steps' functions are served is the
/// caller's to check, with [`FlowConfig::graph`] (its errors' keys are the
/// definition's too: `step[1].function`).
pub fn flow_definition(
    name: &str,
    value: &serde_json::Value,
    setups: &Setups,
) -> Result<FlowConfig, ConfigErrors> {
    let mut object = block(value, "a flow's", &[("name", "the URL names the flow")])?;
    object.insert("name".into(), name.into());
    let mut flow = validated(
        "flow",
        &object,
        setups,
        |v, key, table, setups, declared| v.flow_entry(key, table, setups, declared),
    )?;
    flow.key = String::new();
    Ok(flow)
}

/// The keys of `value`, a JSON object without the `refused` keys.
fn block(
    value: &serde_json::Value,
    what: &str,
    refused: &[(&str, &str)],
) -> Result<Table, ConfigErrors> {
    let error = |key: &str, reason: String| ConfigError {
        file: PathBuf::from(SOURCE),
        key: key.to_owned(),
        reason,
    };
    let Some(object) = value.as_object() else {
        return Err(error(
            "(definition)",
            format!("must be a JSON object of {what} keys"),
        )
        .into());
    };
    for (key, why) in refused {
        if object.contains_key(*key) {
            return Err(error(key, format!("not part of a definition: {why}")).into());
        }
    }
    Ok(object.clone())
}

/// The first block of `section`, `object`, validated by `entry`; every
/// error keyed as the definition writes it. Bindings that collide, the
/// definition's own among themselves or with another's, are the
/// catalog's to refuse.
fn validated<T>(
    section: &str,
    object: &Table,
    setups: &Setups,
    entry: impl FnOnce(&Validator<'_>, &str, &Table, &Setups, &mut Declared) -> Option<T>,
) -> Result<T, ConfigErrors> {
    let validator = Validator {
        file: Path::new(SOURCE),
        registry: setups.registry(),
        errors: std::cell::RefCell::default(),
    };
    let key = format!("{section}[0]");
    let found = entry(&validator, &key, object, setups, &mut Declared::default());
    let errors = validator.errors.take();
    match (errors.is_empty(), found) {
        (true, Some(found)) => Ok(found),
        _ => Err(ConfigErrors(
            errors.into_iter().map(|e| relative(e, &key)).collect(),
        )),
    }
}

/// An error's key as the definition writes it: `http[0].route`, not
/// `function[0].http[0].route`.
fn relative(mut error: ConfigError, prefix: &str) -> ConfigError {
    error.key = match error.key.strip_prefix(prefix) {
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

    fn flow(value: &serde_json::Value) -> Result<FlowConfig, ConfigErrors> {
        flow_definition("pipeline", value, &context())
    }

    #[test]
    fn a_flow_definition_is_validated_into_a_flow_and_its_bindings() {
        let flow = flow(&json!({
            "response": "b",
            "max_runs": 4,
            "http": [{"route": "/pipeline", "methods": ["post"]}],
            "step": [
                {"name": "a", "function": "f", "next": ["b", "c"], "when": {"c": "status == 200"}},
                {"name": "b", "function": "g"},
                {"name": "c", "function": "f"}
            ]
        }))
        .unwrap();
        assert_eq!((flow.name.as_str(), flow.key.as_str()), ("pipeline", ""));
        assert_eq!(flow.limits.max_runs, 4);
        assert_eq!(flow.spec.steps[0].next, ["b", "c"]);
        assert_eq!(flow.bindings.of("http")[0].function(), "pipeline");
        let graph = flow.graph(&|name| name == "f").unwrap_err();
        assert_eq!(graph[0].key, "step[1].function");
        assert_eq!(graph[0].reason, "step 'b': no function named 'g'");
        assert!(flow.graph(&|_| true).is_ok());
    }

    #[test]
    fn a_flow_definitions_errors_name_the_key_as_it_writes_it() {
        let a_to_nowhere = json!([{"name": "a", "function": "f", "next": ["b"]}]);
        let errors = flow(&json!({"step": a_to_nowhere})).unwrap_err();
        assert_eq!(keys(&errors), ["step[0].next"]);
        assert_eq!(
            errors.to_string(),
            "definition: step[0].next: step 'a': no step named 'b'"
        );
        let errors = flow(&json!({
            "deadline": "soon",
            "step": [{"name": "a", "function": "f"}],
            "http": [{"route": "no-slash"}]
        }))
        .unwrap_err();
        assert_eq!(keys(&errors), ["deadline", "http[0].route"], "{errors}");
        let errors = flow(&json!({"stepz": []})).unwrap_err();
        assert!(
            errors.to_string().contains("unknown field `stepz`"),
            "{errors}"
        );
        let errors = flow(&json!({"step": []})).unwrap_err();
        assert_eq!(keys(&errors), ["step"], "{errors}");
        let errors = flow(&json!({"name": "other"})).unwrap_err();
        assert_eq!(keys(&errors), ["name"]);
        let errors = flow(&json!("steps")).unwrap_err();
        assert_eq!(keys(&errors), ["(definition)"]);
        let step = json!({"step": [{"name": "a", "function": "f"}]});
        let bad_name = flow_definition("a/b", &step, &context()).unwrap_err();
        assert_eq!(keys(&bad_name), ["name"]);
    }
}
