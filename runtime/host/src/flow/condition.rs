//! The conditions on a flow's edges: whether a branch is taken, read from
//! the [`Response`] of the step before it.
//!
//! ```text
//! status == 200 && body.items[0]["id"] != null
//! header.x-count > 3 || !(body.ok)
//! ```
//!
//! - Operands: `status`; `header.NAME` (any case; absent is null); `body`
//!   (the text, base64 decoded; null when that is not UTF-8); `body.PATH`,
//!   a chain of `.key`, `[N]` and `["key"]` into the body read as JSON
//!   (null when it is not JSON or the path leads nowhere); the literals
//!   `12`, `-1.5`, `"text"` (escapes `\"` and `\\`), `true`, `false`,
//!   `null`; and `( … )`.
//! - `==` and `!=` compare JSON values; a number and a string that reads
//!   as one compare as numbers (headers are text: `header.x-count == 3`).
//!   `<`, `<=`, `>`, `>=` hold between two numbers or two strings only.
//! - An operand alone holds unless it is null, `false`, `0` or `""`.
//! - `!` binds tighter than `&&`, and `&&` tighter than `||`.
//!
//! Conditions come from configs and deploys, so a text is at most
//! [`MAX_LEN`] bytes, nests `(` and `!` at most [`MAX_DEPTH`] deep, and a
//! path has at most [`MAX_PATH`] segments; nothing in a text or a response
//! makes parsing or evaluation panic.
//!
//! ```
//! use fenn_runtime::flow::condition::{Condition, Subject};
//!
//! let condition = Condition::parse(r#"status == 200 && body.state == "done""#)?;
//! let response = fenn_abi::Response::ok(r#"{"state": "done"}"#);
//! assert!(condition.holds(&Subject::new(&response)));
//! # Ok::<(), String>(())
//! ```

use base64::Engine as _;
use fenn_abi::Response;
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::cmp::Ordering;
use std::fmt;

/// The longest condition text, in bytes.
pub const MAX_LEN: usize = 1024;
/// How deep `(` and `!` may nest.
pub const MAX_DEPTH: usize = 32;
/// The most segments a `body.PATH` may have.
pub const MAX_PATH: usize = 16;

const EXPECTED: &str = "expected status, header.NAME, body, body.PATH or a literal";

/// A parsed condition.
#[derive(Debug, Clone)]
pub struct Condition {
    text: String,
    expr: Expr,
}

impl Condition {
    /// Parses `text`; Err is a reason for a person, e.g. "at 12: expected
    /// an operand after '&&'" (the number is a byte offset into `text`).
    ///
    /// # Errors
    ///
    /// An empty or overlong text, an unknown name, a missing operand, an
    /// unclosed `(` or string, nesting or a path over the bounds, or
    /// anything left over after a whole condition.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_LEN {
            return Err(format!("is longer than {MAX_LEN} bytes"));
        }
        if text.bytes().all(|b| b.is_ascii_whitespace()) {
            return Err("is empty".into());
        }
        let expr = parse::expr(text)?;
        Ok(Self {
            text: text.to_owned(),
            expr,
        })
    }

    /// Whether the condition holds for `subject`.
    pub fn holds(&self, subject: &Subject<'_>) -> bool {
        self.expr.holds(subject)
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A step's result as conditions read it; its body is decoded and parsed
/// as JSON at most once, however many conditions read it.
#[derive(Debug)]
pub struct Subject<'a> {
    response: &'a Response,
    /// `body`: the text, base64 decoded, or null when not UTF-8.
    text: OnceCell<Value>,
    /// The body read as JSON; `None` when it is not JSON.
    json: OnceCell<Option<Value>>,
}

impl<'a> Subject<'a> {
    /// The result `response`, not yet decoded or parsed.
    pub fn new(response: &'a Response) -> Self {
        Self {
            response,
            text: OnceCell::new(),
            json: OnceCell::new(),
        }
    }

    fn text(&self) -> &Value {
        self.text.get_or_init(|| {
            let body = &self.response.body;
            if !self.response.is_base64_encoded {
                return Value::String(body.clone());
            }
            let bytes = base64::engine::general_purpose::STANDARD.decode(body.trim());
            let text = bytes.ok().and_then(|bytes| String::from_utf8(bytes).ok());
            text.map_or(Value::Null, Value::String)
        })
    }

