import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../fixtures/platform.ts";

/** The runtimes the edge must run on unchanged. */
export const EDGE_RUNTIMES = ["node", "bun", "deno", "workerd"] as const;
export type EdgeRuntime = (typeof EDGE_RUNTIMES)[number];

/** The runtimes the SDK's client must run on. */
export const SDK_RUNTIMES = ["node", "bun", "deno"] as const;
export type SdkRuntime = (typeof SDK_RUNTIMES)[number];

/** Longest an edge may take to listen (wrangler bundles the Worker and starts workerd first). */
const EDGE_START_TIMEOUT_MS = 60_000;

const BIN = join(REPO_ROOT, "node_modules/.bin");

/**
 * Bun's binary: `bun/bin/bun.exe` once the package's postinstall ran, else the platform package's
 * own (npm may skip install scripts; `bun.exe` is then a stub that only prints an error).
 */
const bunBinary = (): string => {
  const candidates = [`@oven/bun-${process.platform}-${process.arch === "arm64" ? "aarch64" : process.arch}/bin/bun`, "bun/bin/bun.exe"];
  for (const c of candidates) {
    const path = join(REPO_ROOT, "node_modules", c);
    if (existsSync(path) && statSync(path).size > 1024 * 1024) return path;
  }
  return join(BIN, "bun");
};

/** The command line that runs a TypeScript file with `runtime` (Deno with the permissions the edge and SDK need). */
export const runtimeCommand = (runtime: SdkRuntime, file: string): [string, string[]] => {
  switch (runtime) {
    case "node": return [process.execPath, [file]];
    case "bun": return [bunBinary(), [file]];
    case "deno": return [join(BIN, "deno"), ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", file]];
  }
};

/** What an edge under test points at: the platform state's SQL-over-HTTP endpoint and the regions' secret. */
export interface EdgeTarget {
  readonly databaseUrl: string;
  readonly databaseToken: string;
  readonly internalToken: string;
}

export interface RunningEdge {
  readonly runtime: EdgeRuntime;
  readonly url: string;
  /** Everything the edge's process printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer();
  s.once("error", reject);
  s.listen(0, "127.0.0.1", () => {
    const address = s.address();
    s.close(() => resolve(typeof address === "object" && address ? address.port : 0));
  });
});

const stopGroup = (child: ChildProcess): Promise<void> => new Promise((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) return resolve();
  child.once("exit", () => resolve());
  // Each edge runs in its own process group: wrangler's workerd children go with it.
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    resolve();
  }
  setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch { /* already gone */ }
  }, 3_000).unref();
});

/**
 * Start the edge under `runtime` as its own process (its real entry: `control-edge/src/entries/`,
 * `wrangler dev --local` for workerd), wait until it listens, and return its URL.
 *
 * @example
 * ```ts
 * const edge = await startEdge("deno", { databaseUrl: regionUrl, databaseToken: token, internalToken: token });
 * await fetch(`${edge.url}/v1/health`);
 * ```
 */
export const startEdge = async (runtime: EdgeRuntime, target: EdgeTarget): Promise<RunningEdge> => {
  const port = await freePort();
  const scratch = await mkdtemp(join(tmpdir(), `ferry-edge-${runtime}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: target.databaseUrl, DATABASE_TOKEN: target.databaseToken, INTERNAL_TOKEN: target.internalToken,
    HOST: "127.0.0.1", PORT: String(port),
    // wrangler: no telemetry, logs and state outside the repository.
    WRANGLER_SEND_METRICS: "false", WRANGLER_LOG_PATH: scratch, XDG_CONFIG_HOME: scratch, NO_COLOR: "1",
  };
  const [command, args]: [string, string[]] = runtime === "workerd"
    // By its script, with this Node: `wrangler` needs Node >= 22 whatever node comes first on PATH.
    ? [process.execPath, [join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev", "--config", join(REPO_ROOT, "control-edge/wrangler.toml"), "--local", "--ip", "127.0.0.1", "--port", String(port),
      "--inspector-port", String(await freePort()), "--persist-to", join(scratch, "state"), "--show-interactive-dev-session=false",
      "--var", `DATABASE_URL:${target.databaseUrl}`, "--var", `DATABASE_TOKEN:${target.databaseToken}`, "--var", `INTERNAL_TOKEN:${target.internalToken}`,
    ]]
    : runtimeCommand(runtime, join(REPO_ROOT, `control-edge/src/entries/${runtime}.ts`));
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const ready = runtime === "workerd" ? /Ready on (http:\/\/[^\s]+)/ : /listening on (http:\/\/[^\s]+)/;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${runtime} edge did not listen within ${EDGE_START_TIMEOUT_MS} ms:\n${output}`)), EDGE_START_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ""));
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${runtime} edge exited with ${code} before listening:\n${output}`));
    });
  }).catch(async (e: unknown) => {
    await stopGroup(child);
    await rm(scratch, { recursive: true, force: true });
    throw e;
  });
  // wrangler may reload the Worker once after "Ready": answered requests mean the edge serves.
  const deadline = Date.now() + EDGE_START_TIMEOUT_MS;
  for (;;) {
    const res = await fetch(`${url}/v1/openapi.json`).catch(() => undefined);
    if (res?.ok) break;
    if (Date.now() > deadline) {
      await stopGroup(child);
      await rm(scratch, { recursive: true, force: true });
      throw new Error(`the ${runtime} edge listens at ${url} but does not serve /v1/openapi.json (last: ${res?.status}):\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    runtime,
    url,
    output: () => output,
    stop: async () => {
      await stopGroup(child);
      await rm(scratch, { recursive: true, force: true });
    },
  };
};
