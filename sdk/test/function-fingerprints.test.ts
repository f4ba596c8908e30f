import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleApp } from "../src/bundling/bundle-app.ts";
import { discoverApp } from "../src/bundling/discover-app.ts";
import { appFingerprints, functionFingerprints, handlerSource } from "../src/bundling/function-fingerprints.ts";

/** Per-function fingerprints: only a function whose own code or options changed gets a new one. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-fingerprints-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Bundle `source` as the app file (one path: it is in the bundle) as `ferry deploy` does, and fingerprint its functions. */
const fingerprintsOf = async (source: string): Promise<Record<string, string>> => {
  const file = join(dir, "app.ts");
  await writeFile(file, source);
  const bundle = await bundleApp(file);
  try {
    const discovered = discoverApp((await import(bundle.localModuleUrl)) as Record<string, unknown>, file);
    const prints = await appFingerprints(bundle, discovered.functions.map((f) => ({ name: f.name, handle: f.handle, options: f.options })));
    return Object.fromEntries(prints);
  } finally {
    await bundle.dispose();
  }
};

const app = (parts: { shared?: string; f?: string; fOptions?: string; g?: string; cls?: string; extra?: string }) => `
import { App } from "ferry";
export const app = new App("fp");
const shared = ${parts.shared ?? '"s1"'};
export const f = app.function(${parts.fOptions ?? "{}"}, async (x: number) => ${parts.f ?? "x + 1"});
export const g = app.function({}, async () => ${parts.g ?? '"g1"'} + shared);
export const Model = app.cls({}, class {
  async predict(x: string) { return ${parts.cls ?? '"m1"'} + x; }
});
${parts.extra ?? ""}
`;

/** Which functions' fingerprints differ between two versions of an app. */
const changed = (a: Record<string, string>, b: Record<string, string>) => Object.keys(a).filter((k) => a[k] !== b[k]).sort();

describe("function fingerprints of a bundled app", () => {
  it("the same source gives the same fingerprints; each function has its own", async () => {
    const a = await fingerprintsOf(app({}));
    const b = await fingerprintsOf(app({}));
    expect(a).toEqual(b);
    expect(Object.keys(a).sort()).toEqual(["Model", "f", "g"]);
    expect(new Set(Object.values(a)).size).toBe(3);
    for (const v of Object.values(a)) expect(v).toMatch(/^[0-9a-f]{64}$/);
  });

  it("editing one function's body changes only that function's fingerprint", async () => {
    const base = await fingerprintsOf(app({}));
    expect(changed(base, await fingerprintsOf(app({ f: "x + 2" })))).toEqual(["f"]);
    expect(changed(base, await fingerprintsOf(app({ g: '"g2"' })))).toEqual(["g"]);
    expect(changed(base, await fingerprintsOf(app({ cls: '"m2"' })))).toEqual(["Model"]);
  });

  it("editing shared top-level code changes every function's", async () => {
    const base = await fingerprintsOf(app({}));
    expect(changed(base, await fingerprintsOf(app({ shared: '"s2"' })))).toEqual(["Model", "f", "g"]);
    expect(changed(base, await fingerprintsOf(app({ extra: "export const helper = () => 42;" })))).toEqual(["Model", "f", "g"]);
  });

  it("changing one function's options changes only its fingerprint", async () => {
    const base = await fingerprintsOf(app({}));
    expect(changed(base, await fingerprintsOf(app({ fOptions: "{ timeout: 30 }" })))).toEqual(["f"]);
  });

  it("a function that calls a sibling's .local sees the sibling's code: editing g changes f too", async () => {
    const calls = (g: string) => `
import { App } from "ferry";
export const app = new App("fp");
export const g = app.function({}, async () => ${g});
export const f = app.function({}, async () => (await g.local()) + "!");
`;
    expect(changed(await fingerprintsOf(calls('"g1"')), await fingerprintsOf(calls('"g2"')))).toEqual(["f", "g"]);
  });

  it("a handler declared by name (reachable from other code) stays in every fingerprint", async () => {
    const named = (g: string) => `
import { App } from "ferry";
export const app = new App("fp");
const work = async () => ${g};
export const g = app.function({}, work);
export const f = app.function({}, async () => (await work()) + "!");
`;
    expect(changed(await fingerprintsOf(named('"g1"')), await fingerprintsOf(named('"g2"')))).toEqual(["f", "g"]);
  });
});

describe("functionFingerprints on bundle text", () => {
  it("cuts a handler only where it occurs once, as an argument", () => {
    const units = (gBody: string) => [{ name: "f", source: "() => 1", options: {} }, { name: "g", source: `() => ${gBody}`, options: {} }];
    const bundle = (gBody: string) => `var a = app.function({}, () => 1); var b = app.function({}, () => ${gBody});`;
    const one = functionFingerprints(bundle("2"), units("2"));
    const two = functionFingerprints(bundle("3"), units("3"));
    expect(two.get("f")).toBe(one.get("f"));
    expect(two.get("g")).not.toBe(one.get("g"));
    // g's source twice in the bundle: it stays in f's fingerprint.
    const twice = (gBody: string) => `${bundle(gBody)} var c = [0, () => ${gBody}];`;
    expect(functionFingerprints(twice("3"), units("3")).get("f")).not.toBe(functionFingerprints(twice("2"), units("2")).get("f"));
  });

  it("handlerSource reads a function's, a batched function's and a class's handler", async () => {
    const { App } = await import("../src/app.ts");
    const a = new App("fp-sources");
    expect(handlerSource(a.function({}, (x: number) => x * 2))).toBe("(x) => x * 2");
    expect(handlerSource(a.function({ batch: { maxBatchSize: 2, waitMs: 0 } }, (xs: number[]) => xs))).toBe("(xs) => xs");
    expect(handlerSource(a.cls({}, class { run() { return 1; } }))).toMatch(/^class \{/);
  });
});
