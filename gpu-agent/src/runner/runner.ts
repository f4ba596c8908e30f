// The Ferry runner: the first program in every container. It loads the user's bundled app,
// finds the function it serves, and runs inputs the agent sends over fd 3. It is bundled with
// the value codec into one file and never imports anything from the platform at run time.
import { AsyncLocalStorage } from "node:async_hooks";
import { Socket } from "node:net";
import { decodeValue, encodeValue, serializeError } from "../../../core/src/codec/index.ts";
import { APP_BRAND, FUNCTION_BRAND, lineSplitter, type FromRunner, type ToRunner } from "./runner-protocol.ts";
import { Limits } from "../../../core/src/limits/limits.ts";
import { exitWithin, findClass, nameExportedClasses, type ClassInstance } from "./class-target.ts";
import { installApiTransport } from "./api-transport.ts";
import { installVolumeTransport } from "../volumes/volume-transport.ts";
import { EndpointServer } from "./endpoint-serve.ts";
import { isEndpointRequest } from "../../../core/src/endpoints/endpoint-request.ts";
import { installImagePackageResolution, takeImageNpmDirs } from "./image-packages.ts";
import { RunnerAssignment } from "../warm-pool/runner-assignment.ts";

type Callable = (...args: unknown[]) => unknown;
interface FunctionHandle {
  readonly name?: string;
  readonly local: Callable;
  /** A batched function's list call (one output per input, checked by the SDK). */
  readonly localBatch?: (inputs: unknown[]) => Promise<unknown[]>;
}
interface AppHandle { readonly functions: () => ReadonlyArray<FunctionHandle> }

const control = new Socket({ fd: 3, readable: true, writable: true });
// Lines sent in one turn of the event loop leave together, as one write: one system call under load.
let queued: string[] = [];
const flush = () => {
  const lines = queued;
  queued = [];
  if (lines.length > 0) control.write(lines.length === 1 ? lines[0]! : lines.join(""));
};
const send = (m: FromRunner) => {
  if (queued.length === 0) setImmediate(flush);
  queued.push(`${JSON.stringify(m)}\n`);
};
const currentInput = new AsyncLocalStorage<string>();
// In a warm pool sandbox: the container's environment arrives with `assign`, before the `load`.
const assignment = new RunnerAssignment(process.env);
// Installed before the app loads, so the SDK bundled into it finds the platform without a network.
const api = installApiTransport(send);
const volumes = installVolumeTransport(send);
const endpoints = new EndpointServer({ send, asInput: (id, f) => currentInput.run(id, f) });
// Packages the image's npmInstall provides, left out of the bundle: bare imports resolve from the image.
installImagePackageResolution(takeImageNpmDirs(process.env));

