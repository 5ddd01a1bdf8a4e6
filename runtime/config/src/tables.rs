//! The config file's TOML as the JSON tables every part of fenn reads (a
//! deploy's definition is JSON already). TOML has values JSON has not:
//! a float that is not finite, and dates and times. No key of fenn's
//! takes one, so each is refused naming its key, rather than read as
//! something else.

use serde_json::{Map, Number, Value};

/// `table` as a JSON object, or the first value JSON cannot hold, as
/// its key and the reason.
pub(crate) fn to_json(table: toml::Table) -> Result<Map<String, Value>, (String, String)> {
    let mut object = Map::new();
    for (key, value) in table {
        let value = value_to_json(value).map_err(|(path, reason)| (join(&key, &path), reason))?;
        object.insert(key, value);
    }
    Ok(object)
}

fn value_to_json(value: toml::Value) -> Result<Value, (String, String)> {
    Ok(match value {
        toml::Value::String(text) => Value::String(text),
        toml::Value::Integer(n) => Value::Number(n.into()),
        toml::Value::Float(x) => match Number::from_f64(x) {
            Some(number) => Value::Number(number),
            None => return Err((String::new(), format!("{x} is not a number fenn reads"))),
        },
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(at) => {
            let reason = format!(
                "{at} is a TOML date-time: no key of fenn's takes one (quote it, or use a duration such as \"30s\")"
            );
            return Err((String::new(), reason));
        }
        toml::Value::Array(items) => {
            let mut array = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let item = value_to_json(item)
                    .map_err(|(path, reason)| (format!("[{index}]{}", dotted(&path)), reason))?;
                array.push(item);
            }
            Value::Array(array)
        }
        toml::Value::Table(table) => Value::Object(to_json(table)?),
    })
}

/// `key` and the path within it: `server.listen`, `function[0].fuel`.
fn join(key: &str, path: &str) -> String {
    match path.chars().next() {
        None => key.to_owned(),
        Some('[') => format!("{key}{path}"),
        Some(_) => format!("{key}.{path}"),
    }
}

/// A path after an index: `.fuel`, `[1]`.
fn dotted(path: &str) -> String {
    match path.chars().next() {
        None | Some('[') => path.to_owned(),
        Some(_) => format!(".{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(text: &str) -> Result<Map<String, Value>, (String, String)> {
        to_json(toml::from_str(text).unwrap())
    }

    #[test]
    fn values_json_cannot_hold_are_refused_naming_their_key() {
        let (key, reason) = convert("[[function]]\nname = \"a\"\nfuel = nan\n").unwrap_err();
        assert_eq!(key, "function[0].fuel");
        assert!(reason.contains("NaN is not a number"), "{reason}");
        let (key, _) = convert("[server]\nworkers = inf\n").unwrap_err();
        assert_eq!(key, "server.workers");
        let (key, reason) = convert("[server]\nshutdown_grace = 1979-05-27\n").unwrap_err();
        assert_eq!(key, "server.shutdown_grace");
        assert!(reason.contains("date-time"), "{reason}");
        let (key, _) =
            convert("[[function]]\n[[function.http]]\nroute = \"/a\"\nmethods = [-inf]\n")
                .unwrap_err();
        assert_eq!(key, "function[0].http[0].methods[0]");
    }

    #[test]
    fn everything_else_is_kept_as_it_is() {
        let json = convert("a = 1\nb = 1.5\nc = \"x\"\nd = [true]\n[e]\nf = {g = 2}\n").unwrap();
        assert_eq!(
            Value::Object(json),
            serde_json::json!({"a": 1, "b": 1.5, "c": "x", "d": [true], "e": {"f": {"g": 2}}})
        );
    }
}
