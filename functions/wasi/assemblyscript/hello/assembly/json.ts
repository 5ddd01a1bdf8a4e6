// A small JSON reader and writer, enough for fenn's event and a short body:
// `parse` builds a tree of `Value`s, or returns null and sets `parseError`.

export enum Kind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** A JSON value. An object keeps its members in order; the last of a repeated key wins. */
export class Value {
  kind: Kind;
  bool: bool = false;
  number: f64 = 0;
  text: string = "";
  keys: string[] = [];
  items: Value[] = [];

  constructor(kind: Kind) {
    this.kind = kind;
  }

  /** The member named `key` of an object, or null. */
  get(key: string): Value | null {
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }

  /** The member named `key` if it is a string, or null. */
  getString(key: string): string | null {
    const value = this.get(key);
    return value != null && value.kind == Kind.String ? value.text : null;
  }
}

/** Why the last `parse` returned null. */
export let parseError = "";

const MAX_DEPTH = 64;

class Parser {
  pos: i32 = 0;

  constructor(public text: string) {}

  fail(why: string): Value | null {
    if (parseError.length == 0) parseError = why + " at character " + this.pos.toString();
    return null;
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return;
      this.pos++;
    }
  }

  value(depth: i32): Value | null {
    this.skipSpace();
    if (this.pos >= this.text.length) return this.fail("unexpected end");
    if (depth > MAX_DEPTH) return this.fail("nested too deep");
    const c = this.text.charCodeAt(this.pos);
    if (c == 0x7b /* { */) return this.object(depth);
    if (c == 0x5b /* [ */) return this.array(depth);
    if (c == 0x22 /* " */) return this.string();
    if (this.literal("true")) return boolean(true);
    if (this.literal("false")) return boolean(false);
    if (this.literal("null")) return new Value(Kind.Null);
    return this.number();
  }

  literal(word: string): bool {
    if (this.text.substr(this.pos, word.length) != word) return false;
    this.pos += word.length;
    return true;
  }

  digits(): i32 {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
    }
    return this.pos - start;
  }

  number(): Value | null {
    const start = this.pos;
    if (this.text.charCodeAt(this.pos) == 0x2d /* - */) this.pos++;
    const first = this.text.charCodeAt(this.pos);
    const whole = this.digits();
    if (whole == 0 || (first == 0x30 && whole > 1)) return this.fail("invalid value");
    if (this.text.charCodeAt(this.pos) == 0x2e /* . */) {
      this.pos++;
      if (this.digits() == 0) return this.fail("invalid number");
    }
    if ((this.text.charCodeAt(this.pos) | 0x20) == 0x65 /* e */) {
      this.pos++;
      const sign = this.text.charCodeAt(this.pos);
      if (sign == 0x2b || sign == 0x2d) this.pos++;
      if (this.digits() == 0) return this.fail("invalid number");
    }
    const value = new Value(Kind.Number);
    value.number = parseFloat(this.text.substring(start, this.pos));
    return value;
  }

  string(): Value | null {
    let out = "";
    let from = ++this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) {
        const value = new Value(Kind.String);
        value.text = out + this.text.substring(from, this.pos++);
        return value;
      }
      if (c < 0x20) return this.fail("control character in a string");
      if (c != 0x5c /* \ */) {
        this.pos++;
        continue;
      }
      out += this.text.substring(from, this.pos);
      const escaped = this.escape();
      if (escaped < 0) return this.fail("invalid escape");
      out += String.fromCharCode(escaped);
      from = this.pos;
    }
    return this.fail("unterminated string");
  }

  /** The UTF-16 unit of the escape at pos (a backslash), or -1. */
  escape(): i32 {
    const e = this.text.charCodeAt(this.pos + 1);
    this.pos += 2;
    if (e == 0x22 || e == 0x5c || e == 0x2f) return e;
    if (e == 0x62) return 0x08;
    if (e == 0x66) return 0x0c;
    if (e == 0x6e) return 0x0a;
    if (e == 0x72) return 0x0d;
    if (e == 0x74) return 0x09;
    if (e != 0x75 /* u */ || this.pos + 4 > this.text.length) return -1;
    const hex = this.text.substr(this.pos, 4);
    for (let i = 0; i < 4; i++) {
      const h = hex.charCodeAt(i) | 0x20;
      if (!((h >= 0x30 && h <= 0x39) || (h >= 0x61 && h <= 0x66))) return -1;
    }
    this.pos += 4;
    return I32.parseInt(hex, 16);
  }

  array(depth: i32): Value | null {
    const array = new Value(Kind.Array);
    return this.members(array, 0x5d /* ] */, depth);
  }

  object(depth: i32): Value | null {
    const object = new Value(Kind.Object);
    return this.members(object, 0x7d /* } */, depth);
  }

  /** The items of an array or the members of an object, up to `close`. */
  members(into: Value, close: i32, depth: i32): Value | null {
    this.pos++;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) == close) {
      this.pos++;
      return into;
    }
    while (true) {
      if (into.kind == Kind.Object) {
        this.skipSpace();
        if (this.text.charCodeAt(this.pos) != 0x22) return this.fail("expected a key");
        const key = this.string();
        if (key == null) return null;
        into.keys.push(key.text);
        this.skipSpace();
        if (this.text.charCodeAt(this.pos++) != 0x3a /* : */) return this.fail("expected ':'");
      }
      const item = this.value(depth + 1);
      if (item == null) return null;
      into.items.push(item);
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos++);
      if (c == close) return into;
      if (c != 0x2c /* , */) return this.fail("expected ',' or the end");
    }
  }
}

function boolean(b: bool): Value {
  const value = new Value(Kind.Bool);
  value.bool = b;
  return value;
}

/** The one JSON value in `text`, or null (and `parseError` says why). */
export function parse(text: string): Value | null {
  parseError = "";
  const parser = new Parser(text);
  const value = parser.value(0);
  if (value == null) return null;
  parser.skipSpace();
  if (parser.pos < text.length) return parser.fail("trailing characters");
  return value;
}

/** `s` as a JSON string, quotes included. */
export function quote(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(from, i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    from = i + 1;
  }
  return out + s.substring(from) + '"';
}
