//! The parser of conditions: one pass over the text, no token list.

use super::*;

/// Symbols, each before any that begins it.
const SYMBOLS: [&str; 11] = ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")"];

type Parsed<T> = Result<T, String>;

/// An error at byte `at` of the text.
fn fail<T>(at: usize, what: impl fmt::Display) -> Parsed<T> {
    Err(format!("at {at}: {what}"))
}

/// The expression `text` writes, all of it.
pub(super) fn expr(text: &str) -> Parsed<Expr> {
    let mut parser = Parser {
        text,
        at: 0,
        depth: 0,
    };
    let expr = parser.or(None)?;
    if !parser.peek().is_empty() {
        let found = parser.found();
        return fail(parser.at, format!("unexpected {found}"));
    }
    Ok(expr)
}

/// Recursive descent straight over the text.
struct Parser<'t> {
    text: &'t str,
    /// The offset of the next byte to read.
    at: usize,
    /// How deep `(` and `!` nest here.
    depth: usize,
}

impl<'t> Parser<'t> {
    /// `or := and ('||' and)*`; `after` is the symbol before, for errors.
    fn or(&mut self, after: Option<&str>) -> Parsed<Expr> {
        let mut terms = vec![self.and(after)?];
        while self.eat("||") {
            terms.push(self.and(Some("||"))?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    /// `and := not ('&&' not)*`
    fn and(&mut self, after: Option<&str>) -> Parsed<Expr> {
        let mut terms = vec![self.not(after)?];
        while self.eat("&&") {
            terms.push(self.not(Some("&&"))?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Expr::And(terms)
        })
    }

    /// `not := '!' not | operand (OP operand)?`
    fn not(&mut self, after: Option<&str>) -> Parsed<Expr> {
        if self.peek() == "!" {
            let at = self.at;
            self.at += 1;
            let inner = self.nested(at, |parser| parser.not(Some("!")))?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        let left = self.operand(after)?;
        let symbol = self.peek();
        let op = match symbol {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return Ok(Expr::Test(left)),
        };
        self.at += symbol.len();
        Ok(Expr::Compare(left, op, self.operand(Some(symbol))?))
    }

    fn operand(&mut self, after: Option<&str>) -> Parsed<Operand> {
        self.peek();
        let at = self.at;
        match self.rest().as_bytes() {
            [b'(', ..] => {
                self.at += 1;
                let expr = self.nested(at, |parser| parser.or(Some("(")))?;
                if !self.eat(")") {
                    return self.expected(&format!("')' to close the '(' at {at}"));
                }
                Ok(Operand::Group(Box::new(expr)))
            }
            [b'"', ..] => Ok(Operand::Literal(self.string()?.into())),
            [b'-' | b'0'..=b'9', ..] => self.number(),
            [c, ..] if is_word(c) => self.name(),
            _ => match after {
                Some(after) => self.expected(&format!("an operand after '{after}'")),
                None => self.expected("an operand"),
            },
        }
    }

    /// Runs `inside` one level deeper, within [`MAX_DEPTH`].
    fn nested<T>(&mut self, at: usize, inside: fn(&mut Self) -> Parsed<T>) -> Parsed<T> {
        if self.depth >= MAX_DEPTH {
            return fail(at, format!("nests '(' and '!' more than {MAX_DEPTH} deep"));
        }
        self.depth += 1;
        let result = inside(self);
        self.depth -= 1;
        result
    }

    fn number(&mut self) -> Parsed<Operand> {
        let at = self.at;
        let len = match number_len(self.rest().as_bytes()) {
            Ok(len) => len,
            Err(gap) => return fail(at + gap, "expected a digit"),
        };
        self.at += len;
        match to_number(slice(self.text, at, self.at)) {
            Some(number) => Ok(Operand::Literal(number.into())),
            None => fail(at, "number out of range"),
        }
    }

    /// A string literal: the text between its quotes, escapes undone.
    fn string(&mut self) -> Parsed<String> {
        let at = self.at;
        let mut value = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += i + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, c @ ('"' | '\\'))) => value.push(c),
                    Some((_, c)) => {
                        let known = r#"a string knows only \" and \\"#;
                        return fail(at + i, format!("unknown escape '\\{c}' ({known})"));
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        fail(at, "unterminated string")
    }

    /// `status`, `header.NAME`, `body…`, `true`, `false` or `null`.
    fn name(&mut self) -> Parsed<Operand> {
        let at = self.at;
        Ok(match self.word(false) {
            "status" => Operand::Status,
            "true" => Operand::Literal(true.into()),
            "false" => Operand::Literal(false.into()),
            "null" => Operand::Literal(Value::Null),
            "body" => self.path()?,
            "header" if !self.rest().starts_with('.') => {
                return fail(self.at, "expected '.NAME' after 'header'");
            }
            "header" => {
                self.at += 1;
                match self.word(true) {
                    "" => return fail(self.at, "expected a header name after 'header.'"),
                    name => Operand::Header(name.to_ascii_lowercase()),
                }
            }
            word => return fail(at, format!("unknown name '{word}' ({EXPECTED})")),
        })
    }

    /// `body` and the segments after it: `.key`, `[N]`, `["key"]`.
    fn path(&mut self) -> Parsed<Operand> {
        let mut path = Vec::new();
        loop {
            let at = self.at;
            let segment = match self.rest().as_bytes() {
                [b'.', ..] => {
                    self.at += 1;
                    match self.word(true) {
                        "" => return fail(self.at, "expected a key after '.'"),
                        key => Segment::Key(key.to_owned()),
                    }
                }
                [b'[', b'"', ..] => {
                    self.at += 1;
                    let key = self.string()?;
                    self.close()?;
                    Segment::Key(key)
                }
                [b'[', b'0'..=b'9', ..] => {
                    self.at += 1;
                    let digits = self.word(true);
                    let Ok(index) = digits.parse() else {
                        return fail(at + 1, format!("'{digits}' is not an index"));
                    };
                    self.close()?;
                    Segment::Index(index)
                }
                [b'[', ..] => return fail(at + 1, "expected an index or a quoted key after '['"),
                _ => break,
            };
            if path.len() == MAX_PATH {
                return fail(at, format!("a body path has at most {MAX_PATH} segments"));
            }
            path.push(segment);
        }
        Ok(if path.is_empty() {
            Operand::Body
        } else {
            Operand::Path(path)
        })
    }

    /// A run of letters, digits and '_' (and '-' with `dash`).
    fn word(&mut self, dash: bool) -> &'t str {
        let rest = self.rest();
        let len = rest
            .bytes()
            .take_while(|b| is_word(b) || (dash && *b == b'-'))
            .count();
        self.at += len;
        slice(rest, 0, len)
    }

    /// Whether `symbol` comes next, after whitespace; if so, past it.
    fn eat(&mut self, symbol: &str) -> bool {
        let found = self.peek() == symbol;
        if found {
            self.at += symbol.len();
        }
        found
    }

    /// Past the ']' that closes a segment.
    fn close(&mut self) -> Parsed<()> {
        if !self.rest().starts_with(']') {
            return fail(self.at, "expected ']'");
        }
        self.at += 1;
        Ok(())
    }

    /// Skips whitespace and shows what comes next: a symbol, a word or
    /// one character ("" at the end).
    fn peek(&mut self) -> &'t str {
        self.at += self
            .rest()
            .bytes()
            .take_while(u8::is_ascii_whitespace)
            .count();
        let rest = self.rest();
        let len = match SYMBOLS.iter().find(|symbol| rest.starts_with(**symbol)) {
            Some(symbol) => symbol.len(),
            None => match rest
                .bytes()
                .take_while(|b| is_word(b) || b"-.".contains(b))
                .count()
            {
                0 => rest.chars().next().map_or(0, char::len_utf8),
                len => len,
            },
        };
        slice(rest, 0, len)
    }

    /// What comes next, quoted, with a hint for half a '&&', '||' or '=='.
    fn found(&mut self) -> String {
        match self.peek() {
            half @ ("&" | "|" | "=") => format!("'{half}' (write '{half}{half}')"),
            next => format!("'{next}'"),
        }
    }

    fn expected<T>(&mut self, what: &str) -> Parsed<T> {
        if self.peek().is_empty() {
            return fail(self.at, format!("expected {what}"));
        }
        let found = self.found();
        fail(self.at, format!("expected {what}, found {found}"))
    }

    fn rest(&self) -> &'t str {
        slice(self.text, self.at, self.text.len())
    }
}

