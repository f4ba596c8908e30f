import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { IMAGE_NPM_DIRS_ENV, imageParentUrls, isBareSpecifier, takeImageNpmDirs } from "../src/runner/image-packages.ts";

const HOOK = fileURLToPath(new URL("../src/runner/image-packages.ts", import.meta.url));
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** An "image" npm dir holding one package, and an app module elsewhere that imports it by name four ways. */
const layout = () => {
  const root = mkdtempSync(join(tmpdir(), "ferry-image-packages-"));
  made.push(root);
  const pkg = join(root, "image", "app", "node_modules", "only-in-image");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "only-in-image", version: "1.2.3", main: "index.js" }));
  writeFileSync(join(pkg, "index.js"), "module.exports = (x) => `image says ${x}`;");
  mkdirSync(join(root, "bundle"));
  writeFileSync(join(root, "bundle", "app.mjs"), `
    import { createRequire } from "node:module";
    import say from "only-in-image";
    const dynamic = (await import("only-in-image")).default;
    const require = createRequire(import.meta.url);
    console.log(JSON.stringify({ stat: say("static"), dyn: dynamic("dynamic"), req: require("only-in-image")("require"), sub: require("only-in-image/package.json").version }));
  `);
  writeFileSync(join(root, "bundle", "relative.mjs"), `await import("./missing.mjs");`);
  return { npmDir: join(root, "image", "app"), bundle: join(root, "bundle") };
};

/** Run `entry` in a fresh Node with the hook installed for `dirs` (as the runner does at start). */
const runWithHook = (dirs: string[], entry: string): string => {
  const script = `const m = await import(${JSON.stringify(HOOK)}); m.installImagePackageResolution(${JSON.stringify(dirs)}); await import(${JSON.stringify(entry)});`;
  return execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
};

describe("bare imports of the image's npm packages (runner resolve hook)", () => {
  it("a package only the image has resolves by name: static and dynamic import, require, and a subpath", () => {
    const { npmDir, bundle } = layout();
    expect(JSON.parse(runWithHook([npmDir], join(bundle, "app.mjs")))).toEqual({
      stat: "image says static", dyn: "image says dynamic", req: "image says require", sub: "1.2.3",
    });
  });

  it("without the image's directories the same module fails to load, as before", () => {
    const { bundle } = layout();
    expect(() => runWithHook([], join(bundle, "app.mjs"))).toThrow(/Cannot find package 'only-in-image'/);
  });

  it("a missing relative import still fails: only bare package names are looked up in the image", () => {
    const { npmDir, bundle } = layout();
    expect(() => runWithHook([npmDir], join(bundle, "relative.mjs"))).toThrow(/missing\.mjs/);
  });

  it("recognises bare specifiers and builds each directory's parent URL (pure)", () => {
    expect(["ms", "@scope/pkg/sub", "lodash/fp"].every(isBareSpecifier)).toBe(true);
    expect(["./a.js", "/abs.js", "node:fs", "file:///x.js", ""].some(isBareSpecifier)).toBe(false);
    expect(imageParentUrls(["/app", "/srv/"])).toEqual(["file:///app/", "file:///srv/"]);
  });

  it("the agent's variable is read once and removed, so user code and its children never see it", () => {
    const env: NodeJS.ProcessEnv = { [IMAGE_NPM_DIRS_ENV]: "/app:/srv:relative", OTHER: "1" };
    expect(takeImageNpmDirs(env)).toEqual(["/app", "/srv"]);
    expect(env).toEqual({ OTHER: "1" });
    expect(takeImageNpmDirs({})).toEqual([]);
  });
});
