import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { Cron, FunctionCall, Period, type FerryApiError } from "ferry";
import { openLibsql } from "@ferry/core/node";
import { startRegionServer, type RunningRegion } from "@ferry/regions";
import { listTickRuns } from "../../regions/src/schedules/schedule-claims.ts";
import { REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";
import type { DeployedFile } from "../../sdk/src/cli/deploy-file.ts";
import { bundleApp } from "../../sdk/src/bundling/bundle-app.ts";

/** Schedules (`Cron`, `Period`) on the real platform, with two region servers racing for each tick. */

const SCHEDULE_APP = join(REPO_ROOT, "test/fixtures/apps/schedule-app.ts");

interface ListedApp { name: string; state: string; updatedAt: number; nextRuns: Array<{ function: string; schedule: string; at: number }> }

describe("schedules", () => {
  let t: TestPlatform;
  let db: Client;
  let second: RunningRegion;
  let deployed: DeployedFile;
  let everySecondId: string;

  beforeAll(async () => {
    t = await startTestPlatform({ agents: 1 });
    db = await openLibsql(t.platform.databaseUrl);
    // A second server of the same region on the same NATS and libSQL: it sees every tick too.
    second = await startRegionServer({
      region: "local", host: "127.0.0.1", httpPort: 0, grpcPort: 0,
      natsUrl: t.platform.natsUrl, databaseUrl: t.platform.databaseUrl, internalToken: t.platform.internalToken,
    });
    deployed = await t.deploy(SCHEDULE_APP, "deployed");
    everySecondId = deployed.response.functions.find((f) => f.name === "everySecond")!.id;
  });
  afterAll(async () => {
    await second?.close();
    db?.close();
    await t?.stop();
  });

  const listApp = async (): Promise<ListedApp> => {
    const cli = await runCli(["app", "list", "--json"], t.env);
    expect(cli.code).toBe(0);
    return (JSON.parse(cli.stdout) as ListedApp[]).find((a) => a.name === "schedules-e2e")!;
  };
  const ranLines = async () => {
    const cli = await runCli(["app", "logs", "schedules-e2e", "--json"], t.env);
    return cli.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { functionName: string; line: string; inputId?: string })
      .filter((l) => l.functionName === "everySecond" && l.line.startsWith("ran "));
  };

  it("a Period({ seconds: 1 }) runs once per tick, every second, though two region servers see each tick", { timeout: 90_000 }, async () => {
    await waitFor("six scheduled ticks", async () => ((await listTickRuns(db, everySecondId)).length >= 6 ? true : undefined), 30_000);
    const runs = await listTickRuns(db, everySecondId);
    // Ticks fall on whole seconds from the deploy, none claimed twice; about one a second (a
    // scheduler stalled past a tick runs only the latest one it missed).
    const ticks = runs.map((r) => r.tickMs);
    expect(new Set(ticks).size).toBe(ticks.length);
    for (let i = 1; i < ticks.length; i++) expect((ticks[i]! - ticks[i - 1]!) % 1_000).toBe(0);
    expect(ticks.length).toBeGreaterThanOrEqual(0.8 * ((ticks.at(-1)! - ticks[0]!) / 1_000 + 1));
    for (const r of runs) expect(await FunctionCall.fromId<string>(r.callId).get({ timeout: 30 })).toMatch(/^ct-/);
    // Each claimed tick ran exactly once (its call's one input printed one line), and nothing
    // ran that no claim stands for.
    const ran = await waitFor("every run's log line", async () => {
      const lines = await ranLines();
      return runs.every((r) => lines.some((l) => l.inputId === `${r.callId}:0`)) ? lines : undefined;
    });
    const claimed = new Set((await listTickRuns(db, everySecondId)).map((r) => `${r.callId}:0`));
    for (const r of runs) expect(ran.filter((l) => l.inputId === `${r.callId}:0`), r.callId).toHaveLength(1);
    for (const l of ran) expect(claimed.has(l.inputId ?? "")).toBe(true);
  });

  it("a stopped app is not scheduled; a redeploy resumes it, and one that changes the schedule takes effect", { timeout: 90_000 }, async () => {
    expect((await runCli(["app", "stop", "schedules-e2e"], t.env)).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1_500));
    const afterStop = (await listTickRuns(db, everySecondId)).length;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await listTickRuns(db, everySecondId)).toHaveLength(afterStop);
    expect((await listApp()).nextRuns).toEqual([]);

    // Redeployed as it was: it runs again, ticks counted from the new deploy.
    await t.deploy(SCHEDULE_APP, "deployed");
    await waitFor("a tick after the redeploy", async () => ((await listTickRuns(db, everySecondId)).length > afterStop ? true : undefined), 20_000);

    // The same bundle with an hourly schedule instead: the one-second ticks stop.
    const functions = deployed.discovered.functions.map((f) => ({ name: f.name, options: f.name === "everySecond" ? { ...f.options, schedule: Cron("0 * * * *") } : f.options }));
    const bundle = await bundleApp(SCHEDULE_APP);
    try {
      await t.client.deploy({ name: "schedules-e2e", mode: "deployed", bundle: Buffer.from(bundle.code).toString("base64"), functions });
    } finally {
      await bundle.dispose();
    }
    await new Promise((r) => setTimeout(r, 1_500));
    const settled = (await listTickRuns(db, everySecondId)).length;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await listTickRuns(db, everySecondId)).toHaveLength(settled);
  });

  it("ferry app list shows each scheduled function's next run", async () => {
    const before = Date.now();
    const listed = await listApp();
    expect(listed.state).toBe("running");
    const next = Object.fromEntries(listed.nextRuns.map((r) => [r.function, r]));
    const hour = 3_600_000;
    const nextHour = Math.floor(before / hour) * hour + hour;
    // (An hour may turn while the command runs.)
    expect(next.hourly).toMatchObject({ function: "hourly", schedule: "cron 0 * * * *" });
    expect([nextHour, nextHour + hour]).toContain(next.hourly!.at);
    expect(next.everySecond).toEqual({ ...next.hourly, function: "everySecond" });
    expect(next.daily).toEqual({ function: "daily", schedule: "every 1d", at: listed.updatedAt + 24 * hour });
    // 09:30 in Paris on a weekday is 07:30 or 08:30 UTC.
    const paris = new Date(next.parisMorning!.at);
    expect(next.parisMorning!.schedule).toBe("cron 30 9 * * 1-5 Europe/Paris");
    expect([7, 8]).toContain(paris.getUTCHours());
    expect(paris.getUTCMinutes()).toBe(30);
    expect([1, 2, 3, 4, 5]).toContain(paris.getUTCDay());
    expect(next.parisMorning!.at).toBeGreaterThan(before);
    // The table has a NEXT RUN column.
    const table = await runCli(["app", "list"], t.env);
    expect(table.stdout.split("\n")[0]).toContain("NEXT RUN");
    expect(table.stdout).toMatch(/hourly@\d{4}-\d\d-\d\dT\d\d:00:00\.000Z/);
  });

  it("bad schedules are refused at deploy, naming the field", async () => {
    const deploy = (options: Record<string, unknown>, extra: Record<string, unknown> = {}) => t.client.deploy({
      name: "bad-schedules", mode: "deployed", bundle: Buffer.from("export {};").toString("base64"),
      functions: [{ name: "f", options: { ...options, ...extra } }],
    }).then(() => undefined, (e: unknown) => e as FerryApiError);
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ schedule: Period({}) }, "body.functions[0].options.schedule.seconds", "minSchedulePeriodS"],
      [{ schedule: Period({ seconds: 0.5 }) }, "body.functions[0].options.schedule.seconds", "minSchedulePeriodS"],
      [{ schedule: Cron("61 * * * *") }, "body.functions[0].options.schedule.cron", "Invalid value for minute: 61"],
      [{ schedule: Cron("every hour") }, "body.functions[0].options.schedule.cron", "five, six"],
      [{ schedule: Cron("0 0 31 2 *") }, "body.functions[0].options.schedule.cron", "names no future time"],
      [{ schedule: Cron("0 9 * * *", { timezone: "Mars/Olympus" }) }, "body.functions[0].options.schedule.cron", "Mars/Olympus"],
      [{ schedule: Cron("0 * * * *"), methods: ["run"] }, "body.functions[0].options.schedule", "is a class"],
    ];
    for (const [options, field, says] of cases) {
      const err = await deploy(options);
      expect(err, JSON.stringify(options)).toBeDefined();
      expect(err).toMatchObject({ status: 400, type: "ValidationError", field });
      expect(err!.message).toContain(says);
    }
  });
});
