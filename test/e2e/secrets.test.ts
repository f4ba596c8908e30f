import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FerryApiError, type FerryClient } from "ferry";
import { deployFile, type DeployedFile } from "../../sdk/src/cli/deploy-file.ts";
import { otherWorkspaceClient } from "../fixtures/other-workspace.ts";
import { FERRY_BIN, REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

const SECRETS_APP = join(REPO_ROOT, "test/fixtures/apps/secrets-app.ts");
const MISSING_APP = join(REPO_ROOT, "test/fixtures/apps/secrets-missing-app.ts");
/** Values unique to this run, so finding one anywhere means it leaked. */
const API_KEY = `sk-e2e-${randomBytes(12).toString("hex")}`;
const INLINE = `inline-e2e-${randomBytes(12).toString("hex")}`;
const FROM_ENV = `env-e2e-${randomBytes(12).toString("hex")}`;

let t: TestPlatform;
let deployed: DeployedFile;
type Fns = { readEnv: { remote(names: string[]): Promise<Record<string, string | null>> }; plain: { remote(names: string[]): Promise<Record<string, string | null>> }; usesTemp: { remote(): Promise<unknown> } };
let fns: Fns;

/** `ferry …` with `input` on stdin. */
const cliWithStdin = (args: ReadonlyArray<string>, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [FERRY_BIN, ...args], { env: t.env, cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  const created = await cliWithStdin(["secret", "create", "e2e-api"], `# piped, never on the command line\nAPI_KEY=${API_KEY}\n`);
  expect(created.stderr).toBe("");
  expect(created.code).toBe(0);
  await t.client.request("POST", "/v1/secrets", { name: "e2e-temp", values: { TEMP_KEY: "temporary" } });
  process.env.E2E_INLINE_TOKEN = INLINE;
  deployed = await t.deploy(SECRETS_APP);
  delete process.env.E2E_INLINE_TOKEN;
  fns = Object.fromEntries(deployed.discovered.functions.map((f) => [f.name, f.handle])) as unknown as Fns;
});
afterAll(() => t?.stop());

describe("secrets", () => {
  it("ferry secret create takes pairs from stdin, .env files and this shell's environment; --force replaces", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-dotenv-"));
    await writeFile(join(dir, ".env"), "export DB_URL=\"postgres://u@h/db\"\nDB_POOL=4 # comment\n");
    const both = await runCli(["secret", "create", "e2e-env", "--from-dotenv", join(dir, ".env"), "--from-env", "E2E_FROM_ENV"], { ...t.env, E2E_FROM_ENV: FROM_ENV });
    await rm(dir, { recursive: true, force: true });
    expect(both.stdout).toBe("created secret e2e-env (DB_POOL, DB_URL, E2E_FROM_ENV)\n");

    const again = await cliWithStdin(["secret", "create", "e2e-env"], "E2E_FROM_ENV=other\n");
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    expect(again.stderr).toContain("already exists: pass --force");
    const forced = await cliWithStdin(["secret", "create", "e2e-env", "--force", "-"], `E2E_FROM_ENV=${FROM_ENV}\nSECOND=2\n`);
    expect(forced.stdout).toBe("created secret e2e-env (E2E_FROM_ENV, SECOND)\n");
  });

  it("ferry secret list shows names, variable names and times, never values; delete removes one", async () => {
    const listed = await runCli(["secret", "list", "--json"], t.env);
    expect(listed.code).toBe(0);
    const secrets = JSON.parse(listed.stdout) as Array<{ name: string; keys: string[]; createdAt: number; updatedAt: number }>;
    expect(secrets.map((s) => s.name)).toEqual(["e2e-api", "e2e-env", "e2e-temp"]);
    expect(secrets[0]).toMatchObject({ keys: ["API_KEY"], createdAt: expect.any(Number), updatedAt: expect.any(Number) });
    // App-scoped secrets of Secret.fromObject are not listed, and no value is.
    for (const value of [API_KEY, INLINE, FROM_ENV]) expect(listed.stdout).not.toContain(value);

    expect((await runCli(["secret", "delete", "e2e-env"], t.env)).stdout).toBe("deleted secret e2e-env\n");
    const { secrets: after } = await t.client.request<{ secrets: Array<{ name: string }> }>("GET", "/v1/secrets");
    expect(after.map((x) => x.name)).toEqual(["e2e-api", "e2e-temp"]);
    const gone = await t.client.request("DELETE", "/v1/secrets/e2e-env").catch((e: FerryApiError) => e);
    expect((gone as FerryApiError).status).toBe(404);
  });

  it("a function sees its named and inline secrets as environment variables; another function does not", async () => {
    expect(await fns.readEnv.remote(["API_KEY", "INLINE_TOKEN", "FERRY_APP"])).toEqual({ API_KEY, INLINE_TOKEN: INLINE, FERRY_APP: "secrets-e2e" });
    expect(await fns.plain.remote(["API_KEY", "INLINE_TOKEN"])).toEqual({ API_KEY: null, INLINE_TOKEN: null });
  });

  it("secret values never appear in listings, app logs or the libSQL files in plaintext", async () => {
    await fns.readEnv.remote(["API_KEY"]);
    const api = JSON.stringify(await t.client.request("GET", "/v1/secrets"));
    const apps = JSON.stringify(await t.client.request("GET", "/v1/apps"));
    const logs = await runCli(["app", "logs", deployed.response.app.id], t.env);
    for (const text of [api, apps, logs.stdout, logs.stderr]) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain(INLINE);
    }
    const files = await readdir(t.platform.stateDir);
    expect(files).toContain("state.db");
    for (const f of files.filter((name) => name.startsWith("state.db"))) {
      const bytes = await readFile(join(t.platform.stateDir, f));
      for (const value of [API_KEY, INLINE, FROM_ENV]) expect(bytes.includes(Buffer.from(value)), `${value} in ${f}`).toBe(false);
    }
  });

  it("another workspace can neither see, delete nor deploy with the secret", async () => {
    const other: FerryClient = await otherWorkspaceClient(t);
    const { secrets } = await other.request<{ secrets: Array<{ name: string }> }>("GET", "/v1/secrets");
    expect(secrets).toEqual([]);
    const del = await other.request("DELETE", "/v1/secrets/e2e-api").catch((e: FerryApiError) => e);
    expect(del).toBeInstanceOf(FerryApiError);
    expect((del as FerryApiError).status).toBe(404);
    process.env.E2E_INLINE_TOKEN = INLINE;
    const deploy = await deployFile(other, SECRETS_APP, { mode: "ephemeral" }).catch((e: FerryApiError) => e).finally(() => delete process.env.E2E_INLINE_TOKEN);
    expect((deploy as FerryApiError).status).toBe(400);
    expect((deploy as FerryApiError).field).toBe("body.functions[0].options.secrets[0]");
    expect((deploy as FerryApiError).message).toContain("secret e2e-api not found in this workspace");
  });

  it("deploying a function that names an unknown secret is a 400 naming it", async () => {
    const e = await deployFile(t.client, MISSING_APP, { mode: "ephemeral" }).catch((x: FerryApiError) => x);
    expect(e).toBeInstanceOf(FerryApiError);
    expect((e as FerryApiError).status).toBe(400);
    expect((e as FerryApiError).field).toBe("body.functions[1].options.secrets[1]");
    expect((e as FerryApiError).message).toContain("secret no-such-secret not found");
    const apps = await t.client.request<{ apps: Array<{ name: string }> }>("GET", "/v1/apps");
    expect(apps.apps.map((a) => a.name)).not.toContain("secrets-missing-e2e");
  });

  it("refuses invalid variable names, reserved names and oversized values, naming the field", async () => {
    const attempt = (body: unknown) => t.client.request("POST", "/v1/secrets", body).then(() => undefined, (e: FerryApiError) => e);
    const badName = await attempt({ name: "x", values: { "1BAD": "v" } });
    expect([badName?.status, badName?.field]).toEqual([400, "body.values.1BAD"]);
    const reserved = await attempt({ name: "x", values: { FERRY_APP: "v" } });
    expect(reserved?.message).toMatch(/set by the platform/);
    const big = await attempt({ name: "x", values: { BIG: "x".repeat(40_000) } });
    expect([big?.status, big?.field]).toEqual([400, "body.values.BIG"]);
    expect(big?.message).toContain("maxSecretValueBytes");
    expect(big?.message).not.toContain("xxxx");
    const secretName = await attempt({ name: "has space", values: { A: "v" } });
    expect([secretName?.status, secretName?.field]).toEqual([400, "body.name"]);
  });

  it("a container whose secret was deleted after the deploy fails to start, saying which secret", async () => {
    await t.client.request("DELETE", "/v1/secrets/e2e-temp");
    const e = await fns.usesTemp.remote().catch((x: Error) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toContain("secret e2e-temp no longer exists in this workspace");
    expect((e as Error).message).not.toContain("temporary");
  });
});
