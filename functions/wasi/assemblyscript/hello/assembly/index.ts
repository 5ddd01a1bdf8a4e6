// The function API's example function: `POST /testfunc?name=Jason` with the
// body `requested the API` answers `Jason requested the API`; with no body,
// `Hello, Jason!`. The name defaults to "world".
import { parameter, readEvent, respond } from "./fenn";

export function handle(): void {
  const event = readEvent();
  const query = parameter(event, "queryParameters", "name");
  const name = query != null ? query : "world";
  const body = event.getString("body");
  if (body == null || body.length == 0) {
    respond(200, null, "Hello, " + name + "!");
  } else {
    respond(200, null, name + " " + body);
  }
}