    fn json(&self) -> Option<&Value> {
        let parse = || {
            let text = if self.response.is_base64_encoded {
                self.text().as_str()?
            } else {
                &self.response.body
            };
            serde_json::from_str(text).ok()
        };
        self.json.get_or_init(parse).as_ref()
    }

    fn header(&self, name: &str) -> Option<&'a String> {
        let headers = &self.response.headers;
        headers.get(name).or_else(|| {
            let mut all = headers.iter();
            all.find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        })
    }
}

/// A condition, parsed: `Or` and `And` hold two terms or more.
#[derive(Debug, Clone)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Op, Operand),
    Test(Operand),
}

/// What a comparison compares, or a test tests.
#[derive(Debug, Clone)]
enum Operand {
    Status,
    /// The name, lower-cased.
    Header(String),
    Body,
    Path(Vec<Segment>),
    Literal(Value),
    /// `( … )`: true or false.
    Group(Box<Expr>),
}

#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Expr {
    fn holds(&self, subject: &Subject<'_>) -> bool {
        match self {
            Self::Or(terms) => terms.iter().any(|term| term.holds(subject)),
            Self::And(terms) => terms.iter().all(|term| term.holds(subject)),
            Self::Not(inner) => !inner.holds(subject),
            Self::Compare(left, op, right) => {
                compare(&left.value(subject), *op, &right.value(subject))
            }
            Self::Test(operand) => truthy(&operand.value(subject)),
        }
    }
}

impl Operand {
    fn value<'s>(&'s self, subject: &'s Subject<'_>) -> Cow<'s, Value> {
        match self {
            Self::Status => Cow::Owned(subject.response.status_code.into()),
            Self::Header(name) => Cow::Owned(
                subject
                    .header(name)
                    .map_or(Value::Null, |value| Value::String(value.clone())),
            ),
            Self::Body => Cow::Borrowed(subject.text()),
            Self::Path(path) => subject
                .json()
                .and_then(|json| walk(json, path))
                .map_or(Cow::Owned(Value::Null), Cow::Borrowed),
            Self::Literal(value) => Cow::Borrowed(value),
            Self::Group(expr) => Cow::Owned(Value::Bool(expr.holds(subject))),
        }
    }
}

fn walk<'v>(mut value: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    for segment in path {
        value = match (segment, value) {
            (Segment::Key(key), Value::Object(object)) => object.get(key)?,
            (Segment::Index(index), Value::Array(array)) => array.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

fn compare(left: &Value, op: Op, right: &Value) -> bool {
    let order = match (left, right) {
        _ if left.is_number() || right.is_number() => numeric(left)
            .zip(numeric(right))
            .and_then(|(left, right)| order(&left, &right)),
        (Value::String(left), Value::String(right)) => Some(left.cmp(right)),
        _ => {
            return match op {
                Op::Eq => left == right,
                Op::Ne => left != right,
                _ => false,
            };
        }
    };
    match op {
        Op::Eq => order == Some(Ordering::Equal),
        Op::Ne => order != Some(Ordering::Equal),
        Op::Lt => order == Some(Ordering::Less),
        Op::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => order == Some(Ordering::Greater),
        Op::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// A number, or a string that reads as one (as a literal would).
fn numeric(value: &Value) -> Option<Number> {
    match value {
        Value::Number(number) => Some(number.clone()),
        Value::String(text) if parse::number_len(text.as_bytes()) == Ok(text.len()) => {
            parse::to_number(text)
        }
        _ => None,
    }
}

/// Integers exactly, anything else as f64.
fn order(left: &Number, right: &Number) -> Option<Ordering> {
    if let (Some(left), Some(right)) = (left.as_i64(), right.as_i64()) {
        return Some(left.cmp(&right));
    }
    if let (Some(left), Some(right)) = (left.as_u64(), right.as_u64()) {
        return Some(left.cmp(&right));
    }
    left.as_f64()?.partial_cmp(&right.as_f64()?)
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(value) => *value,
        Value::Number(number) => number.as_f64().is_some_and(|number| number != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

mod parse;

#[cfg(test)]
mod tests;
