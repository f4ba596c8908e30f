import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { runtimeCommand, SDK_RUNTIMES, type SdkRuntime } from "./edge-runtimes.ts";

/**
 * The SDK's client (`Function.lookup`, `.remote`, `.spawn`/`get`, `.map`, remote errors) run by
 * one script under Node, Bun and Deno against one real local platform.
 */

const SCRIPT = join(REPO_ROOT, "test/conformance/sdk-client-script.ts");
const SCRIPT_TIMEOUT_MS = 60_000;

let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  await t.deploy(join(REPO_ROOT, "test/conformance/apps/conformance-app.ts"), "deployed");
}, 120_000);
afterAll(() => t?.stop());

const runScript = (runtime: SdkRuntime): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
  const [command, args] = runtimeCommand(runtime, SCRIPT);
  const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...t.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), SCRIPT_TIMEOUT_MS);
  child.on("exit", (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  });
});

describe.each(SDK_RUNTIMES)("the SDK's client on %s", (runtime) => {
  it("looks functions up, calls, spawns, maps and gets remote errors", async () => {
    const r = await runScript(runtime);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!)).toEqual({
      remote: 49,
      spawned: 36,
      byId: 36,
      mapped: [1, 4, 9, 16],
      error: { name: "QuotaExceeded", message: "over quota", isError: true },
      mappedErrors: ["a", "b"],
      missing: { name: "FerryApiError", status: 404 },
    });
  });
});
