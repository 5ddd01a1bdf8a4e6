// Checks the WASI guests that build.sh wrote, under Node's WASI, against
// what the Rust SDK's examples (functions/hello, functions/sensor) answer:
// the status, the body (a sensor's JSON compared value by value) and the
// sensor's warning on stderr.
//
//   functions/wasi/build.sh /tmp/wasi && node functions/wasi/check-node.mjs /tmp/wasi
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { run } from "./run-node.mjs";

const event = (fields) =>
  JSON.stringify({
    path: "/fn",
    httpMethod: "POST",
    headers: { "x-fenn-trigger": "http" },
    queryParameters: {},
    pathParameters: {},
    body: "",
    isBase64Encoded: false,
    ...fields,
  });

// The sensor's answer, its keys in the order it writes them.
const reading = ({ sensor = null, celsius, fahrenheit, threshold = 30, alert = false }) => ({
  sensor,
  celsius,
  fahrenheit,
  threshold,
  alert,
});

const cases = {
  hello: [
    ["no name, no body", event({}), 200, "Hello, world!"],
    ["a name", event({ queryParameters: { name: "Jason" } }), 200, "Hello, Jason!"],
    ["a name and a body", event({ queryParameters: { name: "Jason" }, body: "requested the API" }), 200, "Jason requested the API"],
    ["escapes", event({ queryParameters: { name: 'Zoë "\\" 😀\n' } }), 200, 'Hello, Zoë "\\" 😀\n!'],
  ],
  sensor: [
    ["celsius", event({ body: '{"celsius": 21.5, "sensor": "kitchen"}' }), 200, reading({ sensor: "kitchen", celsius: 21.5, fahrenheit: 70.7 })],
    ["fahrenheit", event({ body: '{"fahrenheit": 70.7, "celsius": null}' }), 200, reading({ celsius: 21.5, fahrenheit: 70.7 })],
    ["rounded", event({ body: '{"celsius": -3.45}' }), 200, reading({ celsius: -3.5, fahrenheit: 25.8 })],
    ["over max", event({ queryParameters: { max: "20" }, body: '{"celsius": 21.5}' }), 200, reading({ celsius: 21.5, fahrenheit: 70.7, threshold: 20, alert: true }), /^warn: reading 21\.5 °C is over 20 °C$/m],
    ["max in the path", event({ pathParameters: { max: "25.5" }, body: '{"celsius": 26}' }), 200, reading({ celsius: 26, fahrenheit: 78.8, threshold: 25.5, alert: true }), /^warn: /m],
    ["base64", event({ body: Buffer.from('{"celsius": 31}').toString("base64"), isBase64Encoded: true }), 200, reading({ celsius: 31, fahrenheit: 87.8, alert: true }), /^warn: /m],
    ["max not a number", event({ queryParameters: { max: "hot" }, body: '{"celsius": 1}' }), 400, "max must be a number"],
    ["max with a tail", event({ queryParameters: { max: "30x" }, body: '{"celsius": 1}' }), 400, "max must be a number"],
    ["not JSON", event({ body: "hot" }), 400, /^not a reading: /],
    ["empty", event({}), 400, /^not a reading: /],
    ["not an object", event({ body: "[21.5]" }), 400, /^not a reading: /],
    ["a string", event({ body: '{"celsius": "21.5"}' }), 400, /^not a reading: /],
    ["trailing text", event({ body: '{"celsius": 21.5} x' }), 400, /^not a reading: /],
    ["no reading", event({ body: '{"sensor": "kitchen"}' }), 400, "a reading needs celsius or fahrenheit"],
    ["bad base64", event({ body: "e30", isBase64Encoded: true }), 400, /^bad base64 body: /],
    ["base64, not UTF-8", event({ body: Buffer.from('{"celsius": 1, "sensor": "\xff"}', "latin1").toString("base64"), isBase64Encoded: true }), 400, /^not a reading: /],
    ["too hot", event({ body: '{"celsius": 2000}' }), 422, /^2000 °C is not a plausible reading$/],
    ["too cold", event({ body: '{"fahrenheit": -1000}' }), 422, /°C is not a plausible reading$/],
  ],
};

// Why `got` is not the expected answer, or null.
function mismatch(got, status, body, warning) {
  if (got.trap || got.exitCode !== 0) return `exit code ${got.exitCode}, trap ${got.trap}, stderr ${got.stderr}`;
  const response = JSON.parse(got.stdout);
  if (Number(response.statusCode) !== status) return `status ${response.statusCode}: ${response.body}`;
  if (body instanceof RegExp) return body.test(response.body) ? null : `body ${response.body}`;
  if (typeof body === "string") return response.body === body ? null : `body ${JSON.stringify(response.body)}`;
  if (response.headers?.["content-type"] !== "application/json") return `headers ${JSON.stringify(response.headers)}`;
  if (JSON.stringify(JSON.parse(response.body)) !== JSON.stringify(body)) return `body ${response.body}`;
  if (warning ? !warning.test(got.stderr) : got.stderr !== "") return `stderr ${JSON.stringify(got.stderr)}`;
  return null;
}

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node check-node.mjs DIR (where build.sh wrote the guests)");
  process.exit(2);
}
let passed = 0;
let failed = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith(".wasm")).sort()) {
  const name = file.replace(/\.wasm$/, "").split("-").pop();
  for (const [what, input, status, body, warning] of cases[name] ?? []) {
    const why = mismatch(await run(join(dir, file), input), status, body, warning);
    if (why) console.log(`FAIL ${file}: ${what}: ${why}`);
    why ? failed++ : passed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
