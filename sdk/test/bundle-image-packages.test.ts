import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleApp } from "../src/bundling/bundle-app.ts";
import { imagePackageNames, packageNameOf, uncoveredSpecifiers } from "../src/bundling/image-packages.ts";
import { Image } from "../src/images/image.ts";

const TEST_DIR = fileURLToPath(new URL(".", import.meta.url));
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** An app file whose function's image installs `npm` and which imports `imports` by name. */
const appFile = (where: string, npm: string, imports: string): string => {
  const dir = mkdtempSync(join(where, ".ferry-bundle-test-"));
  made.push(dir);
  const file = join(dir, "app.ts");
  writeFileSync(file, `
    import { App, Image } from "ferry";
    ${imports}
    export const app = new App("bundle-image-packages");
    export const f = app.function({ image: Image.base("ferry/node").npmInstall(${npm}) }, async () => 1);
  `);
  return file;
};
const text = (code: Uint8Array) => new TextDecoder().decode(code);

describe("bundling an app whose image provides npm packages", () => {
  it("a package only the image has (not installed here) is left out of the bundle, imported by name", async () => {
    const file = appFile(tmpdir(), `{ "is-number": "7.0.0" }`, `import isNumber from "is-number"; export const g = () => isNumber(1); export const d = async () => (await import("is-number/package.json")).default.version;`);
    const bundle = await bundleApp(file);
    try {
      expect(text(bundle.code)).toMatch(/from "is-number"/);
      expect(text(bundle.code)).toMatch(/import\("is-number\/package\.json"\)/);
      // The CLI's copy loads: the package is a stand-in that throws only when used.
      const mod = (await import(bundle.localModuleUrl)) as { g: () => boolean; d: () => Promise<string> };
      expect(() => mod.g()).toThrow(/package "is-number" is not installed here: it comes from the image's npmInstall/);
      await expect(mod.d()).rejects.toThrow(/package "is-number\/package\.json" is not installed here/);
    } finally {
      await bundle.dispose();
    }
  });

  it("a package installed here too is still left out: containers run the image's version", async () => {
    // Inside the repository, where node_modules has ms.
    const file = appFile(TEST_DIR, `{ ms: "2.1.3" }`, `import ms from "ms"; export const h = () => ms("1h");`);
    const withImage = await bundleApp(file);
    try {
      expect(text(withImage.code)).toMatch(/from "ms"/);
      expect(text(withImage.code)).not.toContain("365.25");
      const mod = (await import(withImage.localModuleUrl)) as { h: () => number };
      expect(mod.h()).toBe(3_600_000);
    } finally {
      await withImage.dispose();
    }
    const noImage = appFile(TEST_DIR, `{ "left-pad": "1.3.0" }`, `import ms from "ms"; export const h = () => ms("1h");`);
    const bundled = await bundleApp(noImage);
    try {
      expect(text(bundled.code)).toContain("365.25");
    } finally {
      await bundled.dispose();
    }
  });

  it("a package neither installed here nor in any image fails the bundle, naming it and what to do", async () => {
    const file = appFile(tmpdir(), `{ "is-number": "7.0.0" }`, `import nope from "ferry-no-such-package-xyz"; export const n = nope;`);
    await expect(bundleApp(file)).rejects.toThrow(/could not resolve "ferry-no-such-package-xyz": install it \(npm install\), or add it to the image's npmInstall/);
  });

  it("names the packages images install: a dependencies map, or the package.json next to a lockfile (pure)", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-lock-"));
    made.push(dir);
    mkdirSync(join(dir, "proj"));
    writeFileSync(join(dir, "proj", "package.json"), JSON.stringify({ dependencies: { zod: "^3" }, optionalDependencies: { "@scope/x": "1" } }));
    writeFileSync(join(dir, "proj", "package-lock.json"), "{}");
    expect(imagePackageNames([
      Image.debianSlim().npmInstall({ ms: "2.1.3" }).toSpec(),
      Image.base("ferry/node").npmInstall({ lockfile: join(dir, "proj", "package-lock.json") }).toSpec(),
    ])).toEqual(["@scope/x", "ms", "zod"]);
    expect([packageNameOf("@scope/x/deep"), packageNameOf("lodash/fp"), packageNameOf("node:fs"), packageNameOf("fs"), packageNameOf("./x")]).toEqual(["@scope/x", "lodash", undefined, undefined, undefined]);
    expect(uncoveredSpecifiers(["ms/sub", "zod", "left-pad"], ["ms", "zod"])).toEqual(["left-pad"]);
  });
});
