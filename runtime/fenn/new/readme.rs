//! Every project's README (what it is, how to build it, try it, deploy
//! it and call it) and the function definition its deploy reads.

use super::File;

/// What a language's README says of it.
pub(super) struct About {
    /// The language, as the README names it.
    pub(super) language: &'static str,
    /// The file that holds the handler.
    pub(super) source: &'static str,
    /// What the project builds on, after the sentence on what it answers.
    pub(super) builds_on: &'static str,
    /// What the build needs installed.
    pub(super) toolchain: &'static str,
    /// The command that builds it, in its folder.
    pub(super) build: &'static str,
}

/// The README's sections after the build: trying, deploying and calling
/// the function. `{name}`, `{wasm}` and `{event}` stand for its own.
const USE: &str = r#"```sh
fenn check {wasm}
echo '{event}' | fenn invoke {wasm}
```

## Deploy

To a running fenn with its management API on (an `[admin]` section in
its config), the API's token in `FENN_ADMIN_TOKEN` and its address in
`FENN_REMOTE` (default `http://127.0.0.1:8081`). `function.toml` is the
function's definition: its HTTP route, its limits and any other key of
a `[[function]]` block.

```sh
fenn deploy {name} {wasm} --function function.toml
```

## Call

Through fenn's gateway, here at its usual address:

```sh
curl 'http://127.0.0.1:8080/{name}?name=Ada'     # Hello, Ada!
```
"#;

/// The README of function `name`'s project, whose build writes `wasm`,
/// and the definition file its deploy command names.
pub(super) fn files(name: &str, about: &About, wasm: &str) -> [File; 2] {
    let About {
        language,
        source,
        builds_on,
        toolchain,
        build,
    } = about;
    let intro = wrap(&format!(
        "A fenn function in {language}: `{source}` answers `GET /{name}?name=Ada` with \
         `Hello, Ada!`, and a request with a body with the name and the body. {builds_on}"
    ));
    let writes = wrap(&format!(
        "That writes `{wasm}`. `fenn check` says whether it fits, and `fenn invoke` runs \
         one event through it:"
    ));
    let toolchain = wrap(toolchain);
    let event =
        format!(r#"{{"path":"/{name}","httpMethod":"GET","queryParameters":{{"name":"Ada"}}}}"#);
    let usage = USE
        .replace("{event}", &event)
        .replace("{wasm}", wasm)
        .replace("{name}", name);
    let readme = format!(
        "# {name}\n\n{intro}\n\n## Build\n\n{toolchain}\n\n```sh\n{build}\n```\n\n{writes}\n\n{usage}"
    );
    let definition = format!(
        "# The definition `fenn deploy --function` reads: the keys of a\n\
         # [[function]] block of fenn's config, less name and module.\n\
         timeout = \"1s\"\n\n\
         [[http]]\n\
         route = \"/{name}\"\n"
    );
    [
        File::new("README.md", readme),
        File::new("function.toml", definition),
    ]
}

/// `text` as lines of at most 72 characters, broken between words and
/// never inside a `code span`.
fn wrap(text: &str) -> String {
    let mut units: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match units.last_mut() {
            Some(unit) if unit.matches('`').count() % 2 == 1 => {
                unit.push(' ');
                unit.push_str(word);
            }
            _ => units.push(word.to_owned()),
        }
    }
    let mut out = String::new();
    let mut line = 0;
    for unit in units {
        if line > 0 && line + 1 + unit.len() > 72 {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(&unit);
        line += unit.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_keeps_lines_short_and_code_spans_whole() {
        let text = "With Rust's WebAssembly target (`rustup target add wasm32-unknown-unknown`), \
                    and then some more words to wrap";
        assert_eq!(
            wrap(text),
            "With Rust's WebAssembly target\n\
             (`rustup target add wasm32-unknown-unknown`), and then some more words\n\
             to wrap"
        );
    }
}
