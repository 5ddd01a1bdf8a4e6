// fenn's WASI contract for an AssemblyScript function (a reactor: fenn calls
// `_initialize`, then the exported `handle`, once per event): the event
// comes as JSON on stdin, the response goes as JSON to stdout, each line on
// stderr is a log line (`warn: ...` logs a warning). Never use `console`
// here: the shim's writes to stdout.
import { Kind, Value, parse, quote } from "./json";

/** The event, read from stdin; a failed event (exit code 1) if it is not a JSON object. */
export function readEvent(): Value {
  let buffer = new ArrayBuffer(4096);
  let len = 0;
  for (;;) {
    if (len == buffer.byteLength) {
      const bigger = new ArrayBuffer(len * 2);
      memory.copy(changetype<usize>(bigger), changetype<usize>(buffer), len);
      buffer = bigger;
    }
    const n = process.stdin.read(buffer, len);
    if (n <= 0) break;
    len += n;
  }
  const event = parse(String.UTF8.decodeUnsafe(changetype<usize>(buffer), len));
  if (event == null || event.kind != Kind.Object) {
    log("error: the event is not a JSON object");
    process.exit(1);
  }
  return event!;
}

/** A parameter of the event (`queryParameters`, `pathParameters`), or null. */
export function parameter(event: Value, kind: string, name: string): string | null {
  const parameters = event.get(kind);
  return parameters != null ? parameters.getString(name) : null;
}

/** Writes the response: a status, a content type (none if null), a body. */
export function respond(status: i32, contentType: string | null, body: string): void {
  const headers = contentType != null ? '{"content-type":' + quote(contentType) + "}" : "{}";
  const json = '{"statusCode":' + status.toString() + ',"headers":' + headers + ',"body":' + quote(body) + "}";
  process.stdout.write(json);
}

/** Logs one line (`warn: ...` for a warning). */
export function log(line: string): void {
  process.stderr.write(line + "\n");
}
