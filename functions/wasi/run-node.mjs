// Runs a WASI guest on one event under Node's WASI, as fenn would: the
// event as JSON on stdin, then `_start` (a command) or `_initialize` and
// `handle` (a reactor). Prints what the guest wrote and how it ended.
//
//   node run-node.mjs GUEST.wasm [EVENT.json]   (the event from stdin if none)
//
// run(wasmPath, eventText) is the same for scripts: it resolves to
// { exitCode, stdout, stderr, trap }, trap set if the guest trapped.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WASI } from "node:wasi";
import { fileURLToPath } from "node:url";

// Node warns that its WASI is experimental, on stderr, at every run.
process.removeAllListeners("warning");

export async function run(wasmPath, eventText, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), "fenn-wasi-"));
  const paths = ["stdin", "stdout", "stderr"].map((name) => join(dir, name));
  writeFileSync(paths[0], eventText);
  const fds = [openSync(paths[0], "r"), openSync(paths[1], "w"), openSync(paths[2], "w")];
  try {
    const wasi = new WASI({
      version: "preview1",
      args: ["guest"],
      env,
      stdin: fds[0],
      stdout: fds[1],
      stderr: fds[2],
      returnOnExit: true,
    });
    const module = await WebAssembly.compile(readFileSync(wasmPath));
    const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
    let exitCode = 0;
    let trap;
    try {
      exitCode = runGuest(wasi, instance);
    } catch (error) {
      trap = String(error);
    }
    fds.forEach(closeSync);
    const read = (path) => readFileSync(path, "utf8");
    return { exitCode, stdout: read(paths[1]), stderr: read(paths[2]), trap };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Calls a command's `_start`, or a reactor's `_initialize` and `handle`;
// returns the exit code.
function runGuest(wasi, instance) {
  if (instance.exports._start) return wasi.start(instance);
  try {
    wasi.initialize(instance);
    instance.exports.handle();
    return 0;
  } catch (error) {
    // proc_exit in a reactor: Node throws its own symbol and keeps the code.
    if (typeof error === "symbol" && error.description === "kExitCode") return wasi[error];
    throw error;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [wasmPath, eventPath] = process.argv.slice(2);
  if (!wasmPath) {
    console.error("usage: node run-node.mjs GUEST.wasm [EVENT.json]");
    process.exit(2);
  }
  const event = readFileSync(eventPath ?? 0, "utf8");
  const { exitCode, stdout, stderr, trap } = await run(wasmPath, event);
  if (trap) console.log(`trap: ${trap}`);
  console.log(`exit code: ${exitCode}\nstdout: ${stdout}\nstderr: ${stderr}`);
}
