import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, canonicalJson, flattenImage, ImageSpecError, stepKey } from "../src/index.ts";
import { Image, ImageStepOrderError } from "../../sdk/src/images/index.ts";
import { manifestOptions } from "../../sdk/src/functions/function-options.ts";

const made: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-builder-steps-"));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
const collect = () => { const log: string[] = []; return { log, onLog: (l: string) => log.push(l) }; };

describe("cache keys (pure)", () => {
  it("canonical JSON ignores key order, so equal definitions give equal keys", () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
    const a = stepKey("parent", { kind: "env", vars: { X: "1", Y: "2" } }, "");
    expect(stepKey("parent", { vars: { Y: "2", X: "1" }, kind: "env" }, "")).toBe(a);
  });
  it("a key changes with the parent, the definition or the inputs' content", () => {
    const base = stepKey("p", { kind: "runCommands", commands: ["x"] }, "h");
    expect(stepKey("q", { kind: "runCommands", commands: ["x"] }, "h")).not.toBe(base);
    expect(stepKey("p", { kind: "runCommands", commands: ["y"] }, "h")).not.toBe(base);
    expect(stepKey("p", { kind: "runCommands", commands: ["x"] }, "i")).not.toBe(base);
  });
});

describe("Image (SDK spec)", () => {
  it("chains immutable steps that serialise to JSON step definitions", () => {
    const base = Image.base("ferry/node");
    const image = base.env({ A: "1" }).workdir("/app").npmInstall({ "left-pad": "1.3.0" }).runCommands("echo hi").addLocalDir("./assets", "/assets");
    expect(base.toSpec().steps).toEqual([]);
    expect(image.toSpec()).toEqual({
      base: { kind: "ferry/node" },
      steps: [
        { kind: "env", vars: { A: "1" } },
        { kind: "workdir", path: "/app" },
        { kind: "npmInstall", dependencies: { "left-pad": "1.3.0" } },
        { kind: "runCommands", commands: ["echo hi"] },
        { kind: "addLocalDir", local: join(process.cwd(), "assets"), remote: "/assets", copy: false },
      ],
    });
    expect(Image.debianSlim().aptInstall("ffmpeg").toSpec()).toEqual({ base: { kind: "debian-slim", suite: "bookworm" }, steps: [{ kind: "aptInstall", packages: ["ffmpeg"] }] });
    expect(JSON.parse(JSON.stringify(image.toSpec()))).toEqual(image.toSpec());
  });

  it("refuses a build step after a local dir mounted at start, and an unknown base", () => {
    expect(() => Image.base("ferry/node").addLocalDir("./src", "/src").runCommands("ls /src")).toThrow(ImageStepOrderError);
    expect(() => Image.base("ferry/node").addLocalFile("./a", "/a").addLocalDir("./b", "/b", { copy: true })).toThrow(/pass \{ copy: true \}/);
    expect(() => Image.base("ferry/node").addLocalDir("./src", "/src").env({ A: "1" })).not.toThrow();
    expect(() => Image.base("ubuntu" as "ferry/node")).toThrow(/unknown base image "ubuntu"/);
  });

  it("travels in the manifest as its spec; runFunction names the function", () => {
    const fn = { name: "warm" };
    const image = Image.base("ferry/node").runFunction(fn);
    expect(manifestOptions({ name: "f", timeout: 5, image }).image).toEqual({ base: { kind: "ferry/node" }, steps: [{ kind: "runFunction", function: "warm" }] });
    expect(() => Image.base("ferry/node").runFunction({}).toSpec()).toThrow(/has no name yet/);
  });

  it("the builder refuses bad step definitions with a message naming the problem", async () => {
    await expect(buildImage({ base: { kind: "ferry/node" }, steps: [{ kind: "npmInstall", dependencies: { "Bad Name!": "1" } }] }, { cacheDir: scratch() })).rejects.toBeInstanceOf(ImageSpecError);
    await expect(buildImage({ base: { kind: "ferry/node" }, steps: [{ kind: "runFunction", function: "x" }] }, { cacheDir: scratch() })).rejects.toThrow(/needs the app's bundle/);
  });
});

describe("npmInstall and runFunction steps", () => {
  /** A project whose only dependency is a local tarball: `npm ci` needs no registry. */
  const npmProject = (version: string) => {
    const dir = scratch();
    const pkg = join(dir, "src-pkg", "package");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "tiny-dep", version, main: "index.js" }));
    writeFileSync(join(pkg, "index.js"), `module.exports = "tiny-dep ${version}";`);
    const project = join(dir, "project");
    mkdirSync(join(project, "vendor"), { recursive: true });
    execFileSync("tar", ["czf", join(project, "vendor", "tiny-dep.tgz"), "-C", join(dir, "src-pkg"), "package"]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "proj", version: "1.0.0", dependencies: { "tiny-dep": "file:vendor/tiny-dep.tgz" } }));
    execFileSync("npm", ["install", "--package-lock-only", "--offline", "--no-audit", "--no-fund"], { cwd: project, stdio: "ignore" });
    return project;
  };

  it("installs from a lockfile with npm ci into the workdir; a lockfile change rebuilds the step", async () => {
    const cache = scratch();
    const project = npmProject("1.0.0");
    const spec = Image.base("ferry/node").workdir("/srv").npmInstall({ lockfile: join(project, "package-lock.json") })
      .runCommands("node -e 'console.log(require(\"/srv/node_modules/tiny-dep\"))' > /srv/out.txt").toSpec();
    const first = collect();
    const built = await buildImage(spec, { cacheDir: cache, onLog: first.onLog });
    expect(first.log.some((l) => l.startsWith("[2/3] NPM ci "))).toBe(true);
    const root = join(scratch(), "root");
    flattenImage(built, root);
    expect(readFileSync(join(root, "srv/out.txt"), "utf8")).toBe("tiny-dep 1.0.0\n");

    const again = collect();
    await buildImage(spec, { cacheDir: cache, onLog: again.onLog });
    expect(again.log.filter((l) => l.includes("CACHED")).length).toBe(2);

    const newer = npmProject("2.0.0");
    const spec2 = Image.base("ferry/node").workdir("/srv").npmInstall({ lockfile: join(newer, "package-lock.json") })
      .runCommands("node -e 'console.log(require(\"/srv/node_modules/tiny-dep\"))' > /srv/out.txt").toSpec();
    const third = collect();
    const rebuilt = await buildImage(spec2, { cacheDir: cache, onLog: third.onLog });
    expect(third.log.filter((l) => l.includes("CACHED"))).toEqual([]);
    const root2 = join(scratch(), "root");
    flattenImage(rebuilt, root2);
    expect(readFileSync(join(root2, "srv/out.txt"), "utf8")).toBe("tiny-dep 2.0.0\n");
  });

  it("runFunction runs the named function of the app's bundle in the step's sandbox; its writes are a layer", async () => {
    const dir = scratch();
    const bundle = join(dir, "app.mjs");
    writeFileSync(bundle, `
      import { writeFileSync } from "node:fs";
      export const warm = { [Symbol.for("ferry.function")]: true, name: "warm", async local() { writeFileSync("/weights.bin", "w".repeat(10)); return "warmed"; } };
    `);
    const log = collect();
    const built = await buildImage({ base: { kind: "ferry/node" }, steps: [{ kind: "runFunction", function: "warm" }] }, { cacheDir: scratch(), appModule: bundle, onLog: log.onLog });
    expect(log.log).toContain("[1/1] FUNCTION warm");
    expect(log.log).toContain("warmed");
    expect(readFileSync(join(built.layers[0]!.dir, "weights.bin"), "utf8")).toBe("wwwwwwwwww");
    await expect(buildImage({ base: { kind: "ferry/node" }, steps: [{ kind: "runFunction", function: "missing" }] }, { cacheDir: scratch(), appModule: bundle }))
      .rejects.toThrow(/no function named missing/);
  });
});