fn is_word(byte: &u8) -> bool {
    byte.is_ascii_alphanumeric() || *byte == b'_'
}

/// `text[from..to]`, or "" off a character boundary (never, as the parser
/// moves: every offset it reaches follows an ASCII byte or a whole string).
fn slice(text: &str, from: usize, to: usize) -> &str {
    text.get(from..to).unwrap_or_default()
}

/// The length of the number `-?D+(.D+)?` at the start of `bytes`; Err is
/// the offset where a digit is missing.
pub(super) fn number_len(bytes: &[u8]) -> Result<usize, usize> {
    let digits = |from: usize| {
        let rest = bytes.get(from..).unwrap_or_default();
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    };
    let mut end = usize::from(bytes.first() == Some(&b'-'));
    match digits(end) {
        0 => return Err(end),
        n => end += n,
    }
    if bytes.get(end) == Some(&b'.') {
        match digits(end + 1) {
            0 => return Err(end + 1),
            n => end += 1 + n,
        }
    }
    Ok(end)
}

/// An integer exactly where it fits in 64 bits, anything else as f64.
pub(super) fn to_number(text: &str) -> Option<Number> {
    if let Ok(number) = text.parse::<i64>() {
        return Some(number.into());
    }
    if let Ok(number) = text.parse::<u64>() {
        return Some(number.into());
    }
    Number::from_f64(text.parse().ok()?)
}
