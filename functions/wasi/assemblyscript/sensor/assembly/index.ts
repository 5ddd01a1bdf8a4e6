// A sensor reading, checked and converted: the body is a JSON reading such
// as {"celsius": 21.5} (or {"fahrenheit": 70.7}), with an optional "sensor"
// name; the query or path parameter `max` is a threshold in °C (default
// 30). The answer gives the reading in both units and flags it when it is
// over the threshold. A body that is not a reading is a 400 that says why,
// an implausible one a 422.
import { Kind, Value, parse, parseError, quote } from "./json";
import { log, parameter, readEvent, respond } from "./fenn";

export function handle(): void {
  const event = readEvent();
  let max = parameter(event, "queryParameters", "max");
  if (max == null) max = parameter(event, "pathParameters", "max");
  let threshold = 30.0;
  if (max != null) {
    threshold = parseNumber(max);
    if (isNaN(threshold)) return respond(400, null, "max must be a number");
  }
  const body = readBody(event);
  if (body == null) return respond(400, null, bodyError);
  const reading = parse(body);
  if (reading == null) return respond(400, null, "not a reading: " + parseError);
  if (reading.kind != Kind.Object) return respond(400, null, "not a reading: expected a JSON object");
  const c = number(reading, "celsius");
  const f = number(reading, "fahrenheit");
  const sensor = reading.get("sensor");
  if (c == null) return respond(400, null, "not a reading: celsius must be a number");
  if (f == null) return respond(400, null, "not a reading: fahrenheit must be a number");
  if (sensor != null && sensor.kind != Kind.Null && sensor.kind != Kind.String) {
    return respond(400, null, "not a reading: sensor must be a string");
  }
  if (c.kind == Kind.Null && f.kind == Kind.Null) return respond(400, null, "a reading needs celsius or fahrenheit");
  const celsius = c.kind == Kind.Number ? c.number : ((f.number - 32.0) * 5.0) / 9.0;
  if (!(celsius >= -273.15 && celsius <= 1000.0)) {
    return respond(422, null, display(celsius) + " °C is not a plausible reading");
  }
  const alert = celsius > threshold;
  if (alert) log("warn: reading " + display(celsius) + " °C is over " + display(threshold) + " °C");
  const name = sensor != null && sensor.kind == Kind.String ? quote(sensor.text) : "null";
  const checked =
    '{"sensor":' + name +
    ',"celsius":' + json(round1(celsius)) +
    ',"fahrenheit":' + json(round1((celsius * 9.0) / 5.0 + 32.0)) +
    ',"threshold":' + json(threshold) +
    ',"alert":' + (alert ? "true" : "false") + "}";
  respond(200, "application/json", checked);
}

/** A member that must be a number or null: the value (Null if absent), or null if it is neither. */
function number(reading: Value, key: string): Value | null {
  const value = reading.get(key);
  if (value == null) return new Value(Kind.Null);
  return value.kind == Kind.Number || value.kind == Kind.Null ? value : null;
}

/** Why `readBody` returned null. */
let bodyError = "";

/** The body as text, decoded from base64 if the event says so; null if that fails. */
function readBody(event: Value): string | null {
  const body = event.getString("body");
  const text = body != null ? body : "";
  const encoded = event.get("isBase64Encoded");
  if (encoded == null || encoded.kind != Kind.Bool || !encoded.bool) return text;
  const bytes = decodeBase64(text);
  if (bytes == null) {
    bodyError = "bad base64 body: " + base64Error;
    return null;
  }
  if (!validUtf8(bytes)) {
    bodyError = "not a reading: invalid UTF-8";
    return null;
  }
  return String.UTF8.decode(bytes.buffer);
}

/** Whether `bytes` are UTF-8 (String.UTF8.decode would replace what is not). */
function validUtf8(bytes: Uint8Array): bool {
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i++];
    const more = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (more < 0 || bytes.length - i < more) return false;
    for (let j = 0; j < more; j++) if ((bytes[i++] & 0xc0) != 0x80) return false;
  }
  return true;
}

/** A number as a query parameter: decimal with an optional sign, point and exponent, or inf; NaN if not. */
function parseNumber(text: string): f64 {
  const lower = text.toLowerCase();
  const signed = lower.startsWith("-") || lower.startsWith("+");
  const bare = signed ? lower.substring(1) : lower;
  if (bare == "inf" || bare == "infinity") return lower.startsWith("-") ? -Infinity : Infinity;
  let i = skipDigits(bare, 0);
  let digits = i;
  if (bare.charCodeAt(i) == 0x2e /* . */) {
    const from = i + 1;
    i = skipDigits(bare, from);
    digits += i - from;
  }
  if (digits == 0) return NaN;
  if (bare.charCodeAt(i) == 0x65 /* e */) {
    const sign = bare.charCodeAt(i + 1);
    const from = sign == 0x2b || sign == 0x2d ? i + 2 : i + 1;
    i = skipDigits(bare, from);
    if (i == from) return NaN;
  }
  return i == bare.length ? parseFloat(text) : NaN;
}

/** Where the digits of `text` from `i` end. */
function skipDigits(text: string, i: i32): i32 {
  while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
  return i;
}

let base64Error = "";

/** Padded standard base64, decoded; null if it is not (and `base64Error` says why). */
function decodeBase64(text: string): Uint8Array | null {
  if (text.length % 4 != 0) {
    base64Error = "its length is not a multiple of 4";
    return null;
  }
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let group = 0;
  for (let i = 0; i < text.length; i++) {
    const v = i >= text.length - pad ? 0 : base64Value(text.charCodeAt(i));
    if (v < 0) {
      base64Error = "an invalid symbol at " + i.toString();
      return null;
    }
    group = (group << 6) | v;
    if (i % 4 != 3) continue;
    const at = (i / 4) * 3;
    for (let j = 0; j < 3 && at + j < out.length; j++) out[at + j] = <u8>(group >> (16 - 8 * j));
  }
  return out;
}

function base64Value(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41; // A-Z
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26; // a-z
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52; // 0-9
  return c == 0x2b ? 62 : c == 0x2f ? 63 : -1; // + /
}

function round1(x: f64): f64 {
  const scaled = x * 10.0;
  return Math.trunc(scaled >= 0.0 ? scaled + 0.5 : scaled - 0.5) / 10.0;
}

/** A number in JSON: null if it is not finite. */
function json(x: f64): string {
  return isFinite(x) ? x.toString() : "null";
}

/** A number in a message: 30, not 30.0. */
function display(x: f64): string {
  const text = x.toString();
  return text.endsWith(".0") ? text.substring(0, text.length - 2) : text;
}
