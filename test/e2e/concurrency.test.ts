import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { FunctionCallCancelledError, FunctionTimeoutError } from "ferry";
import { collect, REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

type ConcurrencyApp = typeof import("../fixtures/apps/concurrency-app.ts");

const ctx = {} as { t: TestPlatform; fns: ConcurrencyApp };
beforeAll(async () => {
  ctx.t = await startTestPlatform({ agents: 1 });
  const deployed = await ctx.t.deploy(`${REPO_ROOT}test/fixtures/apps/concurrency-app.ts`);
  ctx.fns = Object.fromEntries(deployed.discovered.functions.map((f) => [f.name, f.handle])) as unknown as ConcurrencyApp;
});
afterAll(() => ctx.t?.stop());

const NAP_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The error a call rejects with (a resolved call fails the test). */
const failure = (p: Promise<unknown>): Promise<Error> => p.then((v) => { throw new Error(`expected a rejection, got ${JSON.stringify(v)}`); }, (e: unknown) => e as Error);

/** A live container on the test's one agent. */
const containerById = (id: string | undefined) => {
  const found = ctx.t.platform.agents[0]!.containers.get(id ?? "");
  if (!found) throw new Error(`container ${id} is not running`);
  return found;
};

describe("maxInputs: one container runs several calls' inputs at once", () => {
  it("maxInputs 4: four concurrent remote calls run together in one container", async () => {
    await ctx.fns.napWide.remote(0); // the one container is up
    const started = Date.now();
    const naps = await Promise.all([0, 1, 2, 3].map(() => ctx.fns.napWide.remote(NAP_MS)));
    const wall = Date.now() - started;
    expect(new Set(naps.map((n) => n.container)).size).toBe(1);
    // Every nap began before any ended: they overlapped in the container.
    expect(Math.max(...naps.map((n) => n.start))).toBeLessThan(Math.min(...naps.map((n) => n.end)));
    expect(wall).toBeLessThan(3 * NAP_MS);
  });

  it("maxInputs 1: the same four calls run one after another in the one container", async () => {
    await ctx.fns.napNarrow.remote(0);
    const started = Date.now();
    const naps = await Promise.all([0, 1, 2, 3].map(() => ctx.fns.napNarrow.remote(NAP_MS)));
    const wall = Date.now() - started;
    expect(new Set(naps.map((n) => n.container)).size).toBe(1);
    const ordered = [...naps].sort((a, b) => a.start - b.start);
    for (let i = 1; i < ordered.length; i++) expect(ordered[i]!.start).toBeGreaterThanOrEqual(ordered[i - 1]!.end);
    expect(wall).toBeGreaterThanOrEqual(4 * NAP_MS);
  });

  it("the container is busy while any input runs, and idle only once the last one ends", async () => {
    const warm = await ctx.fns.napWide.remote(0);
    const container = containerById(warm.container);
    const short = ctx.fns.napWide.remote(200);
    const long = ctx.fns.napWide.remote(1_500);
    await short;
    expect(container.busy).toBe(true);
    await long;
    expect(container.busy).toBe(false);
  });

  it("an input over its timeout kills the container: it gets FunctionTimeoutError, the other input then in flight a ContainerCrashError", async () => {
    const [slow, other] = await Promise.all([
      failure(ctx.fns.napTimed.remote(5_000)),
      failure(ctx.fns.napTimed.remote(3_000)),
    ]);
    expect(slow).toBeInstanceOf(FunctionTimeoutError);
    expect(slow.message).toMatch(/timeout of 1s/);
    expect(other).toBeInstanceOf(Error);
    expect(other.name).toBe("ContainerCrashError");
    expect(other.message).toMatch(/killed because input fc-[0-9a-z]+:0 exceeded the function's timeout of 1s/);
    // A fresh container serves the function afterwards.
    expect((await ctx.fns.napTimed.remote(10)).container).toMatch(/^ct-/);
  });
});

describe("cancelling one of several calls in flight in one container", () => {
  it("the cancelled call is cancelled; the other call's input is requeued and still completes", async () => {
    const warm = await ctx.fns.napWide.remote(0);
    const doomed = await ctx.fns.napWide.spawn(3_000);
    const survivor = await ctx.fns.napWide.spawn(1_500);
    const container = containerById(warm.container);
    // Both calls' inputs are in hand in the one container before the cancel.
    for (let i = 0; i < 100 && container.runningCalls().length < 2; i++) await sleep(20);
    expect([...container.runningCalls()].sort()).toEqual([doomed.id, survivor.id].sort());
    await doomed.cancel();
    await expect(doomed.get({ timeout: 10 })).rejects.toBeInstanceOf(FunctionCallCancelledError);
    const nap = await survivor.get({ timeout: 30 });
    // Killing the sandbox stopped the survivor's first run; it ran again in a new container.
    expect(nap.container).not.toBe(warm.container);
    expect(nap.end - nap.start).toBeGreaterThanOrEqual(1_500);
  });
});

describe("batch: the function takes a list, callers pass and get single items", () => {
  it("map of 8 items returns every output, computed in batches of 2 to 4", async () => {
    const out = await collect(ctx.fns.doubleBatched.map([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(out.map((o) => o.value)).toEqual([2, 4, 6, 8, 10, 12, 14, 16]);
    for (const o of out) {
      expect(o.batchSize).toBeGreaterThan(1);
      expect(o.batchSize).toBeLessThanOrEqual(4);
    }
  });

  it("three concurrent remote calls within waitMs run as one batch of three", async () => {
    await ctx.fns.doubleBatched.remote(0);
    const out = await Promise.all([10, 20, 30].map((x) => ctx.fns.doubleBatched.remote(x)));
    expect(out).toEqual([{ value: 20, batchSize: 3 }, { value: 40, batchSize: 3 }, { value: 60, batchSize: 3 }]);
  });

  it("a batch answered with the wrong number of outputs fails every input of it with BatchSizeMismatchError", async () => {
    const out = await collect(ctx.fns.wrongLengthBatched.map(["a", "b", "c", "d"], { returnExceptions: true }));
    expect(out).toHaveLength(4);
    for (const e of out) {
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).name).toBe("BatchSizeMismatchError");
      expect((e as Error).message).toMatch(/returned an array of (\d) for a batch of (\d) inputs: expected an array of length \2/);
    }
    const nonArray = await failure(ctx.fns.wrongLengthBatched.remote("non-array"));
    expect(nonArray.name).toBe("BatchSizeMismatchError");
    expect(nonArray.message).toContain("returned a non-array (string) for a batch of 1 inputs: expected an array of length 1");
  });

  it("a throwing batch fails each of its inputs with that error", async () => {
    const out = await collect(ctx.fns.throwingBatched.map(["a", "b", "c"], { returnExceptions: true }));
    expect(out).toHaveLength(3);
    for (const e of out) {
      expect((e as Error).name).toBe("BatchRefused");
      expect((e as Error).message).toMatch(/^refused a batch of [1-3]$/);
    }
  });

  it("a throwing batch's inputs are retried per the retry policy", async () => {
    expect(await collect(ctx.fns.flakyBatched.map(["x", "y", "z"]))).toEqual(["X", "Y", "Z"]);
  });

  it("local calls the function with a batch of one and returns the single output", async () => {
    expectTypeOf(ctx.fns.doubleBatched.remote).parameter(0).toEqualTypeOf<number>();
    expectTypeOf(ctx.fns.doubleBatched.remote).returns.resolves.toEqualTypeOf<{ value: number; batchSize: number }>();
    expect(await ctx.fns.doubleBatched.local(21)).toEqual({ value: 42, batchSize: 1 });
    await expect(ctx.fns.wrongLengthBatched.local("a")).rejects.toThrow("returned an array of 0 for a batch of 1 inputs");
  });

  it("a deploy with batch.maxBatchSize 0 is refused with 400 naming the field", async () => {
    const refused = await ctx.t.client.deploy({
      name: "bad-batch", mode: "ephemeral", bundle: Buffer.from("export {};").toString("base64"),
      functions: [{ name: "f", options: { batch: { maxBatchSize: 0, waitMs: 10 } } }],
    }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, field: "body.functions[0].options.batch.maxBatchSize" });
  });
});
