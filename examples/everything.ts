// One app using every object Ferry offers: a class with lifecycle, a secret, a volume, a dict, a
// queue, a schedule and a sandbox. Needs the secret first:
//   echo "GREETING=hello" | npx ferry secret create everything-greeting
//   npx ferry deploy examples/everything.ts && npx ferry run examples/everything.ts
import { App, Dict, Period, Queue, Sandbox, Secret, Volume } from "ferry";

export const app = new App("everything");

const counts = Dict.fromName("everything-counts", { createIfMissing: true });
const jobs = Queue.fromName("everything-jobs", { createIfMissing: true });
const data = Volume.fromName("everything-data", { createIfMissing: true });

/** A class: `enter` once per container, methods share the instance. */
export const Counter = app.cls({ scaledownWindow: 5 }, class {
  seen = 0;
  prefix = "count";
  async enter() {
    this.seen = 0;
  }
  async bump(key: string) {
    this.seen++;
    const total = ((await counts.get(`${this.prefix}:${key}`, 0)) as number) + 1;
    await counts.put(`${this.prefix}:${key}`, total);
    return { seenByThisContainer: this.seen, total };
  }
});

/** Puts `n` jobs on the queue. */
export const produce = app.function({}, async (n: number) => {
  for (let i = 0; i < n; i++) await jobs.put({ job: i });
  return await jobs.len();
});

/** Takes one job, records it in the volume with the secret's greeting, and commits. */
export const consume = app.function(
  { secrets: [Secret.fromName("everything-greeting")], volumes: { "/data": data } },
  async () => {
    const job = await jobs.get({ timeout: 5 });
    const { writeFileSync } = await import("node:fs");
    writeFileSync(`/data/job-${(job as { job: number }).job}.txt`, `${process.env.GREETING} ${JSON.stringify(job)}`);
    await data.commit();
    return job;
  },
);

/** Runs every second while the app is deployed. */
export const tick = app.function({ schedule: Period({ seconds: 1 }) }, async () => {
  await counts.put("ticks", ((await counts.get("ticks", 0)) as number) + 1);
});

app.local(async () => {
  console.log(await Counter.bump.remote("a"), await Counter.with({ prefix: "other" }).bump.remote("a"));
  console.log("queue length", await produce.remote(2), "consumed", await consume.remote());
  console.log("volume", (await data.list("/")).map((f) => f.path));
  const sb = await Sandbox.create({ app: "everything" });
  const p = await sb.exec(["sh", "-c", "echo sandbox says hi"]);
  console.log(await p.stdout.readText());
  await sb.terminate();
});