// Output written while an input runs is tagged with that input's id; other output goes to the
// container's own stdout/stderr, which the agent tags with the container.
for (const stream of ["stdout", "stderr"] as const) {
  const target = process[stream];
  const original = target.write.bind(target) as (chunk: unknown, ...rest: unknown[]) => boolean;
  target.write = ((chunk: unknown, ...rest: unknown[]) => {
    const id = currentInput.getStore();
    if (id === undefined) return original(chunk, ...rest);
    send({ t: "log", id, stream, text: typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString() });
    const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof target.write;
}

// Handles get their export names, as `ferry deploy` named them, so user code calling a sibling's
// `.remote()` from inside the container reaches the deployed function of that name.
const nameExportedFunctions = (mod: Record<string, unknown>): void => {
  for (const [exportName, value] of Object.entries(mod)) {
    if (value && typeof value === "object" && FUNCTION_BRAND in value && (value as { name?: string }).name === undefined) {
      (value as { name?: string }).name = exportName;
    }
  }
};

const findFunction = (mod: Record<string, unknown>, name: string): FunctionHandle | undefined => {
  for (const [exportName, value] of Object.entries(mod)) {
    if (value && typeof value === "object" && FUNCTION_BRAND in value) {
      const h = value as unknown as FunctionHandle;
      if ((h.name ?? exportName) === name) return h;
    }
  }
  for (const value of Object.values(mod)) {
    if (value && typeof value === "object" && APP_BRAND in value) {
      const fn = (value as unknown as AppHandle).functions().find((f) => f.name === name);
      if (fn) return fn;
    }
  }
  return undefined;
};

let target: FunctionHandle | undefined;
/** Set when the container serves a class: the one instance its inputs share. */
let classInstance: ClassInstance | undefined;

const argList = (args: unknown): unknown[] => {
  const decoded = decodeValue(args);
  return Array.isArray(decoded) ? decoded : [decoded];
};

const runInput = async (id: string, args: unknown) => {
  try {
    const list = argList(args);
    // A web endpoint request: the handler gets a `Request`, and its `Response` streams back.
    if (isEndpointRequest(list)) return await endpoints.serve(id, list[0], (req) => target!.local(req));
    const result = await currentInput.run(id, () => target!.local(...list));
    send({ t: "out", id, ok: true, value: encodeValue(result, "result") });
  } catch (e) {
    send({ t: "out", id, ok: false, error: serializeError(e) });
  }
};

// One call of the user's function with each input's first argument; a throw is every input's
// error. Output written meanwhile is the container's (the batch has no single input id).
const runBatch = async (ids: ReadonlyArray<string>, args: ReadonlyArray<unknown>) => {
  let results: unknown[];
  try {
    if (!target!.localBatch) throw new Error("this app's ferry SDK cannot run batched functions: update it");
    results = await target!.localBatch(args.map((a) => argList(a)[0]));
  } catch (e) {
    const error = serializeError(e);
    for (const id of ids) send({ t: "out", id, ok: false, error });
    return;
  }
  ids.forEach((id, i) => {
    try {
      send({ t: "out", id, ok: true, value: encodeValue(results[i], "result") });
    } catch (e) {
      send({ t: "out", id, ok: false, error: serializeError(e) });
    }
  });
};

control.on("data", lineSplitter((line) => {
  if (!line) return;
  const msg = JSON.parse(line) as ToRunner;
  if (msg.t === "api_res") api.receive(msg);
  else if (msg.t === "volume_res") volumes.receive(msg);
  else if (msg.t === "ep_body" || msg.t === "ep_ack") endpoints.receive(msg);
  else if (msg.t === "ep_req") void endpoints.serve(msg.id, msg.head, (req) => target!.local(req), { direct: true });
  else if (msg.t === "in") void runInput(msg.id, msg.args);
  else if (msg.t === "batch") void runBatch(msg.ids, msg.args);
  else if (msg.t === "assign") assignment.assign(msg.env);
  else if (msg.t === "load") {
    const blocked = assignment.loadBlocker();
    if (blocked) {
      send({ t: "load_error", error: serializeError(new Error(blocked)) });
      return;
    }
    import(msg.bundle).then(
      async (mod: Record<string, unknown>) => {
        nameExportedFunctions(mod);
        target = findFunction(mod, msg.function);
        // A class: constructed once here with its instance's parameters, `enter` run before any
        // input; each input is `[method, ...args]`. A throwing `enter` fails like an app that cannot load.
        nameExportedClasses(mod);
        const cls = target ? undefined : findClass(mod, msg.function);
        if (cls) {
          const params = msg.params === undefined ? undefined : decodeValue(msg.params, "params") as Record<string, unknown>;
          const instance = await cls.instantiate(params);
          classInstance = instance;
          target = { local: (method, ...args) => instance.call(String(method), args) };
        }
        if (target) send({ t: "ready" });
        else send({ t: "load_error", error: serializeError(new Error(`function ${msg.function} not found in the app's exports`)) });
      },
      (e: unknown) => send({ t: "load_error", error: serializeError(e) }),
    ).catch((e: unknown) => send({ t: "load_error", error: serializeError(e) }));
  } else if (msg.t === "shutdown") {
    shutDown();
  }
}));

// A warm pool sandbox: tell the agent this runner is up, waiting for its container.
if (assignment.pooled) send({ t: "waiting" });

let shuttingDown = false;
/**
 * End the container: a class's `exit` runs first, within its limit (once, however many times the
 * agent asks or the channel ends).
 */
const shutDown = (): void => {
  if (shuttingDown) return;
  shuttingDown = true;
  void (classInstance ? exitWithin(classInstance, Limits.classExitTimeoutMs) : Promise.resolve({ problem: undefined }))
    .then(({ problem }) => problem && process.stderr.write(`${problem}\n`))
    .finally(() => {
      // What `send` still holds (an exit hook's last log lines) goes out first.
      flush();
      process.exit(0);
    });
};
// The agent went away (its end of fd 3 closed): as at shutdown, a class's `exit` still runs (its
// calls through the platform's API fail then; local effects and outbound network do not).
control.on("end", shutDown);
control.on("close", shutDown);
// Writing to a channel the agent closed (EPIPE) is that same end, not a crash of the runner.
control.on("error", shutDown);
